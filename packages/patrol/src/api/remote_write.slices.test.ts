// Large remote-write requests are stored in slices with the event loop turning between them
// (issue 11: 20,000 new series in one request stalled /-/healthy for a second), a malformed
// request stores nothing, and storage that cannot take samples answers 503 saying why.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Labels } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { collectSeries, loadSamples, type Appender, type Storage } from '../storage/interface.js';
import { openTSDB, type TSDB } from '../tsdb/tsdb.js';
import { COMMIT_SAMPLES, COMMIT_SERIES, registerRemoteWrite } from './remote_write.js';
import { snappy, WriteRequestType } from './remote_write.testutil.js';

const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' };
const root = mkdtempSync(join(tmpdir(), 'patrol-rwslices-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dbs = 0;

async function tsdb(freeBytes = 100 * 1024 ** 3): Promise<TSDB> {
  return openTSDB({ dir: join(root, `db${++dbs}`), retention: 30 * 86_400_000, compactInterval: 0, freeBytes: () => freeBytes, logger: pino({ level: 'silent' }) });
}

/** A turn counter advanced by a setImmediate chain: it moves only while the event loop turns. */
function loopTurns(): { now(): number; stop(): void } {
  let n = 0;
  let on = true;
  const tick = () => {
    n++;
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return { now: () => n, stop: () => void (on = false) };
}

interface Commit {
  appends: number;
  turn: number;
}

/**
 * The real storage, recording each commit (appends in it, loop turn at the time); `failAt`
 * makes that commit (1-based) throw `failWith` instead, as a failing disk would.
 */
function recording(db: Storage, turns: { now(): number }, failAt = 0, failWith?: Error): { storage: Storage; commits: Commit[] } {
  const commits: Commit[] = [];
  const storage: Storage = {
    querier: (mint, maxt) => db.querier(mint, maxt),
    deleteSeries: (m, mint, maxt) => db.deleteSeries(m, mint, maxt),
    close: () => db.close(),
    appender(): Appender {
      const a = db.appender();
      let appends = 0;
      return {
        append(ref: number, ls: Labels, t: number, v: number) {
          appends++;
          return a.append(ref, ls, t, v);
        },
        commit() {
          if (commits.length + 1 === failAt) {
            commits.push({ appends: -1, turn: turns.now() });
            a.rollback();
            throw failWith!;
          }
          a.commit();
          commits.push({ appends, turn: turns.now() });
        },
        rollback: () => a.rollback(),
      };
    },
  };
  return { storage, commits };
}

function request(nSeries: number, samplesEach: number, t0: number): Buffer {
  const timeseries = Array.from({ length: nSeries }, (_, i) => ({
    labels: [
      { name: '__name__', value: 'rw_slices' },
      { name: 'instance', value: `10.0.${i % 250}.${i % 7}:9100` },
      { name: 'series', value: String(i) },
    ],
    samples: Array.from({ length: samplesEach }, (_, k) => ({ value: k, timestamp: t0 + k })),
  }));
  return Buffer.from(WriteRequestType.encode(WriteRequestType.fromObject({ timeseries })).finish());
}

function stored(db: Storage): { series: number; samples: number } {
  const q = db.querier(-Infinity, Infinity);
  let samples = 0;
  const all = collectSeries(q.select({ start: -Infinity, end: Infinity }, [new Matcher('=', '__name__', 'rw_slices')]));
  for (const s of all) samples += loadSamples(s.iterator()).timestamps.length;
  q.close();
  return { series: all.length, samples };
}

async function server(storage: Storage, registry?: Registry) {
  const a = Fastify({ bodyLimit: 64 * 1024 * 1024 });
  registerRemoteWrite(a, storage, pino({ level: 'silent' }), { registry });
  await a.ready();
  return a;
}

describe('remote write in slices (real TSDB)', () => {
  it('stores 20,000 new series in one request in bounded commits, the event loop turning between them', async () => {
    const db = await tsdb();
    const turns = loopTurns();
    const { storage, commits } = recording(db, turns);
    const a = await server(storage);
    const res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: Buffer.from(snappy.compress(request(20_000, 1, Date.now()))) });
    turns.stop();
    assert.equal(res.statusCode, 204, res.body);
    assert.deepEqual(stored(db), { series: 20_000, samples: 20_000 });
    assert.ok(commits.length >= 20_000 / COMMIT_SERIES, `${commits.length} commits`);
    assert.equal(
      commits.reduce((n, c) => n + c.appends, 0),
      20_000,
    );
    for (const c of commits) assert.ok(c.appends <= COMMIT_SERIES, `a commit of ${c.appends} samples`);
    for (let i = 1; i < commits.length; i++) assert.ok(commits[i].turn > commits[i - 1].turn, `the loop turned between commits ${i} and ${i + 1}`);
    await a.close();
    await db.close();
  });

  it('slices one long series too, keeping every sample in order', async () => {
    const db = await tsdb();
    const turns = loopTurns();
    const { storage, commits } = recording(db, turns);
    const a = await server(storage);
    const t0 = Date.now() - 60_000;
    const res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: Buffer.from(snappy.compress(request(1, 30_000, t0))) });
    turns.stop();
    assert.equal(res.statusCode, 204, res.body);
    const q = db.querier(-Infinity, Infinity);
    const [s] = collectSeries(q.select({ start: -Infinity, end: Infinity }, [new Matcher('=', '__name__', 'rw_slices')]));
    const { timestamps, values } = loadSamples(s.iterator());
    q.close();
    assert.equal(timestamps.length, 30_000);
    assert.ok(timestamps.every((t, k) => t === t0 + k) && values.every((v, k) => v === k));
    assert.ok(commits.length >= 30_000 / COMMIT_SAMPLES, `${commits.length} commits`);
    for (const c of commits) assert.ok(c.appends <= COMMIT_SAMPLES, `a commit of ${c.appends} samples`);
    for (let i = 1; i < commits.length; i++) assert.ok(commits[i].turn > commits[i - 1].turn);
    await a.close();
    await db.close();
  });

  it('stores nothing from a request whose end is malformed or over a limit', async () => {
    const db = await tsdb();
    const a = await server(db);
    const good = request(5000, 1, Date.now());
    let res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: Buffer.from(snappy.compress(good.subarray(0, good.length - 3))) });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /invalid protobuf WriteRequest: truncated/);
    assert.deepEqual(stored(db), { series: 0, samples: 0 });
    const tooMany = WriteRequestType.encode(
      WriteRequestType.fromObject({
        timeseries: [{ labels: [{ name: '__name__', value: 'rw_slices' }, ...Array.from({ length: 600 }, (_, i) => ({ name: `l${i}`, value: 'v' }))], samples: [{ value: 1, timestamp: Date.now() }] }],
      }),
    ).finish();
    res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: Buffer.from(snappy.compress(Buffer.concat([good, tooMany]))) });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /remote write limit exceeded: series has more than 512 labels \(label_limit\)/);
    assert.deepEqual(stored(db), { series: 0, samples: 0 });
    await a.close();
    await db.close();
  });

  it('answers 500 after a failed commit, saying how many samples earlier slices stored', async () => {
    const db = await tsdb();
    const turns = loopTurns();
    const { storage, commits } = recording(db, turns, 3, new Error('disk controller on fire'));
    const registry = new Registry();
    const a = await server(storage, registry);
    const res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: Buffer.from(snappy.compress(request(5000, 1, Date.now()))) });
    turns.stop();
    assert.equal(res.statusCode, 500);
    const before = commits.slice(0, 2).reduce((n, c) => n + c.appends, 0);
    assert.ok(before > 0);
    assert.equal(res.body.trim(), `storing samples failed: disk controller on fire (${before} samples of this request were stored before the failure)`);
    assert.deepEqual(stored(db), { series: before, samples: before });
    assert.match(await registry.metrics(), new RegExp(`patrol_remote_write_samples_received_total ${before}\\b`));
    await a.close();
    await db.close();
  });

  it('answers 503 saying the disk is full when a commit finds no space', async () => {
    const db = await tsdb();
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const { storage } = recording(db, { now: () => 0 }, 1, full);
    const a = await server(storage);
    const res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: Buffer.from(snappy.compress(request(10, 1, Date.now()))) });
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /^storage is full: the data directory's file system has no space left \(ENOSPC: no space left on device, write\)/);
    await a.close();
    await db.close();
  });
});

describe('remote write into read-only storage (real TSDB opened with too little free space)', () => {
  it('answers 503 saying storage is read-only and why', async () => {
    const db = await tsdb(1024 * 1024);
    const registry = new Registry();
    const a = await server(db, registry);
    const res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: Buffer.from(snappy.compress(request(10, 1, Date.now()))) });
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /^storage is read-only: the data directory .* had 1\.0 MiB free at start, less than the 64\.0 MiB Patrol needs to write/);
    assert.match(await registry.metrics(), /patrol_remote_write_requests_total\{code="503"\} 1/);
    await a.close();
    await db.close();
  });
});
