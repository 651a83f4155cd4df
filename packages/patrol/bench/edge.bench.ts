// The HTTP edge under abuse, against a Patrol started as its own process:
//  1. /-/healthy latency (worst, p99, median) while remote-write bombs arrive: a snappy body that
//     expands to max_decoded_bytes+, a series with thousands of labels, and many large ordinary
//     requests. The bar (issue 11) is 100 ms.
//  2. Memory held by twenty unfinished 30 MB bodies (server.max_inflight_body_bytes) and 12 s
//     after they are dropped.
// `npm run bench -- edge`
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { snappy, WriteRequestType } from '../src/api/remote_write.testutil.js';
import { sampleHealthy } from './healthy_sampler.js';
import { describePatrol, extraNodeArgs, patrolArgs, patrolEnv } from './patrol_process.js';

const ROUNDS = Number(process.env.ROUNDS ?? 6);

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address() as { port: number };
      s.close(() => ok(a.port));
    });
  });
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const dir = mkdtempSync(join(tmpdir(), 'patrol-edge-bench-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
writeFileSync(join(dir, 'patrol.yml'), 'global: {scrape_interval: 1h}\nhost: {enabled: false}\n');
const child = spawn(process.execPath, [...patrolArgs(), 'start', '--config', join(dir, 'patrol.yml'), '--data', join(dir, 'data'), '--listen', `127.0.0.1:${port}`], {
  stdio: ['ignore', extraNodeArgs.length > 0 ? 'inherit' : 'ignore', 'inherit'],
  env: patrolEnv,
});
try {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`load average: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (2 shared cores); ${describePatrol()}`);

  // The bombs, made before measuring.
  const zeros = Buffer.from(snappy.compress(new Uint8Array(40 * 1024 * 1024))); // expands past 32MB
  const manyLabels = Buffer.from(
    snappy.compress(
      WriteRequestType.encode(
        WriteRequestType.fromObject({
          timeseries: [{ labels: Array.from({ length: 100_000 }, (_, i) => ({ name: `l${i}`, value: 'v' })), samples: [{ value: 1, timestamp: Date.now() }] }],
        }),
      ).finish(),
    ),
  );
  const big = Buffer.from(
    snappy.compress(
      WriteRequestType.encode(
        WriteRequestType.fromObject({
          timeseries: Array.from({ length: 20_000 }, (_, i) => ({
            labels: [
              { name: '__name__', value: 'bench_metric' },
              { name: 'instance', value: `10.0.${i % 250}.${i % 7}:9100` },
              { name: 'series', value: String(i) },
            ],
            samples: [{ value: i, timestamp: Date.now() }],
          })),
        }),
      ).finish(),
    ),
  );
  // The control: an ordinary small request, so the /-/healthy latency that the machine's load
  // alone causes is printed beside the bombs' (on 2 shared cores at load 10-30 it is far from 0).
  const small = Buffer.from(snappy.compress(WriteRequestType.encode(WriteRequestType.fromObject({ timeseries: [{ labels: [{ name: '__name__', value: 'control' }], samples: [{ value: 1, timestamp: Date.now() }] }] })).finish()));
  const bombs: [string, Buffer][] = [
    ['control: a one-sample request', small],
    ['snappy bomb (40 MiB of zeros)', zeros],
    ['100,000 labels in one series', manyLabels],
    ['20,000 series in one request', big],
  ];
  const send = (b: Buffer) =>
    fetch(`${base}/api/v1/write`, { method: 'POST', body: b, headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' } })
      .then((r) => r.status)
      .catch(() => 0);

  /**
   * The server's worst event-loop delay since the last call (reset at each /metrics collection)
   * and its CPU time so far (all threads), ms: on a loaded machine the delay is wall time, and
   * the CPU time per request bounds what any one task can have used.
   */
  const loopMax = async () => {
    const m = await (await fetch(`${base}/metrics`)).text();
    const get = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(m)?.[1] ?? NaN) * 1000;
    return { held: get('nodejs_eventloop_lag_max_seconds'), cpu: get('process_cpu_seconds_total') };
  };
  for (const [name, body] of bombs) {
    const before = await loopMax();
    const sampler = sampleHealthy(base, 5);
    await sampler.ready;
    const statuses = new Map<number, number>();
    const until = performance.now() + (body === small ? 2000 : 0); // the control lasts 2 s at least
    for (let r = 0; r < ROUNDS; r++) {
      const codes = await Promise.all([send(body), send(body)]);
      for (const c of codes) statuses.set(c, (statuses.get(c) ?? 0) + 1);
    }
    while (performance.now() < until) await new Promise((r) => setTimeout(r, 50));
    const lat = await sampler.stop();
    const after = await loopMax();
    console.log(
      `${name.padEnd(32)} ${(body.length / 1024).toFixed(0).padStart(6)} KiB x ${ROUNDS * 2}: /-/healthy worst ${Math.max(...lat).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms, median ${percentile(lat, 50).toFixed(1)} ms over ${lat.length} probes, server loop delay max ${after.held.toFixed(1)} ms, server CPU ${((after.cpu - before.cpu) / (ROUNDS * 2)).toFixed(0)} ms per request; answers ${[...statuses].map(([c, n]) => `${c}x${n}`).join(' ')}`,
    );
  }

  // Unfinished bodies: twenty 30 MB uploads that stop at 25 MB.
  const rss = async () => {
    const m = await (await fetch(`${base}/metrics`)).text();
    return Number(/^process_resident_memory_bytes (\S+)$/m.exec(m)?.[1] ?? NaN) / 1024 / 1024;
  };
  const before = await rss();
  const sockets: Socket[] = [];
  const answers: Promise<string>[] = [];
  const chunk = Buffer.alloc(1024 * 1024, 7);
  for (let i = 0; i < 20; i++) {
    const s = connect(port, '127.0.0.1');
    sockets.push(s);
    let got = '';
    answers.push(new Promise((ok) => {
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('close', () => ok(got.split('\r\n')[0] || 'closed'));
      s.on('error', () => undefined);
    }));
    s.write(`POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: ${30 * 1024 * 1024}\r\n\r\n`);
    for (let k = 0; k < 25 && !s.destroyed; k++) s.write(chunk);
  }
  await new Promise((r) => setTimeout(r, 3000));
  const during = await rss();
  for (const s of sockets) s.destroy();
  const codes = await Promise.all(answers);
  // The chunks are freed by V8's next collection, which an idle server runs within about 10 s.
  await new Promise((r) => setTimeout(r, 12_000));
  const afterDrop = await rss();
  const tally = new Map<string, number>();
  for (const c of codes) tally.set(c, (tally.get(c) ?? 0) + 1);
  console.log(`20 unfinished 30 MB bodies (25 MB sent each): RSS ${before.toFixed(0)} MiB before, ${during.toFixed(0)} MiB while held, ${afterDrop.toFixed(0)} MiB 12 s after they were dropped; answers ${[...tally].map(([c, n]) => `${c} x${n}`).join(', ')}`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
