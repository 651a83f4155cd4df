// Fastify (4 and 5): `await app.register(fastifyMetrics)` before the routes. The plugin is not
// encapsulated (skip-override), so its hook sees every route of the instance. The route label is
// request.routeOptions.url, the route template; requests no route matched have none.
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import { resolveMiddleware, type MiddlewareOptions } from './metrics.js';
import { trackNodeRequest } from './node.js';

function plugin(app: FastifyInstance, opts: MiddlewareOptions, done: (err?: Error) => void): void {
  const { metrics, metricsPath } = resolveMiddleware(opts);
  if (metricsPath) {
    app.get(metricsPath, async (_request, reply) => {
      const { contentType, body } = await metrics.exposition();
      return reply.type(contentType).send(body);
    });
  }
  app.addHook('onRequest', (request, reply, next) => {
    const url = request.routeOptions.url;
    if (!(metricsPath && url === metricsPath)) trackNodeRequest(metrics, request.raw, reply.raw, () => request.routeOptions.url);
    next();
  });
  done();
}

Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: '@patrol/sdk' });

export const fastifyMetrics = plugin as FastifyPluginCallback<MiddlewareOptions>;
