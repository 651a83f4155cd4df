// The demo service of Patrol's tour: a small orders/users API instrumented with @patrol/sdk
// (Fastify middleware, /metrics, /health and /ready with dependency checks), with runtime
// switches that break it on purpose so Patrol's probes, rules and notifications have something
// to show. It sends itself a little traffic (DEMO_TRAFFIC requests per second, default 20) so the
// request rates and error ratios are never empty.
//
//   node --import tsx examples/demo/demo.ts        (listens on DEMO_LISTEN, default 127.0.0.1:8090)
//
// Faults (all off at start), set with POST /faults?name=value, cleared with DELETE /faults,
// listed with GET /faults:
//   error_rate=0.3     answer that share of the API requests with 500
//   latency_ms=800     add that many milliseconds to every API request
//   leak_mb=5          keep that many MB more in memory every second (a memory leak)
//   task_leak=20       start that many never-ending background tasks (timers) every second
//   dependency_down=1  the "database" check fails: /ready answers 503, the API answers 503
//   crash=1            exit the process at once (exit code 1)
import Fastify from 'fastify';
import { health } from '@patrol/sdk';
import { fastifyMetrics } from '@patrol/sdk/fastify';

interface Faults {
  error_rate: number;
  latency_ms: number;
  leak_mb: number;
  task_leak: number;
  dependency_down: boolean;
}

const NONE: Faults = { error_rate: 0, latency_ms: 0, leak_mb: 0, task_leak: 0, dependency_down: false };
const faults: Faults = { ...NONE };
const LIMITS: Record<keyof Faults, number> = { error_rate: 1, latency_ms: 30_000, leak_mb: 100, task_leak: 1_000, dependency_down: 1 };

const listen = process.env.DEMO_LISTEN ?? '127.0.0.1:8090';
const colon = listen.lastIndexOf(':');
const host = listen.slice(0, colon) || '127.0.0.1';
const port = Number(listen.slice(colon + 1));
const traffic = Math.min(Math.max(Number(process.env.DEMO_TRAFFIC ?? 20), 0), 500);

// What the faults hold on to.
const leaked: Buffer[] = [];
const tasks: NodeJS.Timeout[] = [];
let leakedBytes = 0;
const LEAK_CAP = 1024 * 1024 * 1024; // stop leaking at 1 GB: the demo breaks, not the machine

const orders = new Map<number, { id: number; user: number; total: number; status: string }>();
for (let i = 1; i <= 100; i++) orders.set(i, { id: i, user: (i % 10) + 1, total: 10 + ((i * 37) % 200), status: i % 7 ? 'paid' : 'refunded' });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The "database": answers in a few milliseconds, or fails while dependency_down is on.
async function database(): Promise<void> {
  await sleep(2 + Math.random() * 3);
  if (faults.dependency_down) throw new Error('connection refused (demo fault dependency_down)');
}

const h = health({ checks: { database, cache: () => true }, critical: ['database'], timeout: 1000, cacheMs: 1000 });

const app = Fastify();
await app.register(fastifyMetrics);
h.fastify(app);

// Every API route goes through the faults.
app.addHook('preHandler', async (req, reply) => {
  const url = req.routeOptions.url ?? '';
  if (!url.startsWith('/api/')) return;
  if (faults.latency_ms > 0) await sleep(faults.latency_ms);
  if (faults.dependency_down) return reply.code(503).send({ error: 'database unavailable' });
  if (faults.error_rate > 0 && Math.random() < faults.error_rate) return reply.code(500).send({ error: 'injected error (demo fault error_rate)' });
});

app.get('/api/orders', async () => ({ orders: [...orders.values()].slice(-20) }));
app.get<{ Params: { id: string } }>('/api/orders/:id', async (req, reply) => {
  const o = orders.get(Number(req.params.id));
  return o ?? reply.code(404).send({ error: 'no such order' });
});
app.post<{ Body: { user?: number; total?: number } }>('/api/orders', async (req, reply) => {
  const id = orders.size + 1;
  const o = { id, user: Number(req.body?.user ?? 1), total: Number(req.body?.total ?? 0), status: 'new' };
  if (orders.size < 10_000) orders.set(id, o);
  return reply.code(201).send(o);
});
app.get<{ Params: { id: string } }>('/api/users/:id', async (req, reply) => {
  const id = Number(req.params.id);
  if (!(id >= 1 && id <= 10)) return reply.code(404).send({ error: 'no such user' });
  return { id, name: `user${id}`, orders: [...orders.values()].filter((o) => o.user === id).length };
});

app.get('/faults', async () => faults);
app.delete('/faults', async () => {
  Object.assign(faults, NONE);
  leaked.length = 0;
  leakedBytes = 0;
  for (const t of tasks.splice(0)) clearInterval(t);
  console.log('demo: faults cleared');
  return faults;
});
app.post<{ Querystring: Record<string, string> }>('/faults', async (req, reply) => {
  const q = { ...(req.query ?? {}), ...((req.body as Record<string, string> | undefined) ?? {}) };
  if (q.crash !== undefined) {
    console.log('demo: crashing on request (demo fault crash)');
    setImmediate(() => process.exit(1));
    return { crashing: true };
  }
  for (const [k, v] of Object.entries(q)) {
    if (!(k in NONE)) return reply.code(400).send({ error: `unknown fault ${JSON.stringify(k)}; known: ${Object.keys(NONE).join(', ')}, crash` });
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > LIMITS[k as keyof Faults]) return reply.code(400).send({ error: `${k} must be a number from 0 to ${LIMITS[k as keyof Faults]}` });
    if (k === 'dependency_down') faults.dependency_down = n > 0;
    else faults[k as Exclude<keyof Faults, 'dependency_down'>] = n;
  }
  console.log(`demo: faults now ${JSON.stringify(faults)}`);
  return faults;
});

// The leaks, once a second.
setInterval(() => {
  if (faults.leak_mb > 0 && leakedBytes < LEAK_CAP) {
    const b = Buffer.alloc(faults.leak_mb * 1024 * 1024, 1); // filled, so the pages are really used
    leaked.push(b);
    leakedBytes += b.length;
  }
  for (let i = 0; i < faults.task_leak && tasks.length < 100_000; i++) {
    const state = { ticks: 0 };
    tasks.push(setInterval(() => state.ticks++, 60_000));
  }
}, 1000).unref();

await app.listen({ host, port });
const base = `http://${host.includes(':') ? `[${host}]` : host}:${(app.server.address() as { port: number }).port}`;
console.log(`demo: listening on ${base} (API /api/orders, /api/users/:id; /metrics, /health, /ready, /faults)`);

// Self-traffic: a mix of reads and writes, `traffic` per second.
if (traffic > 0) {
  const paths = ['/api/orders', '/api/orders/7', '/api/orders/42', '/api/users/3', '/api/orders/999'];
  let n = 0;
  setInterval(() => {
    n++;
    const post = n % 10 === 0;
    const path = post ? '/api/orders' : paths[n % paths.length];
    fetch(base + path, post ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":2,"total":30}' } : {})
      .then((r) => r.arrayBuffer())
      .catch(() => {});
  }, 1000 / traffic).unref();
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void app.close().then(() => process.exit(0));
  });
}
