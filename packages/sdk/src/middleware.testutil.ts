// One suite every framework's middleware runs: the same routes served with and without the
// middleware, over real HTTP on 127.0.0.1.
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { HttpMetrics } from './metrics.js';

/** A latch the /stream handler waits on between its two chunks; the test opens it. */
export class Gate {
  private waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  open(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export interface App {
  url: string;
  close(): Promise<void>;
}

/**
 * Builds the framework's app with these routes and listens on 127.0.0.1:0:
 *   GET /users/:id -> 200 JSON {"id": id}
 *   POST /orders   -> 201 JSON {"ok": true} (body not read)
 *   GET /fail      -> 500 text "boom"
 *   GET /stream    -> 200 text/plain, writes "a\n", waits for gate, then "b\n"
 *   anything else  -> the framework's 404
 * `metrics` undefined: no middleware.
 */
export type MakeApp = (metrics: HttpMetrics | undefined, gate: Gate) => Promise<App>;

interface Res {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

export function request(url: string, method = 'GET', body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body === undefined ? {} : { 'content-length': Buffer.byteLength(body), 'content-type': 'text/plain' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** GET /stream: resolves with the body once the first chunk has arrived before the gate opened. */
function streamRequest(url: string, gate: Gate): Promise<{ firstBeforeGate: string; body: string; status: number }> {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('the first chunk never arrived on its own: the response is buffered')), 10_000);
    http
      .get(`${url}/stream`, { agent }, (res) => {
        let body = '';
        let first = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (!first) {
            first = c;
            clearTimeout(guard);
            gate.open();
          }
          body += c;
        });
        res.on('end', () => resolve({ firstBeforeGate: first, body, status: res.statusCode ?? 0 }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function eventually(check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function value(reg: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = reg.getSingleMetric(name);
  assert.ok(m, `${name} registered`);
  const got = await m.get();
  const v = got.values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return v?.value;
}

export async function seriesCount(reg: Registry, name: string): Promise<number> {
  const m = reg.getSingleMetric(name);
  assert.ok(m);
  return (await m.get()).values.length;
}

export function frameworkSuite(name: string, make: MakeApp, opts: { streamedResponseSize: boolean }): void {
  describe(`${name} middleware`, () => {
    it('counts requests by method, route template and code, and times them', async () => {
      const registry = new Registry();
      const metrics = new HttpMetrics({ registry, defaultMetrics: false });
      const gate = new Gate();
      const app = await make(metrics, gate);
      try {
        assert.equal((await request(`${app.url}/users/1`)).status, 200);
        assert.equal((await request(`${app.url}/users/2`)).status, 200);
        assert.equal((await request(`${app.url}/orders`, 'POST', 'x'.repeat(500))).status, 201);
        assert.equal((await request(`${app.url}/fail`)).status, 500);
        assert.equal((await request(`${app.url}/nope/3`)).status, 404);
        const s = await streamRequest(app.url, gate);
        assert.equal(s.body, 'a\nb\n');
        await eventually(async () => {
          assert.equal(await value(registry, 'http_requests_total', { method: 'GET', route: '/users/:id', code: '200' }), 2);
          assert.equal(await value(registry, 'http_requests_total', { method: 'POST', route: '/orders', code: '201' }), 1);
          assert.equal(await value(registry, 'http_requests_total', { method: 'GET', route: '/fail', code: '500' }), 1);
          assert.equal(await value(registry, 'http_requests_total', { method: 'GET', route: 'unmatched', code: '404' }), 1);
          assert.equal(await value(registry, 'http_requests_total', { method: 'GET', route: '/stream', code: '200' }), 1);
          assert.equal(await value(registry, 'http_requests_in_flight', {}), 0);
        });
        assert.equal(await seriesCount(registry, 'http_requests_total'), 5);
        const dur = { method: 'GET', route: '/users/:id' };
        assert.equal(await value(registry, 'http_request_duration_seconds', { ...dur, le: '+Inf' }), 2);
        const text = await registry.metrics();
        assert.match(text, /^http_request_duration_seconds_count\{method="GET",route="\/users\/:id"\} 2$/m);
        assert.match(text, /^http_request_duration_seconds_bucket\{le="0\.5",method="GET",route="\/users\/:id"\} 2$/m);
        assert.match(text, /^http_request_size_bytes_sum\{method="POST",route="\/orders"\} 500$/m);
        assert.match(text, /^http_response_size_bytes_sum\{method="GET",route="\/users\/:id"\} 20$/m, 'two {"id":"N"} bodies');
        if (opts.streamedResponseSize) assert.match(text, /^http_response_size_bytes_sum\{method="GET",route="\/stream"\} 4$/m);
        else assert.doesNotMatch(text, /^http_response_size_bytes_count\{method="GET",route="\/stream"\}/m);
      } finally {
        await app.close();
      }
    });

    it('serves /metrics without counting the scrape', async () => {
      const registry = new Registry();
      const metrics = new HttpMetrics({ registry });
      const app = await make(metrics, new Gate());
      try {
        await request(`${app.url}/users/7`);
        const r = await request(`${app.url}/metrics`);
        assert.equal(r.status, 200);
        assert.match(String(r.headers['content-type']), /^text\/plain/);
        assert.match(r.body, /^http_requests_total\{method="GET",route="\/users\/:id",code="200"\} 1$/m);
        assert.match(r.body, /^nodejs_eventloop_lag_seconds /m);
        assert.doesNotMatch(r.body, /route="\/metrics"/);
      } finally {
        await app.close();
      }
    });

    it('keeps 10,000 distinct ids and unmatched paths to one series each', async () => {
      const registry = new Registry();
      const metrics = new HttpMetrics({ registry, defaultMetrics: false });
      const app = await make(metrics, new Gate());
      try {
        const n = 10_000;
        let next = 0;
        const worker = async () => {
          while (next < n) {
            const i = next++;
            const r = await request(i % 10 === 0 ? `${app.url}/scan/${i}/x` : `${app.url}/users/${i}`);
            assert.equal(r.status, i % 10 === 0 ? 404 : 200);
          }
        };
        await Promise.all(Array.from({ length: 16 }, worker));
        await eventually(async () => {
          assert.equal(await value(registry, 'http_requests_total', { route: '/users/:id' }), n - n / 10);
          assert.equal(await value(registry, 'http_requests_total', { route: 'unmatched' }), n / 10);
        });
        assert.equal(await seriesCount(registry, 'http_requests_total'), 2);
        const text = await registry.metrics();
        assert.ok(text.split('\n').length < 200, `exposition stays small (${text.split('\n').length} lines)`);
      } finally {
        await app.close();
      }
    });

    it('counts a response the client abandons as 499 and leaves nothing in flight', async () => {
      const registry = new Registry();
      const gate = new Gate();
      const app = await make(new HttpMetrics({ registry, defaultMetrics: false }), gate);
      try {
        await new Promise<void>((resolve, reject) => {
          const req = http.get(`${app.url}/stream`, (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          });
          req.on('error', (err) => {
            if (!req.destroyed) reject(err);
          });
        });
        await eventually(async () => {
          assert.equal(await value(registry, 'http_requests_total', { method: 'GET', route: '/stream', code: '499' }), 1);
          assert.equal(await value(registry, 'http_requests_in_flight', {}), 0);
        });
        gate.open();
        assert.equal(await seriesCount(registry, 'http_requests_total'), 1);
      } finally {
        gate.open();
        await app.close();
      }
    });

    it('never changes the response, streamed ones included', async () => {
      const gate = new Gate();
      const plain = await make(undefined, gate);
      const registry = new Registry();
      const instrumented = await make(new HttpMetrics({ registry, defaultMetrics: false }), gate);
      try {
        for (const [path, method, body] of [
          ['/users/42', 'GET', undefined],
          ['/orders', 'POST', 'hello'],
          ['/fail', 'GET', undefined],
          ['/nope', 'GET', undefined],
          ['/users/42', 'HEAD', undefined],
        ] as const) {
          const a = await request(`${plain.url}${path}`, method, body);
          const b = await request(`${instrumented.url}${path}`, method, body);
          assert.equal(b.status, a.status, `${method} ${path} status`);
          assert.equal(b.body, a.body, `${method} ${path} body`);
          for (const h of ['content-type', 'content-length', 'transfer-encoding']) assert.equal(b.headers[h], a.headers[h], `${method} ${path} ${h}`);
        }
        const a = await streamRequest(plain.url, gate);
        const b = await streamRequest(instrumented.url, gate);
        assert.deepEqual(b, a);
        assert.equal(b.firstBeforeGate, 'a\n', 'the first chunk arrives before the handler writes the second');
      } finally {
        await plain.close();
        await instrumented.close();
      }
    });
  });
}

export function listen(server: http.Server): Promise<App> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address() as { port: number };
      resolve({
        url: `http://127.0.0.1:${addr.port}`,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
