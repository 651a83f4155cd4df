import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FnContext, RangeWindow } from './index.js';
import { ELEMENTWISE, RANGE_KERNELS, SIGNATURES, bucketFraction, bucketQuantile, bucketQuantileDetailed, clampBoundsEmpty, kahanInc } from './index.js';

/** Samples every `stepS` seconds from `firstS`, window (start, end] in seconds. */
function win(values: number[], opts: { firstS?: number; stepS?: number; startS: number; endS: number; metricName?: string; times?: number[] }): RangeWindow {
  const step = opts.stepS ?? 60;
  const first = opts.firstS ?? step;
  const t = Float64Array.from(opts.times ?? values.map((_, i) => (first + i * step) * 1000));
  return { t, v: Float64Array.from(values), start: opts.startS * 1000, end: opts.endS * 1000, ...(opts.metricName ? { metricName: opts.metricName } : {}) };
}

function ctx(): FnContext & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, warn: (m) => warnings.push(m), info: (m) => infos.push(m) };
}

function run(name: string, w: RangeWindow, params: number[] = []): number | null {
  return RANGE_KERNELS[name](w, params, ctx());
}

function close(actual: number | null, expected: number, eps = 1e-12): void {
  assert.ok(actual !== null, `expected ${expected}, got no output`);
  assert.ok(Math.abs(actual - expected) <= eps * Math.max(1, Math.abs(expected)), `expected ${expected}, got ${actual}`);
}

describe('rate, increase, delta', () => {
  test('extrapolates to the window edges when samples reach them', () => {
    // 10, 20 … 50 at 1m … 5m over (0, 5m]: 40 over 4 m, extended by 1 m at the start.
    const w = win([10, 20, 30, 40, 50], { startS: 0, endS: 300 });
    close(run('increase', w), 50);
    close(run('rate', w), 50 / 300);
  });

  test('a counter is not extrapolated below zero', () => {
    // 1, 11, 21: the zero point is 6 s before the first sample, nearer than the 60 s edge.
    close(run('increase', win([1, 11, 21], { startS: 0, endS: 180 })), 21);
  });

  test('counter resets add the value before the reset', () => {
    // 5 → 10 → 2 → 4: 9 over 3 m, extended by 1 m at the start (4/3).
    close(run('increase', win([5, 10, 2, 4], { startS: 0, endS: 240 })), 12);
  });

  test('delta treats values as a gauge and extrapolates both ways', () => {
    close(run('delta', win([5, 3], { startS: 0, endS: 180 })), -6);
  });

  test('far edges extrapolate only half a sample interval', () => {
    const w = win([1, 2, 3], { firstS: 100, stepS: 10, startS: 0, endS: 300 });
    close(run('increase', w), 3);
    close(run('rate', w), 0.01);
  });

  test('fewer than two samples give no output', () => {
    assert.equal(run('rate', win([1], { startS: 0, endS: 60 })), null);
  });

  test('rate and increase report a metric that might not be a counter, once it gives output', () => {
    const c = ctx();
    RANGE_KERNELS.rate(win([1, 2], { startS: 0, endS: 120, metricName: 'foo' }), [], c);
    assert.deepEqual(c.infos, ['PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "foo"']);
    const ok = ctx();
    RANGE_KERNELS.increase(win([1, 2], { startS: 0, endS: 120, metricName: 'foo_total' }), [], ok);
    RANGE_KERNELS.delta(win([1, 2], { startS: 0, endS: 120, metricName: 'foo' }), [], ok);
    RANGE_KERNELS.rate(win([1], { startS: 0, endS: 120, metricName: 'foo' }), [], ok);
    assert.deepEqual(ok.infos, []);
  });

  test('anchored: from the last sample at or before the start, no extrapolation', () => {
    // 1+1x4 9+1x4 every 15 s; increase over (5 s, 65 s] anchored = v(60 s) - v(0 s) = 4.
    const values = [1, 2, 3, 4, 5, 9, 10, 11, 12, 13];
    const times = values.map((_, i) => i * 15_000);
    const pick = (from: number, to: number): RangeWindow => {
      const idx = times.map((t, i) => [t, i]).filter(([t]) => t > from - 300_000 && t <= to);
      return { t: Float64Array.from(idx.map(([t]) => t)), v: Float64Array.from(idx.map(([, i]) => values[i])), start: from, end: to, mode: 'anchored' };
    };
    close(run('increase', pick(5_000, 65_000)), 4);
    close(run('increase', pick(20_000, 80_000)), 7);
    close(run('increase', pick(-55_000, 5_000)), 0);
  });

  test('smoothed: interpolates the values at both window edges', () => {
    const values = [1, 2, 3, 4, 5, 9, 10, 11, 12, 13];
    const times = values.map((_, i) => i * 15_000);
    const pick = (from: number, to: number): RangeWindow => {
      const idx = times.map((t, i) => [t, i]).filter(([t]) => t > from - 300_000 && t <= to + 300_000);
      return { t: Float64Array.from(idx.map(([t]) => t)), v: Float64Array.from(idx.map(([, i]) => values[i])), start: from, end: to, mode: 'smoothed' };
    };
    // Values from the conformance suite (extended_vectors.test).
    close(run('increase', pick(-40_000, 20_000)), 1.333333333, 1e-9);
    close(run('increase', pick(5_000, 65_000)), 5, 1e-9);
  });
});

describe('irate, idelta, deriv, predict_linear, double_exponential_smoothing', () => {
  const w = win([10, 20, 5], { firstS: 0, stepS: 15, startS: -60, endS: 30 });
  test('irate uses the last two samples and treats a drop as a reset', () => {
    close(run('irate', w), 5 / 15);
    close(run('idelta', w), -15);
  });

  test('deriv and predict_linear fit a least-squares line', () => {
    const line = win([0, 60, 120], { firstS: 0, stepS: 60, startS: -60, endS: 120 });
    close(run('deriv', line), 1);
    close(RANGE_KERNELS.predict_linear({ ...line, evalTime: 120_000 }, [60], ctx()), 180);
    // Constant series: slope 0 and intercept the value.
    close(run('deriv', win([3, 3, 3], { startS: 0, endS: 180 })), 0);
  });

  test('double exponential smoothing', () => {
    close(run('double_exponential_smoothing', win([1, 2, 4], { startS: 0, endS: 180 }), [0.5, 0.5]), 3.5);
    assert.throws(() => run('double_exponential_smoothing', win([1, 2], { startS: 0, endS: 120 }), [1, 0.5]), /invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000/);
    assert.throws(() => run('double_exponential_smoothing', win([1, 2], { startS: 0, endS: 120 }), [0.5, 0]), /invalid trend factor/);
  });
});

describe('resets and changes', () => {
  test('count drops and changes, NaN to NaN is no change', () => {
    assert.equal(run('resets', win([5, 10, 2, 4, 1], { startS: 0, endS: 300 })), 2);
    assert.equal(run('changes', win([1, 1, 2, NaN, NaN, 3], { startS: 0, endS: 360 })), 3);
    assert.equal(run('changes', win([7], { startS: 0, endS: 60 })), 0);
  });

  test('anchored starts from the sample at or before the window start', () => {
    const w: RangeWindow = { t: Float64Array.from([0, 60_000, 120_000]), v: Float64Array.from([5, 1, 1]), start: 30_000, end: 120_000, mode: 'anchored' };
    assert.equal(run('resets', w), 1);
    assert.equal(run('resets', { ...w, mode: undefined }), 1);
    const late: RangeWindow = { t: Float64Array.from([0, 60_000]), v: Float64Array.from([5, 1]), start: 30_000, end: 120_000, mode: 'anchored' };
    assert.equal(run('changes', late), 1);
  });
});

describe('aggregations over time', () => {
  const any = { startS: 0, endS: 1000 };
  test('sum and avg use compensated summation', () => {
    close(run('sum_over_time', win([1e100, 1, -1e100], any)), 1, 0);
    close(run('avg_over_time', win([1, 2, 3, 4], any)), 2.5);
    // Overflowing sums switch to an incremental mean.
    close(run('avg_over_time', win([Number.MAX_VALUE, Number.MAX_VALUE], any)), Number.MAX_VALUE);
    assert.equal(run('sum_over_time', win([Infinity, 1], any)), Infinity);
  });

  test('min, max and their timestamps; NaN only when all are NaN', () => {
    assert.equal(run('max_over_time', win([NaN, 1, 2], any)), 2);
    assert.equal(run('max_over_time', win([1, NaN], any)), 1);
    assert.equal(run('min_over_time', win([3, NaN, 1], any)), 1);
    assert.ok(Number.isNaN(run('min_over_time', win([NaN], any))!));
    assert.equal(run('ts_of_max_over_time', win([1, 3, 3], { ...any, stepS: 1, firstS: 1 })), 3);
    assert.equal(run('ts_of_min_over_time', win([1, 3, 1], { ...any, stepS: 1, firstS: 1 })), 3);
    assert.equal(run('ts_of_first_over_time', win([1, 3], { ...any, stepS: 1, firstS: 7 })), 7);
    assert.equal(run('ts_of_last_over_time', win([1, 3], { ...any, stepS: 1, firstS: 7 })), 8);
  });

  test('count, first, last, present', () => {
    const w = win([4, 5, 6], any);
    assert.equal(run('count_over_time', w), 3);
    assert.equal(run('first_over_time', w), 4);
    assert.equal(run('last_over_time', w), 6);
    assert.equal(run('present_over_time', w), 1);
    assert.equal(run('count_over_time', win([], any)), null);
  });

  test('stddev and stdvar are population figures', () => {
    const w = win([2, 4, 4, 4, 5, 5, 7, 9], any);
    close(run('stdvar_over_time', w), 4);
    close(run('stddev_over_time', w), 2);
  });

  test('quantile interpolates between ranks and warns for q outside [0, 1]', () => {
    close(run('quantile_over_time', win([4, 1, 3, 2], any), [0.5]), 2.5);
    close(run('quantile_over_time', win([4, 1, 3, 2], any), [0.9]), 3.7);
    const c = ctx();
    assert.equal(RANGE_KERNELS.quantile_over_time(win([1, 2], any), [1.5], c), Infinity);
    assert.equal(RANGE_KERNELS.quantile_over_time(win([1, 2], any), [-1], c), -Infinity);
    assert.deepEqual(c.warnings, ['PromQL warning: quantile value should be between 0 and 1, got 1.5', 'PromQL warning: quantile value should be between 0 and 1, got -1']);
    // NaN sorts first.
    assert.ok(Number.isNaN(run('quantile_over_time', win([3, NaN, 1], any), [0])!));
  });

  test('mad_over_time is the median absolute deviation', () => {
    close(run('mad_over_time', win([1, 2, 3, 4, 100], any)), 1);
  });
});

describe('classic histogram buckets', () => {
  const b = (pairs: [number, number][]) => pairs.map(([upper, count]) => ({ upper, count }));
  test('quantile interpolates within the bucket, from 0 in the lowest one', () => {
    const h = b([
      [1, 10],
      [2, 20],
      [Infinity, 20],
    ]);
    close(bucketQuantile(0.5, h), 1);
    close(bucketQuantile(0.75, h), 1.5);
    close(bucketQuantile(1, h), 2);
    close(bucketQuantile(0.25, h), 0.5);
  });

  test('special cases', () => {
    const h = b([
      [1, 10],
      [2, 20],
      [Infinity, 30],
    ]);
    assert.equal(bucketQuantile(0.9, h), 2);
    assert.ok(Number.isNaN(bucketQuantile(NaN, h)));
    assert.equal(bucketQuantile(-0.1, h), -Infinity);
    assert.equal(bucketQuantile(1.1, h), Infinity);
    assert.ok(Number.isNaN(bucketQuantile(0.5, b([[1, 1], [2, 2]]))), 'no +Inf bucket');
    assert.ok(Number.isNaN(bucketQuantile(0.5, b([[Infinity, 0], [1, 0]]))), 'no observations');
    assert.ok(Number.isNaN(bucketQuantile(0.5, b([[Infinity, 5]]))), 'only +Inf');
    assert.equal(bucketQuantile(0.2, b([[-1, 5], [Infinity, 10]])), -1);
  });

  test('unsorted and duplicate bounds; the input is not modified', () => {
    const h = b([
      [Infinity, 20],
      [2, 10],
      [1, 4],
      [1, 6],
    ]);
    close(bucketQuantile(0.5, h), 1);
    assert.deepEqual(h[3], { upper: 1, count: 6 });
  });

  test('monotonicity is forced and reported; float noise is fixed silently', () => {
    const r = bucketQuantileDetailed(0.5, b([[1, 10], [2, 5], [Infinity, 20]]));
    assert.equal(r.forcedMonotonicity, true);
    close(r.value, 1);
    const noise = bucketQuantileDetailed(0.5, b([[1, 10], [2, 10 - 1e-14], [Infinity, 20]]));
    assert.deepEqual([noise.forcedMonotonicity, noise.fixedPrecision], [false, true]);
  });

  test('fraction (values from the conformance suite)', () => {
    const pos = b([[1, 1], [2, 3], [3, 6], [Infinity, 100]]);
    close(bucketFraction(0, 1.5, pos), 0.02);
    close(bucketFraction(2, 5, pos), 0.03);
    close(bucketFraction(400, Infinity, pos), 0.94);
    close(bucketFraction(4, 5, pos), 0);
    close(bucketFraction(-Infinity, Infinity, pos), 1);
    const neg = b([[-3, 10], [-2, 12], [-1, 15], [Infinity, 100]]);
    close(bucketFraction(-4, -2, neg), 0.02);
    close(bucketFraction(-Infinity, -1.5, neg), 0.135);
    close(bucketFraction(0, 1, neg), 0);
    assert.equal(bucketFraction(2, 1, pos), 0);
    assert.ok(Number.isNaN(bucketFraction(NaN, 1, pos)));
    assert.ok(Number.isNaN(bucketFraction(0, 1, [])));
  });
});

describe('element-wise functions', () => {
  test('rounding ties go up; to a multiple', () => {
    assert.equal(ELEMENTWISE.round(2.5, []), 3);
    assert.equal(ELEMENTWISE.round(-2.5, []), -2);
    close(ELEMENTWISE.round(1.234, [0.1]), 1.2);
    assert.equal(ELEMENTWISE.round(17, [5]), 15);
  });

  test('clamps, sign', () => {
    assert.equal(ELEMENTWISE.clamp(5, [0, 3]), 3);
    assert.equal(ELEMENTWISE.clamp_min(-5, [0]), 0);
    assert.equal(ELEMENTWISE.clamp_max(5, [1]), 1);
    assert.ok(Number.isNaN(ELEMENTWISE.clamp(NaN, [0, 1])));
    assert.equal(clampBoundsEmpty('clamp', [2, 1]), true);
    assert.equal(clampBoundsEmpty('clamp', [1, 2]), false);
    assert.equal(ELEMENTWISE.sgn(-3, []), -1);
    assert.ok(Object.is(ELEMENTWISE.sgn(-0, []), -0));
  });

  test('date functions read seconds since the epoch in UTC', () => {
    const t = 1136239445; // 2006-01-02T22:04:05Z, a Monday.
    assert.deepEqual(
      ['year', 'month', 'day_of_month', 'day_of_year', 'day_of_week', 'hour', 'minute'].map((f) => ELEMENTWISE[f](t, [])),
      [2006, 1, 2, 2, 1, 22, 4],
    );
    assert.equal(ELEMENTWISE.days_in_month(1454284800, []), 29); // February 2016
    assert.equal(ELEMENTWISE.day_of_year(1483191420, []), 366); // 2016-12-31
    assert.equal(ELEMENTWISE.year(1230767999.9, []), 2008);
  });

  test('trigonometry and conversions', () => {
    close(ELEMENTWISE.deg(Math.PI, []), 180);
    close(ELEMENTWISE.rad(180, []), Math.PI);
    assert.ok(Number.isNaN(ELEMENTWISE.asin(2, [])));
    assert.equal(ELEMENTWISE.atanh(1, []), Infinity);
  });
});

describe('signatures', () => {
  test('every function of Prometheus 3 is listed with its types', () => {
    for (const f of ['rate', 'histogram_quantile', 'label_replace', 'sort_by_label', 'histogram_avg', 'double_exponential_smoothing', 'mad_over_time', 'info', 'ts_of_max_over_time', 'pi', 'step']) {
      assert.ok(SIGNATURES[f], f);
    }
    assert.equal(SIGNATURES.holt_winters, undefined);
    assert.deepEqual(SIGNATURES.histogram_quantile.args, ['scalar', 'instant']);
    assert.equal(SIGNATURES.scalar.returns, 'scalar');
    assert.equal(SIGNATURES.sort.keepsName, true);
    assert.equal(SIGNATURES.abs.keepsName, undefined);
  });
});

test('kahanInc keeps the lost low-order part', () => {
  let s = 0;
  let c = 0;
  for (const x of [1, 1e100, 1, -1e100]) [s, c] = kahanInc(x, s, c);
  assert.equal(s + c, 2);
});

test('min_of signature and mad_over_time with NaN', () => {
  assert.deepEqual(SIGNATURES.min_of.args, ['scalar', 'scalar']);
  assert.ok(Number.isNaN(run('mad_over_time', win([1, 2, NaN, 4], { startS: 0, endS: 300 }))!));
});

test('anchored and smoothed rate also report a metric that might not be a counter', () => {
  const c = ctx();
  RANGE_KERNELS.increase({ t: Float64Array.from([0, 60_000]), v: Float64Array.from([1, 2]), start: 30_000, end: 90_000, mode: 'anchored', metricName: 'foo' }, [], c);
  assert.equal(c.infos.length, 1);
});

test('goQuote quotes like Go %q', async () => {
  const { goQuote, annotations } = await import('./index.js');
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote('x\ny\u0001é'), '"x\\ny\\x01é"');
  assert.equal(annotations.badBucketLabel('series', 'Hello World'), 'PromQL warning: bucket label "le" is missing or has a malformed value of "Hello World" for metric name "series"');
  assert.equal(annotations.histogramQuantileForcedMonotonicity(''), 'PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)');
});
