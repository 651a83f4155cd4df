// Host collection cost per cycle: Patrol's HostCollector (read procfs + statfs, build labels,
// append to storage) against node_exporter serving the same collectors, measured as CPU time
// per cycle in the same run. `npm run bench -- host`
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { parseConfig } from '../src/config/load.js';
import { HostCollector } from '../src/host/collector.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { freePort } from '../src/testing/net.js';
import { binaryPath } from '../src/testing/shared.js';

const CYCLES = Number(process.env.CYCLES ?? 500);
const NODE_EXPORTER = binaryPath('prometheus-node-exporter');

function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}


const cfg = parseConfig('host:\n  interval: 1h\n', 'bench.yml');
if (!cfg.ok) throw new Error('config');
const storage = new MemoryStorage();
const c = new HostCollector({ storage, logger: pino({ level: 'silent' }), registry: new Registry(), listen: '', dataDir: '/tmp' });
await c.applyConfig(cfg.config);
for (let i = 0; i < 20; i++) await c.collectOnce();
const cpu0 = process.cpuUsage();
const w0 = performance.now();
let samples = 0;
for (let i = 0; i < CYCLES; i++) samples = (await c.collectOnce()).samples;
const wall = (performance.now() - w0) / CYCLES;
const cpu = process.cpuUsage(cpu0);
const ourCpu = (cpu.user + cpu.system) / 1000 / CYCLES;
await c.stop();
console.log(`load average: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (2 shared cores)`);
console.log(`patrol host collector: ${samples} samples/cycle, ${ourCpu.toFixed(3)} ms CPU/cycle, ${wall.toFixed(3)} ms wall/cycle over ${CYCLES} cycles`);
console.log(`  at a 15s interval: ${((ourCpu / 15_000) * 100).toFixed(4)} % of one core`);

if (existsSync(NODE_EXPORTER)) {
  const port = await freePort();
  const collectors = ['cpu', 'meminfo', 'filesystem', 'diskstats', 'netdev', 'netclass', 'loadavg', 'stat', 'filefd', 'time', 'uname'];
  const proc = spawn(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${port}`, '--collector.disable-defaults', ...collectors.map((x) => `--collector.${x}`)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/metrics`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (let i = 0; i < 20; i++) await (await fetch(url)).text();
  const n0 = procCpuMs(proc.pid!);
  const t0 = performance.now();
  let lines = 0;
  for (let i = 0; i < CYCLES; i++) lines = (await (await fetch(url)).text()).split('\n').filter((l) => l && !l.startsWith('#')).length;
  const neWall = (performance.now() - t0) / CYCLES;
  const neCpu = (procCpuMs(proc.pid!) - n0) / CYCLES;
  proc.kill('SIGTERM');
  console.log(`node_exporter 1.5 (same collectors, serving /metrics): ${lines} samples/scrape, ${neCpu.toFixed(3)} ms CPU/scrape (10 ms tick resolution), ${neWall.toFixed(3)} ms wall/scrape`);
  console.log(`ratio patrol/node_exporter CPU per cycle: ${(ourCpu / neCpu).toFixed(2)}x`);
} else console.log(`${NODE_EXPORTER} not installed: no reference run`);
