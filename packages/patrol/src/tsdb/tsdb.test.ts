import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import type { Labels } from '../model/labels.js';
import { labelsFromRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN, STALE_NAN } from '../model/value.js';
import { collectSeries, loadSamples, StorageError, type Storage } from '../storage/interface.js';
import { openTSDB, type TSDBOptions } from './tsdb.js';

const root = mkdtempSync(join(tmpdir(), 'patrol-tsdb-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => join(root, `db${++dirs}`);
const L = (rec: Record<string, string>): Labels => labelsFromRecord(rec);
const DAY = 86_400_000;
/**
 * The wall clock the stores in this file see: retention and the future bound run on it. Each
 * test sets it near its data (the default suits data in the first 6 hours of 1970).
 */
const clock = { t: 0 };
const open = (o: TSDBOptions) => openTSDB({ now: () => clock.t, ...o });

function dump(s: Storage, matchers: Matcher[] = [new Matcher('=~', '__name__', '.+')], start = -Infinity, end = Infinity): Map<string, { ts: number[]; vs: number[] }> {
  const q = s.querier(start, end);
  const out = new Map<string, { ts: number[]; vs: number[] }>();
  for (const ser of collectSeries(q.select({ start, end }, matchers))) {
    const { timestamps, values } = loadSamples(ser.iterator());
    out.set(JSON.stringify(ser.labels), { ts: [...timestamps], vs: [...values] });
  }
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

async function fill(dir: string, opts: Partial<TSDBOptions> = {}): Promise<Map<string, { ts: number[]; vs: number[] }>> {
  clock.t = 1e12 + 300 * 15_000;
  const db = await open({ dir, retention: 365 * DAY, compactInterval: 0, ...opts });
  for (let step = 0; step < 300; step++) {
    const a = db.appender();
    for (let i = 0; i < 50; i++) a.append(0, L({ __name__: i % 2 ? 'gauge' : 'counter', i: String(i) }), 1e12 + step * 15_000 + (i % 3), step % 97 === 5 ? STALE_NAN : i % 2 ? Math.sin(step * i) : step * i);
    a.commit();
    if (step === 150) await db.compact();
  }
  const want = dump(db);
  await db.close();
  return want;
}

describe('TSDB', () => {
  beforeEach(() => {
    clock.t = 6 * 3_600_000 + 60_000;
  });

  test('reopening after close returns every sample, stale markers included', async () => {
    const dir = newDir();
    const want = await fill(dir);
    assert.equal(want.size, 50);
    const db = await open({ dir, retention: 365 * DAY, compactInterval: 0 });
    assert.deepEqual(dump(db), want);
    const got = dump(db, [new Matcher('=', 'i', '4')]);
    const vs = [...got.values()][0].vs;
    assert.ok(isStaleNaN(vs[5]) && isStaleNaN(vs[102]));
    assert.equal(db.stats().walBytes, 0, 'a graceful close leaves an empty WAL');
    await db.close();
  });

  test('reopening after an abandoned process replays the WAL', async () => {
    const dir = newDir();
    clock.t = 1e9;
    const db = await open({ dir, retention: 365 * DAY, compactInterval: 0, headMaxAge: 0 });
    for (let step = 0; step < 400; step++) {
      const a = db.appender();
      for (let i = 0; i < 20; i++) a.append(0, L({ __name__: 'm', i: String(i) }), step * 1000, step + i);
      a.commit();
      if (step === 200) await db.compact();
    }
    const a = db.appender();
    a.append(0, L({ __name__: 'm', i: '0' }), 1e9, 1);
    a.rollback();
    const want = dump(db);
    db.abandon();
    const db2 = await open({ dir, retention: 365 * DAY, compactInterval: 0 });
    assert.deepEqual(dump(db2), want);
    await db2.compact();
    assert.deepEqual(dump(db2), want);
    await db2.close();
  });

  test('a data directory is used by one store at a time', async () => {
    const dir = newDir();
    const db = await open({ dir, retention: DAY, compactInterval: 0 });
    await assert.rejects(open({ dir, retention: DAY, compactInterval: 0 }), new RegExp(`data directory ${dir} is in use by another Patrol`));
    await db.close();
    const db2 = await open({ dir, retention: DAY, compactInterval: 0 });
    await db2.close();
  });

  test('a torn record at the end of the WAL (an unfinished commit) is dropped at start', async () => {
    const dir = newDir();
    const db = await open({ dir, retention: DAY, compactInterval: 0 });
    const a = db.appender();
    a.append(0, L({ __name__: 't' }), 1000, 1);
    a.commit();
    const want = dump(db);
    db.abandon();
    const segs = readdirSync(join(dir, 'wal')).sort();
    // A record header promising 64 bytes, followed by 5 of them.
    appendFileSync(join(dir, 'wal', segs[segs.length - 1]), Buffer.from([64, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9, 9]));
    const db2 = await open({ dir, retention: DAY, compactInterval: 0 });
    assert.deepEqual(dump(db2), want);
    const b = db2.appender();
    b.append(0, L({ __name__: 't' }), 2000, 2);
    b.commit();
    db2.abandon();
    const db3 = await open({ dir, retention: DAY, compactInterval: 0 });
    assert.deepEqual(dump(db3).values().next().value!.ts, [1000, 2000]);
    await db3.close();
  });

  test('compaction persists chunks, truncates the WAL and reports metrics', async () => {
    const registry = new Registry();
    const dir = newDir();
    const db = await open({ dir, retention: 365 * DAY, compactInterval: 0, headMaxAge: 0, registry });
    for (let step = 0; step < 500; step++) {
      const a = db.appender();
      for (let i = 0; i < 10; i++) a.append(0, L({ __name__: 'c', i: String(i) }), step * 15_000, step);
      a.commit();
    }
    const before = db.stats().walBytes;
    await db.compact();
    await db.compact();
    const st = db.stats();
    assert.ok(st.chunks >= 40, `chunks ${st.chunks}`);
    assert.ok(st.walBytes < before, `WAL ${st.walBytes} < ${before}`);
    const text = await registry.metrics();
    for (const m of ['patrol_tsdb_head_series 10', 'patrol_tsdb_samples_appended_total 5000', 'patrol_tsdb_chunks', 'patrol_tsdb_wal_size_bytes', 'patrol_tsdb_out_of_order_rejections_total 0', 'patrol_tsdb_compaction_duration_seconds_count 2', 'patrol_tsdb_disk_bytes']) {
      assert.ok(text.includes(m), `metrics lack ${m}`);
    }
    const [s] = dump(db, [new Matcher('=', 'i', '3')]).values();
    assert.equal(s.ts.length, 500);
    await db.close();
  });

  test('retention by time drops old chunks and series and rejects samples beyond it', async () => {
    const dir = newDir();
    const db = await open({ dir, retention: 3_600_000, compactInterval: 0, headMaxAge: 0 });
    for (let t = 0; t <= 7_200_000; t += 60_000) {
      clock.t = t;
      const a = db.appender();
      a.append(0, L({ __name__: 'keep' }), t, t);
      if (t < 1_800_000) a.append(0, L({ __name__: 'old' }), t, t);
      a.commit();
      // Cut and persist chunks every 10 minutes of data, so retention has whole chunks to drop.
      if (t % 600_000 === 0) await db.compact();
    }
    assert.equal(errCode(() => db.appender().append(0, L({ __name__: 'keep' }), 1000, 1)), 'out_of_bounds');
    await db.compact();
    await db.compact();
    const got = dump(db);
    assert.deepEqual([...got.keys()], [JSON.stringify(L({ __name__: 'keep' }))]);
    const ts = got.values().next().value!.ts;
    assert.ok(ts[0] >= 3_600_000 - 1_000_000, `oldest kept sample ${ts[0]}`);
    assert.equal(ts[ts.length - 1], 7_200_000);
    const q = db.querier(-Infinity, Infinity);
    assert.deepEqual(q.labelValues('__name__'), ['keep']);
    await db.close();
    const db2 = await open({ dir, retention: 3_600_000, compactInterval: 0 });
    assert.deepEqual([...dump(db2).keys()], [JSON.stringify(L({ __name__: 'keep' }))]);
    await db2.close();
  });

  test('retention and the out-of-order window can change while open (a reload)', async () => {
    // A day's retention makes 3 h blocks; 12 h of data at 5 min fill four of them.
    const H = 3_600_000;
    const db = await open({ dir: newDir(), retention: DAY, compactInterval: 0, headMaxAge: 0 });
    for (let t = 0; t <= 12 * H; t += 300_000) {
      clock.t = t;
      const a = db.appender();
      a.append(0, L({ __name__: 'm' }), t, t);
      a.commit();
      if (t % H === 0) await db.compact();
    }
    assert.equal(errCode(() => db.appender().append(0, L({ __name__: 'm' }), 12 * H - 60_000, 1)), 'out_of_order');
    db.setRetention({ retention: 2 * H, outOfOrderWindow: 10 * 60_000 });
    const b = db.appender();
    assert.equal(errCode(() => b.append(0, L({ __name__: 'm' }), 12 * H - 300_000, 1)), 'duplicate_sample');
    assert.equal(errCode(() => b.append(0, L({ __name__: 'm' }), 12 * H - 60_000, 1)), 'none');
    assert.equal(errCode(() => b.append(0, L({ __name__: 'other' }), 9 * H, 1)), 'out_of_bounds');
    b.commit();
    await db.compact();
    const ts = dump(db).get(JSON.stringify(L({ __name__: 'm' })))!.ts;
    // Whole blocks go: what is left starts within one block (3 h) before the new cut-off (10 h).
    assert.ok(ts[0] >= 7 * H, `oldest kept sample at ${ts[0] / H} h`);
    assert.ok(ts.includes(12 * H - 60_000));
    await db.close();
  });

  test('sealing old blocks into one row per series keeps every sample, also with late out-of-order data', async () => {
    const dir = newDir();
    const opts = { dir, retention: 8 * 3600_000, compactInterval: 0, headMaxAge: 0, outOfOrderWindow: 3 * 3600_000 };
    const db = await open(opts);
    for (let step = 0; step < 6 * 240; step++) {
      const a = db.appender();
      for (let i = 0; i < 80; i++) a.append(0, L({ __name__: 's', i: String(i) }), step * 15_000, i % 2 ? Math.round(step * 1.37 * 100) / 100 : Math.random());
      a.commit();
      if (step % 100 === 99) await db.compact();
    }
    await db.compact();
    assert.ok(db.stats().sealedBlocks >= 3, `sealed ${db.stats().sealedBlocks} blocks`);
    const late = db.appender();
    late.append(0, L({ __name__: 's', i: '3' }), 3 * 3600_000 + 7, 42);
    late.commit();
    await db.compact();
    const want = dump(db);
    const s3 = want.get(JSON.stringify(L({ __name__: 's', i: '3' })))!;
    assert.equal(s3.ts.length, 6 * 240 + 1);
    assert.equal(s3.vs[s3.ts.indexOf(3 * 3600_000 + 7)], 42);
    await db.close();
    const db2 = await open(opts);
    assert.deepEqual(dump(db2), want);
    // Selecting all series reads blocks in one pass; one series reads its own rows: same data.
    for (const i of ['0', '3', '77']) {
      const one = dump(db2, [new Matcher('=', 'i', i)], 1000, 5 * 3600_000);
      const all = dump(db2, [new Matcher('=', '__name__', 's')], 1000, 5 * 3600_000);
      const key = JSON.stringify(L({ __name__: 's', i }));
      assert.deepEqual(one.get(key), all.get(key));
      assert.ok(one.get(key)!.ts.length > 1000);
    }
    db2.deleteSeries([new Matcher('=', 'i', '5')], 3600_000, 2 * 3600_000);
    assert.equal(dump(db2, [new Matcher('=', 'i', '5')]).values().next().value!.ts.length, 6 * 240 - 241);
    await db2.close();
  });

  test('retention by size drops the oldest blocks', async () => {
    const dir = newDir();
    const db = await open({ dir, retention: 80 * 60_000, retentionSize: 200_000, compactInterval: 0, headMaxAge: 0 });
    for (let step = 0; step < 400; step++) {
      clock.t = step * 15_000;
      const a = db.appender();
      for (let i = 0; i < 100; i++) a.append(0, L({ __name__: 'big', i: String(i) }), step * 15_000, Math.random());
      a.commit();
      if (step % 50 === 49) await db.compact();
    }
    await db.compact();
    const got = dump(db);
    const first = Math.min(...[...got.values()].map((s) => s.ts[0]));
    assert.ok(first > 0, `oldest data was dropped (oldest left ${first})`);
    assert.ok([...got.values()].every((s) => s.ts[s.ts.length - 1] === 399 * 15_000));
    await db.close();
  });

  test('out-of-order samples are rejected and counted without a window', async () => {
    const registry = new Registry();
    const db = await open({ dir: newDir(), retention: DAY, compactInterval: 0, registry });
    const a = db.appender();
    a.append(0, L({ __name__: 'o' }), 10_000, 1);
    a.commit();
    const b = db.appender();
    assert.equal(errCode(() => b.append(0, L({ __name__: 'o' }), 9_000, 1)), 'out_of_order');
    assert.equal(errCode(() => b.append(0, L({ __name__: 'o' }), 8_000, 1)), 'out_of_order');
    assert.equal(errCode(() => b.append(0, L({ __name__: 'o' }), 20_000.5, 1)), 'out_of_bounds');
    assert.equal(errCode(() => b.append(0, L({ __name__: 'o' }), NaN, 1)), 'out_of_bounds');
    b.commit();
    assert.match(await registry.metrics(), /patrol_tsdb_out_of_order_rejections_total 2/);
    await db.close();
  });

  test('out-of-order samples within the window are kept, merged, persisted and replayed', async () => {
    const dir = newDir();
    const opts = { dir, retention: DAY, compactInterval: 0, outOfOrderWindow: 60_000, headMaxAge: 0 };
    const db = await open(opts);
    const ls = L({ __name__: 'w' });
    const a = db.appender();
    for (let t = 100_000; t <= 200_000; t += 10_000) a.append(0, ls, t, t);
    a.commit();
    const b = db.appender();
    b.append(0, ls, 155_000, -1);
    b.append(0, ls, 145_000, -2);
    assert.equal(errCode(() => b.append(0, ls, 130_000, 5)), 'out_of_order', 'older than the window');
    assert.equal(errCode(() => b.append(0, ls, 150_000, 7)), 'duplicate_sample');
    assert.equal(errCode(() => b.append(0, ls, 150_000, 150_000)), 'none');
    b.commit();
    const c = db.appender();
    assert.equal(errCode(() => c.append(0, ls, 155_000, 3)), 'duplicate_sample');
    c.rollback();
    const want = [100_000, 110_000, 120_000, 130_000, 140_000, 145_000, 150_000, 155_000, 160_000, 170_000, 180_000, 190_000, 200_000];
    assert.deepEqual(dump(db).get(JSON.stringify(ls))!.ts, want);
    await db.compact();
    assert.deepEqual(dump(db).get(JSON.stringify(ls))!.ts, want);
    const d = db.appender();
    d.append(0, ls, 165_000, 9);
    d.commit();
    db.abandon();
    const db2 = await open(opts);
    const got = dump(db2).get(JSON.stringify(ls))!;
    assert.deepEqual(got.ts, [...want.slice(0, 9), 165_000, ...want.slice(9)].sort((x, y) => x - y));
    assert.equal(got.vs[got.ts.indexOf(145_000)], -2);
    assert.equal(got.vs[got.ts.indexOf(165_000)], 9);
    await db2.close();
  });

  test('deleted series stay deleted after a crash and after a reopen', async () => {
    const dir = newDir();
    const db = await open({ dir, retention: DAY, compactInterval: 0 });
    const a = db.appender();
    for (let t = 1000; t <= 20_000; t += 1000) {
      a.append(0, L({ __name__: 'del', k: 'part' }), t, t);
      a.append(0, L({ __name__: 'del', k: 'all' }), t, t);
    }
    a.commit();
    await db.compact();
    db.deleteSeries([new Matcher('=', 'k', 'part')], 5000, 15_000);
    db.deleteSeries([new Matcher('=', 'k', 'all')], -Infinity, Infinity);
    const b = db.appender();
    b.append(0, L({ __name__: 'del', k: 'part' }), 21_000, 21);
    b.commit();
    const want = dump(db);
    assert.deepEqual([...want.values()][0].ts, [1000, 2000, 3000, 4000, 16_000, 17_000, 18_000, 19_000, 20_000, 21_000]);
    db.abandon();
    const db2 = await open({ dir, retention: DAY, compactInterval: 0 });
    assert.deepEqual(dump(db2), want);
    await db2.close();
    const db3 = await open({ dir, retention: DAY, compactInterval: 0 });
    assert.deepEqual(dump(db3), want);
    await db3.close();
  });

  test('large deletes run series by series in slices and are as durable as small ones', async () => {
    const dir = newDir();
    const db = await open({ dir, retention: DAY, compactInterval: 0 });
    const a = db.appender();
    for (let i = 0; i < 3000; i++) for (let t = 1000; t <= 10_000; t += 1000) a.append(0, L({ __name__: 'big', i: String(i), keep: String(i % 3 === 0) }), t, t);
    a.commit();
    await db.compact();
    // Appends that land while the delete is under way are kept.
    const during = new Promise<void>((resolve) =>
      setImmediate(() => {
        const b = db.appender();
        b.append(0, L({ __name__: 'other' }), 11_000, 1);
        b.commit();
        resolve();
      }),
    );
    const n = await db.deleteSeriesInSlices([new Matcher('=', 'keep', 'false')], -Infinity, Infinity);
    await during;
    assert.equal(n, 2000);
    const left = dump(db);
    assert.equal(left.size, 1001);
    assert.ok(left.has(JSON.stringify(L({ __name__: 'other' }))));
    await db.close();
    const db2 = await open({ dir, retention: DAY, compactInterval: 0 });
    assert.equal(dump(db2).size, 1001);
    await db2.close();
  });

  test('a snapshot is a store of its own holding what was committed before it', async () => {
    const dir = newDir();
    const db = await open({ dir, retention: DAY, compactInterval: 0 });
    const add = (from: number, to: number) => {
      const a = db.appender();
      for (let t = from; t <= to; t += 1000) for (const k of ['a', 'b']) a.append(0, L({ __name__: 'snap', k }), t, t / 1000);
      a.commit();
    };
    add(1000, 50_000);
    const before = dump(db);
    const snapDir = join(newDir(), 'snap-1');
    await db.snapshot(snapDir);
    add(51_000, 60_000);
    const snap = await open({ dir: snapDir, retention: DAY, compactInterval: 0 });
    assert.deepEqual(dump(snap), before);
    await snap.close();
    assert.equal(dump(db).get(JSON.stringify(L({ __name__: 'snap', k: 'a' })))!.ts.length, 60, 'the original goes on');
    await db.close();
  });

  test('recent persisted chunks read from memory give the same answers as the store', async () => {
    const dir = newDir();
    const registry = new Registry();
    const H = 3_600_000;
    const db = await open({ dir, retention: DAY, compactInterval: 0, headMaxAge: 0, registry });
    for (let t = 0; t <= 6 * H; t += 15_000) {
      const a = db.appender();
      for (let i = 0; i < 100; i++) a.append(0, L({ __name__: 'r', i: String(i) }), t, i % 7 === 0 ? t / 1000 : Math.sin(t + i));
      a.commit();
      if (t % (H / 2) === 0) await db.compact();
    }
    await db.compact();
    const bytes = Number(/^patrol_tsdb_recent_chunk_bytes (\S+)$/m.exec(await registry.metrics())?.[1]);
    assert.ok(bytes > 0, 'recent chunks are kept');
    // A partial delete of a few series and a select over every span, compared with a reopened
    // store, which keeps no recent chunks and reads everything from the database.
    db.deleteSeries([new Matcher('=~', 'i', '1.')], 5 * H, 5.5 * H);
    const ranges: [number, number][] = [[-Infinity, Infinity], [5 * H, 6 * H], [4.2 * H, 5.7 * H], [6 * H - 1, 6 * H], [0, H]];
    // Both read paths: all series at once (preloaded rows) and a few series one by one.
    const read = (s: Storage) => ranges.flatMap(([a, b]) => [JSON.stringify([...dump(s, undefined, a, b)]), JSON.stringify([...dump(s, [new Matcher('=~', 'i', '[3-5]')], a, b)])]);
    const mem = read(db);
    assert.ok(mem[2].length > 1000);
    await db.close();
    const db2 = await open({ dir, retention: DAY, compactInterval: 0 });
    assert.deepEqual(read(db2), mem);
    await db2.close();
  });

  test('after the out-of-order window is switched off, recent chunks still never hide out-of-order data', async () => {
    const dir = newDir();
    const db = await open({ dir, retention: DAY, compactInterval: 0, outOfOrderWindow: 3_600_000 });
    const add = (t: number, v: number) => {
      const a = db.appender();
      a.append(0, L({ __name__: 'w' }), t, v);
      a.commit();
    };
    // An open head chunk of 100 samples, and an out-of-order sample inside its time span that
    // compaction persists as a chunk of its own.
    for (let i = 0; i < 100; i++) add(i * 15_000, 1);
    add(50 * 15_000 + 7, 2);
    await db.compact();
    db.setRetention({ retention: DAY, outOfOrderWindow: 0 });
    // The head chunk fills up (120 samples), is cut and persisted after the switch.
    for (let i = 100; i < 300; i++) add(i * 15_000, 3);
    await db.compact();
    const mem = dump(db);
    assert.ok(mem.values().next().value!.ts.includes(50 * 15_000 + 7), 'the out-of-order sample is read');
    await db.close();
    const db2 = await open({ dir, retention: DAY, compactInterval: 0 });
    assert.deepEqual(dump(db2), mem);
    await db2.close();
  });

  test('survives SIGKILL at random moments: every committed batch is there, nothing else', async (t) => {
    const dir = newDir();
    const child = join(import.meta.dirname, 'testdata', 'crash-child.ts');
    const series = 30;
    let next = 0;
    // The child's clock is the same (testdata/crash-child.ts).
    clock.t = 1e9;
    for (let round = 0; round < 4; round++) {
      const p = spawn(process.execPath, ['--import', 'tsx', child, dir, String(next), String(series)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let errOut = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (errOut += d.toString()));
      // 'close' waits for the pipes to drain, so every id the child printed is read.
      const exited = new Promise<void>((resolve) => p.on('close', () => resolve()));
      // Wait for the first commits, then a random extra moment.
      const deadline = Date.now() + 60_000;
      while (!out.includes('\n') && Date.now() < deadline && p.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      assert.ok(out.includes('\n'), `child printed nothing: ${errOut}`);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 900));
      p.kill('SIGKILL');
      await exited;
      const ids = out.split('\n').filter(Boolean).map(Number);
      const last = ids[ids.length - 1];
      let extra = 0;
      const db = await open({ dir, retention: 365 * DAY, compactInterval: 0 });
      const got = dump(db);
      assert.equal(got.size, series);
      for (const [key, s] of got) {
        const i = Number(JSON.parse(key).find((l: { name: string }) => l.name === 'i').value);
        // Batches 0..last are committed and printed; last+1 may have committed before the kill.
        assert.ok(s.ts.length === last + 1 || s.ts.length === last + 2, `series ${i}: ${s.ts.length} samples, last printed batch ${last}`);
        if (s.ts.length === last + 2) extra++;
        for (let b = 0; b < s.ts.length; b++) {
          assert.equal(s.ts[b], b * 1000);
          if (b % 50 === 7) assert.ok(isStaleNaN(s.vs[b]));
          else assert.equal(s.vs[b], b + i);
        }
      }
      const lens = new Set([...got.values()].map((s) => s.ts.length));
      assert.equal(lens.size, 1, 'a batch is all or nothing');
      next = [...lens][0];
      t.diagnostic(`round ${round}: killed after batch ${last}, found ${next} batches${extra ? ' (the last committed before its id was printed)' : ''}`);
      await db.close();
    }
  });
});

describe('TSDB boundaries run on the wall clock', () => {
  test('a sample far in the future is rejected, moves no boundary, and later samples are kept', async () => {
    const now = { t: 1_800_000_000_000 };
    const db = await openTSDB({ dir: newDir(), retention: 30 * DAY, compactInterval: 0, headMaxAge: 0, now: () => now.t });
    const a = db.appender();
    for (let t = now.t - 10 * DAY; t <= now.t; t += 3_600_000) a.append(0, L({ __name__: 'old' }), t, t / 1000);
    a.commit();
    await db.compact();
    const b = db.appender();
    const future = now.t + 400 * DAY;
    assert.throws(() => b.append(0, L({ __name__: 'future' }), future, 1), (e: unknown) => e instanceof StorageError && e.code === 'out_of_bounds' && /more than storage.max_future \(600s\) ahead of the wall clock/.test(e.message));
    // Within max_future (10 minutes by default) is fine.
    b.append(0, L({ __name__: 'soon' }), now.t + 5 * 60_000, 1);
    b.commit();
    now.t += 60_000;
    await db.compact();
    await db.compact();
    const got = dump(db);
    assert.equal(got.get(JSON.stringify(L({ __name__: 'old' })))!.ts.length, 241, 'every old sample survives');
    assert.ok(!got.has(JSON.stringify(L({ __name__: 'future' }))));
    const c = db.appender();
    c.append(0, L({ __name__: 'old' }), now.t, 2);
    c.commit();
    assert.equal(dump(db).get(JSON.stringify(L({ __name__: 'old' })))!.ts.length, 242, 'a later normal sample is accepted');
    await db.close();
  });

  test('retention drops data older than the clock minus retention even when nothing new arrives', async () => {
    const now = { t: 1_800_000_000_000 };
    const opts = { dir: newDir(), retention: 2 * DAY, compactInterval: 0, headMaxAge: 0, now: () => now.t };
    const db = await openTSDB(opts);
    const a = db.appender();
    for (let t = now.t - DAY; t <= now.t; t += 600_000) a.append(0, L({ __name__: 'm' }), t, 1);
    a.commit();
    await db.compact();
    assert.equal(dump(db).size, 1);
    // Three days later, with no sample in between, all of it is past the retention.
    now.t += 3 * DAY;
    assert.equal(errCode(() => db.appender().append(0, L({ __name__: 'm' }), now.t - 2 * DAY - 1, 1)), 'out_of_bounds');
    await db.compact();
    assert.equal(dump(db).size, 0);
    await db.close();
  });

  test('max_future changes with the retention settings (a reload)', async () => {
    const now = { t: 1_800_000_000_000 };
    const db = await openTSDB({ dir: newDir(), retention: DAY, compactInterval: 0, maxFuture: 60_000, now: () => now.t });
    assert.equal(errCode(() => db.appender().append(0, L({ __name__: 'm' }), now.t + 120_000, 1)), 'out_of_bounds');
    db.setRetention({ retention: DAY, maxFuture: 3_600_000 });
    assert.equal(errCode(() => db.appender().append(0, L({ __name__: 'm' }), now.t + 120_000, 1)), 'none');
    await db.close();
  });
});

/** Runs testdata/lock-child.ts on `dir` (through `prefix`, e.g. unshare); resolves once it is ready or failed. */
async function lockChild(dir: string, prefix: string[] = []) {
  const child = join(import.meta.dirname, 'testdata', 'lock-child.ts');
  const args = [...prefix, process.execPath, '--import', 'tsx', child, dir];
  const p = spawn(args[0], args.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  const line = await new Promise<string>((resolve) => {
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    void exited.then(() => resolve(out.split('\n')[0] || `exited: ${err.slice(-2000)}`));
  });
  return { p, line, exited };
}

/** The host PID of the only child of `pid` (the process unshare forked). */
function childOf(pid: number): number {
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  assert.equal(kids.length, 1, `unshare has children ${kids.join(',')}`);
  return kids[0];
}

describe('the data directory lock dies with its holder', () => {
  test('a second live process is refused clearly; after kill -9 of the holder a new one opens', async () => {
    const dir = newDir();
    const holder = await lockChild(dir);
    assert.match(holder.line, /^ready \d+$/);
    await assert.rejects(open({ dir, retention: DAY, compactInterval: 0 }), new RegExp(`data directory ${dir} is in use by another Patrol`));
    const second = await lockChild(dir);
    assert.equal(second.line, `error data directory ${dir} is in use by another Patrol (it holds ${join(dir, 'lock.db')}); stop that one or choose another data directory`);
    await second.exited;
    holder.p.kill('SIGKILL');
    await holder.exited;
    const db = await open({ dir, retention: DAY, compactInterval: 0 });
    await db.close();
  });

  // As PID 1 of a container: the old PID lock file named PID 1, which the restarted Patrol (PID 1
  // again) took for a live owner. Needs unprivileged user and PID namespaces.
  const unshare = ['unshare', '--user', '--map-root-user', '--pid', '--fork', '--mount-proc', '--kill-child'];
  const probe = spawnSync(unshare[0], [...unshare.slice(1), 'true'], { encoding: 'utf8' });
  const why = probe.error ? `unshare not available (${probe.error.message})` : probe.status !== 0 ? `unshare --user --pid is not permitted here (${(probe.stderr || '').trim().slice(0, 200) || `exit ${probe.status}`})` : '';
  test('kill -9 of the holder running as PID 1 in a PID namespace, then a restart as PID 1', { skip: why ? `skipped: ${why}; the kill -9 test above still runs` : false }, async () => {
    const dir = newDir();
    const first = await lockChild(dir, unshare);
    assert.equal(first.line, 'ready 1', 'the first Patrol is PID 1 in its namespace');
    process.kill(childOf(first.p.pid!), 'SIGKILL');
    await first.exited;
    const again = await lockChild(dir, unshare);
    assert.equal(again.line, 'ready 1', 'the restarted Patrol, PID 1 again, opens the directory');
    again.p.stdin.end();
    assert.equal(await again.exited, 0);
  });
});
