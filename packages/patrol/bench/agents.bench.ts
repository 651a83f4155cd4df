// Central ingest of agent results (issue 18's target: 3 agents × 1,000 probes at 10 s keep the
// central's ingest CPU ≤ 10 % of a core). Runs the real endpoint in-process through Fastify's
// inject: 3 locations, PROBES (1000) probes each, one batch per location per second holding the
// results of the probes due in that second (PROBES/10), for SECONDS (20) of simulated time;
// reports the CPU the central spent per simulated second. Each result carries the samples an
// HTTP probe run produces (taken from a real run against a local server).

import { mkdtempSync, rmSync } from 'node:fs';
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

const PROBES = Number(process.env.PROBES ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 20);
const LOCS = ['eu', 'us', 'ap'];

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
