import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { parseConfig } from '../config/load.js';
import { ProbeManager, type OverviewRow } from '../probe/manager.js';
import { startHttp } from '../probe/testdata/servers.js';
import { testRuntime } from '../probe/testdata/runtime.js';
import { hourCode, STATES, type OverviewColumns } from './overview_columns.js';
import { parseTime, registerProbeAPI } from './probes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('probe API', () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  const rt = testRuntime();
  let manager: ProbeManager;
  const app = Fastify();
  before(async () => {
    srv = await startHttp((req, res) => {
      res.writeHead(req.url === '/bad' ? 500 : 200);
      res.end('ok');
    });
    manager = new ProbeManager(rt, { flushIntervalMs: 5, statsCacheMs: 0 });
    const r = parseConfig(
      `probes:
  - {name: good, type: http, target: "${srv.url}/", interval: 200ms, timeout: 200ms, labels: {team: core}}
  - {name: bad, type: http, target: "${srv.url}/bad", interval: 200ms, timeout: 200ms, failure_threshold: 1}
`,
      't.yml',
    );
    assert.ok(r.ok);
    manager.applyConfig(r.config, { dir: '.' });
    registerProbeAPI(app, manager);
    await app.ready();
    const end = Date.now() + 8000;
    while (!(manager.get('bad').state === 'down' && manager.get('good').state === 'up' && manager.list().every((p) => p.uptime['24h'] !== null))) {
      if (Date.now() > end) assert.fail('probes did not run');
      await sleep(20);
    }
    // Freeze: the same probes on a far interval, so the figures stop moving under the assertions.
    const frozen = parseConfig(
      `probes:
  - {name: good, type: http, target: "${srv.url}/", interval: 1h, timeout: 200ms, labels: {team: core}}
  - {name: bad, type: http, target: "${srv.url}/bad", interval: 1h, timeout: 200ms, failure_threshold: 1}
`,
      't.yml',
    );
    assert.ok(frozen.ok);
    manager.applyConfig(frozen.config, { dir: '.' });
    while (manager.schedulerStats.running > 0) await sleep(10);
  });
  after(async () => {
    await app.close();
    await manager.stop();
    await srv.close();
    rt.cleanup();
  });

  it('answers the overview in compact rows, then only what changed since the last answer', async () => {
    const res = await app.inject({ url: '/api/patrol/v1/overview' });
    assert.equal(res.statusCode, 200);
    const d = (res.json() as { data: { generation: number; seq: number; full: boolean; counts: Record<string, number>; probes: Record<string, unknown>[] } }).data;
    assert.equal(d.full, true);
    assert.deepEqual(d.counts, { unknown: 0, up: 1, down: 1, degraded: 0 });
    const bad = d.probes.find((p) => p.name === 'bad') as { state: string; last_failure: { reason: string }; hours: number[]; spark: number[]; uptime_24h: number; labels: unknown };
    assert.equal(bad.state, 'down');
    assert.match(bad.last_failure.reason, /500/);
    assert.equal(bad.hours.length, 24);
    // Every run failed, all within the last hour or two (the test may straddle an hour).
    assert.ok(bad.hours.slice(0, 22).every((h) => h === -1));
    assert.ok(bad.hours.some((h) => h === 0) && bad.hours.every((h) => h === -1 || h === 0));
    assert.ok(bad.spark.length > 0 && bad.spark.length <= 20);
    assert.equal(bad.uptime_24h, 0);
    const good = d.probes.find((p) => p.name === 'good') as { labels: unknown };
    assert.deepEqual(good.labels, { team: 'core' });
    // Nothing ran since (frozen): a delta read lists no probe but still counts them.
    const delta = (await app.inject({ url: `/api/patrol/v1/overview?after=${d.seq}&generation=${d.generation}` })).json() as { data: typeof d };
    assert.equal(delta.data.full, false);
    assert.deepEqual(delta.data.probes, []);
    assert.deepEqual(delta.data.counts, d.counts);
    // An older generation (a reload happened) gets the full list again.
    const stale = (await app.inject({ url: `/api/patrol/v1/overview?after=${d.seq}&generation=${d.generation - 1}` })).json() as { data: typeof d };
    assert.equal(stale.data.full, true);
    assert.equal(stale.data.probes.length, 2);
    const badReq = await app.inject({ url: '/api/patrol/v1/overview?after=-1' });
    assert.equal(badReq.statusCode, 400);
    assert.match((badReq.json() as { error: string }).error, /after "-1" is not a non-negative integer/);
  });

  it('answers the same overview in columns, and the first rows down first with head=N', async () => {
    const rows = ((await app.inject({ url: '/api/patrol/v1/overview' })).json() as { data: { seq: number; probes: OverviewRow[] } }).data;
    const c = ((await app.inject({ url: '/api/patrol/v1/overview?format=columns' })).json() as { data: OverviewColumns }).data;
    assert.equal(c.format, 'columns');
    assert.equal(c.n, 2);
    assert.equal(c.seq, rows.seq);
    for (const r of rows.probes) {
      const i = c.name.indexOf(r.name);
      assert.ok(i >= 0);
      assert.equal(c.target[i], r.target);
      assert.equal(c.strings[c.type[i]], r.type);
      assert.deepEqual(c.labelsets[c.labels[i]], r.labels);
      assert.equal(STATES[c.state[i]], r.state);
      assert.equal(c.since[i] < 0 ? null : c.base - c.since[i], r.since);
      assert.equal(c.failures[i], r.failures);
      const l = c.last[i];
      assert.deepEqual(l ? { time: c.base - l[0], success: l[1] === 1, ms: l[2] } : null, r.last);
      const f = c.fail[i];
      assert.deepEqual(f ? { time: c.base - f[0], reason: c.strings[f[1]] } : null, r.last_failure);
      assert.equal(c.uptime[i], r.uptime_24h);
      assert.equal(c.hours[i], String.fromCharCode(...r.hours.map(hourCode)));
      const sp = c.spark[i];
      assert.ok(sp);
      assert.equal(sp[0], Math.max(...r.spark));
      assert.equal(sp[1].length, r.spark.length);
    }
    // The first screen: the probe that is down first, the total counted.
    const h = ((await app.inject({ url: '/api/patrol/v1/overview?format=columns&head=1' })).json() as { data: OverviewColumns }).data;
    assert.equal(h.head, true);
    assert.equal(h.total, 2);
    assert.deepEqual(h.name, ['bad']);
    assert.equal((await app.inject({ url: '/api/patrol/v1/overview?head=0' })).statusCode, 400);
    assert.equal((await app.inject({ url: '/api/patrol/v1/overview?format=xml' })).statusCode, 400);
  });

  it('packs hourly cells keeping the 0.9 and 0.999 boundaries the bars colour by', () => {
    const level = (c: number) => (c < 0x5c ? c - 0x23 : c - 0x24) / 90;
    assert.equal(hourCode(-1), 0x20);
    assert.equal(level(hourCode(1)), 1);
    assert.equal(level(hourCode(0.999)), 1);
    assert.ok(level(hourCode(0.9989)) < 0.999 && level(hourCode(0.9989)) >= 0.9);
    assert.ok(level(hourCode(0.9)) >= 0.9);
    assert.ok(level(hourCode(0.8999)) < 0.9);
    assert.equal(level(hourCode(0)), 0);
    for (let x = 0; x <= 1; x += 0.001) assert.notEqual(hourCode(x), 0x5c, 'never a backslash');
  });

  it('lists probes with state, last result, reason, uptime and latency', async () => {
    const res = await app.inject({ url: '/api/patrol/v1/probes' });
    assert.equal(res.statusCode, 200);
    const body = res.json() as { status: string; data: Record<string, unknown>[] };
    assert.equal(body.status, 'success');
    const byName = Object.fromEntries(body.data.map((p) => [p.name, p]));
    const good = byName.good as { state: string; labels: unknown; last_result: { success: boolean; status_code: number }; uptime: Record<string, number>; latency: Record<string, number> };
    assert.equal(good.state, 'up');
    assert.deepEqual(good.labels, { team: 'core' });
    // The last run passed unless the busy machine made it time out; either way it is consistent.
    assert.equal(good.last_result.success, (good as unknown as { reason: string }).reason === '');
    if (good.last_result.success) assert.equal(good.last_result.status_code, 200);
    // Uptime is the fraction of successful runs in storage (a run may time out on a busy machine).
    const now = Date.now() / 1000;
    const hist = (await app.inject({ url: `/api/patrol/v1/probes/good/history?start=${now - 3600}&end=${now + 1}` })).json() as { data: { success: boolean }[] };
    assert.ok(hist.data.length > 0);
    assert.equal(good.uptime['24h'], hist.data.filter((h) => h.success).length / hist.data.length);
    assert.equal(good.uptime['30d'], good.uptime['24h']);
    // The 30 d ratio covers only the seconds since the first run, and says so.
    const observed = (good as unknown as { uptime_observed: Record<string, { start: number; seconds: number; runs: number }> }).uptime_observed;
    const firstRun = Math.min(...(hist.data as unknown as { time: number }[]).map((h) => h.time));
    assert.equal(observed['30d'].start, firstRun);
    assert.equal(observed['30d'].runs, hist.data.length);
    assert.ok(observed['30d'].seconds < 3600, `${observed['30d'].seconds} s observed`);
    assert.ok(good.latency.p99 > 0);
    const bad = byName.bad as { state: string; reason: string; uptime: Record<string, number> };
    assert.equal(bad.state, 'down');
    assert.equal(bad.reason, 'status 500 not in [2xx]');
    assert.equal(bad.uptime['7d'], 0);
  });

  it("answers the overview's 30- and 90-day bars from state changes, a cell per UTC day", async () => {
    for (const days of [90, 30]) {
      const res = await app.inject({ url: `/api/patrol/v1/overview/uptime?days=${days}` });
      assert.equal(res.statusCode, 200, res.body);
      const d = (res.json() as { data: { days: number; first_day: string; name: string[]; uptime: number[]; cells: string[] } }).data;
      assert.equal(d.days, days);
      assert.deepEqual(d.name, ['good', 'bad']);
      assert.equal(d.first_day, new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - (days - 1) * 86_400_000).toISOString().slice(0, 10));
      for (const c of d.cells) assert.equal(c.length, days);
      // Nothing known before today; today good was up all its known time, bad down all of it.
      assert.equal(d.cells[0].slice(0, -1).trim(), '');
      assert.equal(d.cells[0].charCodeAt(days - 1), hourCode(1));
      assert.equal(d.cells[1].charCodeAt(days - 1), hourCode(0));
      assert.deepEqual(d.uptime, [1, 0]);
    }
    const bad = await app.inject({ url: '/api/patrol/v1/overview/uptime?days=7' });
    assert.equal(bad.statusCode, 400);
    assert.equal((bad.json() as { error: string }).error, 'days "7" is not 30 or 90');
  });

  it('one probe, history and events', async () => {
    const one = await app.inject({ url: '/api/patrol/v1/probes/bad' });
    assert.equal((one.json() as { data: { name: string } }).data.name, 'bad');
    const now = Date.now() / 1000;
    const hist = await app.inject({ url: `/api/patrol/v1/probes/bad/history?start=${now - 60}&end=${now + 1}` });
    assert.equal(hist.statusCode, 200);
    const points = (hist.json() as { data: { success: boolean; reason?: string; status_code?: number }[] }).data;
    assert.ok(points.length >= 1);
    assert.equal(points[0].success, false);
    assert.equal(points[0].status_code, 500);
    const ev = await app.inject({ url: `/api/patrol/v1/probes/bad/events?start=${new Date(Date.now() - 60_000).toISOString()}` });
    const events = (ev.json() as { data: { from: string; to: string; reason: string }[] }).data;
    assert.deepEqual(events.map((e) => [e.from, e.to, e.reason]), [['unknown', 'down', 'status 500 not in [2xx]']]);
  });

  it('errors: unknown probe, bad times', async () => {
    const nf = await app.inject({ url: '/api/patrol/v1/probes/nope/history' });
    assert.equal(nf.statusCode, 404);
    assert.deepEqual(nf.json(), { status: 'error', errorType: 'not_found', error: 'probe "nope" is not configured' });
    const bt = await app.inject({ url: '/api/patrol/v1/probes/good/history?start=yesterday' });
    assert.equal(bt.statusCode, 400);
    assert.match((bt.json() as { error: string }).error, /cannot parse "yesterday"/);
    const rev = await app.inject({ url: '/api/patrol/v1/probes/good/events?start=100&end=50' });
    assert.equal(rev.statusCode, 400);
  });

  it('parses times like the Prometheus API', () => {
    assert.equal(parseTime('1700000000.5', 0), 1_700_000_000_500);
    assert.equal(parseTime('2023-11-14T22:13:20Z', 0), 1_700_000_000_000);
    assert.equal(parseTime(undefined, 42), 42);
    assert.deepEqual(typeof parseTime('soon', 0), 'object');
  });

  it('runs a probe now and answers its status with that run', async () => {
    const before = manager.get('good').last_result!.time;
    const res = await app.inject({ method: 'POST', url: '/api/patrol/v1/probes/good/run' });
    assert.equal(res.statusCode, 200);
    const d = (res.json() as { data: { name: string; last_result: { time: number } } }).data;
    assert.equal(d.name, 'good');
    assert.ok(d.last_result.time > before);
    const missing = await app.inject({ method: 'POST', url: '/api/patrol/v1/probes/nope/run' });
    assert.equal(missing.statusCode, 404);
  });
});
