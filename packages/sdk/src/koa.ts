// Koa (2 and 3) with @koa/router (or koa-router): `app.use(koaMetrics())` before the router.
// The route label is the router's matched layer path (ctx._matchedRoute, prefixes included).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveMiddleware, type MiddlewareOptions } from './metrics.js';
import { track } from './node.js';

/** The parts of Koa's context this middleware uses (no dependency on @types/koa). */
export interface KoaContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  type: string;
  body: unknown;
  _matchedRoute?: unknown;
}

export type KoaMiddleware = (ctx: KoaContext, next: () => Promise<unknown>) => Promise<void>;

const routeOf = (ctx: KoaContext): string | undefined => (ctx._matchedRoute === undefined ? undefined : String(ctx._matchedRoute));

export function koaMetrics(opts: MiddlewareOptions = {}): KoaMiddleware {
  const { metrics, metricsPath } = resolveMiddleware(opts);
  return async function patrolMetrics(ctx, next) {
    if (metricsPath && ctx.method === 'GET' && ctx.path === metricsPath) {
      const { contentType, body } = await metrics.exposition();
      ctx.type = contentType;
      ctx.body = body;
      return;
    }
    track(metrics, ctx.req, ctx.res, routeOf, ctx);
    await next();
  };
}
