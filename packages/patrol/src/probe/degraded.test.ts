// Degraded state: degrading_conditions make a run DEGRADED rather than failed; the probe goes
// UP / DEGRADED / DOWN with its thresholds, writes patrol_probe_state and records the changes.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { Matcher } from '../model/matchers.js';
import { collectSeries, loadSamples } from '../storage/interface.js';
import { ProbeManager } from './manager.js';
import { ProbeStateMachine } from './state.js';
import { probeErrors, runOne } from './testdata/helpers.js';
import { testRuntime } from './testdata/runtime.js';
import { startHttp } from './testdata/servers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail('condition not reached in time');
    await sleep(20);
  }
}

function config(yaml: string): Config {
  const r = parseConfig(yaml, 'test.yml');
  if (!r.ok) assert.fail(r.errors.map(String).join('\n'));
  return r.config;
}

describe('degraded state machine', () => {
  it('UP -> DEGRADED after failure_threshold degraded runs, back UP after success_threshold clean runs', () => {
    const m = new ProbeStateMachine(2, 2, 'up', 1);
    assert.equal(m.observe(true, 2, 'degraded: slow', true), null);
    assert.deepEqual(m.observe(true, 3, 'degraded: slow', true), { time: 3, from: 'up', to: 'degraded', reason: '2 consecutive degraded runs, last: degraded: slow' });
    assert.equal(m.observe(true, 4, '', false), null);
    assert.equal(m.observe(true, 5, 'degraded: slow', true), null);
    assert.equal(m.observe(true, 6, '', false), null);
    assert.deepEqual(m.observe(true, 7, '', false), { time: 7, from: 'degraded', to: 'up', reason: '2 consecutive runs without degradation' });
  });
  it('a failure goes DOWN from DEGRADED; leaving DOWN on a degraded run enters DEGRADED', () => {
    const m = new ProbeStateMachine(1, 1, 'degraded', 1);
    assert.deepEqual(m.observe(false, 2, 'status 503 not in [2xx]'), { time: 2, from: 'degraded', to: 'down', reason: 'status 503 not in [2xx]' });
    assert.deepEqual(m.observe(true, 3, 'degraded: slow', true), { time: 3, from: 'down', to: 'degraded', reason: 'probe passed, degraded: degraded: slow' });
  });
  it('degraded runs reset the failure count', () => {
    const m = new ProbeStateMachine(2, 1, 'up', 1);
    assert.equal(m.observe(false, 2, 'x'), null);
    assert.equal(m.observe(true, 3, 'degraded: y', true), null);
    assert.equal(m.observe(false, 4, 'x'), null);
    assert.equal(m.state, 'up');
  });
});

describe('degrading_conditions on a real HTTP target', () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  let mode: 'ok' | 'warn' | 'down' = 'ok';
  before(async () => {
    srv = await startHttp((_req, res) => {
      res.writeHead(mode === 'down' ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: mode === 'warn' ? 'degraded' : 'ok' }));
    });
  });
  after(() => srv.close());

  it('a run failing only a degrading condition succeeds, degraded, with the reason', async () => {
    mode = 'warn';
    const r = await runOne({ type: 'http', target: `${srv.url}/`, conditions: ['[STATUS] == 200'], degrading_conditions: ['$.status == ok'] });
    assert.equal(r.success, true);
    assert.equal(r.degraded, true);
    assert.match(r.reason, /^degraded: .*status/);
    mode = 'ok';
    const ok = await runOne({ type: 'http', target: `${srv.url}/`, degrading_conditions: ['$.status == ok'] });
    assert.equal(ok.success, true);
    assert.equal(ok.degraded, false);
    assert.equal(ok.reason, '');
    mode = 'down';
    const down = await runOne({ type: 'http', target: `${srv.url}/`, degrading_conditions: ['$.status == ok'] });
    assert.equal(down.success, false);
    assert.equal(down.degraded, false);
    assert.match(down.reason, /status 503/);
  });

  it('the manager moves UP -> DEGRADED -> DOWN -> UP, writes patrol_probe_state and events', async () => {
    const rt = testRuntime();
    const m = new ProbeManager(rt, { statsCacheMs: 0 });
    try {
      mode = 'ok';
      m.applyConfig(config(`probes:\n  - {name: api, type: http, target: "${srv.url}/", interval: 100ms, timeout: 100ms, failure_threshold: 1, degrading_conditions: ['$.status == ok']}\n`), { dir: '.' });
      await until(() => m.get('api').state === 'up');
      mode = 'warn';
      await until(() => m.get('api').state === 'degraded');
      assert.match(m.get('api').reason, /^degraded: /);
      assert.equal(m.get('api').last_result?.degraded, true);
      const ov = await m.overview();
      assert.equal(ov.counts.degraded, 1);
      assert.equal(ov.probes[0].state, 'degraded');
      assert.equal(m.countByState().degraded, 1);
      mode = 'down';
      await until(() => m.get('api').state === 'down');
      mode = 'ok';
      await until(() => m.get('api').state === 'up');
      m.flush();
      const ev = m.eventsOf('api', 0, Date.now() + 1000).map((e) => `${e.from}->${e.to}`);
      assert.deepEqual(ev, ['down->up', 'degraded->down', 'up->degraded', 'unknown->up']);
      const now = Date.now() + 1000;
      const [st] = collectSeries(rt.storage.querier(0, now).select({ start: 0, end: now }, [new Matcher('=', '__name__', 'patrol_probe_state'), new Matcher('=', 'probe', 'api')]));
      const values = [...loadSamples(st.iterator()).values].filter((v, i, a) => i === 0 || v !== a[i - 1]);
      assert.deepEqual(values, [1, 2, 0, 1]);
      const [up] = collectSeries(rt.storage.querier(0, now).select({ start: 0, end: now }, [new Matcher('=', '__name__', 'patrol_probe_up'), new Matcher('=', 'probe', 'api')]));
      assert.deepEqual([...loadSamples(up.iterator()).values].filter((v, i, a) => i === 0 || v !== a[i - 1]), [1, 0, 1]);
    } finally {
      await m.stop();
      rt.cleanup();
    }
  });

  it('rejects a degrading condition the type cannot evaluate, or one also in conditions', () => {
    const errs = probeErrors(`  - {name: t, type: tcp, target: "127.0.0.1:1", degrading_conditions: ['[STATUS] == 200']}\n`).join('\n');
    assert.match(errs, /degrading condition "\[STATUS\] == 200": \[STATUS\] is not available for tcp probes/);
    const dup = probeErrors(`  - {name: t, type: http, target: "http://x/", conditions: ['[STATUS] == 200'], degrading_conditions: ['[STATUS] == 200']}\n`).join('\n');
    assert.match(dup, /is also in conditions/);
    const bad = probeErrors(`  - {name: t, type: http, target: "http://x/", degrading_conditions: ['[RESPONSE_TIME] <']}\n`).join('\n');
    assert.match(bad, /degrading_conditions/);
  });
});
