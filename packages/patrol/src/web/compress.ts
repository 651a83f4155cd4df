// Compressed JSON answers for the dashboard's large reads (the overview is ~350 bytes per probe,
// 3.5 MB at 10,000 probes): brotli or gzip as the client accepts, at a fast level, on libuv's
// thread pool (zlib's async API) so a large body never stalls the event loop.

import { promisify } from 'node:util';
import { brotliCompress, constants as zc, gzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

const br = promisify(brotliCompress);
const gz = promisify(gzip);

/** Bodies below this are sent as they are: compressing them saves less than it costs. */
const MIN_BYTES = 1024;

/** The encoding to use for an Accept-Encoding header: br, gzip or null (identity). */
export function pickEncoding(accept: string | undefined): 'br' | 'gzip' | null {
  if (!accept) return null;
  const ok = new Map<string, number>();
  for (const part of accept.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (name) ok.set(name.trim(), Number.isFinite(q) ? q : 0);
  }
  const star = ok.get('*') ?? 0;
  const qOf = (n: string) => ok.get(n) ?? star;
  if (qOf('br') > 0) return 'br';
  if (qOf('gzip') > 0) return 'gzip';
  return null;
}

/** Sends a JSON text, compressed when the client accepts it and the body is worth it. */
export async function sendJsonText(req: FastifyRequest, reply: FastifyReply, text: string): Promise<FastifyReply> {
  reply.type('application/json; charset=utf-8').header('Vary', 'Accept-Encoding');
  const enc = text.length >= MIN_BYTES ? pickEncoding(req.headers['accept-encoding']) : null;
  if (!enc) return reply.send(text);
  const raw = Buffer.from(text, 'utf8');
  const body =
    enc === 'br'
      ? await br(raw, { params: { [zc.BROTLI_PARAM_QUALITY]: 4, [zc.BROTLI_PARAM_SIZE_HINT]: raw.length, [zc.BROTLI_PARAM_MODE]: zc.BROTLI_MODE_TEXT } })
      : await gz(raw, { level: 4 });
  return reply.header('Content-Encoding', enc).send(body);
}
