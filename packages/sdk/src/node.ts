// Measuring a request served by Node's own http server (Express, Koa and Fastify all sit on it).
// The response is recorded once, when it closes: finished, or abandoned by the client (code 499).
// The body size is the bytes passed to write/end, counted by a pass-through wrapper that hands
// every argument and the return value (backpressure) through untouched, so streamed responses
// keep streaming.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ABORTED_CODE, contentLength, type HttpMetrics } from './metrics.js';

type Chunk = string | Uint8Array | undefined | null | ((...a: unknown[]) => void);

function chunkBytes(chunk: Chunk, encoding: unknown): number {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return 0;
  if (typeof chunk === 'string') return typeof encoding === 'string' ? Buffer.byteLength(chunk, encoding as BufferEncoding) : Buffer.byteLength(chunk);
  return chunk.byteLength;
}

/**
 * What a measured response carries (under a symbol): one object of one shape per request, no
 * closure. `routeOf(ctx)` gives the route template when the response closes (`ctx` is the
 * framework's request or context object), or null to leave the request out (a scrape).
 */
class Tracking {
  readonly t0 = performance.now();
  bytes = 0;
  done = false;
  constructor(
    readonly metrics: HttpMetrics,
    readonly method: string,
    readonly requestBytes: number,
    readonly routeOf: (ctx: never) => string | undefined | null,
    readonly ctx: unknown,
    readonly write: ServerResponse['write'],
    readonly end: ServerResponse['end'],
  ) {}
}

const kTracked = Symbol('patrol.sdk.tracked');
type TrackedResponse = ServerResponse & { [kTracked]?: Tracking };

// One function each for every response (no closures per request): `this` is the response, and
// the arguments go through as they came (apply with `arguments`: the same count, no copy).
function countingWrite(this: TrackedResponse, chunk: Chunk, encoding?: unknown): boolean {
  const t = this[kTracked]!;
  t.bytes += chunkBytes(chunk, encoding);
  // eslint-disable-next-line prefer-rest-params
  return (t.write as (...a: unknown[]) => boolean).apply(this, arguments as unknown as unknown[]);
}

function countingEnd(this: TrackedResponse, chunk?: Chunk, encoding?: unknown): ServerResponse {
  const t = this[kTracked]!;
  t.bytes += chunkBytes(chunk, encoding);
  // eslint-disable-next-line prefer-rest-params
  return (t.end as (...a: unknown[]) => ServerResponse).apply(this, arguments as unknown as unknown[]);
}

function onClose(this: TrackedResponse): void {
  const t = this[kTracked];
  if (t === undefined || t.done) return;
  t.done = true;
  let r: string | undefined | null;
  try {
    r = (t.routeOf as (ctx: unknown) => string | undefined | null)(t.ctx);
  } catch {
    r = undefined;
  }
  if (r === null) {
    t.metrics.forget();
    return;
  }
  const seconds = (performance.now() - t.t0) / 1000;
  t.metrics.finish(t.method, r, this.writableFinished ? this.statusCode : ABORTED_CODE, seconds, t.requestBytes, t.method === 'HEAD' ? 0 : t.bytes);
}

/**
 * Starts measuring `req`; `routeOf(ctx)` is asked for the route template when the response
 * closes (null: not recorded). A response is measured once, whatever the number of middlewares.
 */
export function track<C>(metrics: HttpMetrics, req: IncomingMessage, res: ServerResponse, routeOf: (ctx: C) => string | undefined | null, ctx: C): void {
  const tr = res as TrackedResponse;
  if (tr[kTracked] !== undefined) return;
  metrics.begin();
  tr[kTracked] = new Tracking(metrics, req.method ?? 'GET', contentLength(req.headers['content-length']), routeOf, ctx, res.write, res.end);
  // The wrappers are own properties of this response only; `this` and all arguments pass through.
  res.write = countingWrite as ServerResponse['write'];
  res.end = countingEnd as ServerResponse['end'];
  res.on('close', onClose);
}

const callRoute = (route: () => string | undefined): string | undefined => route();

/** Starts measuring `req`; `route` is asked for the route template when the response closes. */
export function trackNodeRequest(metrics: HttpMetrics, req: IncomingMessage, res: ServerResponse, route: () => string | undefined): void {
  track(metrics, req, res, callRoute, route);
}

/** Whether `url` (path and query) asks for `path`. */
export function isPath(url: string | undefined, path: string): boolean {
  if (!url || !url.startsWith(path)) return false;
  return url.length === path.length || url[path.length] === '?';
}

/** Answers a scrape on a Node response. */
export async function serveMetrics(metrics: HttpMetrics, res: ServerResponse): Promise<void> {
  try {
    const { contentType, body } = await metrics.exposition();
    res.statusCode = 200;
    res.setHeader('Content-Type', contentType);
    res.end(body);
  } catch (err) {
    res.statusCode = 500;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(`collecting metrics failed: ${(err as Error).message}\n`);
  }
}
