// Retention's series removal against appenders still open (found while splitting tsdb.ts).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { labelsFromRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { collectSeries, loadSamples, type Storage } from '../storage/interface.js';
import { openTSDB } from './tsdb.js';

const root = mkdtempSync(join(tmpdir(), 'patrol-tsdb-retention-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const DAY = 86_400_000;

function timestamps(s: Storage, name: string): number[] | undefined {
  const q = s.querier(-Infinity, Infinity);
  const [ser] = collectSeries(q.select({ start: -Infinity, end: Infinity }, [new Matcher('=', '__name__', name)]));
  q.close();
  return ser ? [...loadSamples(ser.iterator()).timestamps] : undefined;
}

describe('retention and open appenders', () => {
  test('a compaction while an appender is open keeps the series it is writing', async () => {
    const now = { t: 10 * DAY };
    const dir = join(root, `db${++dirs}`);
    const db = await openTSDB({ dir, retention: DAY, compactInterval: 0, now: () => now.t });
    const old = labelsFromRecord({ __name__: 'old' });
    const a = db.appender();
    a.append(0, old, now.t - 1000, 1);
    a.commit();
    // The batch spans a compaction (an appender whose producer awaits between appends).
    now.t += 2 * DAY;
    const b = db.appender();
    b.append(0, labelsFromRecord({ __name__: 'fresh' }), now.t, 1);
    b.append(0, old, now.t, 2);
    await db.compact();
    b.commit();
    assert.deepEqual(timestamps(db, 'fresh'), [now.t]);
    assert.equal(timestamps(db, 'old')?.at(-1), now.t, 'a new sample of a series past the retention is kept');
    // Once no appender holds them, series past the retention go.
    now.t += 2 * DAY;
    await db.compact();
    assert.equal(timestamps(db, 'fresh'), undefined);
    await db.close();
  });
});
