// PromQL engine benchmark: dashboard-style 1 h range queries at 15 s steps over generated data
// (6 h of 15 s samples), timed side by side with Debian's prometheus on the same data (backfilled
// with promtool into a temporary data dir and queried over HTTP).
//
//   PROMQL_BENCH_SERIES=100000 npm run bench -- promql     (default 100,000 series)
//   PROMQL_BENCH_RUNS=5                                      (timed runs per query after one warm-up, median kept)
//   PROMQL_BENCH_NO_PROMETHEUS=1                             (Patrol only, e.g. for profiling)
//   PROMQL_BENCH_STORAGE=memory                              (MemoryStorage instead of the TSDB)
//   PROMQL_BENCH_ONLY=subquery                               (only queries whose title contains the word;
//                                                            'timeout overrun' runs only the timeout check)
//   PROMQL_BENCH_PROFILE=/tmp/q.cpuprofile                   (CPU profile of the timed Patrol runs only)
//   PROMQL_BENCH_PROMETHEUS_DIR=/tmp/promql-prom             (keep Prometheus' backfilled data for the next run)
//
// Patrol's data goes into its embedded TSDB as a running server writes it: one commit per scrape
// round of all series, a compaction after every hour of data (the server compacts every minute;
// what matters is that cut chunks are persisted and old blocks sealed), and a final compaction,
// so the query reads persisted chunks from SQLite (one sealed day block, one open one) plus the
// open head chunks.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { createServer } from 'node:net';
import { labelsFromRecord } from '../src/model/labels.js';
import { Engine } from '../src/promql/engine.js';
import type { Storage } from '../src/storage/interface.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { openTSDB, type TSDB } from '../src/tsdb/tsdb.js';
import { findBinary } from '../src/testing/shared.js';

const SERIES = Number(process.env.PROMQL_BENCH_SERIES ?? 100_000);
const RUNS = Number(process.env.PROMQL_BENCH_RUNS ?? 5);
const STEP = 15_000;
const SPAN = 6 * 3600_000;
const T0 = 1_700_000_000_000;
const T_END = T0 + SPAN;
const SAMPLES = SPAN / STEP + 1;
const STORAGE = process.env.PROMQL_BENCH_STORAGE === 'memory' ? 'memory' : 'tsdb';
const ONLY = process.env.PROMQL_BENCH_ONLY ?? '';

const JOBS = 10;
const CODES = ['200', '201', '404', '500', '503'];
const LES = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];

interface Gen {
  name: string;
  labels: Record<string, string>;
  rate: number;
}

/** Half the series are request counters (job × instance × code), half histogram buckets (job × instance × le). */
function seriesList(n: number): Gen[] {
  const out: Gen[] = [];
  const counterInstances = Math.max(1, Math.round(n / 2 / (JOBS * CODES.length)));
  for (let j = 0; j < JOBS; j++)
    for (let i = 0; i < counterInstances; i++)
      for (let c = 0; c < CODES.length; c++)
        out.push({
          name: 'http_requests_total',
          labels: { job: `job${j}`, instance: `host${i}:9100`, code: CODES[c] },
          rate: (c < 2 ? 10 : 0.5) * (1 + ((i * 7 + j) % 5)),
        });
  const bucketInstances = Math.max(1, Math.round(n / 2 / (JOBS * LES.length)));
  for (let j = 0; j < JOBS; j++)
    for (let i = 0; i < bucketInstances; i++)
      for (let b = 0; b < LES.length; b++)
        out.push({
          name: 'http_request_duration_seconds_bucket',
          labels: { job: `job${j}`, instance: `host${i}:9100`, le: LES[b] },
          rate: 2 * (b + 1) * (1 + (i % 3)),
        });
  return out;
}

/** Deterministic counter value at sample k (small jitter so rates vary). */
function value(g: Gen, k: number, idx: number): number {
  return Math.floor(g.rate * k * 15 + ((k * 2654435761 + idx * 40503) % 7));
}

const QUERIES: [string, string][] = [
  ['sum by code of rate', 'sum by (code) (rate(http_requests_total[5m]))'],
  ['5xx ratio by job', 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))'],
  ['p99 histogram_quantile', 'histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))'],
  ['topk instances', 'topk(5, sum by (instance) (rate(http_requests_total[5m])))'],
  ['avg_over_time subquery', 'avg_over_time(sum by (job) (rate(http_requests_total[5m]))[30m:1m])'],
];

/** CPU time (user + system, ms) a process has used, from /proc; NaN when unavailable. */
function procCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks at USER_HZ 100
  } catch {
    return NaN;
  }
}

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  srv.close();
  return port;
}

async function writeOpenMetrics(path: string, gens: Gen[]): Promise<void> {
  const out = createWriteStream(path);
  let buf = '';
  for (let s = 0; s < gens.length; s++) {
    const g = gens[s];
    const ls = Object.entries(g.labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    const prefix = `${g.name}{${ls}} `;
    for (let k = 0; k < SAMPLES; k++) {
      buf += `${prefix}${value(g, k, s)} ${(T0 + k * STEP) / 1000}\n`;
      if (buf.length > 1 << 20) {
        if (!out.write(buf)) await once(out, 'drain');
        buf = '';
      }
    }
  }
  buf += '# EOF\n';
  out.end(buf);
  await once(out, 'finish');
}

async function startPrometheus(gens: Gen[]): Promise<{ url: string; proc: ChildProcess; dir: string } | null> {
  const prometheusBin = findBinary('prometheus');
  const promtoolBin = findBinary('promtool');
  if (!prometheusBin || !promtoolBin) {
    console.log('prometheus/promtool not installed (npm run setup:reference installs them): skipping the side-by-side run');
    return null;
  }
  // PROMQL_BENCH_PROMETHEUS_DIR keeps the backfilled data between runs (same series count only).
  const keep = process.env.PROMQL_BENCH_PROMETHEUS_DIR ? join(process.env.PROMQL_BENCH_PROMETHEUS_DIR, String(gens.length)) : null;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'promql-bench-'));
  const om = join(dir, 'data.om');
  const data = join(dir, 'data');
  let t = Date.now();
  if (keep && existsSync(join(dir, 'backfilled'))) {
    console.log(`prometheus: reusing the data backfilled in ${dir}`);
  } else {
    mkdirSync(dir, { recursive: true });
    rmSync(data, { recursive: true, force: true });
    await writeOpenMetrics(om, gens);
    const r = spawnSync(promtoolBin, ['tsdb', 'create-blocks-from', 'openmetrics', '--max-block-duration=24h', om, data], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`promtool failed: ${r.stderr.slice(0, 500)}`);
      return null;
    }
    rmSync(om);
    if (keep) writeFileSync(join(dir, 'backfilled'), '');
    console.log(`prometheus: backfilled with promtool in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  const cfg = join(dir, 'prometheus.yml');
  writeFileSync(cfg, 'global:\n  scrape_interval: 1h\n');
  const port = await freePort();
  const proc = spawn(
    prometheusBin,
    [`--config.file=${cfg}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=100y', '--query.max-samples=500000000'],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  t = Date.now();
  for (;;) {
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - t > 120_000) {
      proc.kill();
      console.log('prometheus did not become ready');
      return null;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  return { url, proc, dir: keep ? '' : dir };
}

async function main(): Promise<void> {
  const gens = seriesList(SERIES);
  console.log(`storage ${STORAGE}; series ${gens.length}, ${SAMPLES} samples each (6 h at 15 s), ${((gens.length * SAMPLES) / 1e6).toFixed(1)} M samples; load ${loadavg()[0].toFixed(2)}`);
  let t = Date.now();
  let storage: Storage;
  let tsdbDir: string | null = null;
  if (STORAGE === 'memory') {
    storage = new MemoryStorage();
    for (let s = 0; s < gens.length; s++) {
      const g = gens[s];
      const labels = labelsFromRecord({ __name__: g.name, ...g.labels });
      const app = storage.appender();
      let ref = 0;
      for (let k = 0; k < SAMPLES; k++) ref = app.append(ref, labels, T0 + k * STEP, value(g, k, s));
      app.commit();
    }
    console.log(`patrol: loaded MemoryStorage in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  } else {
    tsdbDir = mkdtempSync(join(tmpdir(), 'promql-bench-tsdb-'));
    const db: TSDB = await openTSDB({ dir: tsdbDir, retention: 30 * 24 * 3600_000, compactInterval: 0, now: () => T_END });
    storage = db;
    const labels = gens.map((g) => labelsFromRecord({ __name__: g.name, ...g.labels }));
    const refs = new Array<number>(gens.length).fill(0);
    for (let k = 0; k < SAMPLES; k++) {
      const app = db.appender();
      const ts = T0 + k * STEP;
      for (let s = 0; s < gens.length; s++) refs[s] = app.append(refs[s], labels[s], ts, value(gens[s], k, s));
      app.commit();
      if (k % 240 === 239) await db.compact();
    }
    await db.compact();
    const st = db.stats();
    console.log(
      `patrol: loaded the TSDB in ${((Date.now() - t) / 1000).toFixed(1)} s (${st.chunks} persisted chunks, ${st.sealedBlocks} sealed block(s), ` +
        `${(st.diskBytes / 1e6).toFixed(0)} MB on disk = ${(st.diskBytes / (gens.length * SAMPLES)).toFixed(2)} B/sample)`,
    );
  }

  const prom = process.env.PROMQL_BENCH_NO_PROMETHEUS === '1' ? null : await startPrometheus(gens);
  const engine = new Engine({ maxSamples: 500_000_000, timeout: 600_000 });
  const start = T_END - 3600_000;
  const gc = (globalThis as { gc?: () => void }).gc;
  const profile = process.env.PROMQL_BENCH_PROFILE;
  const session = profile ? new Session() : null;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
  }
  const rows: string[] = [];
  try {
    for (const [title, q] of QUERIES) {
      if (ONLY && !title.includes(ONLY)) continue;
      // One untimed warm-up per engine (JIT for Patrol, caches for both).
      await engine.rangeQuery(storage, q, start, T_END, STEP);
      if (prom) {
        const body = new URLSearchParams({ query: q, start: String(start / 1000), end: String(T_END / 1000), step: '15' });
        await (await fetch(`${prom.url}/api/v1/query_range`, { method: 'POST', body })).text();
      }
      const ours: number[] = [];
      const oursCpu: number[] = [];
      let loaded = 0;
      if (session) await session.post('Profiler.start');
      for (let r = 0; r < RUNS; r++) {
        gc?.();
        const c = selfCpuMs();
        t = performance.now();
        const res = await engine.rangeQuery(storage, q, start, T_END, STEP);
        ours.push(performance.now() - t);
        oursCpu.push(selfCpuMs() - c);
        loaded = res.stats.samplesLoaded;
      }
      if (session) {
        const { profile: p } = await session.post('Profiler.stop');
        const file = profile!.replace(/(\.cpuprofile)?$/, `-${title.replace(/\W+/g, '_')}.cpuprofile`);
        writeFileSync(file, JSON.stringify(p));
        console.log(`profile written to ${file}`);
      }
      // Peak live memory: a separate, untimed run that collects garbage while sampling, so the
      // figure is what the query holds, not what the collector has not reclaimed yet.
      gc?.();
      const base = process.memoryUsage();
      const baseBytes = base.heapUsed + base.arrayBuffers;
      let max = baseBytes;
      const timer = setInterval(() => {
        gc?.();
        const m = process.memoryUsage();
        max = Math.max(max, m.heapUsed + m.arrayBuffers);
      }, 2);
      const held = await engine.rangeQuery(storage, q, start, T_END, STEP);
      clearInterval(timer);
      gc?.();
      const after = process.memoryUsage();
      max = Math.max(max, after.heapUsed + after.arrayBuffers);
      const peak = max - baseBytes;
      if (held.value.type !== 'matrix') throw new Error('unexpected result type');
      let theirs = NaN;
      let theirsCpu = NaN;
      if (prom) {
        const times: number[] = [];
        const cpus: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          const body = new URLSearchParams({ query: q, start: String(start / 1000), end: String(T_END / 1000), step: '15' });
          const c = procCpuMs(prom.proc.pid);
          t = performance.now();
          const res = await fetch(`${prom.url}/api/v1/query_range`, { method: 'POST', body });
          const text = await res.text();
          times.push(performance.now() - t);
          cpus.push(procCpuMs(prom.proc.pid) - c);
          if (res.status !== 200) throw new Error(`prometheus: ${text.slice(0, 300)}`);
        }
        theirs = median(times);
        theirsCpu = median(cpus);
      }
      const o = median(ours);
      const oc = median(oursCpu);
      const memRatio = peak / (loaded * 16);
      const fmt = (x: number): string => (Number.isNaN(x) ? '   n/a' : x.toFixed(0).padStart(6));
      rows.push(
        `${title.padEnd(24)} wall: patrol ${fmt(o)} ms, prometheus ${fmt(theirs)} ms = ${(o / theirs).toFixed(2)}x | ` +
          `cpu: patrol ${fmt(oc)} ms, prometheus ${fmt(theirsCpu)} ms = ${(oc / theirsCpu).toFixed(2)}x (target <= 1.0) | ` +
          `samples ${(loaded / 1e6).toFixed(2)} M, peak ${(peak / 1e6).toFixed(0)} MB = ${memRatio.toFixed(2)}x samples*16 B (target <= 2)`,
      );
      console.log(rows[rows.length - 1]);
    }
  } finally {
    if (prom) {
      prom.proc.kill();
      await once(prom.proc, 'exit');
      if (prom.dir) rmSync(prom.dir, { recursive: true, force: true });
    }
    await storage.close();
    if (tsdbDir) rmSync(tsdbDir, { recursive: true, force: true });
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

/**
 * How far past a 50 ms timeout queries over 8.64 M subquery steps (no storage reads) run, and
 * the longest the event loop waited meanwhile (what every other request waits).
 */
async function timeoutOverrun(): Promise<void> {
  const TIMEOUT = 50;
  const engine = new Engine({ timeout: TIMEOUT });
  const storage = new MemoryStorage();
  for (const q of ['count_over_time(vector(1)[1d:10ms])', 'sum_over_time((vector(1) + 1)[1d:10ms])']) {
    const overruns: number[] = [];
    const blocks: number[] = [];
    for (let r = 0; r < RUNS + 1; r++) {
      let last = performance.now();
      let worst = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
      }, 1);
      const t0 = performance.now();
      const outcome = await engine.instantQuery(storage, q, T_END).then(
        () => 'result',
        (e: Error) => e.message,
      );
      const ms = performance.now() - t0;
      clearInterval(timer);
      worst = Math.max(worst, performance.now() - last);
      if (outcome !== 'query timed out in expression evaluation') throw new Error(`${q}: expected the timeout error, got ${outcome}`);
      if (r > 0) {
        overruns.push(ms - TIMEOUT);
        blocks.push(worst);
      }
    }
    console.log(`timeout ${TIMEOUT} ms, ${q.padEnd(40)} answered timeout; overrun median ${median(overruns).toFixed(0)} ms, max ${Math.max(...overruns).toFixed(0)} ms; event loop blocked at most ${Math.max(...blocks).toFixed(0)} ms`);
  }
}

if (!ONLY || 'timeout overrun'.includes(ONLY)) await timeoutOverrun();
if (ONLY !== 'timeout overrun') await main();
