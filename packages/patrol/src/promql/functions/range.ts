// Range-vector function kernels: one call computes one output value from the samples of one
// series in one window. The numerics follow Prometheus's promql/functions.go (extrapolation and
// counter handling of rate/increase/delta, Kahan summation, the quantile interpolation).

import { annotations, mightNotBeCounter } from './annotations.js';
import { kahanInc } from './kahan.js';
import { quantile } from './quantile.js';

/**
 * The samples of one series for one evaluation step, times in milliseconds, ascending, stale
 * markers removed. Normally every sample lies in the window (start, end]. With `mode` set
 * (the `anchored` / `smoothed` range-selector modifiers) the samples also include, when they
 * exist, those up to the lookback delta before `start` (anchored and smoothed) and after `end`
 * (smoothed only).
 */
export interface RangeWindow {
  t: Float64Array;
  v: Float64Array;
  start: number;
  end: number;
  /** The input series' metric name; rate and increase use it for their "not a counter" info. */
  metricName?: string;
  /** The evaluation timestamp of the step (predict_linear regresses around it); defaults to end. */
  evalTime?: number;
  mode?: 'anchored' | 'smoothed';
}

export interface FnContext {
  warn(msg: string): void;
  info(msg: string): void;
}

/** Returns the output value, or null when the series yields no output for this window. */
export type RangeKernel = (w: RangeWindow, params: number[], ctx: FnContext) => number | null;

/** First index in [0, n) for which pred holds, or n (Go's sort.Search). */
function search(n: number, pred: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (!pred(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function extrapolatedRate(w: RangeWindow, ctx: FnContext, isCounter: boolean, isRate: boolean): number | null {
  if (w.mode) {
    const r = extendedRate(w, isCounter, isRate);
    if (r !== null && isCounter && mightNotBeCounter(w.metricName)) ctx.info(annotations.possibleNonCounter(w.metricName!));
    return r;
  }
  return extrapolatedRateAt(w.t, w.v, 0, w.t.length, w.start, w.end, w.metricName, ctx, isCounter, isRate);
}

/** rate/increase/delta over the samples [lo, hi) of t/v, all inside (start, end]. */
export function extrapolatedRateAt(
  t: Float64Array,
  v: Float64Array,
  lo: number,
  hi: number,
  start: number,
  end: number,
  metricName: string | undefined,
  ctx: FnContext,
  isCounter: boolean,
  isRate: boolean,
): number | null {
  const result = extrapolate(t, v, lo, hi, start, end, isCounter, isRate);
  if (result !== null && isCounter && mightNotBeCounter(metricName)) ctx.info(annotations.possibleNonCounter(metricName!));
  return result;
}

/**
 * Prometheus's extrapolated rate/increase/delta over samples [lo, hi), without annotations.
 * `resets` false skips the scan for counter resets (the caller knows there are none).
 */
export function extrapolate(t: Float64Array, v: Float64Array, lo: number, hi: number, start: number, end: number, isCounter: boolean, isRate: boolean, resets = true): number | null {
  const n = hi - lo;
  if (n < 2) return null;
  const last = hi - 1;
  let result = v[last] - v[lo];
  if (isCounter && resets) {
    for (let i = lo + 1; i < hi; i++) if (v[i] < v[i - 1]) result += v[i - 1];
  }
  let durationToStart = (t[lo] - start) / 1000;
  let durationToEnd = (end - t[last]) / 1000;
  const sampledInterval = (t[last] - t[lo]) / 1000;
  const averageDurationBetweenSamples = sampledInterval / (n - 1);
  // Extrapolate to a boundary only when the series seems to go on past it (the gap is at most
  // 10% more than the average spacing); otherwise by half an average interval.
  const extrapolationThreshold = averageDurationBetweenSamples * 1.1;
  if (durationToStart >= extrapolationThreshold) durationToStart = averageDurationBetweenSamples / 2;
  if (isCounter) {
    // A counter cannot go below zero: do not extrapolate past the point where it would be 0.
    let durationToZero = durationToStart;
    if (result > 0 && v[lo] >= 0) durationToZero = sampledInterval * (v[lo] / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  if (durationToEnd >= extrapolationThreshold) durationToEnd = averageDurationBetweenSamples / 2;
  let factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval;
  if (isRate) factor /= (end - start) / 1000;
  return result * factor;
}

function interpolate(t1: number, v1: number, t2: number, v2: number, at: number, isCounter: boolean): number {
  let y1 = v1;
  if (isCounter && v2 < v1) y1 = 0;
  return y1 + ((v2 - y1) * (at - t1)) / (t2 - t1);
}

/** rate/increase/delta with the anchored or smoothed modifier (no extrapolation). */
function extendedRate(w: RangeWindow, isCounter: boolean, isRate: boolean): number | null {
  const { t, v, start, end } = w;
  const n = t.length;
  if (n === 0) return null;
  const smoothed = w.mode === 'smoothed';
  let last = n - 1;
  let first = Math.max(0, search(last, (i) => t[i] > start) - 1);
  if (smoothed) last = search(last, (i) => t[i] >= end);
  if (t[last] <= start) return null;
  const left = smoothed && t[first] < start ? interpolate(t[first], v[first], t[first + 1], v[first + 1], start, isCounter) : v[first];
  const right = smoothed && last > 0 && t[last] > end ? interpolate(t[last - 1], v[last - 1], t[last], v[last], end, isCounter) : v[last];
  let result = right - left;
  if (isCounter) {
    // Resets at the boundaries are already handled by the interpolation.
    if (t[first] <= start) first++;
    if (t[last] >= end) last--;
    let correction = 0;
    let prev = left;
    for (let i = first; i <= last; i++) {
      if (v[i] < prev) correction += prev;
      prev = v[i];
    }
    if (right < prev) correction += prev;
    result += correction;
  }
  if (isRate) result /= (end - start) / 1000;
  return result;
}

/** irate/idelta over the samples [lo, hi). */
export function instantValueAt(t: Float64Array, v: Float64Array, lo: number, hi: number, isRate: boolean): number | null {
  if (hi - lo < 2) return null;
  const interval = t[hi - 1] - t[hi - 2];
  if (interval === 0) return null;
  const prev = v[hi - 2];
  const cur = v[hi - 1];
  // A counter reset leaves the last value as the increase. NaN compares false: NaN result.
  let result = isRate && cur < prev ? cur : cur - prev;
  if (isRate) result /= interval / 1000;
  return result;
}

/** Least-squares fit of v over (t - interceptTime) seconds; returns [slope, intercept]. */
export function linearRegression(t: Float64Array, v: Float64Array, interceptTime: number): [number, number] {
  const n = t.length;
  let sumX = 0;
  let cX = 0;
  let sumY = 0;
  let cY = 0;
  let sumXY = 0;
  let cXY = 0;
  let sumX2 = 0;
  let cX2 = 0;
  const initY = v[0];
  let constY = true;
  for (let i = 0; i < n; i++) {
    const y = v[i];
    if (constY && i > 0 && y !== initY) constY = false;
    const x = (t[i] - interceptTime) / 1e3;
    [sumX, cX] = kahanInc(x, sumX, cX);
    [sumY, cY] = kahanInc(y, sumY, cY);
    [sumXY, cXY] = kahanInc(x * y, sumXY, cXY);
    [sumX2, cX2] = kahanInc(x * x, sumX2, cX2);
  }
  if (constY) {
    if (initY === Infinity || initY === -Infinity) return [NaN, NaN];
    return [0, initY];
  }
  sumX += cX;
  sumY += cY;
  sumXY += cXY;
  sumX2 += cX2;
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  const intercept = sumY / n - (slope * sumX) / n;
  return [slope, intercept];
}

/** Go's %f: six decimals. */
function formatF(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return v.toFixed(6);
}

function doubleExponentialSmoothing(w: RangeWindow, params: number[]): number | null {
  const sf = params[0];
  const tf = params[1];
  if (sf <= 0 || sf >= 1) throw new Error(`invalid smoothing factor. Expected: 0 < sf < 1, got: ${formatF(sf)}`);
  if (tf <= 0 || tf >= 1) throw new Error(`invalid trend factor. Expected: 0 < tf < 1, got: ${formatF(tf)}`);
  const { v } = w;
  const n = v.length;
  if (n < 2) return null;
  let s0 = 0;
  let s1 = v[0];
  let b = v[1] - v[0];
  for (let i = 1; i < n; i++) {
    const x = sf * v[i];
    // The trend: the first step keeps the initial slope.
    if (i - 1 !== 0) b = tf * (s1 - s0) + (1 - tf) * b;
    const y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

// The summations below inline kahanInc (see kahan.ts) to stay allocation-free in hot loops.

export function avgOverTimeAt(v: Float64Array, lo: number, hi: number): number {
  let sum = v[lo];
  let count = 1;
  let mean = 0;
  let c = 0;
  let incremental = false;
  for (let i = lo + 1; i < hi; i++) {
    const x = v[i];
    count = i - lo + 1;
    if (!incremental) {
      // Direct mean while the sum stays finite, incremental mean after an overflow.
      const t = sum + x;
      if (t !== Infinity && t !== -Infinity) {
        c += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
        sum = t;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    const q = (count - 1) / count;
    const inc = x / count;
    const base = q * mean;
    c *= q;
    const t = base + inc;
    if (t === Infinity || t === -Infinity) c = 0;
    else c += Math.abs(base) >= Math.abs(inc) ? base - t + inc : inc - t + base;
    mean = t;
  }
  if (incremental) return mean + c;
  return sum / count + c / count;
}

export function sumOverTimeAt(v: Float64Array, lo: number, hi: number): number {
  let sum = 0;
  let c = 0;
  for (let i = lo; i < hi; i++) {
    const x = v[i];
    const t = sum + x;
    if (t === Infinity || t === -Infinity) c = 0;
    else c += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  if (sum === Infinity || sum === -Infinity) return sum;
  return sum + c;
}

function varianceOverTime(v: Float64Array): number {
  let count = 0;
  let mean = 0;
  let cMean = 0;
  let aux = 0;
  let cAux = 0;
  for (let i = 0; i < v.length; i++) {
    const f = v[i];
    count++;
    const delta = f - (mean + cMean);
    [mean, cMean] = kahanInc(delta / count, mean, cMean);
    [aux, cAux] = kahanInc(delta * (f - (mean + cMean)), aux, cAux);
  }
  return (aux + cAux) / count;
}

/** Index of the extreme value; `better(cur, best)` chooses, a NaN best is always replaced. */
export function extremeIndexAt(v: Float64Array, lo: number, hi: number, better: (cur: number, best: number) => boolean): number {
  let best = v[lo];
  let idx = lo;
  for (let i = lo; i < hi; i++) {
    if (better(v[i], best) || Number.isNaN(best)) {
      best = v[i];
      idx = i;
    }
  }
  return idx;
}

/** First sample to look at: with `anchored`, the last one at or before the window start. */
function firstIndex(w: RangeWindow): number | null {
  const n = w.t.length;
  if (n === 0) return null;
  if (w.mode !== 'anchored') return 0;
  if (w.t[n - 1] <= w.start) return null;
  return Math.max(0, search(n - 1, (i) => w.t[i] > w.start) - 1);
}

function nonEmpty(k: (w: RangeWindow, params: number[], ctx: FnContext) => number | null): RangeKernel {
  return (w, params, ctx) => (w.t.length === 0 ? null : k(w, params, ctx));
}

export const RANGE_KERNELS: Record<string, RangeKernel> = {
  rate: (w, _p, ctx) => extrapolatedRate(w, ctx, true, true),
  increase: (w, _p, ctx) => extrapolatedRate(w, ctx, true, false),
  delta: (w, _p, ctx) => extrapolatedRate(w, ctx, false, false),
  irate: (w) => instantValueAt(w.t, w.v, 0, w.t.length, true),
  idelta: (w) => instantValueAt(w.t, w.v, 0, w.t.length, false),
  deriv: (w) => (w.t.length < 2 ? null : linearRegression(w.t, w.v, w.t[0])[0]),
  predict_linear: (w, params) => {
    if (w.t.length < 2) return null;
    const [slope, intercept] = linearRegression(w.t, w.v, w.evalTime ?? w.end);
    return slope * params[0] + intercept;
  },
  double_exponential_smoothing: (w, params) => doubleExponentialSmoothing(w, params),
  resets: (w) => {
    const first = firstIndex(w);
    if (first === null) return null;
    let resets = 0;
    for (let i = first + 1; i < w.v.length; i++) if (w.v[i] < w.v[i - 1]) resets++;
    return resets;
  },
  changes: (w) => {
    const first = firstIndex(w);
    if (first === null) return null;
    let changes = 0;
    for (let i = first + 1; i < w.v.length; i++) {
      const a = w.v[i - 1];
      const b = w.v[i];
      if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) changes++;
    }
    return changes;
  },
  avg_over_time: nonEmpty((w) => avgOverTimeAt(w.v, 0, w.v.length)),
  sum_over_time: nonEmpty((w) => sumOverTimeAt(w.v, 0, w.v.length)),
  count_over_time: nonEmpty((w) => w.v.length),
  min_over_time: nonEmpty((w) => w.v[extremeIndexAt(w.v, 0, w.v.length, (cur, best) => cur < best)]),
  max_over_time: nonEmpty((w) => w.v[extremeIndexAt(w.v, 0, w.v.length, (cur, best) => cur > best)]),
  ts_of_min_over_time: nonEmpty((w) => w.t[extremeIndexAt(w.v, 0, w.v.length, (cur, best) => cur <= best)] / 1000),
  ts_of_max_over_time: nonEmpty((w) => w.t[extremeIndexAt(w.v, 0, w.v.length, (cur, best) => cur >= best)] / 1000),
  ts_of_first_over_time: nonEmpty((w) => w.t[0] / 1000),
  ts_of_last_over_time: nonEmpty((w) => w.t[w.t.length - 1] / 1000),
  quantile_over_time: nonEmpty((w, params, ctx) => {
    const q = params[0];
    if (Number.isNaN(q) || q < 0 || q > 1) ctx.warn(annotations.invalidQuantile(q));
    return quantile(q, Array.from(w.v));
  }),
  stddev_over_time: nonEmpty((w) => Math.sqrt(varianceOverTime(w.v))),
  stdvar_over_time: nonEmpty((w) => varianceOverTime(w.v)),
  mad_over_time: nonEmpty((w) => {
    // A NaN sample makes the result NaN (Prometheus 3 does not let the sort hide it).
    for (let i = 0; i < w.v.length; i++) if (Number.isNaN(w.v[i])) return NaN;
    const values = Array.from(w.v);
    const median = quantile(0.5, values);
    return quantile(
      0.5,
      values.map((x) => Math.abs(x - median)),
    );
  }),
  first_over_time: nonEmpty((w) => w.v[0]),
  last_over_time: nonEmpty((w) => w.v[w.v.length - 1]),
  present_over_time: nonEmpty(() => 1),
};
