// The dispatcher benchmark of issue 15, side by side with Debian's Alertmanager 0.25 in one run:
// 20,000 alerts (PATROL_BENCH_DIR/alert-load.mjs: 10 alertnames × 100 services, every third one
// critical) posted in batches of 200 to /api/v2/alerts, grouped by [alertname, service] (100
// groups), a critical-inhibits-warning rule on `service`, one webhook receiver
// (webhook-sink.mjs, one per server). The two run one after the other on the same machine.
//
// Figures per server: CPU-seconds (utime+stime of the process from /proc/<pid>/stat, from just
// before posting until the sink's counts last changed, as the reference figure was taken), peak
// RSS (VmHWM), notifications/alerts/groups the sink received, and the ratios Patrol/Alertmanager.
// Patrol runs as installed (bench/patrol_process.ts: dist/patrol.js with bin/patrol.js's `#!` line).
// `npm run bench:alerts`; environment: ALERTS (20000), BATCH (200), SERVICES (100), ONLY
// (patrol | alertmanager: measure one server, no ratio), NODE_FLAGS (Node flags instead of the `#!` line's).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/testing/net.js';
import { benchPath, binaryPath } from '../src/testing/shared.js';
import { describePatrol, patrolArgs, patrolEnv } from './patrol_process.js';

const ALERTS = Number(process.env.ALERTS ?? 20000);
const BATCH = Number(process.env.BATCH ?? 200);
const SERVICES = Number(process.env.SERVICES ?? 100);
const LOAD = benchPath('alert-load.mjs');
const SINK = benchPath('webhook-sink.mjs');
const AM = binaryPath('prometheus-alertmanager');
const CLK_TCK = 100;
/** The sink's counts must not change for this long (longer than group_interval) to be final. */
const QUIET_MS = 8000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

function peakRssMB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function alertingYaml(sinkPort: number): string {
  return `route:
  receiver: sink
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs: [{url: 'http://127.0.0.1:${sinkPort}/', send_resolved: true}]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [service]
`;
}

async function until(what: string, f: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await f().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += String(d)));
    c.on('exit', (code) => (code === 0 ? ok(out.trim()) : fail(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

interface Result {
  name: string;
  cpu: number;
  rss: number;
  post: string;
  counts: { notifications: number; alerts: number; groups: number };
}

async function measure(name: string, start: (sinkPort: number, port: number, dir: string) => ChildProcess): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), `patrol-alerts-bench-${name}-`));
  const sinkPort = await freePort();
  const port = await freePort();
  const sink = spawn(process.execPath, [SINK, String(sinkPort)], { stdio: 'ignore' });
  const server = start(sinkPort, port, dir);
  const base = `http://127.0.0.1:${port}`;
  const counts = async () => (await (await fetch(`http://127.0.0.1:${sinkPort}/`)).json()) as Result['counts'];
  try {
    await until(`${name} ready`, async () => server.exitCode === null && (await fetch(`${base}/-/ready`)).ok);
    await until('the sink listening', async () => (await counts()).notifications === 0);
    await sleep(2000); // let start-up work settle before measuring
    const cpu0 = procCpuSeconds(server.pid!);
    const post = await run(process.execPath, [LOAD, base, String(ALERTS), String(BATCH), String(SERVICES)]);
    let last = await counts();
    let lastChange = Date.now();
    let cpuAtChange = procCpuSeconds(server.pid!);
    while (last.notifications === 0 || Date.now() - lastChange < QUIET_MS) {
      await sleep(200);
      const c = await counts();
      if (c.notifications !== last.notifications || c.alerts !== last.alerts) {
        last = c;
        lastChange = Date.now();
        cpuAtChange = procCpuSeconds(server.pid!);
      }
      if (server.exitCode !== null) throw new Error(`${name} exited ${server.exitCode}`);
    }
    return { name, cpu: cpuAtChange - cpu0, rss: peakRssMB(server.pid!), post, counts: last };
  } finally {
    server.kill('SIGKILL');
    sink.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const startAM = (sinkPort: number, port: number, dir: string): ChildProcess => {
  writeFileSync(join(dir, 'alertmanager.yml'), alertingYaml(sinkPort));
  return spawn(AM, [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
};

const startPatrol = (sinkPort: number, port: number, dir: string): ChildProcess => {
  const indent = alertingYaml(sinkPort)
    .split('\n')
    .map((l) => (l ? '  ' + l : l))
    .join('\n');
  writeFileSync(join(dir, 'patrol.yml'), `host: {enabled: false}\nalerting:\n${indent}`);
  return spawn(process.execPath, [...patrolArgs(), 'start', '--config', join(dir, 'patrol.yml'), '--data', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--log.level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: patrolEnv,
  });
};

console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (2 cores shared with other helpers)`);
console.log(`${ALERTS} alerts in batches of ${BATCH}, ${SERVICES} services; ${describePatrol()}`);
const only = process.env.ONLY; // 'patrol' or 'alertmanager' while iterating; the ratio needs both
const am = only === 'patrol' ? undefined : await measure('alertmanager', startAM);
const patrol = only === 'alertmanager' ? undefined : await measure('patrol', startPatrol);
for (const r of [am, patrol]) {
  if (!r) continue;
  console.log(`${r.name.padEnd(12)} cpu ${r.cpu.toFixed(2)} s  peak RSS ${r.rss.toFixed(1)} MB  sink ${JSON.stringify(r.counts)}  ${r.post}`);
}
if (am && patrol) console.log(`ratios Patrol/Alertmanager: CPU ${(patrol.cpu / am.cpu).toFixed(2)}× (target ≤ 0.5), memory ${(patrol.rss / am.rss).toFixed(2)}× (target ≤ 1.0)`);
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
