import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Registry } from 'prom-client';
import { HttpMetrics } from './metrics.js';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type http from 'node:http';
import { honoMetrics } from './hono.js';
import { frameworkSuite, listen } from './middleware.testutil.js';

frameworkSuite(
  'Hono',
  async (metrics, gate) => {
    const app = new Hono();
    if (metrics) app.use(honoMetrics({ metrics }));
    app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));
    app.post('/orders', (c) => c.json({ ok: true }, 201));
    app.get('/fail', (c) => c.text('boom', 500));
    app.get('/stream', (c) => {
      const enc = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        start(ctrl) {
          ctrl.enqueue(enc.encode('a\n'));
          void gate.wait().then(() => {
            try {
              ctrl.enqueue(enc.encode('b\n'));
              ctrl.close();
            } catch {
              // the client went away and the server cancelled the stream
            }
          });
        },
      });
      return c.body(body, 200, { 'Content-Type': 'text/plain' });
    });
    return listen(createAdaptorServer({ fetch: app.fetch }) as http.Server);
  },
  { streamedResponseSize: true },
);

// Without @hono/node-server (Bun, Deno, Workers): app.fetch called directly, measured on the
// Response.

it('Hono without Node objects records from the Response', async () => {
  const registry = new Registry();
  const app = new Hono();
  app.use(honoMetrics({ metrics: new HttpMetrics({ registry, defaultMetrics: false }) }));
  app.get('/users/:id', (c) => c.text('x'.repeat(42)));
  assert.equal((await app.fetch(new Request('http://x/users/9'))).status, 200);
  assert.equal((await app.fetch(new Request('http://x/none'))).status, 404);
  const text = await registry.metrics();
  assert.match(text, /^http_requests_total\{method="GET",route="\/users\/:id",code="200"\} 1$/m);
  assert.match(text, /^http_requests_total\{method="GET",route="unmatched",code="404"\} 1$/m);
  assert.match(text, /^http_requests_in_flight 0$/m);
});
