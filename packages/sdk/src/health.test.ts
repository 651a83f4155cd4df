import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { Hono } from 'hono';
import { health, httpCheck, type HealthReport } from './health.js';
import { listen, request } from './middleware.testutil.js';

const never = () => new Promise(() => undefined);

describe('health checks', () => {
  it('reports each check: up, false, throwing, rejected, hanging, slow', async () => {
    const h = health({
      timeout: 100,
      cacheMs: 0,
      checks: {
        ok: () => undefined,
        falsy: () => false,
        throws: () => {
          throw new Error('boom\nwith   spaces');
        },
        rejects: () => Promise.reject(new Error('connection refused')),
        rejectsString: () => Promise.reject('plain'),
        hangs: never,
        slow: () => new Promise((r) => setTimeout(r, 20)),
      },
    });
    const r = await h.ready();
    assert.equal(r.statusCode, 503);
    const body = r.body as HealthReport;
    assert.equal(body.status, 'down');
    const c = body.checks;
    assert.equal(c.ok!.status, 'up');
    assert.equal(c.ok!.error, undefined);
    assert.deepEqual({ ...c.falsy, latency_ms: 0 }, { status: 'down', critical: true, latency_ms: 0, error: 'check returned false' });
    assert.equal(c.throws!.error, 'boom with spaces');
    assert.equal(c.rejects!.error, 'connection refused');
    assert.equal(c.rejectsString!.error, 'plain');
    assert.equal(c.hangs!.status, 'down');
    assert.equal(c.hangs!.error, 'timed out after 100ms');
    assert.ok(c.hangs!.latency_ms >= 50, `a hung check is given its whole timeout (${c.hangs!.latency_ms}ms)`);
    assert.equal(c.slow!.status, 'up', 'a slow check within the timeout is up');
    assert.deepEqual(Object.keys(c), ['ok', 'falsy', 'throws', 'rejects', 'rejectsString', 'hangs', 'slow']);
  });

  it('answers 200 degraded when only non-critical checks fail, and the signal aborts at the timeout', async () => {
    let aborted: unknown;
    const h = health({
      timeout: 50,
      critical: ['db'],
      checks: {
        db: () => true,
        cache: (signal) =>
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => {
              aborted = signal.reason;
              reject(new Error('should not be the reported error'));
            }),
          ),
      },
    });
    const r = await h.ready();
    assert.equal(r.statusCode, 200);
    const body = r.body as HealthReport;
    assert.equal(body.status, 'degraded');
    assert.deepEqual(
      { ...body.checks.cache, latency_ms: 0 },
      { status: 'down', critical: false, latency_ms: 0, error: 'timed out after 50ms' },
    );
    assert.match(String(aborted), /timed out after 50ms/);
    assert.deepEqual(h.live(), { statusCode: 200, body: { status: 'up' } });
    assert.throws(() => health({ checks: { db: () => true }, critical: ['dbb'] }), /critical check "dbb" is not among the checks \(db\)/);
  });

  it('caches a result and shares a run between concurrent requests', async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = health({
      cacheMs: 60_000,
      checks: {
        db: async () => {
          calls++;
          await gate;
        },
      },
    });
    const pending = Array.from({ length: 50 }, () => h.ready());
    release();
    const all = await Promise.all(pending);
    assert.equal(calls, 1);
    assert.ok(all.every((r) => r.statusCode === 200));
    await h.ready();
    assert.equal(calls, 1, 'reused within cacheMs');
    const fresh = health({ cacheMs: 0, checks: { db: () => void calls++ } });
    await fresh.ready();
    await fresh.ready();
    assert.equal(calls, 3, 'cacheMs 0 runs per request');
  });

  it('httpCheck: 2xx up, 500 and refused down, query string kept out of errors', async () => {
    const upstream = await listen(
      http.createServer((req, res) => {
        res.statusCode = req.url?.startsWith('/bad') ? 500 : 200;
        res.end('x');
      }),
    );
    const closed = await listen(http.createServer());
    const closedUrl = closed.url;
    await closed.close();
    try {
      const h = health({
        cacheMs: 0,
        checks: {
          good: httpCheck(`${upstream.url}/ok`),
          bad: httpCheck(`${upstream.url}/bad?token=s3cret`),
          refused: httpCheck(`${closedUrl}/x`),
          expected: httpCheck(`${upstream.url}/bad`, { expect: [500] }),
        },
      });
      const body = (await h.ready()).body as HealthReport;
      assert.equal(body.checks.good!.status, 'up');
      assert.equal(body.checks.bad!.error, `${upstream.url}/bad answered 500`);
      assert.equal(body.checks.refused!.status, 'down');
      assert.match(body.checks.refused!.error!, /ECONNREFUSED/);
      assert.equal(body.checks.expected!.status, 'up');
      assert.doesNotMatch(JSON.stringify(body), /s3cret/);
    } finally {
      await upstream.close();
    }
  });
});

describe('health endpoints on each framework', () => {
  const checks = { db: () => Promise.reject(new Error('db down')), cache: () => true };
  const opts = { checks, critical: ['db'], cacheMs: 0 };

  async function expectEndpoints(url: string): Promise<void> {
    const live = await request(`${url}/health`);
    assert.equal(live.status, 200);
    assert.deepEqual(JSON.parse(live.body), { status: 'up' });
    const ready = await request(`${url}/ready`);
    assert.equal(ready.status, 503);
    assert.match(String(ready.headers['content-type']), /^application\/json/);
    const body = JSON.parse(ready.body) as HealthReport;
    assert.equal(body.status, 'down');
    assert.equal(body.checks.db!.error, 'db down');
    assert.equal(body.checks.cache!.status, 'up');
    assert.equal((await request(`${url}/other`)).status, 404);
  }

  it('Node http / Express', async () => {
    const app = express();
    app.use(health(opts).node());
    const srv = await listen(http.createServer(app));
    try {
      await expectEndpoints(srv.url);
    } finally {
      await srv.close();
    }
    const bare = await listen(http.createServer(health(opts).node()));
    try {
      await expectEndpoints(bare.url);
    } finally {
      await bare.close();
    }
  });

  it('Fastify', async () => {
    const app = Fastify();
    health(opts).fastify(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await expectEndpoints(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
    } finally {
      await app.close();
    }
  });

  it('Koa', async () => {
    const app = new Koa();
    app.use(health(opts).koa());
    const srv = await listen(http.createServer(app.callback()));
    try {
      await expectEndpoints(srv.url);
    } finally {
      await srv.close();
    }
  });

  it('Hono', async () => {
    const app = new Hono();
    app.use(health(opts).hono());
    app.get('/x', (c) => c.text('x'));
    const ready = await app.fetch(new Request('http://x/ready'));
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as HealthReport).checks.db!.error, 'db down');
    assert.equal((await app.fetch(new Request('http://x/health'))).status, 200);
    assert.equal(await (await app.fetch(new Request('http://x/x'))).text(), 'x');
  });
});
