import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { registerPrometheusAPI } from '../api/prometheus.js';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { labelsFromRecord } from '../model/labels.js';
import type { Matcher } from '../model/matchers.js';
import type { Querier, Queryable, SelectHints, SeriesSet } from '../storage/interface.js';
import { MemoryStorage } from '../storage/memory.js';
import { Engine } from './engine.js';
import { queryLimitsComponent } from './limits.js';
import { QueryError } from './types.js';

const T0 = 1_700_000_000_000;

function config(text: string): Config {
  const r = parseConfig(text, 'patrol.yml');
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  return r.config;
}

function configErrors(text: string): string[] {
  const r = parseConfig(text, 'patrol.yml');
  assert.ok(!r.ok, 'the configuration should have been rejected');
  return r.errors.map(String);
}

/** 20 series × 41 samples (10 minutes at 15 s). */
function storage(): MemoryStorage {
  const st = new MemoryStorage();
  const app = st.appender();
  for (let s = 0; s < 20; s++) {
    const ls = labelsFromRecord({ __name__: 'requests_total', instance: `i${s}` });
    let ref = 0;
    for (let k = 0; k <= 40; k++) ref = app.append(ref, ls, T0 + k * 15_000, k * (s + 1));
  }
  app.commit();
  return st;
}

/** A storage whose selects take `ms` of CPU per series, and that counts the series it served. */
class SlowQueryable implements Queryable {
  served = 0;
  selects = 0;
  constructor(
    private readonly inner: MemoryStorage,
    private readonly ms: number,
  ) {}
  querier(mint: number, maxt: number): Querier {
    const q = this.inner.querier(mint, maxt);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    return {
      select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
        self.selects++;
        const set = q.select(hints, matchers);
        return {
          next() {
            const until = Date.now() + self.ms;
            while (Date.now() < until) {
              // busy: a slow disk read
            }
            const ok = set.next();
            if (ok) self.served++;
            return ok;
          },
          at: () => set.at(),
          err: () => set.err(),
          warnings: () => set.warnings(),
        };
      },
      labelNames: (m) => q.labelNames(m),
      labelValues: (n, m) => q.labelValues(n, m),
      close: () => q.close(),
    };
  }
}

describe('query: configuration section', () => {
  it('has Prometheus defaults', () => {
    const c = config('global:\n  scrape_interval: 15s\n');
    assert.deepEqual(c.query, { lookback_delta: 300_000, timeout: 120_000, max_samples: 50_000_000, max_concurrency: 20 });
  });

  it('parses durations and numbers', () => {
    const c = config('query:\n  lookback_delta: 1m30s\n  timeout: 10s\n  max_samples: 1000\n  max_concurrency: 2\n');
    assert.deepEqual(c.query, { lookback_delta: 90_000, timeout: 10_000, max_samples: 1000, max_concurrency: 2 });
  });

  it('rejects bad values with the key and a reason', () => {
    const errs = configErrors('query:\n  lookback_delta: 0s\n  timeout: soon\n  max_samples: -5\n  max_concurrency: 1.5\n  max_queries: 3\n');
    const text = errs.join('\n');
    assert.match(text, /patrol\.yml:2:\d+: query\.lookback_delta: lookback_delta must be longer than 0/);
    assert.match(text, /patrol\.yml:3:\d+: query\.timeout: "soon" is not a duration/);
    assert.match(text, /patrol\.yml:4:\d+: query\.max_samples: max_samples must be a whole number of at least 1, got -5/);
    assert.match(text, /patrol\.yml:5:\d+: query\.max_concurrency: max_concurrency must be a whole number of at least 1, got 1\.5/);
    assert.match(text, /patrol\.yml:6:\d+: query\.max_queries: unknown key "max_queries"/);
  });

  it('applies the limits to the engine, again on reload, with the flag overriding the lookback', async () => {
    const engine = new Engine();
    const c = queryLimitsComponent(engine);
    await c.applyConfig(config('query:\n  lookback_delta: 1m\n  timeout: 5s\n  max_samples: 99\n  max_concurrency: 3\n'));
    assert.deepEqual(engine.limits, { lookbackDelta: 60_000, timeout: 5_000, maxSamples: 99, maxConcurrent: 3 });
    await c.applyConfig(config('{}'));
    assert.deepEqual(engine.limits, { lookbackDelta: 300_000, timeout: 120_000, maxSamples: 50_000_000, maxConcurrent: 20 });
    const flagged = queryLimitsComponent(engine, 30_000);
    await flagged.applyConfig(config('query:\n  lookback_delta: 1m\n'));
    assert.equal(engine.limits.lookbackDelta, 30_000);
  });

  it('uses the configured lookback delta for instant selectors', async () => {
    const engine = new Engine();
    const st = storage();
    const c = queryLimitsComponent(engine);
    // The last sample is at T0 + 600 s; 2 minutes later it is outside a 1-minute lookback.
    const at = T0 + 720_000;
    let r = await engine.instantQuery(st, 'count(requests_total)', at);
    assert.equal(r.value.type === 'vector' ? r.value.samples[0]?.v : null, 20);
    await c.applyConfig(config('query:\n  lookback_delta: 1m\n'));
    r = await engine.instantQuery(st, 'count(requests_total)', at);
    assert.deepEqual(r.value, { type: 'vector', samples: [] });
  });
});

describe('engine concurrency limit', () => {
  it('queues queries beyond max_concurrency and lets them in as others finish', async () => {
    const engine = new Engine({ maxConcurrent: 1 });
    const st = storage();
    const a = engine.rangeQuery(st, 'sum(rate(requests_total[1m]))', T0, T0 + 600_000, 15_000);
    const b = engine.rangeQuery(st, 'sum(requests_total)', T0, T0 + 600_000, 15_000);
    assert.deepEqual(engine.queue, { active: 1, waiting: 1 });
    await a;
    const rb = await b;
    assert.equal(rb.value.type, 'matrix');
    assert.deepEqual(engine.queue, { active: 0, waiting: 0 });
  });

  it('cancels a waiting query whose signal aborts, and admits waiting queries when the limit is raised', async () => {
    const engine = new Engine({ maxConcurrent: 1 });
    const st = storage();
    const ac = new AbortController();
    const a = engine.instantQuery(st, 'requests_total', T0);
    const b = engine.instantQuery(st, 'requests_total', T0, { signal: ac.signal });
    const c = engine.instantQuery(st, 'requests_total', T0);
    assert.deepEqual(engine.queue, { active: 1, waiting: 2 });
    ac.abort();
    assert.deepEqual(engine.queue, { active: 1, waiting: 1 });
    await assert.rejects(b, (e: unknown) => e instanceof QueryError && e.type === 'canceled');
    await Promise.all([a, c]);
    const d = engine.instantQuery(st, 'requests_total', T0);
    const e = engine.instantQuery(st, 'requests_total', T0);
    const f = engine.instantQuery(st, 'requests_total', T0);
    assert.deepEqual(engine.queue, { active: 1, waiting: 2 });
    engine.setLimits({ maxConcurrent: 3 });
    assert.deepEqual(engine.queue, { active: 3, waiting: 0 });
    await Promise.all([d, e, f]);
    assert.deepEqual(engine.queue, { active: 0, waiting: 0 });
    // An already aborted signal never takes a place in the queue.
    engine.setLimits({ maxConcurrent: 1 });
    const g = engine.instantQuery(st, 'requests_total', T0);
    await assert.rejects(engine.instantQuery(st, 'requests_total', T0, { signal: AbortSignal.abort() }), (x: unknown) => x instanceof QueryError && x.type === 'canceled');
    await g;
  });

  it('refuses invalid limits', () => {
    const engine = new Engine();
    assert.throws(() => engine.setLimits({ maxConcurrent: 0 }), /maxConcurrent must be a number >= 1/);
    assert.throws(() => engine.setLimits({ timeout: NaN }), /timeout must be a number >= 0/);
    assert.equal(engine.limits.maxConcurrent, 20);
  });
});

describe('Prometheus API with limits from the configuration', () => {
  async function serve(cfg: string, q: Queryable) {
    const engine = new Engine();
    await queryLimitsComponent(engine).applyConfig(config(cfg));
    const app = Fastify();
    registerPrometheusAPI(app, { queryable: q, engine, now: () => T0 + 600_000 });
    await app.ready();
    return { app, engine };
  }

  it('answers a query over max_samples with 422 and Prometheus error text', async () => {
    const { app } = await serve('query:\n  max_samples: 100\n', storage());
    try {
      // 20 series × 21 samples in the 5-minute windows: more than 100.
      const r = await app.inject({ method: 'GET', url: `/api/v1/query?query=${encodeURIComponent('sum(rate(requests_total[5m]))')}&time=${(T0 + 600_000) / 1000}` });
      assert.equal(r.statusCode, 422);
      assert.equal(r.body, '{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}');
      // A small enough query still runs.
      const ok = await app.inject({ method: 'GET', url: `/api/v1/query?query=${encodeURIComponent('requests_total{instance="i1"}')}&time=${(T0 + 600_000) / 1000}` });
      assert.equal(ok.statusCode, 200);
    } finally {
      await app.close();
    }
  });

  it('counts subquery steps against max_samples before allocating them (422, saying what to change)', async () => {
    const { app } = await serve('{}', new MemoryStorage());
    try {
      const ask = (q: string) => app.inject({ method: 'GET', url: `/api/v1/query?query=${encodeURIComponent(q)}&time=${T0 / 1000}` });
      // 86.4 M steps of one series: more than the default max_samples (50 M).
      const r = await ask('count_over_time(vector(1)[1d:1ms])');
      assert.equal(r.statusCode, 422);
      const body = r.json() as { errorType: string; error: string };
      assert.equal(body.errorType, 'execution');
      assert.match(body.error, /^query processing would load too many samples into memory in query execution: the subquery \[1d:1ms\] evaluates 86400000 steps, more than max_samples \(50000000\)/);
      // Too many steps to allocate at all: the same message, not an allocation failure.
      const huge = await ask('count_over_time(vector(1)[100y:1ms])');
      assert.equal(huge.statusCode, 422);
      assert.match(huge.json().error, /the subquery \[100y:1ms\] evaluates 3153600000000 steps, more than max_samples/);
      assert.doesNotMatch(huge.body, /typed array/i);
      // Steps of nested subqueries add up.
      const nested = await serve('query:\n  max_samples: 1000\n', new MemoryStorage());
      try {
        const n = await nested.app.inject({ method: 'GET', url: `/api/v1/query?query=${encodeURIComponent('max_over_time(count_over_time(vector(1)[10m:1s])[10m:1s])')}&time=${T0 / 1000}` });
        assert.equal(n.statusCode, 422);
        const fits = await nested.app.inject({ method: 'GET', url: `/api/v1/query?query=${encodeURIComponent('count_over_time(vector(1)[10m:1s])')}&time=${T0 / 1000}` });
        assert.equal(fits.statusCode, 200);
        assert.equal(fits.json().data.result[0].value[1], '600');
      } finally {
        await nested.app.close();
      }
    } finally {
      await app.close();
    }
  });

  it('times out an expensive computation (no storage reads) at timeout=50ms', async () => {
    // 8.64 M subquery steps, within max_samples: hundreds of ms of computation.
    const { app } = await serve('query:\n  timeout: 50ms\n', new MemoryStorage());
    try {
      const r = await app.inject({ method: 'GET', url: `/api/v1/query?query=${encodeURIComponent('count_over_time(vector(1)[1d:10ms])')}&time=${T0 / 1000}` });
      assert.equal(r.statusCode, 503);
      assert.deepEqual(r.json(), { status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' });
    } finally {
      await app.close();
    }
  });

  it('answers a query running past the configured timeout with 503 timeout', async () => {
    // Every series takes 5 ms to read, so 20 series take longer than the 20 ms timeout.
    const slow = new SlowQueryable(storage(), 5);
    const { app } = await serve('query:\n  timeout: 20ms\n', slow);
    try {
      const r = await app.inject({ method: 'GET', url: `/api/v1/query_range?query=${encodeURIComponent('sum(requests_total)')}&start=${T0 / 1000}&end=${(T0 + 600_000) / 1000}&step=15` });
      assert.equal(r.statusCode, 503);
      assert.deepEqual(r.json(), { status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' });
      assert.ok(slow.served < 20, `the query should stop at the timeout, but read all ${slow.served} series`);
    } finally {
      await app.close();
    }
  });

  it('stops evaluating when the HTTP client goes away', async () => {
    // 2,000 series at 2 ms each: 4 s if the query were not cancelled.
    const st = new MemoryStorage();
    const app0 = st.appender();
    for (let s = 0; s < 2000; s++) app0.append(0, labelsFromRecord({ __name__: 'm', i: String(s) }), T0, s);
    app0.commit();
    const slow = new SlowQueryable(st, 2);
    const { app, engine } = await serve('{}', slow);
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const addr = app.server.address();
      assert.ok(addr && typeof addr === 'object');
      const req = request({ host: '127.0.0.1', port: addr.port, path: `/api/v1/query?query=sum(m)&time=${T0 / 1000}`, method: 'GET' });
      req.on('error', () => undefined);
      req.end();
      while (slow.served === 0) await new Promise((r) => setTimeout(r, 5));
      req.destroy();
      while (engine.queue.active > 0) await new Promise((r) => setTimeout(r, 5));
      assert.ok(slow.served < 2000, `the query should stop when the client leaves, but read all ${slow.served} series`);
    } finally {
      await app.close();
    }
  });
});
