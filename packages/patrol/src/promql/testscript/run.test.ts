import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matcher } from '../../model/matchers.js';
import { isStaleNaN } from '../../model/value.js';
import { collectSeries, loadSamples } from '../../storage/interface.js';
import type { Queryable } from '../../storage/interface.js';
import { MemoryStorage } from '../../storage/memory.js';
import type { InstantSample, QueryEngine, QueryResult, RangeSeries } from '../types.js';
import { QueryError } from '../types.js';
import { runTestFile } from './run.js';

/**
 * The smallest engine the runner can drive: it understands a bare metric name (5 m lookback,
 * staleness) and `time()`, and warns for names starting with "warn_". Enough to exercise loading,
 * the range-mode repeat and annotation checks without the real evaluator.
 */
class SelectorEngine implements QueryEngine {
  private select(q: Queryable, name: string, t: number): InstantSample[] {
    const querier = q.querier(t - 300_000, t);
    const out: InstantSample[] = [];
    for (const s of collectSeries(querier.select({ start: t - 300_000 + 1, end: t }, [new Matcher('=', '__name__', name)]))) {
      const { timestamps, values } = loadSamples(s.iterator());
      const i = timestamps.length - 1;
      if (i >= 0 && timestamps[i] > t - 300_000 && !isStaleNaN(values[i])) out.push({ labels: s.labels, t, v: values[i] });
    }
    return out;
  }

  private result(value: QueryResult['value'], expr: string): QueryResult {
    return { value, warnings: expr.startsWith('warn_') ? ['PromQL warning: w'] : [], infos: [], stats: { samplesLoaded: 0, evalMs: 0 } };
  }

  async instantQuery(q: Queryable, expr: string, t: number): Promise<QueryResult> {
    const at = / @ (-?[\d.]+)$/.exec(expr);
    if (at) return this.instantQuery(q, expr.slice(0, at.index), Number(at[1]) * 1000);
    if (expr === 'time()') return this.result({ type: 'scalar', t, v: t / 1000 }, expr);
    if (!/^[a-z_]+$/.test(expr)) throw new QueryError('bad_data', `1:1: parse error: unexpected ${JSON.stringify(expr)}`);
    return this.result({ type: 'vector', samples: this.select(q, expr, t) }, expr);
  }

  async rangeQuery(q: Queryable, expr: string, start: number, end: number, step: number): Promise<QueryResult> {
    const series = new Map<string, { labels: RangeSeries['labels']; ts: number[]; vs: number[] }>();
    for (let t = start; t <= end; t += step) {
      const r = await this.instantQuery(q, expr, t);
      const samples = r.value.type === 'scalar' ? [{ labels: [], t, v: r.value.v }] : r.value.type === 'vector' ? r.value.samples : [];
      for (const s of samples) {
        const k = JSON.stringify(s.labels);
        let e = series.get(k);
        if (!e) series.set(k, (e = { labels: s.labels, ts: [], vs: [] }));
        e.ts.push(t);
        e.vs.push(s.v);
      }
    }
    const list = [...series.values()].map((e) => ({ labels: e.labels, timestamps: Float64Array.from(e.ts), values: Float64Array.from(e.vs) }));
    return this.result({ type: 'matrix', series: list }, expr);
  }
}

const makeEngine = () => ({ engine: new SelectorEngine(), storage: new MemoryStorage() });

test('runs loads and evals, with the range-mode repeat of instant evals', async () => {
  const script = `
load 1m
  metric{a="1"} 1+1x4 stale
  metric{a="2"} 10 _ _ _ _ _ _ 20
  h {{schema:0 count:1}}

eval instant at 2m metric
  metric{a="1"} 3
  metric{a="2"} 10

# Wrong on purpose.
eval instant at 2m metric
  metric{a="1"} 4
  metric{a="2"} 10

eval range from 0 to 6m step 2m metric
  metric{a="1"} 1 3 5 _
  metric{a="2"} 10 10 10 _

eval instant at 0 time()
  0

eval instant at 0 nonsense(
  expect fail msg: 1:1: parse error: unexpected "nonsense("

eval instant at 0 nonsense(
  expect fail regex: something else

eval instant at 1m warn_x
  expect warn

eval instant at 1m warn_x
  expect no_warn

eval instant at 1m h
  {__name__="h"} {{schema:0 count:1}}

eval instant at 1m h

clear

eval instant at 2m metric
`;
  const r = await runTestFile(script, 'inline.test', makeEngine);
  const byLine = new Map(r.evals.map((e) => [e.line, e]));
  const lineOf = (s: string, nth = 0): number => script.split('\n').findIndex((l, i, all) => l === s && all.slice(0, i).filter((x) => x === s).length === nth) + 1;
  assert.equal(byLine.get(lineOf('eval instant at 2m metric'))?.status, 'pass');
  const wrong = byLine.get(lineOf('eval instant at 2m metric', 1));
  assert.equal(wrong?.status, 'fail');
  assert.match(wrong?.reason ?? '', /expected 4 for metric\{a="1"\} but got 3/);
  assert.equal(byLine.get(lineOf('eval range from 0 to 6m step 2m metric'))?.status, 'pass', byLine.get(lineOf('eval range from 0 to 6m step 2m metric'))?.reason);
  assert.equal(byLine.get(lineOf('eval instant at 0 time()'))?.status, 'pass');
  assert.equal(byLine.get(lineOf('eval instant at 0 nonsense('))?.status, 'pass');
  assert.equal(byLine.get(lineOf('eval instant at 0 nonsense(', 1))?.status, 'fail');
  assert.equal(byLine.get(lineOf('eval instant at 1m warn_x'))?.status, 'pass');
  assert.equal(byLine.get(lineOf('eval instant at 1m warn_x', 1))?.status, 'fail');
  const hist = byLine.get(lineOf('eval instant at 1m h'));
  assert.deepEqual([hist?.status, hist?.nativeHistogram], ['skip', true]);
  const histNoExpect = byLine.get(lineOf('eval instant at 1m h', 1));
  assert.equal(histNoExpect?.nativeHistogram, true);
  // After clear the storage is empty, so an eval expecting nothing passes.
  assert.equal(byLine.get(lineOf('eval instant at 2m metric', 2))?.status, 'pass');
  assert.deepEqual(r.counts.other, { pass: 6, fail: 3, skip: 0 });
  assert.equal(r.counts.nativeHistogram.skip, 1);
});

test('the range-mode repeat catches engines whose range answers differ', async () => {
  class Inconsistent extends SelectorEngine {
    override async rangeQuery(): Promise<QueryResult> {
      return { value: { type: 'matrix', series: [] }, warnings: [], infos: [], stats: { samplesLoaded: 0, evalMs: 0 } };
    }
  }
  const r = await runTestFile('load 1m\n  m 1\n\neval instant at 0 m\n  m 1\n', 'x.test', () => ({ engine: new Inconsistent(), storage: new MemoryStorage() }));
  assert.equal(r.evals[0].status, 'fail');
  assert.match(r.evals[0].reason ?? '', /range mode/);
});

test('@ modifier variants run at the extra evaluation times when a rewrite is given', async () => {
  const seen: number[] = [];
  class Recording extends SelectorEngine {
    private inRange = false;
    override async rangeQuery(q: Queryable, expr: string, start: number, end: number, step: number): Promise<QueryResult> {
      this.inRange = true;
      try {
        return await super.rangeQuery(q, expr, start, end, step);
      } finally {
        this.inRange = false;
      }
    }
    override async instantQuery(q: Queryable, expr: string, t: number): Promise<QueryResult> {
      if (!this.inRange) seen.push(t);
      return super.instantQuery(q, expr === 'm @ 100.000' ? 'm' : expr, 100_000);
    }
  }
  const r = await runTestFile('load 1m\n  m 1 2\n\neval instant at 100s m\n  m 2\n', 'x.test', () => ({ engine: new Recording(), storage: new MemoryStorage() }), {
    atModifierRewrite: (expr, t) => `${expr} @ ${(t / 1000).toFixed(3)}`,
  });
  assert.equal(r.evals[0].status, 'pass', r.evals[0].reason);
  assert.deepEqual(seen, [100_000, -1_000_000, 0, 20_000, 100_000, 1_000_000]);
});

test('evals are counted with native histograms when a selector selects a histogram series', async () => {
  const script = `
load 1m
  a{job="x"} 1 2
  h{job="x"} {{schema:0 count:1}} {{schema:0 count:2}}
  c_bucket{le="1"} 1 2
  c_bucket{le="+Inf"} 2 3

load_with_nhcb 1m
  d_bucket{le="1"} 1 2
  d_bucket{le="+Inf"} 2 3

eval instant at 1m a

eval instant at 1m count({job="x"})

eval instant at 1m c_bucket

eval instant at 1m d

eval instant at 1m d_bucket
`;
  const r = await runTestFile(script, 'nh.test', makeEngine, { atModifierRewrite: null });
  assert.deepEqual(
    r.evals.map((e) => [e.expr, e.nativeHistogram]),
    [
      ['a', false],
      ['count({job="x"})', true],
      ['c_bucket', false],
      ['d', true],
      ['d_bucket', false],
    ],
  );
});

test('a query that never finishes fails its eval after the timeout and is aborted', async () => {
  let aborted = false;
  class Hanging extends SelectorEngine {
    override instantQuery(_q: Queryable, _e: string, _t: number, opts?: { signal?: AbortSignal }): Promise<QueryResult> {
      opts?.signal?.addEventListener('abort', () => {
        aborted = true;
      });
      return new Promise(() => {});
    }
  }
  const r = await runTestFile('eval instant at 0 m\n', 'x.test', () => ({ engine: new Hanging(), storage: new MemoryStorage() }), { queryTimeoutMs: 50 });
  assert.equal(r.evals[0].status, 'fail');
  assert.match(r.evals[0].reason ?? '', /did not finish within 50 ms/);
  assert.equal(aborted, true);
});
