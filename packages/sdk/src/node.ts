// Measuring a request served by Node's own http server (Express, Koa and Fastify all sit on it).
// The response is recorded once, when it closes: finished, or abandoned by the client (code 499).
// The body size is the bytes passed to write/end, counted by a pass-through wrapper that hands
// every argument and the return value (backpressure) through untouched, so streamed responses
// keep streaming.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ABORTED_CODE, contentLength, type HttpMetrics, type RequestTimer } from './metrics.js';

type Chunk = string | Uint8Array | undefined | null | ((...a: unknown[]) => void);

function chunkBytes(chunk: Chunk, encoding: unknown): number {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return 0;
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk.byteLength;
}

/** What a measured response carries (under a symbol) for the shared wrappers below. */
interface Tracked {
  timer: RequestTimer;
  req: IncomingMessage;
  route: () => string | undefined;
  write: ServerResponse['write'];
  end: ServerResponse['end'];
  bytes: number;
}

const kTracked = Symbol('patrol.sdk.tracked');
type TrackedResponse = ServerResponse & { [kTracked]?: Tracked };

// One function each for every response (no closures per request): `this` is the response.
function countingWrite(this: TrackedResponse, chunk: Chunk, ...rest: unknown[]): boolean {
  const t = this[kTracked]!;
  t.bytes += chunkBytes(chunk, rest[0]);
  return (t.write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
}

function countingEnd(this: TrackedResponse, chunk?: Chunk, ...rest: unknown[]): ServerResponse {
  const t = this[kTracked]!;
  t.bytes += chunkBytes(chunk, rest[0]);
  return (t.end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
}

function onClose(this: TrackedResponse): void {
  const t = this[kTracked];
  if (!t) return;
  this.removeListener('close', onClose);
  let r: string | undefined;
  try {
    r = t.route();
  } catch {
    r = undefined;
  }
  t.timer.end(r, this.writableFinished ? this.statusCode : ABORTED_CODE, t.req.method === 'HEAD' ? 0 : t.bytes);
}

/** Starts measuring `req`; `route` is asked for the route template when the response closes. */
export function trackNodeRequest(metrics: HttpMetrics, req: IncomingMessage, res: ServerResponse, route: () => string | undefined): void {
  const tr = res as TrackedResponse;
  if (tr[kTracked]) return; // measured once, whatever the number of middlewares
  tr[kTracked] = { timer: metrics.start(req.method ?? 'GET', contentLength(req.headers['content-length'])), req, route, write: res.write, end: res.end, bytes: 0 };
  // The wrappers are own properties of this response only; `this` and all arguments pass through.
  res.write = countingWrite as ServerResponse['write'];
  res.end = countingEnd as ServerResponse['end'];
  res.on('close', onClose);
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
