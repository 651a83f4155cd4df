// Fastify (4 and 5): `await app.register(fastifyMetrics)` before the routes. The plugin is not
// encapsulated (skip-override), so its hook sees every route of the instance. The route label is
// request.routeOptions.url, the route template, read once when the response closes; requests no
// route matched have none. One onRequest hook and no per-request closure: the hook's cost is
// most of what the plugin adds to a request (see bench/sdk.bench.ts).
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { resolveMiddleware, type MiddlewareOptions } from './metrics.js';
import { track } from './node.js';

const routeOf = (request: FastifyRequest): string | undefined => request.routeOptions.url;

function plugin(app: FastifyInstance, opts: MiddlewareOptions, done: (err?: Error) => void): void {
  const { metrics, metricsPath } = resolveMiddleware(opts);
  let route: (request: FastifyRequest) => string | undefined | null = routeOf;
  if (metricsPath) {
    app.get(metricsPath, async (_request, reply) => {
      const { contentType, body } = await metrics.exposition();
      return reply.type(contentType).send(body);
    });
    // The scrape itself is left out (null).
    route = (request) => {
      const url = request.routeOptions.url;
      return url === metricsPath ? null : url;
    };
  }
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, next: () => void) => {
    track(metrics, request.raw, reply.raw, route, request);
    next();
  });
  done();
}

Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: '@patrol/sdk' });

export const fastifyMetrics = plugin as FastifyPluginCallback<MiddlewareOptions>;
