// Defects found while splitting tsdb.ts, each reproduced: what a store knows after a restart.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Labels } from '../model/labels.js';
import { labelsFromRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { collectSeries, loadSamples, StorageError, type Storage } from '../storage/interface.js';
import { openTSDB, type TSDBOptions } from './tsdb.js';

const root = mkdtempSync(join(tmpdir(), 'patrol-tsdb-reopen-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => join(root, `db${++dirs}`);
const L = (rec: Record<string, string>): Labels => labelsFromRecord(rec);
const DAY = 86_400_000;
const NOW = 10 * DAY;
const open = (o: Partial<TSDBOptions> & { dir: string }) => openTSDB({ now: () => NOW, retention: DAY, compactInterval: 0, ...o });

function dump(s: Storage, matchers: Matcher[]): Map<string, number[]> {
  const q = s.querier(-Infinity, Infinity);
  const out = new Map<string, number[]>();
  for (const ser of collectSeries(q.select({ start: -Infinity, end: Infinity }, matchers))) out.set(JSON.stringify(ser.labels), [...loadSamples(ser.iterator()).timestamps]);
  q.close();
  return out;
}

function errCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof StorageError) return e.code;
    throw e;
  }
  return 'none';
}

describe('after a restart', () => {
  test('a series first committed after newer ones does not hide their persisted samples after a replay', async () => {
    const dir = newDir();
    const db = await open({ dir, headMaxAge: 0 });
    const late = L({ __name__: 'm', job: 'a', i: 'late' });
    const a = db.appender();
    // A rejected sample creates the series (the lowest ref) without writing it to the WAL.
    assert.equal(errCode(() => a.append(0, late, NOW - 2 * DAY, 1)), 'out_of_bounds');
    for (let i = 0; i < 100; i++) for (let t = NOW - 60_000; t < NOW - 30_000; t += 1000) a.append(0, L({ __name__: 'm', job: 'a', i: String(i) }), t, i);
    a.commit();
    const b = db.appender();
    b.append(0, late, NOW, 1);
    b.commit();
    const want = dump(db, [new Matcher('=', 'job', 'a')]);
    assert.equal(want.size, 101);
    db.abandon();
    // The replay meets the newer series first; once persisted, their chunks are read in one pass.
    const db2 = await open({ dir, headMaxAge: 0 });
    await db2.compact();
    assert.deepEqual(dump(db2, [new Matcher('=', 'job', 'a')]), want);
    await db2.close();
  });

  test('the newest persisted sample of a series is known by value: the same sample again is a no-op, another value a duplicate', async () => {
    const dir = newDir();
    const db = await open({ dir });
    const ls = L({ __name__: 'v' });
    const a = db.appender();
    a.append(0, ls, NOW - 1000, 5);
    a.commit();
    await db.close();
    const db2 = await open({ dir });
    const b = db2.appender();
    assert.equal(errCode(() => b.append(0, ls, NOW - 1000, 5)), 'none', 'a resent sample (remote-write retry) is accepted as a no-op');
    assert.equal(errCode(() => b.append(0, ls, NOW - 1000, 0)), 'duplicate_sample');
    b.commit();
    assert.deepEqual(dump(db2, [new Matcher('=', '__name__', 'v')]).get(JSON.stringify(ls)), [NOW - 1000]);
    await db2.close();
  });
});
