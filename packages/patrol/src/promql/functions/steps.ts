// A range-vector function over all the steps of one series at once. It gives the same numbers as
// calling the RANGE_KERNELS entry per window (it runs the same code), but for the common
// functions it reads the windows in place instead of building a window object per step, which
// is what a range query over many series spends its time on.

import type { FnContext, RangeKernel, RangeWindow } from './range.js';
import { RANGE_KERNELS, avgOverTimeAt, extremeIndexAt, extrapolatedRateAt, instantValueAt, sumOverTimeAt } from './range.js';

export interface StepWindows {
  /** The series: ascending timestamps (ms), stale markers removed. */
  t: Float64Array;
  v: Float64Array;
  /** Window end of each step (ms): step time minus offset, or the @ time minus offset. */
  ends: Float64Array;
  /** Window length (ms); a window is (end - range, end]. */
  range: number;
  /** Evaluation time of each step (predict_linear regresses around it). */
  evalTimes: Float64Array;
  metricName?: string;
  /** anchored/smoothed: the samples also reach `before` ms before and `after` ms after the window. */
  mode?: 'anchored' | 'smoothed';
  before?: number;
  after?: number;
}

/**
 * Evaluates `fn` at every step. `params[k][i]` is the k-th scalar argument at step i. Writes
 * out[i] and has[i] = 1 for steps with output; returns whether any step had output.
 * Throws like the kernel (e.g. double_exponential_smoothing's invalid factors); unknown
 * functions throw an Error naming them.
 */
export function evalOverSteps(fn: string, s: StepWindows, params: readonly Float64Array[], ctx: FnContext, out: Float64Array, has: Uint8Array): boolean {
  const fast = s.mode ? undefined : FAST[fn];
  if (fast) return sweep(s, (lo, hi, start, end) => fast(s, lo, hi, start, end, ctx), out, has);
  const kernel: RangeKernel | undefined = RANGE_KERNELS[fn];
  if (!kernel) throw new Error(`no range kernel for function ${JSON.stringify(fn)}`);
  const p = new Array<number>(params.length);
  let step = 0;
  return sweep(
    s,
    (lo, hi, start, end) => {
      for (let k = 0; k < params.length; k++) p[k] = params[k][step];
      const w: RangeWindow = { t: s.t.subarray(lo, hi), v: s.v.subarray(lo, hi), start, end, evalTime: s.evalTimes[step] };
      if (s.metricName !== undefined) w.metricName = s.metricName;
      if (s.mode) w.mode = s.mode;
      return kernel(w, p, ctx);
    },
    out,
    has,
    (i) => {
      step = i;
    },
  );
}

type Fast = (s: StepWindows, lo: number, hi: number, start: number, end: number, ctx: FnContext) => number | null;

const lessThan = (cur: number, best: number): boolean => cur < best;
const greaterThan = (cur: number, best: number): boolean => cur > best;

const FAST: Record<string, Fast> = {
  rate: (s, lo, hi, start, end, ctx) => extrapolatedRateAt(s.t, s.v, lo, hi, start, end, s.metricName, ctx, true, true),
  increase: (s, lo, hi, start, end, ctx) => extrapolatedRateAt(s.t, s.v, lo, hi, start, end, s.metricName, ctx, true, false),
  delta: (s, lo, hi, start, end, ctx) => extrapolatedRateAt(s.t, s.v, lo, hi, start, end, s.metricName, ctx, false, false),
  irate: (s, lo, hi) => instantValueAt(s.t, s.v, lo, hi, true),
  idelta: (s, lo, hi) => instantValueAt(s.t, s.v, lo, hi, false),
  sum_over_time: (s, lo, hi) => sumOverTimeAt(s.v, lo, hi),
  avg_over_time: (s, lo, hi) => avgOverTimeAt(s.v, lo, hi),
  count_over_time: (_s, lo, hi) => hi - lo,
  min_over_time: (s, lo, hi) => s.v[extremeIndexAt(s.v, lo, hi, lessThan)],
  max_over_time: (s, lo, hi) => s.v[extremeIndexAt(s.v, lo, hi, greaterThan)],
  last_over_time: (s, _lo, hi) => s.v[hi - 1],
  first_over_time: (s, lo) => s.v[lo],
  present_over_time: () => 1,
};

/** Walks the windows with two indexes; windows that move backwards (with @) restart the walk. */
function sweep(
  s: StepWindows,
  at: (lo: number, hi: number, start: number, end: number) => number | null,
  out: Float64Array,
  has: Uint8Array,
  onStep?: (i: number) => void,
): boolean {
  const { t, ends } = s;
  const before = s.before ?? 0;
  const after = s.after ?? 0;
  const n = t.length;
  let lo = 0;
  let hi = 0;
  let any = false;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i];
    const start = end - s.range;
    if (i > 0 && end < ends[i - 1]) {
      lo = 0;
      hi = 0;
    }
    while (lo < n && t[lo] <= start - before) lo++;
    if (hi < lo) hi = lo;
    while (hi < n && t[hi] <= end + after) hi++;
    if (hi === lo) continue;
    onStep?.(i);
    const r = at(lo, hi, start, end);
    if (r === null) continue;
    out[i] = r;
    has[i] = 1;
    any = true;
  }
  return any;
}
