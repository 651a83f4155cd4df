// Express (4 and 5): `app.use(expressMetrics())` before the routes.
// The route label is the matched route's path under its router's mount point (req.baseUrl +
// req.route.path), read when the response closes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveMiddleware, type MiddlewareOptions } from './metrics.js';
import { isPath, serveMetrics, track } from './node.js';

/** The parts of Express's request this middleware reads (no dependency on @types/express). */
export interface ExpressRequest extends IncomingMessage {
  route?: { path?: unknown };
  baseUrl?: string;
}

export type ExpressMiddleware = (req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void) => void;

function routePath(p: unknown): string {
  if (typeof p === 'string') return p;
  if (Array.isArray(p)) return p.map(routePath).join('|');
  return String(p);
}

const routeOf = (req: ExpressRequest): string | undefined => (req.route ? (req.baseUrl ?? '') + routePath(req.route.path) : undefined);

export function expressMetrics(opts: MiddlewareOptions = {}): ExpressMiddleware {
  const { metrics, metricsPath } = resolveMiddleware(opts);
  return function patrolMetrics(req, res, next) {
    if (metricsPath && req.method === 'GET' && isPath(req.url, metricsPath)) {
      void serveMetrics(metrics, res);
      return;
    }
    track(metrics, req, res, routeOf, req);
    next();
  };
}
