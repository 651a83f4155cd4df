import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { labelsFromRecord } from '../model/labels.js';
import { STALE_NAN } from '../model/value.js';
import { MemoryStorage } from '../storage/memory.js';
import { Engine } from './engine.js';
import { QueryError } from './types.js';

function fixture(): MemoryStorage {
  const st = new MemoryStorage();
  const app = st.appender();
  for (let i = 0; i <= 10; i++) {
    const t = i * 60_000;
    app.append(0, labelsFromRecord({ __name__: 'req', job: 'a', code: '200' }), t, i * 10);
    app.append(0, labelsFromRecord({ __name__: 'req', job: 'a', code: '500' }), t, i);
    app.append(0, labelsFromRecord({ __name__: 'req', job: 'b', code: '200' }), t, i * 2);
    if (i < 5) app.append(0, labelsFromRecord({ __name__: 'gone', job: 'a' }), t, 1);
  }
  app.append(0, labelsFromRecord({ __name__: 'gone', job: 'a' }), 5 * 60_000, STALE_NAN);
  app.commit();
  return st;
}

describe('Engine', () => {
  test('aggregates with by and vector matching with group_left', async () => {
    const st = fixture();
    const e = new Engine();
    const r = await e.instantQuery(st, 'sum by (job) (req)', 600_000);
    assert.equal(r.value.type, 'vector');
    if (r.value.type !== 'vector') return;
    assert.deepEqual(
      r.value.samples.map((s) => [s.labels.map((l) => `${l.name}=${l.value}`).join(','), s.v]),
      [
        ['job=a', 110],
        ['job=b', 20],
      ],
    );
    const ratio = await e.instantQuery(st, 'req{code="500"} / ignoring(code) group_left sum by (job) (req)', 600_000);
    assert.equal(ratio.value.type, 'vector');
    if (ratio.value.type === 'vector') assert.equal(ratio.value.samples.length, 1);
  });

  test('range query walks the steps; staleness ends a series', async () => {
    const st = fixture();
    const e = new Engine();
    const r = await e.rangeQuery(st, 'gone', 0, 600_000, 60_000);
    assert.equal(r.value.type, 'matrix');
    if (r.value.type !== 'matrix') return;
    assert.deepEqual([...r.value.series[0].timestamps], [0, 60_000, 120_000, 180_000, 240_000]);
    const s = await e.rangeQuery(st, 'req{job="b"} offset 1m', 120_000, 180_000, 60_000);
    if (s.value.type === 'matrix') assert.deepEqual([...s.value.series[0].values], [2, 4]);
  });

  test('errors: many-to-many, max samples, abort', async () => {
    const st = fixture();
    await assert.rejects(new Engine().instantQuery(st, 'req + on(job) req', 600_000), (err: unknown) => err instanceof QueryError && /many-to-many/.test(err.message));
    await assert.rejects(
      new Engine({ maxSamples: 5 }).rangeQuery(st, 'req', 0, 600_000, 60_000),
      (err: unknown) => err instanceof QueryError && /too many samples/.test(err.message),
    );
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(new Engine().instantQuery(st, 'req', 0, { signal: ac.signal }), (err: unknown) => err instanceof QueryError && err.type === 'canceled');
  });

  test('timeout, queueing behind maxConcurrent, range queries need scalar or vector', async () => {
    const st = fixture();
    await assert.rejects(new Engine({ timeout: 0 }).instantQuery(st, 'req', 0), (err: unknown) => err instanceof QueryError && err.type === 'timeout');
    const e = new Engine({ maxConcurrent: 1 });
    const [a, b] = await Promise.all([e.instantQuery(st, 'count(req)', 600_000), e.instantQuery(st, 'sum(req)', 600_000)]);
    assert.deepEqual(a.value.type === 'vector' ? a.value.samples.map((s) => s.v) : null, [3]);
    assert.deepEqual(b.value.type === 'vector' ? b.value.samples.map((s) => s.v) : null, [130]);
    await assert.rejects(e.rangeQuery(st, 'req[5m]', 0, 60_000, 15_000), (err: unknown) => err instanceof QueryError && /range vector/.test(err.message));
    const m = await e.instantQuery(st, 'req{job="b"}[3m]', 600_000);
    assert.equal(m.value.type, 'matrix');
    if (m.value.type === 'matrix') assert.deepEqual([...m.value.series[0].values], [16, 18, 20]);
  });

  test('a long subquery is evaluated in slices with the same answer', async () => {
    const st = fixture();
    const e = new Engine();
    // [10m:50ms] is 12,000 steps, more than one slice; every step of the 10 minutes sees each
    // req series, `gone` until its stale marker at 5m.
    const steps = (600_000 - 0) / 50;
    const r = await e.instantQuery(st, 'count_over_time(req[10m:50ms])', 600_000);
    assert.deepEqual(r.value.type === 'vector' ? r.value.samples.map((s) => s.v) : null, [steps, steps, steps]);
    const gone = await e.instantQuery(st, 'count_over_time(gone[10m:50ms])', 600_000);
    assert.deepEqual(gone.value.type === 'vector' ? gone.value.samples.map((s) => s.v) : null, [300_000 / 50 - 1]);
    // A series that only the later slices have.
    const late = await e.instantQuery(st, 'count_over_time((req{job="b"} and on() vector(time()) > 450)[10m:50ms])', 600_000);
    assert.deepEqual(late.value.type === 'vector' ? late.value.samples.map((s) => s.v) : null, [(600_000 - 450_000) / 50]);
    const last = await e.instantQuery(st, 'max_over_time(timestamp(req{job="b"})[10m:50ms])', 600_000);
    assert.deepEqual(last.value.type === 'vector' ? last.value.samples.map((s) => s.v) : null, [600]);
  });

  test('a query over millions of subquery steps stops at its timeout or cancellation', async () => {
    const st = new MemoryStorage();
    // 8.64 M steps, within max_samples.
    const q = 'count_over_time(vector(1)[1d:10ms])';
    await assert.rejects(new Engine({ timeout: 5 }).instantQuery(st, q, 86_400_000), (err: unknown) => err instanceof QueryError && err.type === 'timeout' && err.message === 'query timed out in expression evaluation');
    // The evaluation serves the event loop while it runs, so an abort from it stops the query
    // (a synchronous pass over the steps would answer before the abort could happen).
    const ac = new AbortController();
    let turns = 0;
    const spin = (): void => {
      if (++turns === 3) ac.abort();
      else setImmediate(spin);
    };
    setImmediate(spin);
    await assert.rejects(new Engine().instantQuery(st, q, 86_400_000, { signal: ac.signal }), (err: unknown) => err instanceof QueryError && err.type === 'canceled');
    assert.equal(turns, 3);
  });
});
