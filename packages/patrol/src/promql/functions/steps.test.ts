import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FnContext, RangeWindow } from './index.js';
import { RANGE_KERNELS, evalOverSteps } from './index.js';

/** A deterministic pseudo-random series with resets, gaps and jitter. */
function series(seed: number, n: number): { t: Float64Array; v: Float64Array } {
  let x = seed;
  const rnd = (): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const t: number[] = [];
  const v: number[] = [];
  let time = 0;
  let value = 0;
  for (let i = 0; i < n; i++) {
    time += 10_000 + Math.floor(rnd() * 10_000) + (rnd() < 0.05 ? 120_000 : 0);
    value = rnd() < 0.05 ? rnd() * 5 : value + rnd() * 10;
    t.push(time);
    v.push(value);
  }
  return { t: Float64Array.from(t), v: Float64Array.from(v) };
}

function perWindow(fn: string, s: { t: Float64Array; v: Float64Array }, ends: Float64Array, range: number, params: Float64Array[], mode?: 'anchored' | 'smoothed', lookback = 0): (number | null)[] {
  const ctx: FnContext = { warn: () => {}, info: () => {} };
  return Array.from(ends, (end, i) => {
    const start = end - range;
    const idx: number[] = [];
    for (let k = 0; k < s.t.length; k++) {
      if (s.t[k] > start - (mode ? lookback : 0) && s.t[k] <= end + (mode === 'smoothed' ? lookback : 0)) idx.push(k);
    }
    if (idx.length === 0) return null;
    const w: RangeWindow = { t: Float64Array.from(idx, (k) => s.t[k]), v: Float64Array.from(idx, (k) => s.v[k]), start, end, evalTime: end, ...(mode ? { mode } : {}) };
    return RANGE_KERNELS[fn](w, params.map((p) => p[i]), ctx);
  });
}

test('evalOverSteps gives exactly the per-window kernel results', () => {
  const s = series(7, 400);
  const steps = 120;
  const ends = Float64Array.from({ length: steps }, (_, i) => 60_000 + i * 45_000);
  const ctx: FnContext = { warn: () => {}, info: () => {} };
  const cases: [string, Float64Array[]][] = Object.keys(RANGE_KERNELS).map((fn) => [
    fn,
    fn === 'quantile_over_time' ? [new Float64Array(steps).fill(0.9)] : fn === 'predict_linear' ? [new Float64Array(steps).fill(60)] : fn === 'double_exponential_smoothing' ? [new Float64Array(steps).fill(0.3), new Float64Array(steps).fill(0.6)] : [],
  ]);
  for (const [fn, params] of cases) {
    for (const range of [30_000, 300_000]) {
      const out = new Float64Array(steps);
      const has = new Uint8Array(steps);
      evalOverSteps(fn, { ...s, ends, range, evalTimes: ends }, params, ctx, out, has);
      const want = perWindow(fn, s, ends, range, params);
      const got = Array.from(out, (v, i) => (has[i] ? v : null));
      assert.deepEqual(got, want, `${fn}[${range}]`);
    }
  }
});

test('anchored and smoothed windows, and windows that go back (@)', () => {
  const s = series(3, 200);
  const ctx: FnContext = { warn: () => {}, info: () => {} };
  const ends = Float64Array.from([600_000, 900_000, 300_000, 1_200_000, 1_200_000]);
  for (const mode of ['anchored', 'smoothed'] as const) {
    for (const fn of ['rate', 'increase', 'delta', ...(mode === 'anchored' ? ['resets', 'changes'] : [])]) {
      const out = new Float64Array(ends.length);
      const has = new Uint8Array(ends.length);
      evalOverSteps(fn, { ...s, ends, range: 120_000, evalTimes: ends, mode, before: 300_000, after: mode === 'smoothed' ? 300_000 : 0 }, [], ctx, out, has);
      const want = perWindow(fn, s, ends, 120_000, [], mode, 300_000);
      assert.deepEqual(
        Array.from(out, (v, i) => (has[i] ? v : null)),
        want,
        `${fn} ${mode}`,
      );
    }
  }
  const out = new Float64Array(ends.length);
  const has = new Uint8Array(ends.length);
  evalOverSteps('rate', { ...s, ends, range: 120_000, evalTimes: ends }, [], ctx, out, has);
  assert.deepEqual(
    Array.from(out, (v, i) => (has[i] ? v : null)),
    perWindow('rate', s, ends, 120_000, []),
  );
  assert.throws(() => evalOverSteps('nope', { ...s, ends, range: 1, evalTimes: ends }, [], ctx, out, has), /no range kernel for function "nope"/);
});
