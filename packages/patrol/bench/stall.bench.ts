// Stall benchmark: starts Patrol (`patrol start`, its own process), stores series whose label
// values invite backtracking, then fires pathological requests one scenario at a time while
// sampling `/-/healthy` every 10 ms from a worker thread. Prints, per scenario, the request's
// answer and time and the worst and p99 `/-/healthy` latency; the bar is 100 ms.
//
//   npm run bench -- stall

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { snappy, WriteRequestType } from '../src/api/remote_write.testutil.js';
import { REPO_ROOT } from '../src/testing/shared.js';
import { sampleHealthy } from './healthy_sampler.js';
import { describePatrol, patrolArgs, patrolEnv } from './patrol_process.js';

const dir = mkdtempSync(join(tmpdir(), 'patrol-stall-'));
const child = spawn(process.execPath, [...patrolArgs(), 'start', '--listen', '127.0.0.1:0', '--data', join(dir, 'data'), '--log.level', 'info'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: patrolEnv });
let out = '';
child.stdout.on('data', (d: Buffer) => (out += d.toString()));
child.stderr.on('data', (d: Buffer) => (out += d.toString()));

async function ready(): Promise<string> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const m = /"listen":"([^"]+)".*Patrol is ready/.exec(out);
    if (m) return `http://${m[1]}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Patrol never became ready:\n${out}`);
}

/**
 * The server's own worst event-loop delay since the last call (prom-client's
 * nodejs_eventloop_lag_max_seconds, reset at each /metrics collection), in ms: what the loop was
 * held, apart from this process's and the network's share of a /-/healthy latency; and its CPU
 * time so far (process_cpu_seconds_total, all threads), in ms. On a loaded machine the loop's
 * delay is wall time, and a scenario's CPU time bounds what any one task of it can have used.
 */
async function loopMax(base: string): Promise<{ held: number; cpu: number }> {
  const m = await (await fetch(`${base}/metrics`)).text();
  const get = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(m)?.[1] ?? NaN) * 1000;
  return { held: get('nodejs_eventloop_lag_max_seconds'), cpu: get('process_cpu_seconds_total') };
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function main(): Promise<void> {
  const base = await ready();
  const now = Date.now();
  // 2,000 series whose values are runs of `a` (the (a+)+b victims) and 16 KiB values.
  const series = [];
  for (let i = 0; i < 2000; i++) {
    const v = i < 1000 ? 'a'.repeat(30 + (i % 20)) + String(i) : `${'a'.repeat(i < 1990 ? 200 : 16_000)}${i}`;
    series.push({ labels: [{ name: '__name__', value: 'victim' }, { name: 'v', value: v }, { name: 'i', value: String(i) }], samples: [{ value: i, timestamp: now }] });
  }
  const body = snappy.compress(WriteRequestType.encode(WriteRequestType.create({ timeseries: series })).finish());
  const w = await fetch(`${base}/api/v1/write`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' }, body });
  if (w.status !== 204) throw new Error(`remote write answered ${w.status}: ${await w.text()}`);

  const t = String(now / 1000);
  const q = (query: string) => ({ path: `/api/v1/query`, body: new URLSearchParams({ query, time: t }) });
  const manyMatchers = `victim{${Array.from({ length: 2000 }, (_, i) => `l${i}!~"(a+)+b${i}"`).join(',')}}`;
  const bigAlt = Array.from({ length: 20_000 }, (_, i) => `value-${i}`).join('|');
  const grafanaAlt = `(${Array.from({ length: 2000 }, (_, i) => `host-${i}\\\\.example\\\\.com:9100`).join('|')})`;
  const nearLimit = Array(19).fill('[^b]{1000}').join('');
  // The control: no request at all, so the /-/healthy latency that the machine's load alone causes
  // is printed beside the attacks' (on 2 shared cores at load 10-30 it is far from 0).
  const scenarios: [string, { path: string; body: URLSearchParams } | null][] = [
    ['control: no request (2 s)', null],
    ['warm-up: first query, first regex', q('count(victim{v=~"a+1"})')],
    ['(a+)+b matcher on 1000 values', q('victim{v=~"(a+)+b"}')],
    ['(a|aa)*c negative matcher', q('count(victim{v!~"(a|aa)*c"})')],
    ['label_replace with (a+)+(b)', q('count(label_replace(victim, "x", "$2", "v", "(a+)+(b)"))')],
    ['2000 regex matchers in one selector', q(manyMatchers)],
    ['20,000-value literal alternation', q(`count(victim{v=~"${bigAlt}"})`)],
    ['Grafana multi-value (2000 escaped hosts)', q(`count(victim{v=~"${grafanaAlt}"})`)],
    ['19,000-instruction regex on 16 KiB values', q(`count(victim{v=~"${nearLimit}"})`)],
    ['rejected: (x{1000}){1000}', q('victim{v=~"(x{1000}){1000}"}')],
    ['rejected: 30 × [^a]{1000}', q(`victim{v=~"${Array(30).fill('[^a]{1000}').join('')}"}`)],
    ['series API with (a+)+b', { path: '/api/v1/series', body: new URLSearchParams({ 'match[]': 'victim{v=~"(a+)+b"}', start: String(now / 1000 - 60), end: t }) }],
    ['subquery count_over_time(vector(1)[1d:1ms])', q('count_over_time(vector(1)[1d:1ms])')],
  ];

  const all: number[] = [];
  console.log(`load average: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (2 shared cores); ${describePatrol()}`);
  console.log('scenario'.padEnd(46), 'status', '  req ms', ' healthy worst ms', '  p99 ms', ' samples', ' server loop max ms', ' server CPU ms');
  for (const [name, req] of scenarios) {
    const before = await loopMax(base);
    const s = sampleHealthy(base, 10);
    await s.ready;
    await new Promise((r) => setTimeout(r, 30));
    const t0 = performance.now();
    const r = req
      ? await fetch(`${base}${req.path}`, { method: 'POST', body: req.body, signal: AbortSignal.timeout(120_000) }).catch((e: Error) => ({ status: 0, text: async () => e.message }))
      : await new Promise<{ status: number; text: () => Promise<string> }>((ok) => setTimeout(() => ok({ status: 200, text: async () => '' }), 2000));
    const text = await r.text();
    const reqMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 30));
    const lat = await s.stop();
    const after = await loopMax(base);
    all.push(...lat);
    console.log(name.padEnd(46), String(r.status).padStart(6), reqMs.toFixed(0).padStart(8), pct(lat, 100).toFixed(1).padStart(17), pct(lat, 99).toFixed(1).padStart(8), String(lat.length).padStart(8), after.held.toFixed(1).padStart(19), (after.cpu - before.cpu).toFixed(0).padStart(14));
    if (r.status !== 200) console.log(`    ${text.slice(0, 160)}`);
  }
  console.log(`all scenarios: /-/healthy worst ${pct(all, 100).toFixed(1)} ms, p99 ${pct(all, 99).toFixed(1)} ms over ${all.length} samples`);
}

try {
  await main();
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
