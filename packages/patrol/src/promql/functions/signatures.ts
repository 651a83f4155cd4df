// Every function of PromQL (Prometheus 3.x, including the experimental and native-histogram
// ones) with its argument types, so the parser can check calls. Argument types follow
// Prometheus's parser: 'instant' is an instant vector, 'range' a range vector.

export type ArgType = 'scalar' | 'instant' | 'range' | 'string';

export interface FunctionSignature {
  name: string;
  args: ArgType[];
  /** 0: fixed arity; n > 0: up to n of the trailing arguments may be left out; -1: the last argument repeats without limit. */
  variadic: number;
  returns: 'scalar' | 'instant';
  /**
   * The result keeps the input's metric name (functions that only pick or reorder samples).
   * All other functions returning vectors drop `__name__` from their output series.
   */
  keepsName?: boolean;
  /** Behind Prometheus's --enable-feature=promql-experimental-functions. */
  experimental?: boolean;
}

const I: ArgType = 'instant';
const R: ArgType = 'range';
const S: ArgType = 'scalar';
const STR: ArgType = 'string';

type Spec = [args: ArgType[], returns: 'scalar' | 'instant', opts?: { variadic?: number; keepsName?: boolean; experimental?: boolean }];

const SPECS: Record<string, Spec> = {
  abs: [[I], 'instant'],
  absent: [[I], 'instant'],
  absent_over_time: [[R], 'instant'],
  acos: [[I], 'instant'],
  acosh: [[I], 'instant'],
  asin: [[I], 'instant'],
  asinh: [[I], 'instant'],
  atan: [[I], 'instant'],
  atanh: [[I], 'instant'],
  avg_over_time: [[R], 'instant'],
  ceil: [[I], 'instant'],
  changes: [[R], 'instant'],
  clamp: [[I, S, S], 'instant'],
  clamp_max: [[I, S], 'instant'],
  clamp_min: [[I, S], 'instant'],
  cos: [[I], 'instant'],
  cosh: [[I], 'instant'],
  count_over_time: [[R], 'instant'],
  day_of_month: [[I], 'instant', { variadic: 1 }],
  day_of_week: [[I], 'instant', { variadic: 1 }],
  day_of_year: [[I], 'instant', { variadic: 1 }],
  days_in_month: [[I], 'instant', { variadic: 1 }],
  deg: [[I], 'instant'],
  delta: [[R], 'instant'],
  deriv: [[R], 'instant'],
  double_exponential_smoothing: [[R, S, S], 'instant', { experimental: true }],
  end: [[], 'scalar', { experimental: true }],
  exp: [[I], 'instant'],
  first_over_time: [[R], 'instant', { experimental: true, keepsName: true }],
  floor: [[I], 'instant'],
  histogram_avg: [[I], 'instant'],
  histogram_count: [[I], 'instant'],
  histogram_fraction: [[S, S, I], 'instant'],
  histogram_quantile: [[S, I], 'instant'],
  histogram_quantiles: [[I, STR, S, S], 'instant', { variadic: 9, experimental: true }],
  histogram_stddev: [[I], 'instant'],
  histogram_stdvar: [[I], 'instant'],
  histogram_sum: [[I], 'instant'],
  hour: [[I], 'instant', { variadic: 1 }],
  idelta: [[R], 'instant'],
  increase: [[R], 'instant'],
  info: [[I, I], 'instant', { variadic: 1, experimental: true, keepsName: true }],
  integral: [[R, S], 'instant', { variadic: 1, experimental: true }],
  irate: [[R], 'instant'],
  label_join: [[I, STR, STR, STR], 'instant', { variadic: -1, keepsName: true }],
  label_replace: [[I, STR, STR, STR, STR], 'instant', { keepsName: true }],
  last_over_time: [[R], 'instant', { keepsName: true }],
  ln: [[I], 'instant'],
  log10: [[I], 'instant'],
  log2: [[I], 'instant'],
  mad_over_time: [[R], 'instant', { experimental: true }],
  max_of: [[S, S], 'scalar', { experimental: true }],
  max_over_time: [[R], 'instant'],
  min_of: [[S, S], 'scalar', { experimental: true }],
  min_over_time: [[R], 'instant'],
  minute: [[I], 'instant', { variadic: 1 }],
  month: [[I], 'instant', { variadic: 1 }],
  pi: [[], 'scalar'],
  predict_linear: [[R, S], 'instant'],
  present_over_time: [[R], 'instant'],
  quantile_over_time: [[S, R], 'instant'],
  rad: [[I], 'instant'],
  range: [[], 'scalar', { experimental: true }],
  rate: [[R], 'instant'],
  resets: [[R], 'instant'],
  round: [[I, S], 'instant', { variadic: 1 }],
  scalar: [[I], 'scalar'],
  sgn: [[I], 'instant'],
  sin: [[I], 'instant'],
  sinh: [[I], 'instant'],
  sort: [[I], 'instant', { keepsName: true }],
  sort_by_label: [[I, STR], 'instant', { variadic: -1, experimental: true, keepsName: true }],
  sort_by_label_desc: [[I, STR], 'instant', { variadic: -1, experimental: true, keepsName: true }],
  sort_desc: [[I], 'instant', { keepsName: true }],
  sqrt: [[I], 'instant'],
  start: [[], 'scalar', { experimental: true }],
  // The start timestamps of the samples; Patrol's storage keeps none, so it has no output.
  start_timestamp: [[I], 'instant', { experimental: true }],
  stddev_over_time: [[R], 'instant'],
  stdvar_over_time: [[R], 'instant'],
  step: [[], 'scalar', { experimental: true }],
  sum_over_time: [[R], 'instant'],
  tan: [[I], 'instant'],
  tanh: [[I], 'instant'],
  time: [[], 'scalar'],
  timestamp: [[I], 'instant'],
  ts_of_first_over_time: [[R], 'instant', { experimental: true }],
  ts_of_last_over_time: [[R], 'instant', { experimental: true }],
  ts_of_max_over_time: [[R], 'instant', { experimental: true }],
  ts_of_min_over_time: [[R], 'instant', { experimental: true }],
  vector: [[S], 'instant'],
  year: [[I], 'instant', { variadic: 1 }],
};

export const SIGNATURES: Record<string, FunctionSignature> = Object.fromEntries(
  Object.entries(SPECS).map(([name, [args, returns, o]]) => {
    const sig: FunctionSignature = { name, args, variadic: o?.variadic ?? 0, returns };
    if (o?.keepsName) sig.keepsName = true;
    if (o?.experimental) sig.experimental = true;
    return [name, sig];
  }),
);

/**
 * Functions whose value at a step depends on the evaluation time even when their arguments do
 * not (Prometheus's AtModifierUnsafeFunctions): a step-invariant subtree containing one of them
 * cannot be evaluated once and reused.
 */
export const AT_MODIFIER_UNSAFE_FUNCTIONS: ReadonlySet<string> = new Set([
  'days_in_month',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'hour',
  'minute',
  'month',
  'year',
  'predict_linear',
  'time',
]);

/** Functions that may take the `anchored` / `smoothed` range-selector modifiers. */
export const ANCHORED_FUNCTIONS: ReadonlySet<string> = new Set(['changes', 'delta', 'increase', 'rate', 'resets']);
export const SMOOTHED_FUNCTIONS: ReadonlySet<string> = new Set(['delta', 'increase', 'rate']);
