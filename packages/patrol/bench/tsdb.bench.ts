// Benchmarks of the embedded TSDB against the targets of issue 3. Prints one line per figure with
// its target. Run all: `npm run bench -- tsdb`; one: `TSDB_BENCH=append npm run bench -- tsdb`
// (names: append, disk, heap, select, reopen; comma-separated). `TSDB_SERIES=200000` scales the
// 1,000,000-series runs down on small machines.

import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Labels } from '../src/model/labels.js';
import { labelsFromRecord } from '../src/model/labels.js';
import { Matcher } from '../src/model/matchers.js';
import { openTSDB, type TSDB } from '../src/tsdb/tsdb.js';
import { findBinary } from '../src/testing/shared.js';

const DAY = 86_400_000;
const T0 = 1_700_000_000_000;
const which = (process.env.TSDB_BENCH ?? process.argv[2] ?? 'append,disk,select,heap,reopen').split(',');
const BIG = Number(process.env.TSDB_SERIES ?? 1_000_000);
const root = mkdtempSync(join(tmpdir(), 'patrol-tsdb-bench-'));
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function line(name: string, value: string, target: string, ok: boolean | null): void {
  const mark = ok === null ? '' : ok ? '  [meets target]' : '  [MISSES target]';
  console.log(`${name.padEnd(52)} ${value.padStart(16)}   target ${target}${mark}`);
}

function load(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

/** A small seeded PRNG so runs are comparable. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seriesLabels(i: number): Labels {
  return labelsFromRecord({
    __name__: `metric_${i % 200}_total`,
    instance: `host-${Math.floor(i / 200) % 5000}.example.internal:9100`,
    job: `job-${i % 7}`,
    id: String(i),
  });
}

async function open(dir: string, extra: Partial<Parameters<typeof openTSDB>[0]> = {}): Promise<TSDB> {
  // The data is written from T0 on; the store's wall clock stands just after its last day.
  return openTSDB({ dir, retention: 400 * DAY, compactInterval: 0, now: () => T0 + 4 * DAY, ...extra });
}

async function benchAppend(): Promise<void> {
  const n = 100_000;
  const db = await open(join(root, 'append'));
  const labels = Array.from({ length: n }, (_, i) => seriesLabels(i));
  const refs = new Array<number>(n).fill(0);
  let a = db.appender();
  for (let i = 0; i < n; i++) refs[i] = a.append(0, labels[i], T0, i);
  a.commit();
  const r = rng(1);
  const vals = Float64Array.from({ length: n }, () => Math.floor(r() * 1000));
  // One commit per scrape round of all 100k series.
  const rounds = 30;
  let t = T0;
  // Also per second of this process's CPU time, which other processes on the machine disturb less.
  const cpuRate = (samples: number, cpu0: NodeJS.CpuUsage): string => {
    const u = process.cpuUsage(cpu0);
    return `${(samples / ((u.user + u.system) / 1e6) / 1e6).toFixed(2)} M/s`;
  };
  let start = performance.now();
  let cpu0 = process.cpuUsage();
  for (let k = 0; k < rounds; k++) {
    t += 15_000;
    a = db.appender();
    for (let i = 0; i < n; i++) a.append(refs[i], labels[i], t, (vals[i] += i & 3));
    a.commit();
  }
  let s = (performance.now() - start) / 1000;
  const big = (rounds * n) / s;
  line('append, 100k series, commit per 100k samples', `${(big / 1e6).toFixed(2)} M/s`, '≥ 1.00 M/s', big >= 1e6);
  line('   per CPU second of this process', cpuRate(rounds * n, cpu0), '(load-independent)', null);
  start = performance.now();
  cpu0 = process.cpuUsage();
  for (let k = 0; k < rounds; k++) {
    t += 15_000;
    for (let i = 0; i < n; i += 1000) {
      a = db.appender();
      for (let j = i; j < i + 1000; j++) a.append(refs[j], labels[j], t, (vals[j] += j & 3));
      a.commit();
    }
  }
  s = (performance.now() - start) / 1000;
  const small = (rounds * n) / s;
  line('append, 100k series, commit every 1000 samples', `${(small / 1e6).toFixed(2)} M/s`, '≥ 1.00 M/s', small >= 1e6);
  line('   per CPU second of this process', cpuRate(rounds * n, cpu0), '(load-independent)', null);
  // Without refs: every append looks the series up by its labels.
  start = performance.now();
  cpu0 = process.cpuUsage();
  for (let k = 0; k < 5; k++) {
    t += 15_000;
    a = db.appender();
    for (let i = 0; i < n; i++) a.append(0, labels[i], t, (vals[i] += 1));
    a.commit();
  }
  s = (performance.now() - start) / 1000;
  line('append by labels (no ref), commit per 100k', `${((5 * n) / s / 1e6).toFixed(2)} M/s`, '(information)', null);
  line('   per CPU second of this process', cpuRate(5 * n, cpu0), '(load-independent)', null);
  const eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  const cstart = performance.now();
  await db.compact();
  eld.disable();
  line('compaction of that head: wall time', `${((performance.now() - cstart) / 1000).toFixed(2)} s`, '(information)', null);
  line('compaction: longest event-loop block', `${db.maxSliceMs.toFixed(1)} ms`, '≤ 100 ms', db.maxSliceMs <= 100);
  line('compaction: event-loop delay p99 / max', `${(eld.percentile(99) / 1e6).toFixed(1)} / ${(eld.max / 1e6).toFixed(1)} ms`, '≤ 100 ms', eld.max / 1e6 <= 100);
  await db.close();
}

/** Realistic series: idle and busy counters, CPU-seconds counters, gauges, constants. */
function makeWorkload(n: number, seed: number): { kind: string; next: (r: () => number) => number }[] {
  const r = rng(seed);
  const out: { kind: string; next: (r: () => number) => number }[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    if (x < 0.25) {
      let v = Math.floor(r() * 10);
      out.push({ kind: 'idle counter', next: (q) => (q() < 0.05 ? (v += 1 + Math.floor(q() * 3)) : v) });
    } else if (x < 0.5) {
      let v = Math.floor(r() * 1e6);
      const rate = 1 + r() * 100;
      out.push({ kind: 'busy counter', next: (q) => (v += Math.floor(rate * 15 * (0.8 + 0.4 * q()))) });
    } else if (x < 0.65) {
      let v = Math.round(r() * 1e5 * 100) / 100;
      const util = r();
      out.push({ kind: 'cpu seconds', next: (q) => (v = Math.round((v + 15 * util * (0.9 + 0.2 * q())) * 100) / 100) });
    } else if (x < 0.85) {
      let v = Math.floor(r() * 1e6) * 4096;
      out.push({ kind: 'gauge', next: (q) => (q() < 0.3 ? (v += (Math.floor(q() * 200) - 100) * 4096) : v) });
    } else {
      const v = Math.floor(r() * 1000);
      out.push({ kind: 'constant', next: () => v });
    }
  }
  return out;
}

async function benchDisk(): Promise<void> {
  const n = 700;
  const steps = 3 * 5760; // three days at 15 s: older blocks get sealed as they would in a running store
  const dir = join(root, 'disk');
  const db = await open(dir);
  const w = makeWorkload(n, 7);
  const r = rng(9);
  const labels = Array.from({ length: n }, (_, i) => seriesLabels(i));
  const refs = new Array<number>(n).fill(0);
  for (let k = 0; k < steps; k++) {
    const a = db.appender();
    const t = T0 + k * 15_000;
    for (let i = 0; i < n; i++) refs[i] = a.append(refs[i], labels[i], t + (r() < 0.01 ? Math.floor(r() * 5) - 2 : 0), w[i].next(r));
    a.commit();
    if (k % 240 === 239) await db.compact();
  }
  await db.close();
  const db2 = await open(dir);
  const { diskBytes: bytes, sealedBlocks } = db2.stats();
  await db2.close();
  const per = bytes / (n * steps);
  line(`disk, ${n} realistic series × 3 days at 15 s`, `${per.toFixed(3)} B/sample`, '≤ 1.5 B/sample', per <= 1.5);
  const counts = new Map<string, number>();
  for (const x of w) counts.set(x.kind, (counts.get(x.kind) ?? 0) + 1);
  console.log(`   ${(bytes / 2 ** 20).toFixed(1)} MiB for ${((n * steps) / 1e6).toFixed(1)} M samples; ${sealedBlocks} of 4 day blocks sealed`);
  console.log(`   mix: ${[...counts].map(([k, c]) => `${k} ${((100 * c) / n).toFixed(0)}%`).join(', ')}; ~1% of timestamps jittered ±2 ms`);
  await benchDiskVersusPrometheus();
}

function duBytes(path: string, filter: (p: string) => boolean = () => true): number {
  const st = statSync(path);
  if (!st.isDirectory()) return filter(path) ? st.size : 0;
  let n = 0;
  for (const f of readdirSync(path)) n += duBytes(join(path, f), filter);
  return n;
}

/** The same samples in our engine and in Prometheus 2.42's TSDB (promtool backfill). */
async function benchDiskVersusPrometheus(): Promise<void> {
  const promtool = findBinary('promtool');
  if (!promtool) {
    console.log('   (promtool not installed: no Prometheus comparison)');
    return;
  }
  const n = 100;
  const steps = 3 * 5760;
  const w = makeWorkload(n, 7);
  const r = rng(9);
  const ts = new Float64Array(steps);
  const vs = new Float64Array(n * steps);
  for (let k = 0; k < steps; k++) {
    ts[k] = T0 + k * 15_000 + (r() < 0.01 ? Math.floor(r() * 5) - 2 : 0);
    for (let i = 0; i < n; i++) vs[k * n + i] = w[i].next(r);
  }
  const labels = Array.from({ length: n }, (_, i) => seriesLabels(i));
  const dir = join(root, 'disk-ours');
  const db = await open(dir);
  const refs = new Array<number>(n).fill(0);
  for (let k = 0; k < steps; k++) {
    const a = db.appender();
    for (let i = 0; i < n; i++) refs[i] = a.append(refs[i], labels[i], ts[k], vs[k * n + i]);
    a.commit();
    if (k % 240 === 239) await db.compact();
  }
  await db.close();
  const ours = duBytes(dir);
  const file = join(root, 'samples.om');
  const fd = openSync(file, 'w');
  const names = labels.map((ls) => {
    const name = ls.find((l) => l.name === '__name__')!.value;
    return `${name}{${ls
      .filter((l) => l.name !== '__name__')
      .map((l) => `${l.name}="${l.value}"`)
      .join(',')}}`;
  });
  for (let k = 0; k < steps; k++) {
    let chunk = '';
    for (let i = 0; i < n; i++) chunk += `${names[i]} ${vs[k * n + i]} ${(ts[k] / 1000).toFixed(3)}\n`;
    writeSync(fd, chunk);
  }
  writeSync(fd, '# EOF\n');
  closeSync(fd);
  const pdir = join(root, 'prom');
  const res = spawnSync(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', file, pdir], { encoding: 'utf8' });
  if (res.status !== 0) {
    console.log(`   (promtool failed: ${(res.stderr || res.stdout).slice(0, 300)})`);
    return;
  }
  const promAll = duBytes(pdir);
  const promChunks = duBytes(pdir, (p) => p.includes('/chunks/'));
  const samples = n * steps;
  line(`disk, same ${n} series × 3 days: Patrol`, `${(ours / samples).toFixed(3)} B/sample`, '≤ 1.5 B/sample', ours / samples <= 1.5);
  line('   Prometheus 2.42 blocks (promtool backfill, 2 h)', `${(promAll / samples).toFixed(3)} B/sample`, `ratio Patrol/Prometheus ${(ours / promAll).toFixed(2)}`, null);
  line('   Prometheus chunk files only', `${(promChunks / samples).toFixed(3)} B/sample`, `ratio ${(ours / promChunks).toFixed(2)}`, null);
}

async function benchSelect(): Promise<void> {
  const n = 1000;
  const steps = 1440; // 6 h at 15 s
  const dir = join(root, 'select');
  let db = await open(dir);
  const labels = Array.from({ length: n }, (_, i) => labelsFromRecord({ __name__: 'select_metric', instance: `host-${i}`, job: 'bench' }));
  const refs = new Array<number>(n).fill(0);
  const w = makeWorkload(n, 3);
  const r = rng(5);
  for (let k = 0; k < steps; k++) {
    const a = db.appender();
    for (let i = 0; i < n; i++) refs[i] = a.append(refs[i], labels[i], T0 + k * 15_000, w[i].next(r));
    a.commit();
  }
  await db.close();
  db = await open(dir);
  const times: number[] = [];
  const cpus: number[] = [];
  let total = 0;
  for (let run = 0; run < 7; run++) {
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const q = db.querier(T0, T0 + 6 * 3600_000);
    const set = q.select({ start: T0, end: T0 + 6 * 3600_000 }, [new Matcher('=', '__name__', 'select_metric')]);
    let samples = 0;
    let sum = 0;
    while (set.next()) {
      const it = set.at().iterator();
      while (it.next()) {
        sum += it.atT();
        samples++;
      }
    }
    q.close();
    times.push(performance.now() - start);
    const cpu = process.cpuUsage(cpu0);
    cpus.push((cpu.user + cpu.system) / 1000);
    total = samples;
    if (sum === 0) console.log('unexpected');
  }
  times.sort((a, b) => a - b);
  line(`select ${n} series × 6 h (${(total / 1e6).toFixed(2)} M samples), median`, `${times[3].toFixed(0)} ms`, '≤ 150 ms', times[3] <= 150);
  line('select, best of 7 (first run is cold)', `${times[0].toFixed(0)} ms`, '≤ 150 ms', times[0] <= 150);
  cpus.sort((a, b) => a - b);
  line('select, CPU time of this process, median', `${cpus[3].toFixed(0)} ms`, '≤ 150 ms (load-independent)', cpus[3] <= 150);
  await db.close();
}

async function bigStore(dir: string, n: number): Promise<{ db: TSDB; heapPerSeries: number; totalPerSeries: number }> {
  gc();
  const before = process.memoryUsage();
  const db = await open(dir);
  const refs = new Int32Array(n);
  for (let k = 0; k < 3; k++) {
    for (let i = 0; i < n; i += 10_000) {
      const a = db.appender();
      for (let j = i; j < i + 10_000 && j < n; j++) refs[j] = a.append(refs[j], seriesLabels(j), T0 + k * 15_000, j + k);
      a.commit();
    }
  }
  gc();
  const after = process.memoryUsage();
  return {
    db,
    heapPerSeries: (after.heapUsed - before.heapUsed) / n,
    totalPerSeries: (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / n,
  };
}

async function benchHeap(): Promise<void> {
  const { db, heapPerSeries, totalPerSeries } = await bigStore(join(root, 'heap'), BIG);
  line(`heap per active series, ${BIG} series (JS heap)`, `${heapPerSeries.toFixed(0)} B`, '≤ 1024 B', heapPerSeries <= 1024);
  line('   JS heap + typed-array buffers (head chunks)', `${totalPerSeries.toFixed(0)} B`, '≤ 1024 B', totalPerSeries <= 1024);
  line('   process RSS', `${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`, '(Prometheus ~2.1 KB/series)', null);
  const eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  db.maxSliceMs = 0;
  const start = performance.now();
  await db.compact();
  eld.disable();
  line(`compaction with ${BIG} series: wall time`, `${((performance.now() - start) / 1000).toFixed(2)} s`, '(information)', null);
  line('   longest event-loop block', `${db.maxSliceMs.toFixed(1)} ms`, '≤ 100 ms', db.maxSliceMs <= 100);
  line('   event-loop delay max', `${(eld.max / 1e6).toFixed(1)} ms`, '≤ 100 ms', eld.max / 1e6 <= 100);
  await db.close();
}

async function benchReopen(): Promise<void> {
  const dir = join(root, 'reopen');
  const { db } = await bigStore(dir, BIG);
  let start = performance.now();
  await db.close();
  line(`close (persist head) with ${BIG} series`, `${((performance.now() - start) / 1000).toFixed(2)} s`, '(information)', null);
  gc();
  start = performance.now();
  let db2 = await open(dir);
  const ready = (performance.now() - start) / 1000;
  const q = db2.querier(T0, T0 + 60_000);
  const got = q.labelValues('id', [new Matcher('=', 'instance', 'host-7.example.internal:9100')]).length;
  q.close();
  line(`reopen with ${BIG} series, ready to serve`, `${ready.toFixed(2)} s`, '≤ 15 s', ready <= 15);
  if (got === 0) console.log('   (unexpected: query after reopen found nothing)');
  // A crash: samples only in the WAL must be replayed. The abandoned store is dropped first, as
  // a killed process's memory would be.
  const crash = (): void => {
    const a = db2.appender();
    for (let j = 0; j < BIG; j++) a.append(0, seriesLabels(j), T0 + 10 * 15_000, j);
    a.commit();
    db2.abandon();
  };
  crash();
  db2 = null as unknown as TSDB;
  gc();
  start = performance.now();
  const db3 = await open(dir);
  const replayed = (performance.now() - start) / 1000;
  line(`reopen after kill with ${BIG} series + WAL of 1 sample each`, `${replayed.toFixed(2)} s`, '≤ 15 s', replayed <= 15);
  await db3.close();
}

console.log(`TSDB benchmarks, load average ${load()}, node ${process.version}, data in ${root}`);
try {
  for (const name of which) {
    const fn = { append: benchAppend, disk: benchDisk, select: benchSelect, heap: benchHeap, reopen: benchReopen }[name.trim()];
    if (!fn) {
      console.error(`unknown benchmark ${name}; use append, disk, select, heap, reopen`);
      process.exitCode = 1;
      continue;
    }
    await fn();
    console.log(`   (load average after ${name}: ${load()})`);
  }
} finally {
  if (!process.env.TSDB_KEEP) rmSync(root, { recursive: true, force: true });
}
