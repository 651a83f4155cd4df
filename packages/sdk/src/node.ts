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
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk.byteLength;
}

/** Starts measuring `req`; `route` is asked for the route template when the response closes. */
export function trackNodeRequest(metrics: HttpMetrics, req: IncomingMessage, res: ServerResponse, route: () => string | undefined): void {
  const timer = metrics.start(req.method ?? 'GET', contentLength(req.headers['content-length']));
  let bytes = 0;
  const write = res.write;
  const end = res.end;
  // The wrappers are own properties of this response only; `this` and all arguments pass through.
  res.write = function (this: ServerResponse, chunk: Chunk, ...rest: unknown[]) {
    bytes += chunkBytes(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: Chunk, ...rest: unknown[]) {
    bytes += chunkBytes(chunk, rest[0]);
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
  res.once('close', () => {
    let r: string | undefined;
    try {
      r = route();
    } catch {
      r = undefined;
    }
    timer.end(r, res.writableFinished ? res.statusCode : ABORTED_CODE, req.method === 'HEAD' ? 0 : bytes);
  });
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
