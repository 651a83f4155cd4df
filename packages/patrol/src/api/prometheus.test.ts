import assert from 'node:assert/strict';
import { request } from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { labelsFromRecord } from '../model/labels.js';
import { QueryError, type QueryEngine, type QueryOptions, type QueryResult, type Value } from '../promql/types.js';
import type { Queryable } from '../storage/interface.js';
import { MemoryStorage } from '../storage/memory.js';
import { deferredQueryable, registerPrometheusAPI } from './prometheus.js';
import { Engine } from '../promql/engine.js';

const T0 = 1_700_000_000_000;

function loadStorage(): MemoryStorage {
  const st = new MemoryStorage();
  const app = st.appender();
  for (let i = 0; i <= 20; i++) {
    const t = T0 + i * 15_000;
    app.append(0, labelsFromRecord({ __name__: 'http_requests_total', job: 'api', code: '200' }), t, i * 10);
    app.append(0, labelsFromRecord({ __name__: 'http_requests_total', job: 'api', code: '500' }), t, i);
    app.append(0, labelsFromRecord({ __name__: 'up', job: 'api', instance: 'a<b&c' }), t, 1);
  }
  app.append(0, labelsFromRecord({ __name__: 'odd', k: 'tiny' }), T0, 1e-7);
  app.commit();
  return st;
}

/**
 * An engine with scripted answers, to test the HTTP layer alone: how it encodes each result type
 * and maps each engine error, and that it passes the abort signal. Expressions it knows:
 * `vector`, `scalar`, `string`, `matrix`, `warn`, `hang` (waits for the signal), `err:<type>`.
 */
class ScriptedEngine implements QueryEngine {
  last: { expr: string; time?: number; start?: number; end?: number; step?: number; opts?: QueryOptions } | null = null;
  aborted: Promise<unknown>;
  private resolveAborted!: (reason: unknown) => void;

  constructor() {
    this.aborted = new Promise((r) => (this.resolveAborted = r));
  }

  async instantQuery(_q: Queryable, expr: string, time: number, opts?: QueryOptions): Promise<QueryResult> {
    this.last = { expr, time, opts };
    return this.answer(expr, time, opts);
  }

  async rangeQuery(_q: Queryable, expr: string, start: number, end: number, step: number, opts?: QueryOptions): Promise<QueryResult> {
    this.last = { expr, start, end, step, opts };
    return this.answer(expr, start, opts);
  }

  private async answer(expr: string, t: number, opts?: QueryOptions): Promise<QueryResult> {
    const ok = (value: Value, warnings: string[] = [], infos: string[] = []): QueryResult => ({ value, warnings, infos, stats: { samplesLoaded: 7, evalMs: 1.5 } });
    const labels = labelsFromRecord({ __name__: 'm', a: 'x<y' });
    switch (expr) {
      case 'vector':
        return ok({
          type: 'vector',
          samples: [
            { labels, t, v: 1e-7 },
            { labels: labelsFromRecord({ b: '1' }), t, v: -Infinity },
          ],
        });
      case 'scalar':
        return ok({ type: 'scalar', t, v: 1.5e21 });
      case 'string':
        return ok({ type: 'string', t, v: 'hello' });
      case 'matrix':
        return ok({ type: 'matrix', series: [{ labels, timestamps: Float64Array.of(t, t + 500), values: Float64Array.of(NaN, 2) }] });
      case 'big': {
        // About 20 MB of JSON: streamed rather than sent as one string.
        const ts = Float64Array.from({ length: 1000 }, (_, i) => t + i * 15_000);
        const series = Array.from({ length: 1000 }, (_, i) => ({ labels: labelsFromRecord({ __name__: 'big', i: String(i) }), timestamps: ts, values: Float64Array.from(ts, (_t, j) => i * j + 0.5) }));
        return ok({ type: 'matrix', series }, ['w']);
      }
      case 'warn':
        return ok({ type: 'vector', samples: [] }, ['PromQL warning: something'], ['PromQL info: note']);
      case 'hang':
        return new Promise((_resolve, reject) => {
          const signal = opts?.signal;
          if (!signal) return reject(new Error('no signal passed'));
          signal.addEventListener('abort', () => {
            this.resolveAborted(signal.reason);
            reject(new QueryError('canceled', 'query was canceled in expression evaluation'));
          });
        });
    }
    if (expr.startsWith('err:')) {
      const type = expr.slice(4) as QueryError['type'];
      if (type === 'bad_data') throw new QueryError('bad_data', 'expected type range vector in call to function "rate", got instant vector', { line: 1, column: 6 });
      throw new QueryError(type, `failed with ${type}`);
    }
    if (expr === 'plain-error') throw new Error('something broke');
    throw new QueryError('bad_data', `1:1: parse error: unknown test expression ${JSON.stringify(expr)}`);
  }
}

async function json(app: FastifyInstance, url: string, body?: string) {
  const r = await app.inject(
    body === undefined
      ? { method: 'GET', url }
      : { method: 'POST', url, payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  );
  return { status: r.statusCode, body: r.json() as Record<string, unknown>, raw: r.body, headers: r.headers };
}

describe('Prometheus API over a scripted engine', () => {
  const engine = new ScriptedEngine();
  const storage = loadStorage();
  const app = Fastify();
  registerPrometheusAPI(app, {
    queryable: storage,
    engine,
    lookbackDelta: 300_000,
    now: () => T0 + 300_000,
    format: (e) => {
      if (e === 'sum(') throw new QueryError('bad_data', 'unclosed left parenthesis', { line: 1, column: 5 });
      return e.replace(/\s+/g, ' ');
    },
    parse: (e) => ({ type: 'vectorSelector', name: e }),
    metadata: () =>
      new Map([
        ['up', [{ type: 'gauge', help: 'Up.', unit: '' }, { type: 'gauge', help: 'Up.', unit: '' }]],
        ['http_requests_total', [{ type: 'counter', help: 'Requests.', unit: '' }, { type: 'counter', help: 'All requests.', unit: '' }]],
      ]),
    flags: { 'storage.tsdb.retention.time': '15d', 'query.lookback-delta': '5m' },
    config: () => ({ global: { scrape_interval: '15s' }, secret: { toJSON: () => '<secret>' } }),
    runtimeInfo: () => ({ storageRetention: '15d' }),
  });
  after(() => app.close());

  it('answers instant queries with each result type in Prometheus shapes', async () => {
    let r = await json(app, '/api/v1/query?query=vector&time=1700000000.5');
    assert.equal(r.status, 200);
    assert.equal(
      r.raw,
      '{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"m","a":"x\\u003cy"},"value":[1700000000.500,"1e-07"]},{"metric":{"b":"1"},"value":[1700000000.500,"-Inf"]}]}}',
    );
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(engine.last?.time, T0 + 500);
    assert.equal(engine.last?.opts?.lookbackDelta, 300_000);
    r = await json(app, '/api/v1/query?query=scalar&time=2');
    assert.equal(r.raw, '{"status":"success","data":{"resultType":"scalar","result":[2,"1500000000000000000000"]}}');
    r = await json(app, '/api/v1/query?query=string&time=2.25');
    assert.equal(r.raw, '{"status":"success","data":{"resultType":"string","result":[2.25,"hello"]}}');
    r = await json(app, '/api/v1/query?query=scalar');
    assert.equal(engine.last?.time, T0 + 300_000, 'time defaults to now');
  });

  it('accepts form-encoded POST bodies, body values first', async () => {
    const r = await json(app, '/api/v1/query?query=vector', 'query=scalar&time=2020-01-01T00%3A00%3A00.5Z&lookback_delta=1m');
    assert.equal(r.status, 200);
    assert.equal(engine.last?.expr, 'scalar');
    assert.equal(engine.last?.time, Date.UTC(2020, 0, 1) + 500);
    assert.equal(engine.last?.opts?.lookbackDelta, 60_000);
  });

  it('answers range queries and passes start, end and step in milliseconds', async () => {
    const r = await json(app, '/api/v1/query_range', 'query=matrix&start=10&end=70&step=15s');
    assert.equal(r.raw, '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"m","a":"x\\u003cy"},"values":[[10,"NaN"],[10.500,"2"]]}]}}');
    assert.deepEqual([engine.last?.start, engine.last?.end, engine.last?.step], [10_000, 70_000, 15_000]);
    await json(app, '/api/v1/query_range?query=matrix&start=10&end=11&step=0.25');
    assert.equal(engine.last?.step, 250);
  });

  it('limits the series of query results with a warning', async () => {
    let r = await json(app, '/api/v1/query?query=vector&time=1&limit=1');
    assert.deepEqual(r.body, {
      status: 'success',
      data: { resultType: 'vector', result: [{ metric: { __name__: 'm', a: 'x<y' }, value: [1, '1e-07'] }] },
      warnings: ['results truncated due to limit'],
    });
    r = await json(app, '/api/v1/query_range?query=big&start=0&end=100&step=1&limit=2');
    assert.equal((r.body.data as { result: unknown[] }).result.length, 2);
    assert.deepEqual(r.body.warnings, ['w', 'results truncated due to limit']);
    r = await json(app, '/api/v1/query?query=vector&time=1&limit=2');
    assert.equal(r.body.warnings, undefined);
    r = await json(app, '/api/v1/query?query=vector&time=1&limit=x');
    assert.equal(r.status, 400);
  });

  it('compresses like Prometheus: first of gzip or deflate in Accept-Encoding', async () => {
    const plain = await app.inject({ method: 'GET', url: '/api/v1/labels' });
    assert.equal(plain.headers['content-encoding'], undefined);
    const gz = await app.inject({ method: 'GET', url: '/api/v1/labels', headers: { 'accept-encoding': 'br, gzip, deflate' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.rawPayload).toString(), plain.body);
    const df = await app.inject({ method: 'GET', url: '/api/v1/labels', headers: { 'accept-encoding': 'deflate, gzip' } });
    assert.equal(df.headers['content-encoding'], 'deflate');
    assert.equal(inflateSync(df.rawPayload).toString(), plain.body);
    const q = await app.inject({ method: 'GET', url: '/api/v1/labels', headers: { 'accept-encoding': 'gzip;q=1.0' } });
    assert.equal(q.headers['content-encoding'], undefined);
    // About 200 KB: compressed in the zlib thread pool.
    const mid = await app.inject({ method: 'GET', url: '/api/v1/query_range?query=big&start=0&end=100&step=1&limit=10', headers: { 'accept-encoding': 'deflate' } });
    assert.equal(mid.headers['content-encoding'], 'deflate');
    assert.equal((JSON.parse(inflateSync(mid.rawPayload).toString()) as { data: { result: unknown[] } }).data.result.length, 10);
    const big = await app.inject({ method: 'GET', url: '/api/v1/query_range?query=big&start=0&end=100&step=1', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(big.headers['content-encoding'], 'gzip');
    const body = JSON.parse(gunzipSync(big.rawPayload).toString()) as { data: { result: unknown[] } };
    assert.equal(body.data.result.length, 1000);
  });

  it('streams results too large for one string, with the same JSON', async () => {
    const r = await json(app, '/api/v1/query_range?query=big&start=0&end=100&step=1');
    assert.equal(r.status, 200);
    assert.ok(r.raw.length > 8 << 20, `body of ${r.raw.length} characters`);
    const body = r.body as { status: string; data: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] }; warnings: string[] };
    assert.equal(body.status, 'success');
    assert.deepEqual(body.warnings, ['w']);
    assert.equal(body.data.result.length, 1000);
    assert.deepEqual(body.data.result[999].metric, { __name__: 'big', i: '999' });
    assert.deepEqual(body.data.result[999].values[999], [14985, '998001.5']);
  });

  it('includes warnings, infos and stats when present', async () => {
    let r = await json(app, '/api/v1/query?query=warn&time=1');
    assert.deepEqual(r.body, { status: 'success', data: { resultType: 'vector', result: [] }, warnings: ['PromQL warning: something'], infos: ['PromQL info: note'] });
    r = await json(app, '/api/v1/query?query=scalar&time=1&stats=all');
    const stats = (r.body.data as { stats: { timings: Record<string, number>; samples: Record<string, number> } }).stats;
    assert.deepEqual(Object.keys(stats.timings), ['evalTotalTime', 'resultSortTime', 'queryPreparationTime', 'innerEvalTime', 'execQueueTime', 'execTotalTime']);
    assert.equal(stats.timings.evalTotalTime, 0.0015);
    assert.deepEqual(stats.samples, { totalQueryableSamples: 7, peakSamples: 7 });
    r = await json(app, '/api/v1/query?query=scalar&time=1');
    assert.equal((r.body.data as Record<string, unknown>).stats, undefined);
  });

  it('rejects bad parameters with Prometheus texts and 400 bad_data', async () => {
    const cases: [string, string][] = [
      ['/api/v1/query?query=scalar&time=abc', 'invalid parameter "time": Invalid time value for \'time\': cannot parse "abc" to a valid timestamp'],
      ['/api/v1/query?query=scalar&timeout=x', 'invalid parameter "timeout": cannot parse "x" to a valid duration'],
      ['/api/v1/query?query=scalar&lookback_delta=x', 'invalid parameter "lookback_delta": cannot parse "x" to a valid duration'],
      ['/api/v1/query_range?query=matrix&end=1&step=1', 'invalid parameter "start": cannot parse "" to a valid timestamp'],
      ['/api/v1/query_range?query=matrix&start=1&end=x&step=1', 'invalid parameter "end": cannot parse "x" to a valid timestamp'],
      ['/api/v1/query_range?query=matrix&start=1&end=2', 'invalid parameter "step": cannot parse "" to a valid duration'],
      ['/api/v1/query_range?query=matrix&start=1&end=2&step=abc', 'invalid parameter "step": cannot parse "abc" to a valid duration'],
      ['/api/v1/query_range?query=matrix&start=1&end=2&step=0', 'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer'],
      ['/api/v1/query_range?query=matrix&start=1&end=2&step=-1', 'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer'],
      ['/api/v1/query_range?query=matrix&start=5&end=2&step=1', 'invalid parameter "end": end timestamp must not be before start time'],
      ['/api/v1/query_range?query=matrix&start=0&end=11001&step=1', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)'],
      ['/api/v1/query?query=err:bad_data&time=1', 'invalid parameter "query": 1:6: parse error: expected type range vector in call to function "rate", got instant vector'],
      ['/api/v1/series', 'no match[] parameter provided'],
      ['/api/v1/series?match[]=up%7B', 'invalid parameter "match[]": 1:4: parse error: unexpected end of input inside braces'],
      ['/api/v1/series?match[]=%7B%7D', 'invalid parameter "match[]": match[] must contain at least one non-empty matcher'],
      ['/api/v1/series?match[]=%7Ba%3D~%22.*%22%7D', 'invalid parameter "match[]": match[] must contain at least one non-empty matcher'],
      ['/api/v1/series?match[]=up&start=abc', 'invalid parameter "start": Invalid time value for \'start\': cannot parse "abc" to a valid timestamp'],
      ['/api/v1/series?match[]=up&limit=x', 'invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax'],
      ['/api/v1/labels?limit=-1', 'invalid parameter "limit": limit must be non-negative'],
      ['/api/v1/labels?end=x', 'invalid parameter "end": Invalid time value for \'end\': cannot parse "x" to a valid timestamp'],
      ['/api/v1/metadata?limit=x', 'limit must be a number'],
      ['/api/v1/metadata?limit_per_metric=x', 'limit_per_metric must be a number'],
      ['/api/v1/format_query?query=sum(', 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis'],
    ];
    for (const [url, error] of cases) {
      const r = await json(app, url);
      assert.equal(r.status, 400, url);
      assert.deepEqual(r.body, { status: 'error', errorType: 'bad_data', error }, url);
    }
  });

  it('maps engine errors to Prometheus status codes', async () => {
    const cases: [string, number, string][] = [
      ['err:execution', 422, 'execution'],
      ['err:timeout', 503, 'timeout'],
      ['err:unavailable', 503, 'unavailable'],
      ['err:internal', 500, 'internal'],
      ['err:canceled', 499, 'canceled'],
      ['plain-error', 422, 'execution'],
    ];
    for (const [expr, status, type] of cases) {
      const r = await json(app, `/api/v1/query?query=${encodeURIComponent(expr)}&time=1`);
      assert.equal(r.status, status, expr);
      assert.equal(r.body.errorType, type, expr);
      assert.equal(r.body.status, 'error');
      assert.equal(typeof r.body.error, 'string');
    }
  });

  it('survives extreme times and timeouts', async () => {
    let r = await json(app, '/api/v1/query?query=scalar&time=1e300&timeout=1e9');
    assert.equal(r.status, 200);
    assert.equal(engine.last?.time, 8_640_000_000_000_000);
    r = await json(app, '/api/v1/query?query=scalar&time=-1e300');
    assert.equal(engine.last?.time, -8_640_000_000_000_000);
  });

  it('times out a query after the timeout parameter with 503 timeout', async () => {
    const r = await json(app, '/api/v1/query?query=hang&time=1&timeout=0.05');
    assert.equal(r.status, 503);
    assert.deepEqual(r.body, { status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' });
  });

  it('lists series, merging several match[] and honouring limit', async () => {
    let r = await json(app, '/api/v1/series?match[]=up&match[]=http_requests_total%7Bcode%3D%22500%22%7D');
    assert.equal(
      r.raw,
      '{"status":"success","data":[{"__name__":"http_requests_total","code":"500","job":"api"},{"__name__":"up","instance":"a\\u003cb\\u0026c","job":"api"}]}',
    );
    r = await json(app, '/api/v1/series', 'match[]=http_requests_total&match[]=up&limit=2');
    assert.deepEqual(r.body, {
      status: 'success',
      data: [
        { __name__: 'http_requests_total', code: '200', job: 'api' },
        { __name__: 'http_requests_total', code: '500', job: 'api' },
      ],
      warnings: ['results truncated due to limit'],
    });
    // Only series with samples in [start, end] are listed.
    r = await json(app, `/api/v1/series?match[]=%7Bjob%3D%22api%22%7D&start=${T0 / 1000 + 3600}`);
    assert.deepEqual(r.body, { status: 'success', data: [] });
  });

  it('lists label names and values', async () => {
    let r = await json(app, '/api/v1/labels');
    assert.deepEqual(r.body, { status: 'success', data: ['__name__', 'code', 'instance', 'job', 'k'] });
    r = await json(app, '/api/v1/labels?match[]=up&match[]=odd');
    assert.deepEqual(r.body.data, ['__name__', 'instance', 'job', 'k']);
    r = await json(app, '/api/v1/labels?limit=2');
    assert.deepEqual(r.body, { status: 'success', data: ['__name__', 'code'], warnings: ['results truncated due to limit'] });
    r = await json(app, '/api/v1/label/__name__/values');
    assert.deepEqual(r.body, { status: 'success', data: ['http_requests_total', 'odd', 'up'] });
    r = await json(app, '/api/v1/label/code/values?match[]=http_requests_total');
    assert.deepEqual(r.body.data, ['200', '500']);
    r = await json(app, '/api/v1/label/nothing/values');
    assert.equal(r.raw, '{"status":"success","data":[]}');
    r = await json(app, '/api/v1/label/U__k/values');
    assert.deepEqual(r.body.data, ['tiny']);
  });

  it('serves metadata deduplicated, sorted and limited', async () => {
    let r = await json(app, '/api/v1/metadata');
    assert.deepEqual(r.body, {
      status: 'success',
      data: {
        http_requests_total: [
          { type: 'counter', help: 'Requests.', unit: '' },
          { type: 'counter', help: 'All requests.', unit: '' },
        ],
        up: [{ type: 'gauge', help: 'Up.', unit: '' }],
      },
    });
    r = await json(app, '/api/v1/metadata?limit=1&limit_per_metric=1');
    assert.deepEqual(r.body.data, { http_requests_total: [{ type: 'counter', help: 'Requests.', unit: '' }] });
    r = await json(app, '/api/v1/metadata?metric=up');
    assert.deepEqual(Object.keys(r.body.data as object), ['up']);
  });

  it('serves status endpoints', async () => {
    let r = await json(app, '/api/v1/status/buildinfo');
    const bi = r.body.data as Record<string, string>;
    assert.deepEqual(Object.keys(bi), ['version', 'revision', 'branch', 'buildUser', 'buildDate', 'goVersion', 'patrolVersion']);
    assert.match(bi.version, /^3\.\d+\.\d+$/);
    r = await json(app, '/api/v1/status/flags');
    assert.equal(r.raw, '{"status":"success","data":{"query.lookback-delta":"5m","storage.tsdb.retention.time":"15d"}}');
    r = await json(app, '/api/v1/status/config');
    assert.deepEqual(r.body.data, { yaml: 'global:\n  scrape_interval: 15s\nsecret: <secret>\n' });
    r = await json(app, '/api/v1/status/runtimeinfo');
    const ri = r.body.data as Record<string, unknown>;
    assert.equal(ri.storageRetention, '15d');
    assert.equal(ri.reloadConfigSuccess, true);
    assert.equal(typeof ri.startTime, 'string');
  });

  it('formats and parses queries through the given functions', async () => {
    let r = await json(app, '/api/v1/format_query', 'query=sum(x)%20%20by%20(y)');
    assert.deepEqual(r.body, { status: 'success', data: 'sum(x) by (y)' });
    r = await json(app, '/api/v1/parse_query?query=up');
    assert.deepEqual(r.body, { status: 'success', data: { type: 'vectorSelector', name: 'up' } });
  });

  it('answers unknown paths with 404 and wrong methods with 405, as Prometheus', async () => {
    const nf = await app.inject({ method: 'GET', url: '/api/v1/nonexistent' });
    assert.equal(nf.statusCode, 404);
    assert.equal(nf.body, '404 page not found\n');
    const na = await app.inject({ method: 'POST', url: '/api/v1/status/buildinfo' });
    assert.equal(na.statusCode, 405);
    assert.equal(na.headers.allow, 'GET, OPTIONS');
    assert.equal(na.body, 'Method Not Allowed\n');
    const del = await app.inject({ method: 'DELETE', url: '/api/v1/series' });
    assert.equal(del.statusCode, 405);
    assert.equal(del.headers.allow, 'GET, POST, OPTIONS');
  });

  it('answers exemplar queries with an empty list', async () => {
    const r = await json(app, '/api/v1/query_exemplars?query=up&start=1&end=2');
    assert.equal(r.raw, '{"status":"success","data":[]}');
  });
});

describe('Prometheus API: cancellation', () => {
  it('aborts the query when the client disconnects', async () => {
    const engine = new ScriptedEngine();
    const app = Fastify();
    registerPrometheusAPI(app, { queryable: new MemoryStorage(), engine });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const addr = app.server.address();
      assert.ok(addr && typeof addr === 'object');
      const req = request({ host: '127.0.0.1', port: addr.port, path: '/api/v1/query?query=hang', method: 'GET' });
      req.on('error', () => undefined);
      req.end();
      // Wait until the engine holds the query, then hang up.
      while (engine.last?.expr !== 'hang') await new Promise((r) => setTimeout(r, 5));
      req.destroy();
      const reason = await engine.aborted;
      assert.ok(reason instanceof QueryError);
      assert.equal(reason.type, 'canceled');
    } finally {
      await app.close();
    }
  });
});

describe('Prometheus API: storage opened later', () => {
  it('answers 503 unavailable until the storage is there', async () => {
    let storage: MemoryStorage | null = null;
    const app = Fastify();
    registerPrometheusAPI(app, { queryable: deferredQueryable(() => storage), engine: new ScriptedEngine() });
    let r = await app.inject({ method: 'GET', url: '/api/v1/labels' });
    assert.equal(r.statusCode, 503);
    assert.deepEqual(r.json(), { status: 'error', errorType: 'unavailable', error: 'TSDB not ready' });
    storage = loadStorage();
    r = await app.inject({ method: 'GET', url: '/api/v1/label/job/values' });
    assert.deepEqual(r.json(), { status: 'success', data: ['api'] });
    await app.close();
  });
});

describe('Prometheus API: TSDB admin endpoints', () => {
  it('delete series by match[] and time range only when enabled, with Prometheus\'s answers', async () => {
    const storage = loadStorage();
    let enabled = false;
    const app = Fastify();
    registerPrometheusAPI(app, { queryable: storage, engine: new ScriptedEngine(), admin: { enabled: () => enabled, deleteSeries: (ms, start, end) => storage.deleteSeries(ms, start, end) } });
    const count = async (): Promise<number> => ((await app.inject({ method: 'GET', url: '/api/v1/series?match[]=http_requests_total' })).json() as { data: unknown[] }).data.length;
    let r = await app.inject({ method: 'POST', url: '/api/v1/admin/tsdb/delete_series?match[]=up' });
    assert.equal(r.statusCode, 500);
    assert.deepEqual(r.json(), { status: 'error', errorType: 'unavailable', error: 'admin APIs disabled' });
    enabled = true;
    r = await app.inject({ method: 'POST', url: '/api/v1/admin/tsdb/delete_series' });
    assert.equal(r.statusCode, 400);
    assert.deepEqual(r.json(), { status: 'error', errorType: 'bad_data', error: 'no match[] parameter provided' });
    r = await app.inject({ method: 'POST', url: '/api/v1/admin/tsdb/delete_series?match[]=up&start=abc' });
    assert.equal(r.statusCode, 400);
    assert.match((r.json() as { error: string }).error, /^invalid parameter "start": Invalid time value for 'start': cannot parse "abc" to a valid timestamp/);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/admin/tsdb/delete_series?match[]=up' })).statusCode, 405);
    // Part of a range: the series stays with the samples outside it.
    r = await app.inject({ method: 'PUT', url: `/api/v1/admin/tsdb/delete_series?match[]={code="500"}&start=${T0 / 1000}&end=${(T0 + 150_000) / 1000}` });
    assert.equal(r.statusCode, 204);
    assert.equal(r.body, '');
    assert.equal(await count(), 2);
    r = await app.inject({ method: 'POST', url: '/api/v1/admin/tsdb/delete_series', payload: 'match[]=http_requests_total{code="200"}', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.statusCode, 204);
    assert.equal(await count(), 1);
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/admin/tsdb/clean_tombstones' })).statusCode, 204);
    await app.close();
  });
});

describe('Prometheus API: living with other routes', () => {
  it('keeps its form parser to its own routes and uses an existing one', async () => {
    const engine = new ScriptedEngine();
    const app = Fastify();
    app.post('/other', async (req) => ({ got: req.body }));
    registerPrometheusAPI(app, { queryable: new MemoryStorage(), engine });
    const json = await app.inject({ method: 'POST', url: '/other', payload: { a: 1 } });
    assert.deepEqual(json.json(), { got: { a: 1 } });
    // Outside the API, form bodies stay unsupported as before.
    const form = await app.inject({ method: 'POST', url: '/other', payload: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.statusCode, 415);
    await app.close();

    // An application-wide parser that yields objects (like @fastify/formbody) is used as is.
    const app2 = Fastify();
    app2.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      const obj: Record<string, string | string[]> = {};
      for (const [k, v] of new URLSearchParams(body as string)) obj[k] = k in obj ? [obj[k]].flat().concat(v) : v;
      done(null, obj);
    });
    registerPrometheusAPI(app2, { queryable: new MemoryStorage(), engine });
    const r = await app2.inject({ method: 'POST', url: '/api/v1/query', payload: 'query=scalar&time=3', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual([engine.last?.expr, engine.last?.time], ['scalar', 3000]);
    await app2.close();
  });
});

describe('Prometheus API over the real engine', () => {
  const app = Fastify();
  const storage = loadStorage();
  before(async () => {
    registerPrometheusAPI(app, { queryable: storage, engine: new Engine({}), now: () => T0 + 300_000 });
    await app.ready();
  });
  after(() => app.close());

  it('passes the Grafana health check: POST 1+1 and buildinfo', async () => {
    // Grafana's check (pkg/promlib/healthcheck.go) posts the instant query `1+1` over the time
    // range 1 s to 4 s as a form, then reads buildinfo: no `features` means plain Prometheus.
    const r = await json(app, '/api/v1/query', 'query=1%2B1&time=4');
    assert.equal(r.status, 200);
    assert.equal(r.raw, '{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}');
    const b = await json(app, '/api/v1/status/buildinfo');
    assert.equal(b.status, 200);
    const data = b.body.data as { version: string; features?: unknown };
    assert.equal(data.features, undefined);
    assert.ok(Number(data.version.split('.')[0]) >= 3, `version ${data.version} should be Prometheus 3-like`);
  });

  it('evaluates instant and range queries over storage', async () => {
    let r = await json(app, `/api/v1/query?query=http_requests_total&time=${T0 / 1000 + 60}`);
    assert.equal(
      r.raw,
      `{"status":"success","data":{"resultType":"vector","result":[` +
        `{"metric":{"__name__":"http_requests_total","code":"200","job":"api"},"value":[${T0 / 1000 + 60},"40"]},` +
        `{"metric":{"__name__":"http_requests_total","code":"500","job":"api"},"value":[${T0 / 1000 + 60},"4"]}]}}`,
    );
    r = await json(app, `/api/v1/query_range?query=sum(http_requests_total)&start=${T0 / 1000}&end=${T0 / 1000 + 30}&step=15`);
    assert.equal(
      r.raw,
      `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[${T0 / 1000},"0"],[${T0 / 1000 + 15},"11"],[${T0 / 1000 + 30},"22"]]}]}}`,
    );
  });

  it('reports parse errors as 400 bad_data with the position', async () => {
    const r = await json(app, '/api/v1/query?query=rate(x)&time=1');
    assert.equal(r.status, 400);
    assert.equal(r.body.errorType, 'bad_data');
    assert.match(String(r.body.error), /^invalid parameter "query": 1:\d+: parse error: /);
  });
});
