// Remote write ingestion: decode (snappy + protobuf) and append into storage, in samples/s.
// Compares the streaming decoder with protobufjs's generated decoder, and, as the reference,
// Debian's prometheus 2.42 receiving the same requests over HTTP in the same run.
// `npm run bench -- remote_write`
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { decodeWriteRequest, registerRemoteWrite, writeRequest } from '../src/api/remote_write.js';
import { snappy, WriteRequestType } from '../src/api/remote_write.testutil.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { binaryPath } from '../src/testing/shared.js';

const SERIES_PER_REQ = 2000; // Prometheus's max_samples_per_send since 2.4x is 2000
const REQUESTS = Number(process.env.REQUESTS ?? 200);
const TOTAL_SERIES = 20_000;
const PROMETHEUS = binaryPath('prometheus');

/** Requests as Prometheus sends them: one sample per series, realistic label sets. */
function makeRequests(t0: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let r = 0; r < REQUESTS; r++) {
    const timeseries = [];
    const round = Math.floor((r * SERIES_PER_REQ) / TOTAL_SERIES);
    for (let i = 0; i < SERIES_PER_REQ; i++) {
      const id = (r * SERIES_PER_REQ + i) % TOTAL_SERIES;
      timeseries.push({
        labels: [
          { name: '__name__', value: `http_requests_total` },
          { name: 'code', value: String(200 + (id % 5)) },
          { name: 'instance', value: `10.0.${id % 100}.1:8080` },
          { name: 'job', value: 'api' },
          { name: 'method', value: ['GET', 'POST', 'PUT', 'DELETE'][id % 4] },
          { name: 'path', value: `/api/v1/resource/${Math.floor(id / 100)}` },
        ],
        samples: [{ value: id * 1.5 + round, timestamp: t0 + round * 15_000 }],
      });
    }
    out.push(WriteRequestType.encode(WriteRequestType.fromObject({ timeseries })).finish());
  }
  return out;
}

function rate(samples: number, ms: number): string {
  return `${((samples / ms) * 1000).toLocaleString('en', { maximumFractionDigits: 0 })} samples/s`;
}

const t0 = Date.now() - 3_600_000;
const raw = makeRequests(t0);
const compressed = raw.map((b) => Buffer.from(snappy.compress(b)));
const samples = REQUESTS * SERIES_PER_REQ;
console.log(`load average: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (2 shared cores)`);
console.log(`${REQUESTS} requests x ${SERIES_PER_REQ} series (1 sample each), ${TOTAL_SERIES} distinct series; ${(compressed.reduce((a, b) => a + b.length, 0) / REQUESTS / 1024).toFixed(0)} KiB/request compressed`);

let t = performance.now();
for (const b of compressed) snappy.uncompress(b);
const snappyMs = performance.now() - t;
console.log(`snappy uncompress:            ${rate(samples, snappyMs)}`);

t = performance.now();
let n = 0;
for (const b of raw) decodeWriteRequest(b, (s) => (n += s.values.length));
const decMs = performance.now() - t;
console.log(`streaming decode:             ${rate(n, decMs)}`);

t = performance.now();
n = 0;
for (const b of raw) {
  const m = WriteRequestType.toObject(WriteRequestType.decode(b), { longs: Number }) as { timeseries: { samples: unknown[] }[] };
  for (const ts of m.timeseries) n += ts.samples.length;
}
const pbMs = performance.now() - t;
console.log(`protobufjs decode+toObject:   ${rate(n, pbMs)}  (streaming decoder is ${(pbMs / decMs).toFixed(1)}x faster)`);

/** Accepts everything: isolates the receiver's own cost from the storage engine's. */
const noopStorage = {
  appender: () => ({ append: () => 1, commit() {}, rollback() {} }),
} as unknown as MemoryStorage;
t = performance.now();
for (const b of compressed) await writeRequest(noopStorage, snappy.uncompress(b));
const noopMs = performance.now() - t;
console.log(`uncompress+decode+validate (no-op storage):  ${rate(samples, noopMs)}`);

const storage = new MemoryStorage();
t = performance.now();
for (const b of compressed) await writeRequest(storage, snappy.uncompress(b));
const appMs = performance.now() - t;
console.log(`uncompress+decode+append (MemoryStorage): ${rate(samples, appMs)}`);


async function post(url: string): Promise<{ ms: number; bad: number }> {
  let bad = 0;
  const start = performance.now();
  // Four requests in flight, like a sender with a few shards.
  let next = 0;
  const worker = async () => {
    while (next < compressed.length) {
      const b = compressed[next++];
      const res = await fetch(url, { method: 'POST', body: b, headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' } });
      if (res.status !== 204 && res.status !== 200) bad++;
      await res.arrayBuffer();
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return { ms: performance.now() - start, bad };
}

async function patrolOverHttp(what: string, st: MemoryStorage): Promise<number> {
  const app = Fastify();
  registerRemoteWrite(app, st, pino({ level: 'silent' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const c0 = process.cpuUsage();
  const pr = await post(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1/write`);
  const pc = process.cpuUsage(c0);
  console.log(`patrol over HTTP, ${what} (4 in flight): ${rate(samples, pr.ms)}, ${pr.bad} failed requests; CPU of this process (client+server) ${((pc.user + pc.system) / 1000).toFixed(0)} ms`);
  await app.close();
  return pr.ms;
}
const httpNoop = await patrolOverHttp('no-op storage', noopStorage);
const httpMem = await patrolOverHttp('MemoryStorage', new MemoryStorage());

if (existsSync(PROMETHEUS)) {
  const dir = mkdtempSync(join(tmpdir(), 'rw-bench-'));
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  writeFileSync(join(dir, 'p.yml'), 'global: {}\n');
  const proc = spawn(PROMETHEUS, [`--config.file=${join(dir, 'p.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver'], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/-/ready`)).ok) break;
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const cpuMs = () => {
    const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  };
  const p0 = cpuMs();
  const r = await post(`${base}/api/v1/write`);
  const promCpu = cpuMs() - p0;
  console.log(`prometheus 2.42 receiver over HTTP (4 in flight): ${rate(samples, r.ms)}, ${r.bad} failed requests; prometheus CPU ${promCpu.toFixed(0)} ms`);
  console.log(`ratio patrol/prometheus throughput: ${(r.ms / httpNoop).toFixed(2)}x receiver only (no-op storage), ${(r.ms / httpMem).toFixed(2)}x with MemoryStorage`);
  const exited = new Promise((res) => proc.once('exit', res));
  proc.kill('SIGTERM');
  await exited;
  rmSync(dir, { recursive: true, force: true });
} else console.log(`${PROMETHEUS} not installed: no reference run`);
