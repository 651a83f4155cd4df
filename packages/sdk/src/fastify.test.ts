import Fastify from 'fastify';
import { PassThrough } from 'node:stream';
import { fastifyMetrics } from './fastify.js';
import { frameworkSuite, type App } from './middleware.testutil.js';

frameworkSuite(
  'Fastify',
  async (metrics, gate): Promise<App> => {
    const app = Fastify();
    if (metrics) await app.register(fastifyMetrics, { metrics });
    app.get<{ Params: { id: string } }>('/users/:id', async (req) => ({ id: req.params.id }));
    app.post('/orders', async (_req, reply) => reply.code(201).send({ ok: true }));
    app.get('/fail', async (_req, reply) => reply.code(500).type('text/plain').send('boom'));
    app.get('/stream', (_req, reply) => {
      const body = new PassThrough();
      body.write('a\n');
      void gate.wait().then(() => body.end('b\n'));
      return reply.type('text/plain').send(body);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const addr = app.server.address() as { port: number };
    return { url: `http://127.0.0.1:${addr.port}`, close: () => app.close() };
  },
  { streamedResponseSize: true },
);
