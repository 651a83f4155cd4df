// Scrape benchmark: N targets × S series every 15 s, Patrol's ScrapeManager into its TSDB (or
// MemoryStorage with SCRAPE_STORAGE=memory) and Debian's prometheus on the same fake exporter, side by side in the same run. Each runs in
// its own process; CPU (utime+stime from /proc) is measured over the steady-state window after
// a warm-up, RSS at the end.
//
//   npm run bench -- scrape                                 (10 targets, 120 s)
//   SCRAPE_TARGETS=100 SCRAPE_SECONDS=240 npm run bench -- scrape
//
// Environment: SCRAPE_TARGETS (10), SCRAPE_SERIES (10000), SCRAPE_SECONDS (120, measured after
// SCRAPE_WARMUP seconds, default 90: past the TSDB's first compaction, which persists the new series), SCRAPE_INTERVAL (15s), SCRAPE_STORAGE (tsdb | memory | null),
// SCRAPE_PROFILE (a folder: write a CPU profile of the Patrol process there).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Storage } from '../src/storage/interface.js';
import { freePort } from '../src/testing/net.js';
import { stopChildren } from './patrol_process.js';
import { benchPath, binaryPath } from '../src/testing/shared.js';

const TARGETS = Number(process.env.SCRAPE_TARGETS ?? 10);
const SERIES = Number(process.env.SCRAPE_SERIES ?? 10000);
const SECONDS = Number(process.env.SCRAPE_SECONDS ?? 120);
const WARMUP = Number(process.env.SCRAPE_WARMUP ?? 90);
const INTERVAL = process.env.SCRAPE_INTERVAL ?? '15s';
const STORAGE = process.env.SCRAPE_STORAGE ?? 'tsdb';
const FAKE_EXPORTER = benchPath('fake-exporter.mjs');
const PROMETHEUS = binaryPath('prometheus');
const CLK_TCK = 100;

function config(port: number): string {
  const targets = Array.from({ length: TARGETS }, (_, i) => String(i));
  return `global: {scrape_interval: ${INTERVAL}, scrape_timeout: 10s}
scrape_configs:
  - job_name: load
    static_configs: [{targets: ${JSON.stringify(targets)}}]
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_t}
      - {source_labels: [__param_t], target_label: instance}
      - {target_label: __address__, replacement: '127.0.0.1:${port}'}
`;
}


function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function rssBytes(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitHttp(url: string, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(`${what} did not come up`);
}

/** The Patrol side, run in its own process: a ScrapeManager into MemoryStorage. */
async function worker(): Promise<void> {
  const { default: pino } = await import('pino');
  const { parseConfig } = await import('../src/config/load.js');
  const { MemoryStorage } = await import('../src/storage/memory.js');
  const { ScrapeManager } = await import('../src/scrape/manager.js');
  const { openTSDB } = await import('../src/tsdb/tsdb.js');
  const port = Number(process.argv[3]);
  const r = parseConfig(config(port));
  if (!r.ok) throw new Error(r.errors.join('\n'));
  const dataDir = process.argv[4];
  // `null` discards samples: the cost of scraping alone, without any storage engine.
  const discard: Storage = {
    appender: () => ({ append: () => 1, commit: () => undefined, rollback: () => undefined }),
    querier: () => new MemoryStorage().querier(0, 0),
    deleteSeries: () => undefined,
    close: async () => undefined,
  };
  const storage: Storage = STORAGE === 'memory' ? new MemoryStorage() : STORAGE === 'null' ? discard : await openTSDB({ dir: dataDir, retention: 15 * 24 * 3600 * 1000 });
  const m = new ScrapeManager({ storage, logger: pino({ level: 'warn' }) });
  await m.applyConfig(r.config, { dir: process.cwd() });
  const { monitorEventLoopDelay, PerformanceObserver } = await import('node:perf_hooks');
  const delay = monitorEventLoopDelay({ resolution: 20 });
  const gc = { major: 0, minor: 0, majorMax: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === 1) gc.minor += e.duration;
      else {
        gc.major += e.duration;
        gc.majorMax = Math.max(gc.majorMax, e.duration);
      }
    }
  }).observe({ entryTypes: ['gc'] });
  // With SCRAPE_PROFILE, the measured window (and only it) is CPU-profiled through the inspector.
  const { Session } = await import('node:inspector/promises');
  const profiler = process.env.SCRAPE_PROFILE ? new Session() : null;
  process.on('message', (msg) => {
    if (msg === 'reset') {
      delay.reset();
      delay.enable();
      gc.major = gc.minor = gc.majorMax = 0;
      if (profiler) {
        profiler.connect();
        void profiler.post('Profiler.enable').then(() => profiler.post('Profiler.start'));
      }
    }
  });
  const durations: number[] = [];
  const seen = new Map<string, number>();
  const timer = setInterval(() => {
    for (const { target } of m.activeTargets()) {
      if (target.lastScrape > 0 && seen.get(target.key) !== target.lastScrape && target.health === 'up') {
        seen.set(target.key, target.lastScrape);
        durations.push(target.lastScrapeDuration);
      }
    }
  }, 500);
  process.on('message', async (msg) => {
    if (msg !== 'report') return;
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(join(process.env.SCRAPE_PROFILE!, `scrape-${process.pid}.cpuprofile`), JSON.stringify(profile));
    }
    const errors = m.activeTargets().filter((t) => t.target.health !== 'up').map((t) => t.target.lastError);
    const q = storage.querier(-Infinity, Infinity);
    const series = STORAGE === 'null' ? TARGETS : q.labelValues('instance').length;
    q.close();
    const recent = durations.slice(-Math.max(TARGETS * 4, 10));
    process.send?.({ loop: `event-loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(0)} ms, max ${(delay.max / 1e6).toFixed(0)} ms; GC ${(gc.major / 1000).toFixed(1)} s major (longest ${gc.majorMax.toFixed(0)} ms), ${(gc.minor / 1000).toFixed(1)} s minor`, avgScrapeMs: (recent.reduce((a, b) => a + b, 0) / Math.max(1, recent.length)) * 1000, scrapes: durations.length, errors: errors.slice(0, 3), instances: series });
  });
  process.on('SIGTERM', () => {
    clearInterval(timer);
    void m
      .stop()
      .then(() => storage.close())
      .then(() => process.exit(0));
  });
  process.send?.('ready');
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const exporterPort = await freePort();
  const exporter = spawn(process.execPath, [FAKE_EXPORTER, String(exporterPort), String(SERIES)], { stdio: 'ignore' });
  const children: ChildProcess[] = [exporter];
  const dir = mkdtempSync(join(tmpdir(), 'patrol-scrape-bench-'));
  try {
    await waitHttp(`http://127.0.0.1:${exporterPort}/metrics?t=0`, 'fake exporter');
    // One 10k-series target, scraped and stored by Patrol in this process, for the single-target time.
    await singleTarget(exporterPort);

    writeFileSync(join(dir, 'prometheus.yml'), config(exporterPort));
    const promPort = await freePort();
    const prom = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    children.push(prom);
    const started = Date.now();
    const self = fileURLToPath(import.meta.url);
    const patrol = spawn(process.execPath, ['--import', 'tsx', self, '--worker', String(exporterPort), join(dir, 'patrol')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(patrol);
    await new Promise<void>((resolve, reject) => {
      patrol.once('message', () => resolve());
      patrol.once('exit', (c) => reject(new Error(`patrol worker exited ${c}`)));
    });
    await waitHttp(`http://127.0.0.1:${promPort}/-/ready`, 'prometheus');
    console.log(`storage=${STORAGE} targets=${TARGETS} series/target=${SERIES} interval=${INTERVAL} warmup=${WARMUP}s measured=${SECONDS}s; load before: ${load0.map((l) => l.toFixed(2)).join(' ')}`);
    await sleep(WARMUP * 1000);
    patrol.send('reset');
    const c0 = { patrol: cpuSeconds(patrol.pid!), prom: cpuSeconds(prom.pid!), t: Date.now() };
    await sleep(SECONDS * 1000);
    const c1 = { patrol: cpuSeconds(patrol.pid!), prom: cpuSeconds(prom.pid!), t: Date.now() };
    const wall = (c1.t - c0.t) / 1000;
    const mem = { patrol: rssBytes(patrol.pid!), prom: rssBytes(prom.pid!) };
    const report = await new Promise<{ loop: string; avgScrapeMs: number; scrapes: number; errors: string[]; instances: number }>((resolve) => {
      patrol.once('message', (m) => resolve(m as never));
      patrol.send('report');
    });
    const pq = async (q: string): Promise<number> => {
      const r = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: { value: [number, string] }[] } };
      return Number(r.data.result[0]?.value[1] ?? NaN);
    };
    const promScrapeMs = (await pq('avg(avg_over_time(scrape_duration_seconds{job="load"}[2m]))')) * 1000;
    const promUp = await pq('sum(up{job="load"})');
    const cores = { patrol: (c1.patrol - c0.patrol) / wall, prom: (c1.prom - c0.prom) / wall };
    const mb = (b: number) => (b / 1024 / 1024).toFixed(0) + ' MB';
    console.log(`Patrol:     ${cores.patrol.toFixed(3)} cores, RSS ${mb(mem.patrol.rss)} (peak ${mb(mem.patrol.hwm)}), avg scrape ${report.avgScrapeMs.toFixed(1)} ms, ${report.instances}/${TARGETS} targets stored, errors: ${report.errors.length ? report.errors.join('; ') : 'none'}`);
    console.log(`Patrol during the measured window: ${report.loop}`);
    console.log(`Prometheus: ${cores.prom.toFixed(3)} cores, RSS ${mb(mem.prom.rss)} (peak ${mb(mem.prom.hwm)}), avg scrape ${promScrapeMs.toFixed(1)} ms, up ${promUp}/${TARGETS}`);
    console.log(`ratios Patrol/Prometheus: CPU ${(cores.patrol / cores.prom).toFixed(2)}× (target ≤ 1.5×), RSS ${(mem.patrol.rss / mem.prom.rss).toFixed(2)}× (target ≤ 1.0×), scrape time ${(report.avgScrapeMs / promScrapeMs).toFixed(2)}×`);
    // The whole run, start-up and the creation of 1 M series included.
    console.log(`whole run (${((c1.t - started) / 1000).toFixed(0)} s from start): Patrol ${c1.patrol.toFixed(1)} CPU-s, Prometheus ${c1.prom.toFixed(1)} CPU-s, ratio ${(c1.patrol / c1.prom).toFixed(2)}×`);
    console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (2 shared cores)`);
  } finally {
    await stopChildren(children);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Scrapes one 10k-series target 20 times into MemoryStorage and prints the mean and best time. */
async function singleTarget(port: number): Promise<void> {
  const { parseConfig } = await import('../src/config/load.js');
  const { MemoryStorage } = await import('../src/storage/memory.js');
  const { ScrapeClient } = await import('../src/scrape/client.js');
  const { ScrapeLoop } = await import('../src/scrape/loop.js');
  const { populateLabels, Target } = await import('../src/scrape/target.js');
  const { compileRelabel } = await import('../src/scrape/relabel.js');
  const r = parseConfig(config(port).replace(/targets: \[[^\]]*\]/, 'targets: ["0"]'));
  if (!r.ok) throw new Error(r.errors.join('\n'));
  const sc = r.config.scrape_configs[0];
  const p = populateLabels({ __address__: '0' }, sc, compileRelabel(sc.relabel_configs));
  const target = new Target(p.discovered, p.labels!, sc);
  const client = new ScrapeClient(sc, process.cwd());
  const loop = new ScrapeLoop(target, client, { honorLabels: false, honorTimestamps: true, sampleLimit: 0, labelLimit: 0, labelNameLengthLimit: 0, labelValueLengthLimit: 0, metricRelabel: [] }, new MemoryStorage());
  const first = await loop.scrapeAndReport(Date.now());
  if (!first.ok) throw new Error(first.error);
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const o = await loop.scrapeAndReport(Date.now());
    times.push(o.durationMs);
  }
  await client.close();
  times.sort((a, b) => a - b);
  console.log(`one ${SERIES}-series target (steady state, fetch+parse+store): first scrape ${first.durationMs} ms, mean ${(times.reduce((a, b) => a + b, 0) / times.length).toFixed(1)} ms, median ${times[10]} ms, best ${times[0]} ms`);
}

if (process.argv[2] === '--worker') await worker();
else await main();
