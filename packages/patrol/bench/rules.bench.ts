// Rule evaluation benchmark, side by side with Debian's Prometheus 2.42 in the same run: ~1,000
// alerting and recording rules (the rule packs over 100 services) on 100,000 series scraped at
// 15 s, the issue's target.
//
// Data: an exporter (its own process) serves 100 targets, one per service (job svc-0…svc-99),
// each 1,000 series with the names the packs read: promhttp's http_requests_total{code,handler,
// method} and http_request_duration_seconds histogram, the Go collector's go_* and process_*,
// node_exporter's node_cpu/memory/filesystem/load/disk/network, blackbox's probe_*, Patrol's
// patrol_probe_up, and application series no rule reads. Counters grow at fixed rates; some
// services are unhealthy (5xx above 5 % / 10 %, slow P99, busy CPU) so alerts go pending and
// firing and their templates are expanded.
//
// Rules (one file, the same for both): the `http` pack instantiated per service (its 9 rules,
// every selector narrowed to job="svc-N", plus the service's P99 threshold as the pack's README
// suggests: 10 rules in 2 groups per service, 1,000 in all), plus the `go`, `host` and `probes`
// packs as shipped (19 rules, each over all 100 services). The `patrol` pack is left out: it
// reads Patrol's self-metrics, which Prometheus does not have.
//
// Method: both processes scrape the same exporter with the same scrape config. After a warm-up
// (first compaction included), CPU (utime+stime from /proc) is measured over a window without
// rules (A); then both reload a configuration that adds the rule file (Prometheus on SIGHUP,
// Patrol on POST /-/reload), and after the first evaluations CPU is measured again over a
// window with rules (B). Evaluation CPU = cores in B − cores in A, per process; the scraping
// and storage work is the same in both windows, so the difference is what the rules cost
// (evaluation, appending their results, ALERTS series, template expansion). As a cross-check,
// each side's own gauge of how long its groups' last evaluation took is summed over groups
// (prometheus_rule_group_last_duration_seconds / patrol_rule_group_last_duration_seconds):
// the wall time of one round. Patrol's event-loop delay (perf_hooks.monitorEventLoopDelay,
// 10 ms resolution) is measured in each window: no evaluation may delay a scrape or a probe
// by more than 50 ms.
//
//   npm run bench:rules                   (≈ 7 minutes)
//
// Environment: RULES_SERVICES (100), RULES_SERIES (1000 per service), RULES_WARMUP (90 s),
// RULES_BASE (120 s: window A), RULES_SECONDS (180 s: window B), RULES_PROFILE (a folder: a CPU
// profile of the Patrol process over window B goes there).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { Matcher } from '../src/model/matchers.js';
import type { Expr } from '../src/promql/ast.js';
import { formatExpr } from '../src/promql/format.js';
import { parseExpr } from '../src/promql/parser.js';
import { PACKS_DIR } from '../src/rules/packs.js';
import { freePort } from '../src/testing/net.js';
import { stopChildren } from './patrol_process.js';
import { binaryPath } from '../src/testing/shared.js';

const SERVICES = Number(process.env.RULES_SERVICES ?? 100);
const SERIES = Number(process.env.RULES_SERIES ?? 1000);
const WARMUP = Number(process.env.RULES_WARMUP ?? 90);
const BASE = Number(process.env.RULES_BASE ?? 120);
const SECONDS = Number(process.env.RULES_SECONDS ?? 180);
const PROMETHEUS = binaryPath('prometheus');
const CLK_TCK = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

async function waitHttp(url: string, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(`${what} did not come up`);
}

// ---------------------------------------------------------------------------------------------
// The exporter

const HANDLERS = ['/api/orders', '/api/orders/:id', '/api/users', '/api/users/:id', '/api/cart', '/api/search', '/api/items', '/api/items/:id', '/login', '/healthz'];
const METHODS = ['GET', 'POST'];
const CODES = ['200', '201', '400', '404', '500', '503'];
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CPU_MODES = ['idle', 'iowait', 'irq', 'nice', 'softirq', 'steal', 'system', 'user'];
const MOUNTS = [
  { device: '/dev/sda1', mountpoint: '/', fstype: 'ext4' },
  { device: '/dev/sdb1', mountpoint: '/data', fstype: 'xfs' },
  { device: 'tmpfs', mountpoint: '/run', fstype: 'tmpfs' },
  { device: 'overlay', mountpoint: '/var/lib/docker/overlay2/x/merged', fstype: 'overlay' },
];

/** One series: its exposition-line prefix and its value at time T (seconds). */
interface Line {
  prefix: string;
  value: (T: number) => number;
}

/** Cumulative share of requests at or under `le` seconds, for a latency with median `median`. */
function latencyCdf(le: number, median: number): number {
  // log-logistic with shape 3: cheap, heavy-ish tail.
  const x = Math.pow(le / median, 3);
  return x / (1 + x);
}

/** The series of service `s`: the same for both scrapers, values a function of time only. */
function serviceLines(s: number, total: number): { help: string[]; lines: Line[] } {
  const lines: Line[] = [];
  const help: string[] = [];
  const add = (name: string, labels: string, value: (T: number) => number) => lines.push({ prefix: labels ? `${name}{${labels}} ` : `${name} `, value });
  // Health of the service: every tenth one fails > 5 %, every 25th > 10 %, every 20th is slow, every 15th host is busy.
  const errShare = s % 25 === 1 ? 0.15 : s % 10 === 0 ? 0.08 : 0.004;
  const median = s % 20 === 5 ? 0.4 : 0.04;
  const idle = s % 15 === 2 ? 0.1 : 0.7;
  const phase = s * 0.37;
  help.push('# TYPE http_requests_total counter', '# TYPE http_request_duration_seconds histogram');
  for (let h = 0; h < HANDLERS.length; h++) {
    for (const m of METHODS) {
      const rps = 1 + ((s * 7 + h * 3 + (m === 'GET' ? 5 : 0)) % 13);
      const shares: Record<string, number> = { '200': 0.9 - errShare - 0.05, '201': 0.03, '400': 0.015, '404': 0.005, '500': errShare * 0.7, '503': errShare * 0.3 };
      const hl = `handler="${HANDLERS[h]}",method="${m}"`;
      for (const c of CODES) add('http_requests_total', `code="${c}",${hl}`, (T) => Math.floor(rps * shares[c] * T));
      for (const le of BUCKETS) add('http_request_duration_seconds_bucket', `${hl},le="${le}"`, (T) => Math.floor(rps * T * latencyCdf(le, median)));
      add('http_request_duration_seconds_bucket', `${hl},le="+Inf"`, (T) => Math.floor(rps * T));
      add('http_request_duration_seconds_sum', hl, (T) => rps * T * median * 1.3);
      add('http_request_duration_seconds_count', hl, (T) => Math.floor(rps * T));
    }
  }
  // Go collector and process collector.
  const start = 1.7e9 + s * 1000;
  add('go_goroutines', '', (T) => 80 + 40 * Math.sin(T / 300 + phase));
  add('go_threads', '', () => 12);
  for (const q of ['0', '0.25', '0.5', '0.75', '1']) add('go_gc_duration_seconds', `quantile="${q}"`, () => 0.0001 * (1 + Number(q) * 4));
  add('go_gc_duration_seconds_sum', '', (T) => 0.0004 * T);
  add('go_gc_duration_seconds_count', '', (T) => Math.floor(T / 2));
  add('go_gc_gomemlimit_bytes', '', () => (s % 2 ? 512 * 1024 * 1024 : 9.223372036854776e18));
  add('go_info', 'version="go1.21.5"', () => 1);
  for (const n of ['alloc_bytes', 'buck_hash_sys_bytes', 'gc_sys_bytes', 'heap_alloc_bytes', 'heap_idle_bytes', 'heap_inuse_bytes', 'heap_objects', 'heap_released_bytes', 'heap_sys_bytes', 'last_gc_time_seconds', 'mcache_inuse_bytes', 'mcache_sys_bytes', 'mspan_inuse_bytes', 'mspan_sys_bytes', 'next_gc_bytes', 'other_sys_bytes', 'stack_inuse_bytes', 'stack_sys_bytes', 'sys_bytes']) add(`go_memstats_${n}`, '', (T) => 1e7 * (2 + Math.sin(T / 120 + phase + n.length)));
  for (const n of ['alloc_bytes_total', 'frees_total', 'lookups_total', 'mallocs_total']) add(`go_memstats_${n}`, '', (T) => Math.floor(1e5 * T));
  add('process_cpu_seconds_total', '', (T) => 0.05 * T);
  add('process_max_fds', '', () => 1048576);
  add('process_open_fds', '', (T) => 40 + Math.floor(5 * Math.sin(T / 60)));
  add('process_resident_memory_bytes', '', (T) => (s % 30 === 3 ? 5e8 : 2e8) + 100 * T);
  add('process_start_time_seconds', '', () => start);
  add('process_virtual_memory_bytes', '', () => 1.5e9);
  add('process_virtual_memory_max_bytes', '', () => 1.8446744073709552e19);
  add('process_network_receive_bytes_total', '', (T) => Math.floor(2e4 * T));
  add('process_network_transmit_bytes_total', '', (T) => Math.floor(5e4 * T));
  // node_exporter.
  help.push('# TYPE node_cpu_seconds_total counter');
  for (let cpu = 0; cpu < 4; cpu++) {
    for (const mode of CPU_MODES) {
      const share = mode === 'idle' ? idle : mode === 'user' ? (0.95 - idle) * 0.7 : mode === 'system' ? (0.95 - idle) * 0.3 : 0.05 / 6;
      add('node_cpu_seconds_total', `cpu="${cpu}",mode="${mode}"`, (T) => share * T);
    }
  }
  const memTotal = 8 * 1024 ** 3;
  for (const n of ['MemTotal', 'MemFree', 'MemAvailable', 'Buffers', 'Cached', 'SwapTotal', 'SwapFree', 'Active', 'Inactive', 'Dirty', 'Writeback', 'Slab', 'SReclaimable', 'SUnreclaim', 'Shmem', 'Mapped', 'AnonPages', 'PageTables', 'Committed_AS', 'VmallocUsed']) {
    add(`node_memory_${n}_bytes`, '', n === 'MemTotal' ? () => memTotal : n === 'MemAvailable' ? (T) => memTotal * (0.4 + 0.05 * Math.sin(T / 200 + phase)) : (T) => memTotal * 0.05 * (1.5 + Math.sin(T / 100 + n.length)));
  }
  for (const fs of MOUNTS) {
    const l = `device="${fs.device}",fstype="${fs.fstype}",mountpoint="${fs.mountpoint}"`;
    const size = 100 * 1024 ** 3;
    add('node_filesystem_avail_bytes', l, (T) => size * 0.5 - 1e4 * T);
    add('node_filesystem_free_bytes', l, (T) => size * 0.55 - 1e4 * T);
    add('node_filesystem_size_bytes', l, () => size);
    add('node_filesystem_files', l, () => 6.5e6);
    add('node_filesystem_files_free', l, () => 6e6);
    add('node_filesystem_readonly', l, () => 0);
    add('node_filesystem_device_error', l, () => 0);
  }
  add('node_load1', '', (T) => 4 * (1 - idle) * (1 + 0.2 * Math.sin(T / 30)));
  add('node_load5', '', (T) => 4 * (1 - idle) * (1 + 0.1 * Math.sin(T / 90)));
  add('node_load15', '', () => 4 * (1 - idle));
  for (const dev of ['sda', 'sdb']) {
    for (const n of ['reads_completed_total', 'writes_completed_total', 'read_bytes_total', 'written_bytes_total', 'io_time_seconds_total', 'read_time_seconds_total', 'write_time_seconds_total']) add(`node_disk_${n}`, `device="${dev}"`, (T) => Math.floor(T * (n.length + 3)));
    add('node_disk_io_now', `device="${dev}"`, (T) => Math.floor(2 + 2 * Math.sin(T)));
  }
  for (const dev of ['eth0', 'lo']) {
    for (const n of ['receive_bytes_total', 'transmit_bytes_total', 'receive_packets_total', 'transmit_packets_total', 'receive_errs_total', 'transmit_errs_total', 'receive_drop_total', 'transmit_drop_total']) add(`node_network_${n}`, `device="${dev}"`, (T) => Math.floor(T * n.length * 10));
  }
  add('node_context_switches_total', '', (T) => Math.floor(3000 * T));
  add('node_intr_total', '', (T) => Math.floor(2000 * T));
  add('node_forks_total', '', (T) => Math.floor(5 * T));
  add('node_boot_time_seconds', '', () => 1.69e9);
  add('node_time_seconds', '', (T) => 1.7e9 + T);
  add('node_procs_running', '', () => 3);
  add('node_procs_blocked', '', () => 0);
  add('node_entropy_available_bits', '', () => 256);
  // blackbox_exporter and Patrol's probes (a health check of the service).
  add('probe_success', '', () => (s % 33 === 7 ? 0 : 1));
  add('probe_duration_seconds', '', (T) => 0.05 + 0.01 * Math.sin(T / 45));
  add('probe_http_status_code', '', () => 200);
  add('probe_ssl_earliest_cert_expiry', '', () => 1.7e9 + 86400 * (s % 40 === 3 ? 5 : 60));
  add('patrol_probe_up', `probe="svc-${s}-health"`, () => 1);
  // Application series no rule reads, up to the service's share of the 100,000.
  for (let i = 0; lines.length < total; i++) {
    const fam = ['app_jobs_processed_total', 'app_cache_requests_total', 'app_db_queries_total', 'app_queue_depth'][i % 4];
    const counter = fam.endsWith('_total');
    add(fam, `queue="q${i >> 2}",shard="${i % 8}"`, counter ? (T) => Math.floor(T * (1 + (i % 7))) : (T) => 10 + 5 * Math.sin(T / 40 + i));
  }
  return { help, lines };
}

async function exporter(port: number): Promise<void> {
  const t0 = Date.now();
  const services = Array.from({ length: SERVICES }, (_, s) => serviceLines(s, SERIES));
  const server = http.createServer((req, res) => {
    const s = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('s') ?? 0);
    const svc = services[s];
    if (!svc) {
      res.writeHead(404).end();
      return;
    }
    // Seconds since a fixed point well before the start, so counters look long-running.
    const T = 1e5 + (Date.now() - t0) / 1000;
    const out: string[] = [...svc.help];
    for (const l of svc.lines) out.push(l.prefix + String(l.value(T)));
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(out.join('\n') + '\n');
  });
  // Both scrapers keep their connections between scrapes (15 s apart).
  server.keepAliveTimeout = 120_000;
  server.listen(port, '127.0.0.1', () => process.send?.('ready'));
}

// ---------------------------------------------------------------------------------------------
// The rule file

function narrow(e: Expr, job: string): void {
  switch (e.type) {
    case 'vectorSelector':
      e.matchers.push(new Matcher('=', 'job', job));
      return;
    case 'matrixSelector':
      narrow(e.selector, job);
      return;
    case 'subquery':
    case 'paren':
    case 'unary':
      narrow(e.expr, job);
      return;
    case 'aggregate':
      narrow(e.expr, job);
      if (e.param) narrow(e.param, job);
      return;
    case 'call':
      for (const a of e.args) narrow(a, job);
      return;
    case 'binary':
      narrow(e.lhs, job);
      narrow(e.rhs, job);
      return;
    default:
      return;
  }
}

interface PackRule {
  record?: string;
  alert?: string;
  expr: string;
  [k: string]: unknown;
}

/** The `http` pack per service plus the go, host and probes packs as shipped. */
function ruleFile(): { yaml: string; rules: number; groups: number } {
  const pack = (name: string) => parseYaml(readFileSync(join(PACKS_DIR, `${name}.rules.yml`), 'utf8')) as { groups: { name: string; rules: PackRule[] }[] };
  const groups: { name: string; rules: PackRule[] }[] = [];
  const httpPack = pack('http');
  for (let s = 0; s < SERVICES; s++) {
    const job = `svc-${s}`;
    for (const [i, g] of httpPack.groups.entries()) {
      const rules: PackRule[] = g.rules.map((r) => {
        const e = parseExpr(r.expr);
        narrow(e, job);
        return { ...r, expr: formatExpr(e) };
      });
      if (i === 0) rules.unshift({ record: 'http:latency_p99_threshold_seconds', expr: s % 20 === 5 ? '0.3' : '0.25', labels: { job } });
      groups.push({ name: `${g.name}:${job}`, rules });
    }
  }
  for (const name of ['go', 'host', 'probes']) groups.push(...pack(name).groups);
  const rules = groups.reduce((n, g) => n + g.rules.length, 0);
  return { yaml: stringifyYaml({ groups }, { lineWidth: 0, aliasDuplicateObjects: false }), rules, groups: groups.length };
}

function scrapeConfig(port: number): string {
  const targets = Array.from({ length: SERVICES }, (_, i) => String(i));
  return `global: {scrape_interval: 15s, scrape_timeout: 10s, evaluation_interval: 15s}
scrape_configs:
  - job_name: services
    static_configs: [{targets: ${JSON.stringify(targets)}}]
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_s}
      - {source_labels: [__param_s], target_label: job, replacement: 'svc-$1'}
      - {source_labels: [__param_s], target_label: instance, replacement: 'host-$1:9100'}
      - {target_label: __address__, replacement: '127.0.0.1:${port}'}
`;
}

// ---------------------------------------------------------------------------------------------
// The Patrol side: the real server (scrape, TSDB, rules, APIs) in its own process, with its
// event loop watched.

async function patrolWorker(configFile: string, dataDir: string, listen: string): Promise<void> {
  const { Patrol } = await import('../src/server.js');
  const { createLogger } = await import('../src/logger.js');
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const patrol = new Patrol({ configFile, dataDir, listen, logger: createLogger('warn') });
  await patrol.start();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const { Session } = await import('node:inspector/promises');
  const profiler = process.env.RULES_PROFILE ? new Session() : null;
  let profiling = false;
  process.on('message', (msg) => {
    void (async () => {
      if (msg === 'reset' || msg === 'reset-profile') {
        delay.reset();
        if (profiler && msg === 'reset-profile') {
          profiler.connect();
          await profiler.post('Profiler.enable');
          await profiler.post('Profiler.start');
          profiling = true;
        }
        process.send?.('ok');
      } else if (msg === 'report') {
        if (profiler && profiling) {
          profiling = false;
          const { profile } = await profiler.post('Profiler.stop');
          mkdirSync(process.env.RULES_PROFILE!, { recursive: true });
          writeFileSync(join(process.env.RULES_PROFILE!, `rules-${process.pid}.cpuprofile`), JSON.stringify(profile));
        }
        process.send?.({ p99: delay.percentile(99) / 1e6, max: delay.max / 1e6, mean: delay.mean / 1e6 });
      }
    })();
  });
  process.on('SIGTERM', () => {
    void patrol.stop().then(() => process.exit(0));
  });
  process.send?.('ready');
}

function ask<T>(child: ChildProcess, msg: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const exited = (c: number | null) => reject(new Error(`the Patrol worker exited (${c})`));
    child.once('exit', exited);
    child.once('message', (m) => {
      child.off('exit', exited);
      resolve(m as T);
    });
    child.send(msg);
  });
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const load0 = loadavg();
  const self = fileURLToPath(import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'patrol-rules-bench-'));
  const children: ChildProcess[] = [];
  try {
    const exporterPort = await freePort();
    const exp = spawn(process.execPath, ['--import', 'tsx', self, '--exporter', String(exporterPort)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(exp);
    await new Promise<void>((resolve, reject) => {
      exp.once('message', () => resolve());
      exp.once('exit', (c) => reject(new Error(`exporter exited ${c}`)));
    });
    const sample = await (await fetch(`http://127.0.0.1:${exporterPort}/metrics?s=0`)).text();
    const perTarget = sample.split('\n').filter((l) => l && !l.startsWith('#')).length;

    const rf = ruleFile();
    writeFileSync(join(dir, 'rules.yml'), rf.yaml);
    const base = scrapeConfig(exporterPort);
    const withRules = base + 'rule_files: [rules.yml]\n';
    // Patrol's own host collector is off: Prometheus has none.
    const patrolOnly = 'host: {enabled: false}\n';
    writeFileSync(join(dir, 'prometheus.yml'), base);
    writeFileSync(join(dir, 'patrol.yml'), base + patrolOnly);

    const promPort = await freePort();
    const prom = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prom')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    children.push(prom);
    const patrolPort = await freePort();
    const patrol = spawn(process.execPath, ['--import', 'tsx', self, '--patrol', join(dir, 'patrol.yml'), join(dir, 'patrol'), `127.0.0.1:${patrolPort}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(patrol);
    await new Promise<void>((resolve, reject) => {
      patrol.once('message', () => resolve());
      patrol.once('exit', (c) => reject(new Error(`patrol worker exited ${c}`)));
    });
    await waitHttp(`http://127.0.0.1:${promPort}/-/ready`, 'prometheus');
    console.log(`${SERVICES} services × ${perTarget} series = ${SERVICES * perTarget} series at 15 s; ${rf.rules} rules in ${rf.groups} groups; warm-up ${WARMUP} s, window A (no rules) ${BASE} s, window B (rules) ${SECONDS} s; load before: ${load0.map((l) => l.toFixed(2)).join(' ')}`);
    await sleep(WARMUP * 1000);

    // Window A: scraping only.
    await ask(patrol, 'reset');
    const a0 = { patrol: cpuSeconds(patrol.pid!), prom: cpuSeconds(prom.pid!), t: Date.now() };
    await sleep(BASE * 1000);
    const a1 = { patrol: cpuSeconds(patrol.pid!), prom: cpuSeconds(prom.pid!), t: Date.now() };
    const loopA = await ask<{ p99: number; max: number; mean: number }>(patrol, 'report');

    // Reload both with the rules; let every group run once before measuring.
    writeFileSync(join(dir, 'prometheus.yml'), withRules);
    writeFileSync(join(dir, 'patrol.yml'), withRules + patrolOnly);
    prom.kill('SIGHUP');
    const r = await fetch(`http://127.0.0.1:${patrolPort}/-/reload`, { method: 'POST' });
    if (!r.ok) throw new Error(`Patrol refused the rules: ${await r.text()}`);
    await sleep(20_000);

    // Window B: scraping and rules.
    await ask(patrol, process.env.RULES_PROFILE ? 'reset-profile' : 'reset');
    const b0 = { patrol: cpuSeconds(patrol.pid!), prom: cpuSeconds(prom.pid!), t: Date.now() };
    await sleep(SECONDS * 1000);
    const b1 = { patrol: cpuSeconds(patrol.pid!), prom: cpuSeconds(prom.pid!), t: Date.now() };
    const loopB = await ask<{ p99: number; max: number; mean: number }>(patrol, 'report');

    const query = async (port: number, q: string): Promise<number> => {
      const res = (await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: { value: [number, string] }[] } };
      return Number(res.data.result[0]?.value[1] ?? NaN);
    };
    const rulesApi = async (port: number) => {
      const res = (await (await fetch(`http://127.0.0.1:${port}/api/v1/rules`)).json()) as { data: { groups: { rules: { health: string; lastError?: string; state?: string; alerts?: unknown[] }[] }[] } };
      const rules = res.data.groups.flatMap((g) => g.rules);
      return { rules: rules.length, unhealthy: rules.filter((x) => x.health !== 'ok').length, firing: rules.reduce((n, x) => n + (x.alerts?.length ?? 0), 0), errors: [...new Set(rules.map((x) => x.lastError).filter(Boolean))].slice(0, 3) };
    };
    /** The sum of a metric's samples on a process's own /metrics page (neither side scrapes itself). */
    const selfMetric = async (port: number, name: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (line.startsWith(name) && (line[name.length] === '{' || line[name.length] === ' ')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    };
    const side = {
      patrol: { api: await rulesApi(patrolPort), round: await selfMetric(patrolPort, 'patrol_rule_group_last_duration_seconds'), missed: await selfMetric(patrolPort, 'patrol_rule_group_iterations_missed_total'), up: await query(patrolPort, 'sum(up{job=~"svc-.*"})'), alerts: await query(patrolPort, 'count(ALERTS)') },
      prom: { api: await rulesApi(promPort), round: await selfMetric(promPort, 'prometheus_rule_group_last_duration_seconds'), missed: await selfMetric(promPort, 'prometheus_rule_group_iterations_missed_total'), up: await query(promPort, 'sum(up{job=~"svc-.*"})'), alerts: await query(promPort, 'count(ALERTS)') },
    };
    const cores = (x0: number, x1: number, t0: number, t1: number) => (x1 - x0) / ((t1 - t0) / 1000);
    const A = { patrol: cores(a0.patrol, a1.patrol, a0.t, a1.t), prom: cores(a0.prom, a1.prom, a0.t, a1.t) };
    const B = { patrol: cores(b0.patrol, b1.patrol, b0.t, b1.t), prom: cores(b0.prom, b1.prom, b0.t, b1.t) };
    const ev = { patrol: B.patrol - A.patrol, prom: B.prom - A.prom };
    const perRound = (c: number) => `${((c * 15) * 1000).toFixed(0)} CPU-ms per 15 s round`;
    for (const [name, k] of [['Patrol', 'patrol'], ['Prometheus', 'prom']] as const) {
      const s = side[k];
      console.log(`${name.padEnd(10)}: ${A[k].toFixed(3)} cores without rules, ${B[k].toFixed(3)} with → rules ${ev[k].toFixed(3)} cores (${perRound(ev[k])}); sum of groups' last evaluation ${(s.round * 1000).toFixed(0)} ms; ${s.api.rules} rules, ${s.api.unhealthy} unhealthy${s.api.errors.length ? ` (${s.api.errors.join('; ')})` : ''}, ${s.alerts} ALERTS series, ${s.missed} missed iterations, up ${s.up}/${SERVICES}`);
    }
    console.log(`Patrol event-loop delay: window A max ${loopA.max.toFixed(0)} ms, p99 ${loopA.p99.toFixed(0)} ms; window B (rules) max ${loopB.max.toFixed(0)} ms, p99 ${loopB.p99.toFixed(0)} ms, mean ${loopB.mean.toFixed(1)} ms (target ≤ 50 ms)`);
    console.log(`ratio Patrol/Prometheus, rule evaluation CPU: ${(ev.patrol / ev.prom).toFixed(2)}× (target ≤ 1.0×); evaluation wall time per round: ${(side.patrol.round / side.prom.round).toFixed(2)}×`);
    console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (2 shared cores)`);
  } finally {
    await stopChildren(children);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--exporter') await exporter(Number(process.argv[3]));
else if (process.argv[2] === '--patrol') await patrolWorker(process.argv[3], process.argv[4], process.argv[5]);
else if (process.argv[2] === '--rules') process.stdout.write(ruleFile().yaml);
else await main();
