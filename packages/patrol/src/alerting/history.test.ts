import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { AlertingDB, type AlertEvent } from './history.js';
import { historyMetrics } from './metrics.js';

const event = (i: number): AlertEvent => ({ ts: 1000 + i, fingerprint: `fp${i}`, event: 'inhibited', labels: { alertname: 'A', n: String(i) }, detail: { inhibitedBy: ['src'] } });
const everything = { matchers: [], start: 0, end: Number.MAX_SAFE_INTEGER, limit: 1_000_000 };
/** Makes the connection refuse writes, as a full disk does (SQLite's query_only). */
const refuseWrites = (h: AlertingDB, on: boolean) => (h as unknown as { db: Database.Database }).db.pragma(`query_only = ${on ? 'ON' : 'OFF'}`);

async function counter(r: Registry, name: string): Promise<number> {
  const m = (await r.getMetricsAsJSON()).find((x) => x.name === name);
  return Number(m?.values[0]?.value ?? NaN);
}

describe('alert history writes', () => {
  let dir: string;
  let h: AlertingDB;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'patrol-history-'));
    h = new AlertingDB(join(dir, 'alerting.db'), { batchSize: 1000, flushInterval: 60_000 });
  });
  afterEach(() => {
    h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every row of a burst recorded in one tick (100 groups inhibiting 13,333 alerts at once)', () => {
    for (let i = 0; i < 13_333; i++) h.recordAlert(event(i));
    // Written by the calls that filled each batch, before the tick ends: no pile-up, nothing dropped.
    assert.equal(h.written, 13_000);
    assert.equal(h.dropped, 0);
    const { events } = h.alertHistory(everything);
    assert.equal(events.length, 13_333);
    assert.deepEqual(events.at(-1), event(0));
  });

  it('keeps rows while writes fail, drops beyond ten batches and counts it, then writes the rest', async () => {
    const registry = new Registry();
    historyMetrics(registry, h);
    refuseWrites(h, true);
    for (let i = 0; i < 15_000; i++) h.recordAlert(event(i));
    assert.equal(h.written, 0);
    assert.ok(h.writeErrors >= 1, 'the failed write was counted');
    assert.equal(h.dropped, 5_000, 'the queue held ten batches');
    assert.equal(await counter(registry, 'patrol_alert_history_rows_dropped_total'), 5_000);
    refuseWrites(h, false);
    assert.equal(h.alertHistory(everything).events.length, 10_000, 'the kept rows were written once writes worked again');
    assert.equal(await counter(registry, 'patrol_alert_history_rows_written_total'), 10_000);
    assert.ok((await counter(registry, 'patrol_alert_history_write_errors_total')) >= 1);
  });
});
