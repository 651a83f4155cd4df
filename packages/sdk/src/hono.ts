// Hono (4): `app.use(honoMetrics())` before the routes. The route label is the path the
// responding handler was registered with. Under @hono/node-server the request is measured on
// Node's own response like the other frameworks (until the body is sent, its bytes counted).
// On other runtimes Hono hands middlewares only a Request/Response pair, so the duration runs
// until the handler returns its Response (time to headers for a streamed body), and the
// response size is its Content-Length when it has one (a body without one is not observed, and
// never wrapped).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { contentLength, resolveMiddleware, type MiddlewareOptions } from './metrics.js';
import { trackNodeRequest } from './node.js';

interface RouteInfo {
  routeIndex?: number;
  matchedRoutes?: { path: string }[];
}

interface NodeEnv {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

export function honoMetrics(opts: MiddlewareOptions = {}): MiddlewareHandler {
  const { metrics, metricsPath } = resolveMiddleware(opts);
  return async function patrolMetrics(c, next) {
    if (metricsPath && c.req.method === 'GET' && c.req.path === metricsPath) {
      const { contentType, body } = await metrics.exposition();
      return c.body(body, 200, { 'Content-Type': contentType });
    }
    const req = c.req as unknown as RouteInfo;
    const own = req.routeIndex;
    // Still our own index after next(): no later handler ran, so no route matched (notFound).
    const matched = (): string | undefined => {
      const idx = req.routeIndex;
      return idx !== undefined && idx !== own ? req.matchedRoutes?.[idx]?.path : undefined;
    };
    const env = c.env as NodeEnv | undefined;
    if (env && typeof env.outgoing?.once === 'function' && env.incoming) {
      let route: string | undefined;
      trackNodeRequest(metrics, env.incoming, env.outgoing, () => route);
      try {
        await next();
      } finally {
        route = matched();
      }
      return;
    }
    const timer = metrics.start(c.req.method, contentLength(c.req.header('content-length')));
    let ok = false;
    try {
      await next();
      ok = true;
    } finally {
      if (ok) {
        const len = c.res.headers.get('content-length');
        timer.end(matched(), c.res.status, len === null ? undefined : contentLength(len));
      } else timer.end(matched(), 500, undefined);
    }
  };
}
