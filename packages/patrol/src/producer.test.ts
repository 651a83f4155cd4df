// Each producer's edge with a producer that throws, synchronously and asynchronously: the
// process stays up (an escape would be an uncaught exception or unhandled rejection, which fails
// the test run), patrol_producer_errors_total counts it, and later runs still happen.

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Runtime } from './component.js';
import { CollectorsManager } from './collect/manager.js';
import { parseConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { HostCollector } from './host/collector.js';
import { Scheduler } from './probe/scheduler.js';
import { guarded, producerErrors, registerProducerErrors, reportProducerError } from './producer.js';
import { ScrapeClient } from './scrape/client.js';
import { RefreshDiscovery, type TargetGroup } from './scrape/discovery.js';
import { ScrapeLoop } from './scrape/loop.js';
import { compileRelabel } from './scrape/relabel.js';
import { populateLabels, Target } from './scrape/target.js';
import { MemoryStorage } from './storage/memory.js';

async function count(producer: string): Promise<number> {
  const v = (await producerErrors.get()).values.find((x) => x.labels.producer === producer);
  return v?.value ?? 0;
}

function config(text: string): Config {
  const r = parseConfig(text, 'test.yml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.config;
}

function runtime(storage: MemoryStorage): Runtime {
  return { storage, logger: pino({ level: 'silent' }), registry: new Registry(), listen: '127.0.0.1:0', dataDir: mkdtempSync(join(tmpdir(), 'patrol-producer-')) };
}

/** Waits until `cond` holds, polling; fails after `ms`. */
async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A run that throws synchronously on odd calls, rejects on even ones (after the first two), and works from the fifth. */
function flaky(calls: { n: number }): () => Promise<void> {
  return () => {
    calls.n++;
    if (calls.n === 1 || calls.n === 3) throw new Error(`sync failure ${calls.n}`);
    if (calls.n === 2 || calls.n === 4) return Promise.reject(new Error(`async failure ${calls.n}`));
    return Promise.resolve();
  };
}

describe('producer edges', () => {
  it('guarded() catches sync throws and rejections, counts and logs at most once a minute', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (s: string) => lines.push(s) });
    const before = await count('other');
    assert.equal(
      await guarded('other', () => {
        throw new Error('boom');
      }, log),
      undefined,
    );
    assert.equal(await guarded('other', () => Promise.reject(new Error('later')), log), undefined);
    assert.equal(await guarded('other', () => 7, log), 7);
    reportProducerError('other', 'a string', log);
    assert.equal((await count('other')) - before, 3);
    assert.ok(lines.length <= 1, `logged ${lines.length} lines`);
    const reg = new Registry();
    registerProducerErrors(reg);
    registerProducerErrors(reg);
    assert.match(await reg.metrics(), /patrol_producer_errors_total\{producer="other"\} \d+/);
  });

  it('probe scheduler: a run that throws is counted and the probe keeps running', async () => {
    const before = await count('probe');
    const calls = { n: 0 };
    const s = new Scheduler({ maxConcurrency: 4, perHostConcurrency: 4 });
    s.setJobs([{ key: 'bad', intervalMs: 20, host: 'h', run: flaky(calls) }]);
    await until(() => calls.n >= 7);
    await s.stop();
    assert.equal((await count('probe')) - before, 4);
  });

  it('scrape loop: a scrape that throws is counted and the loop keeps scraping', async () => {
    const before = await count('scrape');
    const cfg = config(`scrape_configs:\n  - job_name: t\n    scrape_interval: 50ms\n    scrape_timeout: 40ms\n    static_configs: [{targets: ['127.0.0.1:1']}]\n`);
    const sc = cfg.scrape_configs[0];
    const r = populateLabels({ __address__: '127.0.0.1:1' }, sc, compileRelabel(sc.relabel_configs));
    const target = new Target(r.discovered, r.labels!, sc);
    const loop = new ScrapeLoop(target, new ScrapeClient(sc, '/'), { honorLabels: false, honorTimestamps: true, trackTimestampsStaleness: false, sampleLimit: 0, labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 0, metricRelabel: [] }, new MemoryStorage(), pino({ level: 'silent' }));
    const calls = { n: 0 };
    const run = flaky(calls);
    (loop as unknown as { scrapeAndReport: () => Promise<unknown> }).scrapeAndReport = run;
    loop.start();
    await until(() => calls.n >= 6);
    await loop.stop(false);
    assert.equal((await count('scrape')) - before, 4);
  });

  it('collectors: a run that throws is counted and the collector keeps running', async () => {
    const before = await count('collector');
    const storage = new MemoryStorage();
    const m = new CollectorsManager(runtime(storage));
    await m.applyConfig(config('collectors:\n  scripts:\n    - {name: s, command: /bin/true, interval: 30ms}\n'), { dir: '/' });
    const loops = (m as unknown as { loops: Map<string, { runOnce: () => Promise<void> }> }).loops;
    const calls = { n: 0 };
    for (const l of loops.values()) l.runOnce = flaky(calls);
    await until(() => calls.n >= 6);
    await m.stop();
    assert.ok((await count('collector')) - before >= 4);
  });

  it('host collector: a cycle that throws is counted and the next cycles run', async () => {
    const before = await count('collector');
    const c = new HostCollector(runtime(new MemoryStorage()));
    const calls = { n: 0 };
    (c as unknown as { collectOnce: () => Promise<void> }).collectOnce = flaky(calls);
    await c.applyConfig(config('host: {interval: 30ms}\n'));
    await until(() => calls.n >= 6);
    await c.stop();
    assert.ok((await count('collector')) - before >= 4);
  });

  it('discovery: a refresh whose consumer throws is counted and refreshing goes on', async () => {
    const before = await count('discovery');
    let n = 0;
    class Changing extends RefreshDiscovery {
      protected fetch(): Promise<{ groups: TargetGroup[]; errors: string[] }> {
        n++;
        return Promise.resolve({ groups: [{ source: `s${n}`, targets: [] }], errors: [] });
      }
    }
    let changes = 0;
    const d = new Changing('test_sd', 20, () => {
      changes++;
      throw new Error('consumer failed');
    }, pino({ level: 'silent' }));
    await d.start();
    await until(() => changes >= 4);
    d.stop();
    assert.ok((await count('discovery')) - before >= 4);
  });
});
