// Range-function kernels over a range query's steps: per-window calls (a window object and two
// subarrays per step) against evalOverSteps, which reads the windows in place. Shape of the
// issue's dashboard queries: 15 s samples, 5 m windows, 1 h at 15 s steps (241 steps).

import { loadavg } from 'node:os';
import type { FnContext, RangeWindow } from '../src/promql/functions/index.js';
import { RANGE_KERNELS, evalOverSteps } from '../src/promql/functions/index.js';

const SERIES = Number(process.env.SERIES ?? 10_000);
const STEPS = 241;
const STEP = 15_000;
const RANGE = 300_000;
const SAMPLES = (STEPS - 1) + RANGE / STEP + 1;

const t = Float64Array.from({ length: SAMPLES }, (_, i) => i * STEP);
const vs = Array.from({ length: SERIES }, (_, s) => Float64Array.from({ length: SAMPLES }, (_, i) => (i * (s % 7 + 1)) % 5000));
const ends = Float64Array.from({ length: STEPS }, (_, i) => RANGE + i * STEP);
const ctx: FnContext = { warn: () => {}, info: () => {} };

function perWindow(fn: string): number {
  const kernel = RANGE_KERNELS[fn];
  let sink = 0;
  for (const v of vs) {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < STEPS; i++) {
      const end = ends[i];
      const start = end - RANGE;
      while (lo < t.length && t[lo] <= start) lo++;
      if (hi < lo) hi = lo;
      while (hi < t.length && t[hi] <= end) hi++;
      const w: RangeWindow = { t: t.subarray(lo, hi), v: v.subarray(lo, hi), start, end, metricName: 'x_total', evalTime: end };
      sink += kernel(w, [], ctx) ?? 0;
    }
  }
  return sink;
}

function batched(fn: string): number {
  const out = new Float64Array(STEPS);
  const has = new Uint8Array(STEPS);
  let sink = 0;
  for (const v of vs) {
    evalOverSteps(fn, { t, v, ends, range: RANGE, evalTimes: ends, metricName: 'x_total' }, [], ctx, out, has);
    sink += out[STEPS - 1];
  }
  return sink;
}

function time(f: () => number): number {
  f(); // warm up
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${SERIES} series × ${STEPS} steps, ${RANGE / STEP} samples per window`);
for (const fn of ['rate', 'increase', 'sum_over_time', 'avg_over_time', 'max_over_time']) {
  const a = time(() => perWindow(fn));
  const b = time(() => batched(fn));
  const windows = SERIES * STEPS;
  console.log(`${fn.padEnd(16)} per-window ${a.toFixed(0).padStart(6)} ms (${((a * 1e6) / windows).toFixed(0)} ns/window)   evalOverSteps ${b.toFixed(0).padStart(6)} ms (${((b * 1e6) / windows).toFixed(0)} ns/window)   ×${(a / b).toFixed(2)}`);
}
