import Router from '@koa/router';
import Koa from 'koa';
import http from 'node:http';
import { PassThrough } from 'node:stream';
import { koaMetrics } from './koa.js';
import { frameworkSuite, listen } from './middleware.testutil.js';

frameworkSuite(
  'Koa',
  async (metrics, gate) => {
    const app = new Koa();
    if (metrics) app.use(koaMetrics({ metrics }));
    const router = new Router();
    router.get('/users/:id', (ctx) => {
      ctx.body = { id: ctx.params.id };
    });
    router.post('/orders', (ctx) => {
      ctx.status = 201;
      ctx.body = { ok: true };
    });
    router.get('/fail', (ctx) => {
      ctx.status = 500;
      ctx.body = 'boom';
    });
    router.get('/stream', (ctx) => {
      const body = new PassThrough();
      ctx.type = 'text/plain';
      ctx.body = body;
      body.write('a\n');
      void gate.wait().then(() => body.end('b\n'));
    });
    app.use(router.routes());
    return listen(http.createServer(app.callback()));
  },
  { streamedResponseSize: true },
);
