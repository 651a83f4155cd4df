// The seam to the function kernels (functions/): the engine looks functions up here by name.

export {
  ELEMENTWISE,
  evalOverSteps,
  extrapolate,
  RANGE_KERNELS,
  SIGNATURES,
  annotations,
  bucketFraction,
  bucketQuantileDetailed,
  clampBoundsEmpty,
  mightNotBeCounter,
} from './functions/index.js';
export type { RangeKernel, RangeWindow, FnContext } from './functions/index.js';
