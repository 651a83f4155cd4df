// Samples a scrape cannot store (a timestamp far in the future or past the retention, the same
// series twice) are skipped and counted; the target stays up and says why in lastError.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Matcher } from '../model/matchers.js';
import { openTSDB, type TSDB } from '../tsdb/tsdb.js';
import { ScrapeClient } from './client.js';
import { ScrapeLoop, ScrapeSampleCounts } from './loop.js';
import { ScrapeManager } from './manager.js';
import { compileRelabel } from './relabel.js';
import { populateLabels, Target } from './target.js';
import { config, read, serve, type TestServer } from './testutil.js';

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

function makeLoop(storage: TSDB, url: string, counts: ScrapeSampleCounts): { loop: ScrapeLoop; target: Target; client: ScrapeClient } {
  const u = new URL(url);
  const cfg = config(`scrape_configs:\n  - job_name: t\n    scrape_interval: 15s\n    scrape_timeout: 2s\n    metrics_path: ${u.pathname}\n    static_configs: [{targets: ['${u.host}']}]\n`);
  const sc = cfg.scrape_configs[0];
  const r = populateLabels({ __address__: u.host }, sc, compileRelabel(sc.relabel_configs));
  assert.ok(r.labels, r.error);
  const target = new Target(r.discovered, r.labels, sc);
  const client = new ScrapeClient(sc, '/');
  const loop = new ScrapeLoop(target, client, { honorLabels: sc.honor_labels, honorTimestamps: sc.honor_timestamps, sampleLimit: 0, labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 0, metricRelabel: [] }, storage, undefined, counts);
  return { loop, target, client };
}

describe('scrape samples that cannot be stored', () => {
  const root = mkdtempSync(join(tmpdir(), 'patrol-loop-skipped-'));
  let server: TestServer;
  let body = '';
  const clock = { t: NOW };
  let db: TSDB;

  before(async () => {
    server = await serve((_q: IncomingMessage, r: ServerResponse) => {
      r.setHeader('content-type', 'text/plain; version=0.0.4');
      r.end(body);
    });
    db = await openTSDB({ dir: join(root, 'db'), retention: 30 * DAY, compactInterval: 0, headMaxAge: 0, now: () => clock.t });
  });
  after(async () => {
    await db.close();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('a line with a timestamp 400 days ahead is counted and skipped; old data survives and later samples are stored', async () => {
    const counts = new ScrapeSampleCounts();
    const { loop, target, client } = makeLoop(db, `${server.url}/future`, counts);
    for (let i = 0; i < 10; i++) {
      clock.t = NOW + i * 15_000;
      body = `kept_total ${i}\n`;
      const out = await loop.scrapeAndReport(clock.t);
      assert.equal(out.error, '');
    }
    clock.t = NOW + 10 * 15_000;
    const future = clock.t + 400 * DAY;
    body = `kept_total 10\nfuture_metric 1 ${future}\n`;
    const out = await loop.scrapeAndReport(clock.t);
    assert.equal(out.ok, true);
    assert.equal(target.health, 'up', 'the target stays up');
    assert.match(target.lastError, /^1 sample out of bounds, not stored \(line 2: sample at \d+ \(.*\) is more than storage\.max_future \(600s\) ahead of the wall clock/);
    assert.equal(counts.outOfBounds, 1);
    await db.compact();
    await db.compact();
    const kept = read(db, 'kept_total');
    assert.equal(kept.length, 1);
    assert.equal(kept[0].ts.length, 11, 'every earlier sample survives');
    assert.deepEqual(read(db, 'future_metric'), []);
    assert.deepEqual(read(db, 'up')[0].values.slice(-1), [1]);
    // The next scrapes are stored as usual and clear lastError.
    clock.t += 15_000;
    body = 'kept_total 11\n';
    assert.equal((await loop.scrapeAndReport(clock.t)).error, '');
    assert.equal(target.lastError, '');
    assert.equal(read(db, 'kept_total')[0].ts.length, 12);
    await loop.stop(false);
    await client.close();
  });

  it('a series twice in one scrape keeps the target up, stores the first value and counts the duplicate', async () => {
    const counts = new ScrapeSampleCounts();
    const { loop, target, client } = makeLoop(db, `${server.url}/dup`, counts);
    clock.t += 15_000;
    body = 'dup_ok 1\ndup_m{a="1",b="2"} 1\ndup_m{b="2",a="1"} 2\ndup_m{a="1",b="2"} 3\n';
    const out = await loop.scrapeAndReport(clock.t);
    assert.equal(out.ok, true);
    assert.equal(target.health, 'up');
    assert.match(target.lastError, /^2 duplicate samples for the same series and timestamp, first value kept \(first: line 3: duplicate series dup_m\{a="1", b="2", instance=".*", job="t"\}\)$/);
    assert.equal(counts.duplicateTimestamp, 2);
    assert.deepEqual(read(db, 'dup_m').map((s) => s.values), [[1]]);
    assert.deepEqual(read(db, 'dup_ok').map((s) => s.values), [[1]]);
    assert.deepEqual(read(db, 'up', new Matcher('=', 'instance', target.url.host))[0].values.slice(-1), [1]);
    await loop.stop(false);
    await client.close();
  });

  it('the manager exports the counts as patrol_target_scrapes_sample_*_total', async () => {
    const registry = new Registry();
    const m = new ScrapeManager({ storage: db, logger: undefined as never, registry });
    m.sampleCounts.outOfBounds = 3;
    m.sampleCounts.duplicateTimestamp = 2;
    const text = await registry.metrics();
    assert.match(text, /^patrol_target_scrapes_sample_out_of_bounds_total 3$/m);
    assert.match(text, /^patrol_target_scrapes_sample_duplicate_timestamp_total 2$/m);
    assert.match(text, /^patrol_target_scrapes_sample_out_of_order_total 0$/m);
  });
});
