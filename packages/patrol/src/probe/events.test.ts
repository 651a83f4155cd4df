import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ProbeStateChanges, type ProbeEvent } from '../model/probestate.js';
import { ProbeEventStore } from './events.js';
import { ProbeManager } from './manager.js';
import { startHttp } from './testdata/servers.js';
import { testRuntime } from './testdata/runtime.js';

function config(yaml: string): Config {
  const r = parseConfig(yaml, 'test.yml');
  if (!r.ok) assert.fail(r.errors.map(String).join('\n'));
  return r.config;
}

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`not reached in time: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('probe state changes: subscribing', () => {
  it('delivers to every subscriber, survives a throwing one, and unsubscribes', () => {
    const errors: unknown[] = [];
    const bus = new ProbeStateChanges((e) => errors.push(e));
    const a: ProbeEvent[] = [];
    const b: ProbeEvent[] = [];
    const offA = bus.subscribe((e) => a.push(e));
    bus.subscribe(() => {
      throw new Error('subscriber bug');
    });
    bus.subscribe((e) => b.push(e));
    const ev: ProbeEvent = { probe: 'web', time: 1, from: 'up', to: 'down', reason: 'timeout' };
    bus.emit(ev);
    offA();
    bus.emit({ ...ev, time: 2, from: 'down', to: 'up', reason: 'probe succeeded' });
    assert.deepEqual(a, [ev]);
    assert.equal(b.length, 2);
    assert.equal(errors.length, 2);
  });
});

describe('probe event store retention', () => {
  it('prunes old events and reasons but keeps each probe last state', () => {
    const s = new ProbeEventStore(':memory:');
    try {
      s.append({ probe: 'a', time: 100, from: 'unknown', to: 'up', reason: 'ok' });
      s.append({ probe: 'a', time: 200, from: 'up', to: 'down', reason: 'refused' });
      s.append({ probe: 'a', time: 5000, from: 'down', to: 'up', reason: 'ok' });
      s.append({ probe: 'b', time: 150, from: 'unknown', to: 'down', reason: 'timeout' });
      s.appendReason('a', 200, 'refused');
      s.appendReason('b', 150, 'timeout');
      s.appendReason('b', 6000, 'timeout again');
      assert.equal(s.prune(1000), 4);
      assert.deepEqual(s.list('a', 0, 10_000).map((e) => e.time), [5000]);
      assert.deepEqual(s.list('b', 0, 10_000).map((e) => e.time), [150], 'the last state of b stays');
      assert.deepEqual([...s.reasons('b', 0, 10_000)], [[6000, 'timeout again']]);
      assert.deepEqual(s.lastStates().get('b'), { state: 'down', since: 150 });
    } finally {
      s.close();
    }
  });
});

describe('probe manager: state changes on the runtime, reasons across a restart', () => {
  it('emits down/up with the reason, keeps failure reasons after reopening, prunes past probe_events_retention', async () => {
    let healthy = false;
    const srv = await startHttp((_req, res) => {
      res.writeHead(healthy ? 200 : 503).end();
    });
    const rt = { ...testRuntime(), probeStateChanges: new ProbeStateChanges() };
    const seen: ProbeEvent[] = [];
    rt.probeStateChanges.subscribe((e) => seen.push(e));
    const cfg = config(`storage: {probe_events_retention: 1h}
probes:
  - name: web
    type: http
    target: ${srv.url}/
    interval: 300ms
    timeout: 300ms
    failure_threshold: 2
`);
    const file = join(rt.dataDir, 'probe_events.db');
    let m = new ProbeManager(rt, { eventsFile: file, recentResults: 3 });
    try {
      m.applyConfig(cfg, { dir: '.' });
      await until(() => seen.some((e) => e.to === 'down'), 'probe down');
      // More failed runs than recentResults keeps in memory.
      await until(() => m.get('web').consecutive_failures >= 5, 'five failures');
      healthy = true;
      await until(() => seen.some((e) => e.to === 'up'), 'probe up');
      await m.stop();
      const down = seen.find((e) => e.to === 'down')!;
      assert.equal(down.probe, 'web');
      assert.equal(down.from, 'unknown');
      assert.match(down.reason, /2 consecutive failures, last: .*503/);
      assert.equal(seen.find((e) => e.to === 'up')!.from, 'down');

      // Restart: a new manager on the same event file and storage knows nothing in memory.
      m = new ProbeManager(rt, { eventsFile: file, recentResults: 3 });
      m.applyConfig(cfg, { dir: '.' });
      const history = m.history('web', 0, Date.now() + 1000);
      const failed = history.filter((p) => !p.success);
      assert.ok(failed.length >= 5, `failed runs in history: ${failed.length}`);
      for (const p of failed) assert.match(p.reason ?? '', /503/, `run at ${p.time} has its reason`);
      for (const p of history.filter((x) => x.success)) assert.equal(p.reason, undefined);

      // Past the retention (1h), reasons and all but the last state change go.
      assert.ok(m.pruneEvents(Date.now() + 2 * 3600_000) >= failed.length);
      assert.equal(m.history('web', 0, Date.now() + 1000).filter((p) => p.reason).length, 0);
      assert.deepEqual(m.eventsOf('web', 0, Date.now() + 1000).map((e) => e.to), ['up']);
    } finally {
      await m.stop();
      await srv.close();
      rt.cleanup();
    }
  });
});
