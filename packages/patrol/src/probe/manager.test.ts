import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { Matcher } from '../model/matchers.js';
import { collectSeries, loadSamples } from '../storage/interface.js';
import { labelsToRecord } from '../model/labels.js';
import { isStaleNaN } from '../model/value.js';
import { ProbeManager } from './manager.js';
import { ProbeEventStore } from './events.js';
import { ProbeStateMachine } from './state.js';
import { startHttp } from './testdata/servers.js';
import { testRuntime } from './testdata/runtime.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(yaml: string): Config {
  const r = parseConfig(yaml, 'test.yml');
  if (!r.ok) assert.fail(r.errors.map(String).join('\n'));
  return r.config;
}

async function until(cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail('condition not reached in time');
    await sleep(20);
  }
}

describe('state machine', () => {
  it('DOWN after failure_threshold failures, UP after success_threshold successes', () => {
    const m = new ProbeStateMachine(3, 2);
    assert.equal(m.observe(false, 1, 'a'), null);
    assert.equal(m.observe(false, 2, 'b'), null);
    assert.deepEqual(m.observe(false, 3, 'status 503 not in [2xx]'), { time: 3, from: 'unknown', to: 'down', reason: '3 consecutive failures, last: status 503 not in [2xx]' });
    assert.equal(m.observe(false, 4, 'c'), null);
    assert.equal(m.observe(true, 5, ''), null);
    assert.equal(m.observe(false, 6, 'd'), null);
    assert.equal(m.observe(true, 7, ''), null);
    assert.deepEqual(m.observe(true, 8, ''), { time: 8, from: 'down', to: 'up', reason: '2 consecutive successes' });
    assert.equal(m.state, 'up');
    assert.equal(m.since, 8);
  });
  it('a single failure with threshold 1 carries the run reason', () => {
    const m = new ProbeStateMachine(1, 1, 'up', 5);
    assert.deepEqual(m.observe(false, 9, 'timeout after 2s during TLS handshake'), { time: 9, from: 'up', to: 'down', reason: 'timeout after 2s during TLS handshake' });
  });
});

describe('ProbeManager with a real HTTP target', () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  let healthy = true;
  before(async () => {
    srv = await startHttp((req, res) => {
      if (req.url === '/hang') return;
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: healthy ? 'up' : 'down' }));
    });
  });
  after(() => srv.close());

  it('schedules, stores blackbox metrics, changes state and records events', async () => {
    const rt = testRuntime();
    const m = new ProbeManager(rt, { flushIntervalMs: 10, statsCacheMs: 0 });
    try {
      healthy = true;
      m.applyConfig(
        config(`probes:
  - name: api
    type: http
    target: ${srv.url}/health
    interval: 300ms
    timeout: 300ms
    failure_threshold: 2
    labels: {service: api, severity: critical}
    conditions: ['[STATUS] == 200', '$.status == up']
  - name: stuck
    type: http
    target: ${srv.url}/hang
    interval: 400ms
    timeout: 300ms
    failure_threshold: 1
`),
        { dir: '.' },
      );
      await until(() => m.get('api').state === 'up' && m.get('stuck').state === 'down');
      // The hanging probe does not delay the other one.
      // (On a saturated machine the connect event itself can come after the deadline.)
      assert.match(m.get('stuck').reason, /^timeout after 300ms during (waiting for the response|connect)$/);
      healthy = false;
      await until(() => m.get('api').state === 'down');
      assert.equal(m.get('api').reason, 'status 503 not in [200]');
      healthy = true;
      await until(() => m.get('api').state === 'up');
      m.flush();

      const now = Date.now();
      const ev = m.eventsOf('api', 0, now + 1000);
      assert.deepEqual(
        ev.map((e) => `${e.from}->${e.to}`),
        ['down->up', 'up->down', 'unknown->up'],
      );
      assert.equal(ev[1].reason, '2 consecutive failures, last: status 503 not in [200]');

      const q = rt.storage.querier(0, now + 1000);
      const succ = collectSeries(q.select({ start: 0, end: now + 1000 }, [new Matcher('=', '__name__', 'probe_success'), new Matcher('=', 'probe', 'api')]));
      assert.equal(succ.length, 1);
      assert.deepEqual(labelsToRecord(succ[0].labels), { __name__: 'probe_success', instance: `${srv.url}/health`, probe: 'api', service: 'api', severity: 'critical' });
      const { values } = loadSamples(succ[0].iterator());
      assert.ok(values.includes(0) && values.includes(1));
      // patrol_probe_up follows the state, not single runs: the first of the two failures that
      // make api DOWN (failure_threshold 2) leaves it at 1.
      const up = collectSeries(q.select({ start: 0, end: now + 1000 }, [new Matcher('=', '__name__', 'patrol_probe_up'), new Matcher('=', 'probe', 'api')]));
      assert.equal(up.length, 1);
      assert.deepEqual(labelsToRecord(up[0].labels), { __name__: 'patrol_probe_up', instance: `${srv.url}/health`, probe: 'api', service: 'api', severity: 'critical' });
      const upS = loadSamples(up[0].iterator());
      const succS = loadSamples(succ[0].iterator());
      // Written with every run once the state is known (a first run that leaves it UNKNOWN has none).
      const fromFirst = [...succS.timestamps].slice([...succS.timestamps].indexOf(upS.timestamps[0]));
      assert.deepEqual([...upS.timestamps], fromFirst);
      const pairs = fromFirst.map((t, i) => `${succS.values[succS.timestamps.indexOf(t)]}${upS.values[i]}`);
      const runs = pairs.filter((p, i) => i === 0 || p !== pairs[i - 1]);
      assert.ok(runs.join(' ').includes('11 01 00') && runs.join(' ').includes('00 11'), runs.join(' '));
      const phases = collectSeries(q.select({ start: 0, end: now + 1000 }, [new Matcher('=', '__name__', 'probe_http_duration_seconds'), new Matcher('=', 'probe', 'api')]));
      assert.deepEqual(phases.map((s) => labelsToRecord(s.labels).phase).sort(), ['connect', 'processing', 'resolve', 'tls', 'transfer']);

      const st = m.get('api');
      assert.ok(st.uptime['24h']! > 0 && st.uptime['24h']! < 1, String(st.uptime['24h']));
      assert.equal(st.uptime['24h'], st.uptime['30d']);
      assert.ok(st.latency.p50! > 0 && st.latency.p50! <= st.latency.p95! && st.latency.p95! <= st.latency.p99!);
      const hist = m.history('api', 0, now + 1000);
      assert.ok(hist.length >= 4);
      assert.ok(hist.some((h) => !h.success && h.reason === 'status 503 not in [200]' && h.status_code === 503));
      assert.ok(hist.every((h, i) => i === 0 || h.time > hist[i - 1].time));
      assert.ok(existsSync(join(rt.dataDir, 'probe_events.db')));
    } finally {
      await m.stop();
      rt.cleanup();
    }
  });

  it('state survives a restart through the events database', async () => {
    const rt = testRuntime();
    const s = new ProbeEventStore(join(rt.dataDir, 'probe_events.db'));
    s.append({ probe: 'api', time: 1000, from: 'unknown', to: 'up', reason: 'probe succeeded' });
    s.append({ probe: 'api', time: 2000, from: 'up', to: 'down', reason: 'x' });
    s.close();
    const m = new ProbeManager(rt);
    try {
      m.applyConfig(config(`probes:\n  - {name: api, type: http, target: "${srv.url}/", interval: 1h}\n`), { dir: '.' });
      assert.equal(m.get('api').state, 'down');
      assert.equal(m.get('api').since, 2000);
      assert.equal(m.eventsOf('api', 1500, 3000).length, 1);
    } finally {
      await m.stop();
      rt.cleanup();
    }
  });

  it('removed probes and changed labels get staleness markers', async () => {
    const rt = testRuntime();
    const m = new ProbeManager(rt);
    try {
      m.applyConfig(config(`probes:\n  - {name: a, type: http, target: "${srv.url}/", interval: 100ms, timeout: 100ms}\n  - {name: b, type: http, target: "${srv.url}/", interval: 100ms, timeout: 100ms, labels: {team: x}}\n`), { dir: '.' });
      await until(() => m.get('a').last_result !== null && m.get('b').last_result !== null);
      m.applyConfig(config(`probes:\n  - {name: b, type: http, target: "${srv.url}/", interval: 1h, labels: {team: y}}\n`), { dir: '.' });
      const now = Date.now() + 1000;
      const last = (probe: string, team?: string) => {
        const ms = [new Matcher('=', '__name__', 'probe_success'), new Matcher('=', 'probe', probe)];
        if (team) ms.push(new Matcher('=', 'team', team));
        const [s] = collectSeries(rt.storage.querier(0, now).select({ start: 0, end: now }, ms));
        const { values } = loadSamples(s.iterator());
        return values[values.length - 1];
      };
      assert.ok(isStaleNaN(last('a')));
      assert.ok(isStaleNaN(last('b', 'x')));
    } finally {
      await m.stop();
      rt.cleanup();
    }
  });

  it('a bad reload keeps the running probes', async () => {
    const rt = testRuntime();
    const m = new ProbeManager(rt);
    try {
      m.applyConfig(config(`probes:\n  - {name: a, type: http, target: "${srv.url}/", interval: 1h}\n`), { dir: '.' });
      assert.throws(() => m.applyConfig(config(`probes:\n  - {name: b, type: http, target: "https://x/", interval: 1h, tls_config: {ca_file: /nonexistent.pem}}\n`), { dir: '.' }), /probe "b": tls_config\.ca_file/);
      assert.deepEqual(m.list().map((p) => p.name), ['a']);
      assert.throws(() => m.get('b'), /probe "b" is not configured/);
    } finally {
      await m.stop();
      rt.cleanup();
    }
  });
});
