// PromQL function kernels and signatures. The evaluator owns selection, stepping, labels and
// annotations' deduplication; these are the per-window and per-sample computations.

export type { ArgType, FunctionSignature } from './signatures.js';
export { SIGNATURES, AT_MODIFIER_UNSAFE_FUNCTIONS, ANCHORED_FUNCTIONS, SMOOTHED_FUNCTIONS } from './signatures.js';
export type { RangeWindow, FnContext, RangeKernel } from './range.js';
export { RANGE_KERNELS, extrapolate, linearRegression } from './range.js';
export type { StepWindows } from './steps.js';
export { evalOverSteps } from './steps.js';
export type { ElementwiseKernel } from './elementwise.js';
export { ELEMENTWISE, clampBoundsEmpty } from './elementwise.js';
export type { Bucket, BucketQuantileResult } from './histogram.js';
export { bucketQuantile, bucketQuantileDetailed, bucketFraction } from './histogram.js';
export { quantile, sortWithNaNFirst } from './quantile.js';
export { kahanInc } from './kahan.js';
export { annotations, goQuote, mightNotBeCounter, PROMQL_INFO, PROMQL_WARNING } from './annotations.js';
export { expandTemplate, absentLabels, compareSortAsc, compareSortDesc, natLess, compareNatural } from './helpers.js';
