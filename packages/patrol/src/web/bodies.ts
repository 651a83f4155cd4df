// Bounds on request bodies beyond each route's bodyLimit: how long a body may take to arrive
// (server.request_timeout), and how many body bytes all requests together may hold while they
// are being received and handled (server.max_inflight_body_bytes). A client that trickles a body
// or leaves many large bodies unfinished cannot hold a connection or memory for long.

import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatDuration } from '../model/duration.js';

export interface BodyBounds {
  /** Longest a request body may take to arrive, ms; 0: no bound. */
  timeoutMs: number;
  /** Most body bytes held by all requests in flight; 0: no bound. */
  budgetBytes: number;
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Body bytes held by requests in flight, against one budget. */
export class BodyBudget {
  used = 0;
  /** Requests refused because the budget was spent (for a metric or a test). */
  refused = 0;

  take(n: number, limit: number): boolean {
    if (limit > 0 && this.used + n > limit) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used -= n;
  }
}

function hasBody(raw: IncomingMessage): boolean {
  const cl = raw.headers['content-length'];
  return raw.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

/**
 * The preParsing hook: counts each body's bytes against the budget as they arrive (a declared
 * Content-Length that does not fit is refused before reading), and fails a body not complete
 * within the timeout with 408. Refusals over the budget are 503 with Retry-After. The bytes are
 * given back when the response is done; a connection whose body was not read to the end is
 * closed once the answer is written.
 */
export function bodyBoundsHook(settings: () => BodyBounds, budget: BodyBudget) {
  return async (req: FastifyRequest, reply: FastifyReply, payload: NodeJS.ReadableStream & { receivedEncodedLength?: number }) => {
    const raw = req.raw;
    if (!hasBody(raw)) return payload;
    const s = settings();
    const overBudget = () => {
      budget.refused++;
      reply.header('Retry-After', '5');
      reply.header('Connection', 'close');
      return new HttpError(503, `too many request bodies in flight (server.max_inflight_body_bytes ${s.budgetBytes} bytes); retry later`);
    };
    const declared = Number(raw.headers['content-length']);
    if (s.budgetBytes > 0 && Number.isFinite(declared) && budget.used + declared > s.budgetBytes) {
      closeWhenAnswered(reply);
      throw overBudget();
    }
    let held = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
        if (!budget.take(chunk.length, s.budgetBytes)) {
          done(overBudget());
          return;
        }
        held += chunk.length;
        counted.receivedEncodedLength = held;
        done(null, chunk);
      },
    }) as Transform & { receivedEncodedLength: number };
    counted.receivedEncodedLength = 0;
    payload.on('error', (e: Error) => counted.destroy(e));
    payload.pipe(counted);
    const timer =
      s.timeoutMs > 0
        ? setTimeout(() => {
            if (raw.complete) return;
            reply.header('Connection', 'close');
            counted.destroy(new HttpError(408, `request body not received within server.request_timeout (${formatDuration(s.timeoutMs)})`));
          }, s.timeoutMs)
        : null;
    timer?.unref();
    closeWhenAnswered(reply);
    reply.raw.once('close', () => {
      if (timer) clearTimeout(timer);
      budget.give(held);
      held = 0;
    });
    return counted;
  };
}

/** After the answer is written, a connection whose request body was not read to the end is closed. */
function closeWhenAnswered(reply: FastifyReply): void {
  const raw = reply.request.raw;
  reply.raw.once('finish', () => {
    if (!raw.complete) raw.socket?.destroySoon();
  });
}
