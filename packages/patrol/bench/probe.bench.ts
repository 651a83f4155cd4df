// Probe engine benchmark: 1,000 HTTP probes on loopback at a 1 s interval against
// PATROL_BENCH_DIR/target-server.mjs, and, in the same run, Debian's blackbox_exporter (module
// http_2xx) driven with /probe requests at concurrency 50, for the CPU-per-probe ratio.
//
// Figures: CPU per probe (Patrol process, user+system), event-loop delay p99, achieved interval
// per probe (from the stored probe_success timestamps), blackbox_exporter CPU per probe (from
// /proc/<pid>/stat). Environment: PROBES (1000), SECONDS (20), WARMUP (5), BB_REQUESTS (20000).
//
// Then flows (issue 18's target: a 4-step flow costs ≤ 4× a single HTTP probe in CPU): FLOW_PROBES
// (200) single HTTP probes, then as many 4-step flows (log in with a JSON body capturing a token,
// list with it, get one item by a captured id, log out as cleanup), against a small API server in
// a child process, each measured for FLOW_SECONDS (10) after WARMUP. `PROBE_BENCH=flow` runs only
// this part; `PROBE_BENCH=http` skips it.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseConfig } from '../src/config/load.js';
import { Matcher } from '../src/model/matchers.js';
import { ProbeManager } from '../src/probe/manager.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { loadSamples } from '../src/storage/interface.js';
import { freePort } from '../src/testing/net.js';
import { benchPath, binaryPath } from '../src/testing/shared.js';

const PROBES = Number(process.env.PROBES ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 20);
const WARMUP = Number(process.env.WARMUP ?? 5);
const BB_REQUESTS = Number(process.env.BB_REQUESTS ?? 20000);
const TARGET_SERVER = benchPath('target-server.mjs');
const BLACKBOX = binaryPath('prometheus-blackbox-exporter');
const CLK_TCK = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await sleep(50);
  }
}

/** utime+stime of a process in ms, from /proc/<pid>/stat. */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command: state(0) ppid(1) ... utime is field 14 overall → index 11 here, stime 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function kill(child: ChildProcess | null): void {
  if (child && child.exitCode === null) child.kill('SIGTERM');
}

async function benchPatrol(targetPort: number) {
  const storage = new MemoryStorage();
  const dataDir = mkdtempSync(join(tmpdir(), 'patrol-probe-bench-'));
  const lines = ['probes:'];
  for (let i = 0; i < PROBES; i++) {
    lines.push(`  - {name: p${i}, type: http, target: "http://127.0.0.1:${targetPort}/health?p=${i}", interval: 1s, timeout: 900ms, labels: {service: bench}}`);
  }
  const cfg = parseConfig(lines.join('\n') + '\n', 'bench.yml');
  if (!cfg.ok) throw new Error(cfg.errors.map(String).join('\n'));
  const manager = new ProbeManager({ storage, logger: pino({ level: 'silent' }), registry: new Registry(), listen: '127.0.0.1:0', dataDir }, {});
  manager.applyConfig(cfg.config, { dir: '.' });
  await sleep(WARMUP * 1000);

  const elDelay = monitorEventLoopDelay({ resolution: 10 });
  elDelay.enable();
  const gc = { count: 0, totalMs: 0, maxMs: 0 };
  const gcObs = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as PerformanceEntry[]) {
      gc.count++;
      gc.totalMs += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
    }
  });
  gcObs.observe({ entryTypes: ['gc'] });
  const startedBefore = manager.schedulerStats.started;
  const skippedBefore = manager.schedulerStats.skippedOverlap;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const cpu = process.cpuUsage(cpu0);
  const t1 = Date.now();
  elDelay.disable();
  gcObs.disconnect();
  const runs = manager.schedulerStats.started - startedBefore;
  const skipped = manager.schedulerStats.skippedOverlap - skippedBefore;
  await manager.stop();

  // Achieved intervals: consecutive run start times of each probe inside the window.
  const q = storage.querier(t0, t1);
  const set = q.select({ start: t0, end: t1 }, [new Matcher('=', '__name__', 'probe_success')]);
  const all: number[] = [];
  const means: number[] = [];
  let outside = 0;
  let failures = 0;
  let samples = 0;
  while (set.next()) {
    const { timestamps, values } = loadSamples(set.at().iterator(), t0, t1);
    samples += values.length;
    for (const v of values) if (v !== 1) failures++;
    if (timestamps.length < 2) continue;
    let probeOutside = false;
    for (let i = 1; i < timestamps.length; i++) {
      const d = timestamps[i] - timestamps[i - 1];
      all.push(d);
      if (d < 900 || d > 1100) probeOutside = true;
    }
    if (probeOutside) outside++;
    means.push((timestamps[timestamps.length - 1] - timestamps[0]) / (timestamps.length - 1));
  }
  q.close();
  rmSync(dataDir, { recursive: true, force: true });
  all.sort((a, b) => a - b);
  means.sort((a, b) => a - b);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    runs,
    skipped,
    failures,
    samples,
    wallS: (t1 - t0) / 1000,
    cpuMs,
    cpuPerProbeMs: cpuMs / runs,
    cores: cpuMs / (t1 - t0),
    elP99Ms: elDelay.percentile(99) / 1e6,
    elMaxMs: elDelay.max / 1e6,
    gc,
    intervals: { p1: quantile(all, 0.01), p50: quantile(all, 0.5), p99: quantile(all, 0.99), min: all[0], max: all[all.length - 1] },
    meanInterval: { min: means[0], max: means[means.length - 1] },
    probesWithIntervalOutside10pct: outside,
    probesMeasured: means.length,
  };
}

async function benchBlackbox(targetPort: number) {
  if (!existsSync(BLACKBOX)) return { skipped: `${BLACKBOX} is not installed` } as const;
  const dir = mkdtempSync(join(tmpdir(), 'bb-bench-'));
  const cfgFile = join(dir, 'blackbox.yml');
  writeFileSync(cfgFile, 'modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n');
  const port = await freePort();
  const bb = spawn(BLACKBOX, [`--config.file=${cfgFile}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error'], { stdio: 'ignore' });
  try {
    await waitForPort(port);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
    const url = `/probe?module=http_2xx&target=${encodeURIComponent(`http://127.0.0.1:${targetPort}/health`)}`;
    let ok = 0;
    let failed = 0;
    const one = () =>
      new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: url, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            if (/\nprobe_success 1\n/.test('\n' + body)) ok++;
            else failed++;
            resolve();
          });
        });
        req.on('error', () => {
          failed++;
          resolve();
        });
      });
    // Warm-up, then the measured batch.
    for (let i = 0; i < 200; i += 50) await Promise.all(Array.from({ length: 50 }, one));
    ok = 0;
    failed = 0;
    let issued = 0;
    const cpu0 = procCpuMs(bb.pid!);
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (issued < BB_REQUESTS) {
          issued++;
          await one();
        }
      }),
    );
    const wall = Date.now() - t0;
    const cpuMs = procCpuMs(bb.pid!) - cpu0;
    agent.destroy();
    return { requests: ok + failed, ok, failed, cpuMs, cpuPerProbeMs: cpuMs / (ok + failed), wallS: wall / 1000, probesPerSecond: ((ok + failed) * 1000) / wall };
  } finally {
    kill(bb);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small API for the flow benchmark, in its own process (its CPU is not Patrol's). */
const FLOW_API = `
const http = require('node:http');
const tokens = new Set(); let n = 0;
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const json = (code, v) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };
    const bearer = (req.headers.authorization || '').slice(7);
    if (req.url === '/login') { const t = 'tok-' + (++n); tokens.add(t); return json(200, { data: { token: t } }); }
    if (req.url === '/items') return tokens.has(bearer) ? json(200, { items: [{ id: 42 }] }) : json(401, {});
    if (req.url === '/health') return json(200, { status: 'up' });
    if (req.url.startsWith('/items/')) return tokens.has(bearer) ? json(200, { id: 42, owner: 'alice' }) : json(401, {});
    if (req.url === '/logout') return json(tokens.delete(bearer) ? 200 : 401, {});
    json(404, {});
  });
}).listen(Number(process.argv[1]), '127.0.0.1');
`;

async function measureManager(yaml: string, seconds: number): Promise<{ runs: number; cpuMs: number; failures: number; perRunMs: number }> {
  const cfg = parseConfig(yaml, 'bench.yml');
  if (!cfg.ok) throw new Error(cfg.errors.map(String).join('\n'));
  const storage = new MemoryStorage();
  const dataDir = mkdtempSync(join(tmpdir(), 'patrol-flow-bench-'));
  const manager = new ProbeManager({ storage, logger: pino({ level: 'silent' }), registry: new Registry(), listen: '127.0.0.1:0', dataDir }, {});
  manager.applyConfig(cfg.config, { dir: '.' });
  await sleep(WARMUP * 1000);
  const started0 = manager.schedulerStats.started;
  const fail0 = manager.counts.failure;
  const cpu0 = process.cpuUsage();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const runs = manager.schedulerStats.started - started0;
  const failures = manager.counts.failure - fail0;
  await manager.stop();
  rmSync(dataDir, { recursive: true, force: true });
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return { runs, cpuMs, failures, perRunMs: cpuMs / runs };
}

async function benchFlow(): Promise<void> {
  const n = Number(process.env.FLOW_PROBES ?? 200);
  const seconds = Number(process.env.FLOW_SECONDS ?? 10);
  const port = await freePort();
  const api = spawn(process.execPath, ['-e', FLOW_API, String(port)], { stdio: 'ignore' });
  try {
    await waitForPort(port);
    const single = ['probes:'];
    const flows = ['probes:'];
    for (let i = 0; i < n; i++) {
      single.push(`  - {name: h${i}, type: http, target: "http://127.0.0.1:${port}/items/42", interval: 1s, timeout: 900ms, conditions: ['[STATUS] == 401']}`);
      flows.push(`  - name: f${i}
    type: flow
    target: http://127.0.0.1:${port}/
    interval: 1s
    timeout: 900ms
    variables: {user: alice}
    secrets: {password: pw}
    steps:
      - {name: login, method: POST, url: /login, body: '{"user":"\${user}","password":"\${password}"}', capture: {token: {json: $.data.token}}}
      - {name: list, url: /items, headers: {authorization: 'Bearer \${token}'}, conditions: ['[STATUS] == 200'], capture: {item: {json: '$.items[0].id'}}}
      - {name: get, url: '/items/\${item}', headers: {authorization: 'Bearer \${token}'}, conditions: ['$.owner == alice']}
    cleanup:
      - {name: logout, method: POST, url: /logout, headers: {authorization: 'Bearer \${token}'}}`);
    }
    console.log(`flows: ${n} single HTTP probes, then ${n} 4-step flows, interval 1s, warm-up ${WARMUP}s, measured ${seconds}s each ...`);
    const h = await measureManager(single.join('\n') + '\n', seconds);
    console.log(`  http: ${h.runs} runs, failed ${h.failures}, CPU ${h.cpuMs.toFixed(0)} ms → ${h.perRunMs.toFixed(3)} ms per run`);
    const f = await measureManager(flows.join('\n') + '\n', seconds);
    console.log(`  flow: ${f.runs} runs, failed ${f.failures}, CPU ${f.cpuMs.toFixed(0)} ms → ${f.perRunMs.toFixed(3)} ms per run`);
    console.log(`ratio 4-step flow / single HTTP probe CPU per run: ${(f.perRunMs / h.perRunMs).toFixed(2)} (target ≤ 4)`);
  } finally {
    kill(api);
  }
}

async function main() {
  if (process.env.PROBE_BENCH !== 'http') {
    const load = loadavg();
    console.log(`load before flows: ${load.map((l) => l.toFixed(2)).join(' ')}`);
    await benchFlow();
    if (process.env.PROBE_BENCH === 'flow') return;
  }
  const targetPort = await freePort();
  const target = spawn(process.execPath, [TARGET_SERVER, String(targetPort)], { stdio: 'ignore' });
  try {
    await waitForPort(targetPort);
    const load0 = loadavg();
    console.log(`load before: ${load0.map((l) => l.toFixed(2)).join(' ')} (2 cores shared with other helpers)`);
    console.log(`patrol: ${PROBES} http probes, interval 1s, warm-up ${WARMUP}s, measured ${SECONDS}s ...`);
    const p = await benchPatrol(targetPort);
    console.log(`  runs ${p.runs} in ${p.wallS.toFixed(1)}s (${(p.runs / p.wallS).toFixed(0)}/s), failed ${p.failures}, skipped slots ${p.skipped}`);
    console.log(`  CPU ${p.cpuMs.toFixed(0)} ms = ${p.cores.toFixed(3)} cores → ${p.cpuPerProbeMs.toFixed(3)} ms per probe (target ≤ 0.35)`);
    console.log(`  event-loop delay p99 ${p.elP99Ms.toFixed(1)} ms, max ${p.elMaxMs.toFixed(1)} ms (target p99 ≤ 50); GC ${p.gc.count} pauses, ${p.gc.totalMs.toFixed(0)} ms total, longest ${p.gc.maxMs.toFixed(1)} ms`);
    console.log(
      `  achieved interval between consecutive runs, ms: p1 ${p.intervals.p1} p50 ${p.intervals.p50} p99 ${p.intervals.p99} (min ${p.intervals.min}, max ${p.intervals.max}); per-probe mean ${p.meanInterval.min.toFixed(1)}–${p.meanInterval.max.toFixed(1)}; probes with any interval outside ±10%: ${p.probesWithIntervalOutside10pct}/${p.probesMeasured}`,
    );
    console.log(`blackbox_exporter 0.23 (http_2xx), ${BB_REQUESTS} /probe requests at concurrency 50 ...`);
    const b = await benchBlackbox(targetPort);
    if ('skipped' in b) {
      console.log(`  skipped: ${b.skipped}`);
    } else {
      console.log(`  ${b.requests} probes (${b.ok} ok, ${b.failed} failed) in ${b.wallS.toFixed(1)}s (${b.probesPerSecond.toFixed(0)}/s)`);
      console.log(`  CPU ${b.cpuMs.toFixed(0)} ms → ${b.cpuPerProbeMs.toFixed(3)} ms per probe`);
      console.log(`ratio patrol/blackbox CPU per probe: ${(p.cpuPerProbeMs / b.cpuPerProbeMs).toFixed(2)} (target ≤ 0.5)`);
    }
    console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    kill(target);
  }
}

await main();
