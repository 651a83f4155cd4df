// A full disk: with too little free space at start the store opens read-only (queries work,
// appends are refused clearly, nothing is written), and a shutdown without room to persist the
// head writes nothing and loses nothing (the WAL is replayed at the next start).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { labelsFromRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { collectSeries, loadSamples, StorageError, type Storage } from '../storage/interface.js';
import { MIN_FREE_BYTES, openTSDB, type TSDBOptions } from './tsdb.js';

const root = mkdtempSync(join(tmpdir(), 'patrol-fulldisk-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const NOW = 1_800_000_000_000;
const PLENTY = 100 * 1024 ** 3;

function logged() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { lines, logger };
}

function dump(s: Storage): Map<string, number[]> {
  const q = s.querier(-Infinity, Infinity);
  const out = new Map<string, number[]>();
  for (const ser of collectSeries(q.select({ start: -Infinity, end: Infinity }, [new Matcher('=~', '__name__', '.+')]))) out.set(JSON.stringify(ser.labels), [...loadSamples(ser.iterator()).timestamps]);
  q.close();
  return out;
}

/**
 * Every file under dir with its size and modification time, but the lock and SQLite's 32 KiB
 * shared-memory index and empty WAL, which a read-only SQLite connection creates when missing.
 */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, f.name);
      if (f.isDirectory()) walk(p);
      else if (f.name === 'chunks.db-shm') assert.ok(statSync(p).size <= 32768);
      else if (f.name === 'chunks.db-wal' && statSync(p).size === 0) continue;
      else if (f.name !== 'lock.db') out.push(`${p.slice(dir.length)} ${statSync(p).size} ${statSync(p).mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

async function filled(o: Partial<TSDBOptions> = {}) {
  const dir = join(root, `db${++dirs}`);
  const opts: TSDBOptions = { dir, retention: 30 * 86_400_000, compactInterval: 0, headMaxAge: 0, now: () => NOW, freeBytes: () => PLENTY, ...o };
  const db = await openTSDB(opts);
  for (let k = 0; k < 200; k++) {
    const a = db.appender();
    for (let i = 0; i < 20; i++) a.append(0, labelsFromRecord({ __name__: 'm', i: String(i) }), NOW - 3_600_000 + k * 15_000, k);
    a.commit();
    if (k === 100) await db.compact();
  }
  return { dir, opts, db };
}

describe('a full disk', () => {
  test('too little free space at start opens read-only: queries work, appends are refused, nothing is written', async () => {
    const { dir, opts, db } = await filled();
    const want = dump(db);
    await db.close();
    const before = files(dir);
    const registry = new Registry();
    const log = logged();
    const ro = await openTSDB({ ...opts, freeBytes: () => 3 * 1024 * 1024, registry, logger: log.logger });
    assert.equal(ro.readOnly, true);
    assert.ok(
      log.lines.some((l) => l.level >= 50 && l.msg.includes(`storage is read-only: the data directory ${dir} had 3.0 MiB free at start, less than the ${(MIN_FREE_BYTES / 1048576).toFixed(1)} MiB Patrol needs to write`)),
      JSON.stringify(log.lines),
    );
    assert.match(await registry.metrics(), /^patrol_tsdb_read_only 1$/m);
    assert.deepEqual(dump(ro), want, 'stored data can be queried');
    assert.throws(() => ro.appender(), (e: unknown) => e instanceof StorageError && e.code === 'read_only' && /storage is read-only: .*free some space and restart Patrol/.test(e.message));
    assert.throws(() => ro.deleteSeries([new Matcher('=', 'i', '1')], -Infinity, Infinity), /storage is read-only/);
    await ro.compact();
    await ro.close();
    assert.deepEqual(files(dir), before, 'a read-only start and stop write nothing');
    // With room again it opens as usual.
    const rw = await openTSDB({ ...opts, registry: new Registry() });
    assert.equal(rw.readOnly, false);
    const a = rw.appender();
    a.append(0, labelsFromRecord({ __name__: 'm', i: '0' }), NOW + 1, 1);
    a.commit();
    await rw.close();
  });

  test('a read-only start replays the WAL of a crashed process into memory', async () => {
    const { dir, opts, db } = await filled();
    const want = dump(db);
    db.abandon();
    const before = files(dir);
    const ro = await openTSDB({ ...opts, freeBytes: () => 0 });
    assert.equal(ro.readOnly, true);
    assert.deepEqual(dump(ro), want);
    await ro.close();
    assert.deepEqual(files(dir), before);
    const rw = await openTSDB(opts);
    assert.deepEqual(dump(rw), want);
    await rw.close();
  });

  test('a read-only start replays deletes in the WAL without writing', async () => {
    const { dir, opts, db } = await filled();
    db.deleteSeries([new Matcher('=', 'i', '3')], NOW - 3_000_000, NOW - 2_000_000);
    db.deleteSeries([new Matcher('=', 'i', '4')], -Infinity, Infinity);
    const want = dump(db);
    db.abandon();
    const before = files(dir);
    const ro = await openTSDB({ ...opts, freeBytes: () => 0 });
    assert.equal(ro.readOnly, true);
    assert.deepEqual(dump(ro), want);
    await ro.close();
    assert.deepEqual(files(dir), before);
    const rw = await openTSDB(opts);
    assert.deepEqual(dump(rw), want);
    await rw.close();
  });

  test('a shutdown without room to persist the head writes no chunks and loses nothing', async () => {
    const free = { bytes: PLENTY };
    const log = logged();
    const { dir, opts, db } = await filled({ freeBytes: () => free.bytes, logger: log.logger });
    const want = dump(db);
    const size = (f: string) => {
      try {
        return statSync(join(dir, f)).size;
      } catch {
        return 0;
      }
    };
    const sqliteBefore = size('chunks.db') + size('chunks.db-wal');
    // Room for the start check, not for persisting 20 open head chunks and the cut ones twice over.
    free.bytes = MIN_FREE_BYTES + 1;
    const roomy = await openTSDB({ dir: join(root, `db${++dirs}`), retention: 86_400_000, compactInterval: 0, freeBytes: () => free.bytes });
    assert.equal(roomy.readOnly, false, 'just over the threshold opens read-write');
    await roomy.close();
    free.bytes = 4 * 1024 * 1024;
    await db.close();
    assert.ok(log.lines.some((l) => l.level === 40 && /not enough free space to persist the head at shutdown \(4\.0 MiB free, about [\d.]+ MiB needed\): skipped; the write-ahead log keeps every sample/.test(l.msg)), JSON.stringify(log.lines.slice(-3)));
    // Closing SQLite checkpoints its WAL into the database: pages written before, none new.
    assert.ok(size('chunks.db') + size('chunks.db-wal') <= sqliteBefore, `${size('chunks.db')} + ${size('chunks.db-wal')} <= ${sqliteBefore}`);
    assert.ok(readdirSync(join(dir, 'wal')).length > 0, 'the WAL is kept');
    free.bytes = PLENTY;
    const again = await openTSDB({ ...opts, logger: undefined });
    assert.deepEqual(dump(again), want);
    await again.close();
  });
});

describe('a data directory that is not writable', () => {
  const isRoot = process.getuid?.() === 0;
  test('an empty directory with mode 0555 is named as read-only', { skip: isRoot ? 'skipped: running as root, which ignores the 0555 mode; the read-only mount below covers it' : false }, async () => {
    const parent = join(root, `ro${++dirs}`);
    mkdirSync(parent);
    chmodSync(parent, 0o555);
    try {
      await assert.rejects(openTSDB({ dir: join(parent, 'tsdb'), retention: 86_400_000, compactInterval: 0 }), new RegExp(`^Error: data directory ${parent} is not writable \\(read-only\\)`));
      await assert.rejects(openTSDB({ dir: parent, retention: 86_400_000, compactInterval: 0 }), new RegExp(`^Error: data directory ${parent} is not writable \\(read-only\\)`));
    } finally {
      chmodSync(parent, 0o755);
    }
  });

  // A read-only bind mount in a private mount namespace (nothing changes outside the child).
  const unshare = ['unshare', '--user', '--map-root-user', '--mount'];
  const probe = spawnSync(unshare[0], [...unshare.slice(1), 'true'], { encoding: 'utf8' });
  const why = probe.error ? `unshare not available (${probe.error.message})` : probe.status !== 0 ? `unshare --user --mount is not permitted here (${(probe.stderr || '').trim().slice(0, 200) || `exit ${probe.status}`})` : '';
  test('an empty directory on a read-only mount is named as read-only, not ENOENT', { skip: why ? `skipped: ${why}` : false }, () => {
    const parent = join(root, `romount${++dirs}`);
    mkdirSync(parent);
    const child = join(import.meta.dirname, 'testdata', 'lock-child.ts');
    const script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" --import tsx "$3" "$1/tsdb" </dev/null';
    const r = spawnSync(unshare[0], [...unshare.slice(1), 'sh', '-c', script, 'sh', parent, process.execPath, child], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.stdout.trim(), `error data directory ${parent} is not writable (read-only): Patrol keeps its samples there; make it writable or choose another data directory`, r.stderr);
  });
});
