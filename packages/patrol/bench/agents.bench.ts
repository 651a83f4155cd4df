// Central ingest of agent results (issue 18's target: 3 agents × 1,000 probes at 10 s keep the
// central's ingest CPU ≤ 10 % of a core). Runs the real endpoint in-process through Fastify's
// inject: 3 locations, PROBES (1000) probes each, one batch per location per second holding the
// results of the probes due in that second (PROBES/10), for SECONDS (20) of simulated time;
// reports the CPU the central spent per simulated second. Each result carries the samples an
// HTTP probe run produces (taken from a real run against a local server).
//
// MODE=processes (`MODE=processes npm run bench -- agents`) measures the real thing instead: a
// central `patrol start` and 3 `patrol agent` processes (the built CLI, bin/patrol.js), PROBES
// probes at 10 s against a local HTTP server in this process, for SECONDS (default 120) after a
// warm-up. Every probe's interval is measured from the results the central stored
// (`probe_success[…]` read back through the query API, one sample per run with the run's start
// time): the deviation of each interval from 10 s, min/p1/median/p99/max. The central's CPU
// (utime+stime from /proc) over the window is its whole cost: ingest, TSDB, rules, self-scrape.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { registerAgentAPI } from '../src/api/agents.js';
import { parseConfig } from '../src/config/load.js';
import { ProbeManager } from '../src/probe/manager.js';
import { compileProbe, runProbe } from '../src/probe/run.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { freePort } from '../src/testing/net.js';
import { BIN, nodeFlags, patrolEnv } from './patrol_process.js';

const PROBES = Number(process.env.PROBES ?? 1000);
const MODE = process.env.MODE ?? 'inject';
const LOCS = ['eu', 'us', 'ap'];

if (MODE === 'processes') await processes();
else await inProcess();

async function inProcess(): Promise<void> {
  const SECONDS = Number(process.env.SECONDS ?? 20);

  const srv = http.createServer((_q, s) => s.end('ok'));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const lines = ['agents:', '  tokens: {eu: te, us: tu, ap: ta}', 'probes:'];
  for (let i = 0; i < PROBES; i++) lines.push(`  - {name: p${i}, type: http, target: "http://127.0.0.1:${port}/?p=${i}", interval: 10s, locations: [eu, us, ap]}`);
  const cfg = parseConfig(lines.join('\n') + '\n', 'bench.yml');
  if (!cfg.ok) throw new Error(cfg.errors.map(String).join('\n'));
  const sample = await runProbe(compileProbe(cfg.config.probes[0], '.'));
  srv.close();
  const dataDir = mkdtempSync(join(tmpdir(), 'patrol-agents-bench-'));
  const m = new ProbeManager({ storage: new MemoryStorage(), logger: pino({ level: 'silent' }), registry: new Registry(), listen: '127.0.0.1:0', dataDir }, {});
  m.applyConfig(cfg.config, { dir: '.' });
  const app = Fastify({ bodyLimit: 64 * 1024 * 1024 });
  registerAgentAPI(app, m);
  await app.ready();

  console.log(`load before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${LOCS.length} locations × ${PROBES} probes at 10s, ${SECONDS}s simulated, ${sample.samples.length} samples per result`);
  const start = Date.now() - SECONDS * 1000;
  const perSecond = PROBES / 10;
  const tokens: Record<string, string> = { eu: 'te', us: 'tu', ap: 'ta' };
  let results = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let s = 0; s < SECONDS; s++) {
    for (const loc of LOCS) {
      const batch = [];
      for (let k = 0; k < perSecond; k++) {
        const i = (s * perSecond + k) % PROBES;
        batch.push({ probe: `p${i}`, time: start + s * 1000 + k, success: true, duration_seconds: sample.durationMs / 1000, reason: '', status_code: 200, samples: sample.samples });
      }
      const res = await app.inject({ method: 'POST', url: '/api/patrol/v1/agent/results', headers: { authorization: `Bearer ${tokens[loc]}`, 'content-type': 'application/json' }, payload: JSON.stringify({ sent_at: Date.now(), results: batch }) });
      if (res.statusCode !== 200) throw new Error(res.body);
      results += batch.length;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(`ingested ${results} results in ${wall.toFixed(0)} ms wall, CPU ${cpuMs.toFixed(0)} ms → ${((cpuMs / results) * 1000).toFixed(1)} µs per result`);
  console.log(`central ingest CPU for 3 × ${PROBES} probes at 10 s: ${((cpuMs / SECONDS / 1000) * 100).toFixed(1)} % of a core (target ≤ 10 %)`);
  console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  await m.stop();
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
}

async function processes(): Promise<void> {
  const SECONDS = Number(process.env.SECONDS ?? 120);
  const WARMUP = Number(process.env.WARMUP ?? 30);
  const INTERVAL = 10_000;
  const tick = 100; // USER_HZ: /proc's clock ticks per second on Linux
  const cpuOf = (pid: number): number => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) / tick) * 1000; // utime + stime, ms
  };
  const target = http.createServer((_q, s) => s.end('ok'));
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', 1024, r));
  const tport = (target.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'patrol-agents-procs-'));
  const lines = ['agents:', '  tokens: {eu: te, us: tu, ap: ta}', 'probes:'];
  for (let i = 0; i < PROBES; i++) lines.push(`  - {name: p${i}, type: http, target: "http://127.0.0.1:${tport}/?p=${i}", interval: 10s, timeout: 5s, locations: [eu, us, ap]}`);
  writeFileSync(join(dir, 'patrol.yml'), lines.join('\n') + '\n');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const procs: ChildProcess[] = [];
  const start = (args: string[], env: Record<string, string> = {}) => {
    const p = spawn(process.execPath, [...nodeFlags, BIN, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], env: { ...patrolEnv, ...env } });
    procs.push(p);
    return p;
  };
  const until = async (what: string, f: () => Promise<boolean>, boundMs: number) => {
    const deadline = Date.now() + boundMs;
    while (!(await f().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  type Series = { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] };
  const query = async (q: string, time?: number): Promise<Series[]> => {
    const u = `${base}/api/v1/query?query=${encodeURIComponent(q)}${time === undefined ? '' : `&time=${time / 1000}`}`;
    const text = await (await fetch(u)).text();
    const body = JSON.parse(text) as { data?: { result: Series[] } };
    if (!body.data) throw new Error(`${q}: ${text.slice(0, 300)}`);
    return body.data.result;
  };
  try {
    const central = start(['start', '--config', join(dir, 'patrol.yml'), '--data', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--log.level', 'warn']);
    await until('the central Patrol', async () => (await fetch(`${base}/-/ready`)).ok, 120_000);
    const agents = LOCS.map((loc, i) => start(['agent', '--server', base, '--location', loc, '--data', join(dir, `agent-${loc}`), '--log.level', 'warn'], { PATROL_AGENT_TOKEN: ['te', 'tu', 'ta'][i] }));
    let seen = 0;
    await until(`results of every probe from every location (${PROBES * LOCS.length} series)`, async () => {
      const n = Number((await query('count(probe_success)'))[0]?.value?.[1] ?? 0);
      if (n !== seen) console.log(`  ${n} series so far`);
      seen = n;
      return n >= PROBES * LOCS.length;
    }, 300_000);
    console.log(`all ${PROBES * LOCS.length} probe×location series report; warming up ${WARMUP}s`);
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    console.log(`load before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${LOCS.length} agent processes × ${PROBES} probes at 10s, measuring ${SECONDS}s`);
    const c0 = cpuOf(central.pid!);
    const a0 = agents.map((a) => cpuOf(a.pid!));
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const t1 = Date.now();
    const c1 = cpuOf(central.pid!);
    const a1 = agents.map((a) => cpuOf(a.pid!));
    console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    // Results of runs that started before t1 reach the central within a send interval or two.
    await new Promise((r) => setTimeout(r, 8000));
    // Read back in slices of probes (one answer of 3,000 series × SECONDS/10 samples is large).
    const series: Series[] = [];
    for (let d = 0; d < 10; d++) series.push(...(await query(`probe_success{probe=~"p.*${d}"}[${SECONDS}s]`, t1)));
    if (series.length === 0) throw new Error('no results read back');
    const dev: number[] = [];
    let short = 0;
    for (const s of series) {
      const ts = (s.values ?? []).map((v) => v[0] * 1000);
      if (ts.length < Math.floor(SECONDS / 10) - 1) short++;
      for (let i = 1; i < ts.length; i++) dev.push(((ts[i] - ts[i - 1]) / INTERVAL - 1) * 100);
    }
    dev.sort((a, b) => a - b);
    const q = (p: number) => dev[Math.min(dev.length - 1, Math.floor(p * dev.length))];
    const outside = dev.filter((d) => Math.abs(d) > 10).length;
    console.log(`${series.length} series, ${dev.length} intervals; deviation from 10 s: min ${q(0).toFixed(2)} %, p1 ${q(0.01).toFixed(2)} %, median ${q(0.5).toFixed(2)} %, p99 ${q(0.99).toFixed(2)} %, max ${dev[dev.length - 1].toFixed(2)} %; ${outside} outside ±10 %; ${short} series with missing runs`);
    const wall = t1 - t0;
    console.log(`central CPU (whole process): ${(((c1 - c0) / wall) * 100).toFixed(1)} % of a core (target ≤ 10 %); agents: ${a1.map((c, i) => (((c - a0[i]) / wall) * 100).toFixed(1)).join(' / ')} % of a core each`);
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    target.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
