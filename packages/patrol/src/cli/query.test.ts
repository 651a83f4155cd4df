import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { registerPrometheusAPI } from '../api/prometheus.js';
import { labelsFromRecord } from '../model/labels.js';
import { QueryError, type QueryEngine, type QueryResult, type Value } from '../promql/types.js';
import { MemoryStorage } from '../storage/memory.js';
import { Engine } from '../promql/engine.js';
import { pointAt, runQueryCommand } from './query.js';

/** Answers `up` (a vector), `range` (a matrix) and `1+1`; anything else is a parse error. */
const engine: QueryEngine = {
  async instantQuery(_q, expr, t): Promise<QueryResult> {
    let value: Value;
    if (expr === '1+1') value = { type: 'scalar', t, v: 2 };
    else if (expr === 'up') value = { type: 'vector', samples: [{ labels: labelsFromRecord({ __name__: 'up', job: 'api' }), t, v: 1 }] };
    else throw new QueryError('bad_data', 'unexpected end of input', { line: 1, column: expr.length + 1 });
    return { value, warnings: expr === 'up' ? ['careful'] : [], infos: [], stats: { samplesLoaded: 0, evalMs: 0 } };
  },
  async rangeQuery(_q, expr, start, end, step): Promise<QueryResult> {
    const ts: number[] = [];
    for (let t = start; t <= end; t += step) ts.push(t);
    const series = [{ labels: labelsFromRecord({ __name__: expr }), timestamps: Float64Array.from(ts), values: Float64Array.from(ts, (_t, i) => i) }];
    return { value: { type: 'matrix', series }, warnings: [], infos: [], stats: { samplesLoaded: 0, evalMs: 0 } };
  },
};

describe('patrol query', () => {
  const app = Fastify();
  registerPrometheusAPI(app, { queryable: new MemoryStorage(), engine });
  let server: string;
  before(async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const a = app.server.address();
    assert.ok(a && typeof a === 'object');
    server = `http://127.0.0.1:${a.port}`;
  });
  after(() => app.close());

  it('prints an instant vector as a table and warnings on stderr', async () => {
    const r = await runQueryCommand('up', { server, time: '2020-01-01T00:00:00Z' });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'SERIES         VALUE  TIME\nup{job="api"}  1      2020-01-01T00:00:00Z\n');
    assert.equal(r.stderr, 'warning: careful\n');
  });

  it('prints a scalar, and raw JSON with --json', async () => {
    let r = await runQueryCommand('1+1', { server, time: '10' });
    assert.equal(r.stdout, 'TIME                  SCALAR\n1970-01-01T00:00:10Z  2\n');
    r = await runQueryCommand('1+1', { server, time: '10', json: true });
    assert.equal(r.stdout, '{"status":"success","data":{"resultType":"scalar","result":[10,"2"]}}\n');
    assert.equal(r.code, 0);
  });

  it('runs a range query when --start/--end/--step are given', async () => {
    const r = await runQueryCommand('m', { server, start: '0', end: '30', step: '15s' });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'm\n  1970-01-01T00:00:00Z  0\n  1970-01-01T00:00:15Z  1\n  1970-01-01T00:00:30Z  2\n');
  });

  it('exits non-zero with the server error message', async () => {
    const r = await runQueryCommand('sum(', { server });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'error (bad_data): invalid parameter "query": 1:5: parse error: unexpected end of input\n  sum(\n      ^\n');
  });

  it('points a caret at the position of a parse error from the real engine', async () => {
    const real = Fastify();
    registerPrometheusAPI(real, { queryable: new MemoryStorage(), engine: new Engine() });
    await real.listen({ host: '127.0.0.1', port: 0 });
    try {
      const a = real.server.address();
      assert.ok(a && typeof a === 'object');
      const r = await runQueryCommand('sum(rate(http_requests_total[5m)))', { server: `http://127.0.0.1:${a.port}` });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'error (bad_data): invalid parameter "query": 1:32: parse error: unexpected ")" in subquery or range, expected ":" or "]"\n' +
          '  sum(rate(http_requests_total[5m)))\n' +
          '                                 ^\n',
      );
    } finally {
      await real.close();
    }
  });

  it('shows a window of a long query line around the error', () => {
    const q = `${'a'.repeat(300)} +* 1`;
    const out = pointAt(q, '1:303: parse error: unexpected <op:*>').split('\n');
    assert.equal(out.length, 3);
    assert.ok(out[0].startsWith('  …') && out[0].length <= 2 + 102, out[0]);
    assert.equal(out[0][out[1].indexOf('^')], '*');
  });

  it('rejects bad options before asking', async () => {
    const r = await runQueryCommand('m', { server, start: 'yesterday' });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'error: --start: cannot parse "yesterday" to a valid timestamp\n');
  });

  it('runs as `patrol query` and exits 0 or 1', async () => {
    const cli = new URL('./main.ts', import.meta.url).pathname;
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', cli, 'query', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
    const ok = await run(['1+1', '--server', server, '--time', '10']);
    assert.deepEqual(ok, { code: 0, out: 'TIME                  SCALAR\n1970-01-01T00:00:10Z  2\n', err: '' });
    const bad = await run(['sum(', '--server', server]);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, 'error (bad_data): invalid parameter "query": 1:5: parse error: unexpected end of input\n  sum(\n      ^\n');
  });

  it('says when the server cannot be reached', async () => {
    const probe = Fastify();
    await probe.listen({ host: '127.0.0.1', port: 0 });
    const a = probe.server.address();
    assert.ok(a && typeof a === 'object');
    await probe.close();
    const r = await runQueryCommand('up', { server: `http://127.0.0.1:${a.port}` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\n$/);
  });
});
