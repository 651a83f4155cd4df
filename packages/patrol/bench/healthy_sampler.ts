// /-/healthy sampled from a worker thread: sequential requests, one every `everyMs`, each
// latency in ms. In the bench's own thread the samples waited behind the bench's own work (a
// remote-write bomb being sent: 337 ms seen at the client while the server's loop was held
// 92 ms), so the figure mixed the client's delay with the server's.

import { Worker } from 'node:worker_threads';

const CODE = `
const { parentPort, workerData } = require('node:worker_threads');
let stopped = false;
const lat = [];
let warm = false;
parentPort.on('message', () => (stopped = true));
(async () => {
  while (!stopped) {
    const t = performance.now();
    try {
      const r = await fetch(workerData.url, { signal: AbortSignal.timeout(60000) });
      await r.arrayBuffer();
    } catch {
      // counted by its latency
    }
    // The first request warms the worker's fetch up, before the attack: not a sample.
    if (warm) lat.push(performance.now() - t);
    else parentPort.postMessage('ready');
    warm = true;
    await new Promise((r) => setTimeout(r, workerData.every));
  }
  parentPort.postMessage(lat);
})();
`;

export interface HealthySampler {
  /** Resolves once a first request (not counted) has been answered: start the attack after it. */
  ready: Promise<void>;
  /** Stops after the request in flight and returns every latency. */
  stop(): Promise<number[]>;
}

export function sampleHealthy(base: string, everyMs: number): HealthySampler {
  const w = new Worker(CODE, { eval: true, workerData: { url: `${base}/-/healthy`, every: everyMs } });
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const done = new Promise<number[]>((resolve, reject) => {
    w.on('message', (m: 'ready' | number[]) => (m === 'ready' ? ready() : resolve(m)));
    w.once('error', reject);
  });
  return {
    ready: readyP,
    async stop() {
      w.postMessage('stop');
      const lat = await done;
      await w.terminate();
      return lat;
    },
  };
}
