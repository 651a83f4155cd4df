// Request handling shared by the Alertmanager API's routes: errors in Alertmanager's shapes, JSON
// bodies as go-swagger takes them, and the filter, receiver and boolean query parameters.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { compileAnchoredRegex, parseMatchers, type Matcher } from '../model/matchers.js';
import { RegexBudgetError, withRegexBudget, type Regex } from '../model/regex.js';

/** An API error: Alertmanager answers most with a bare JSON string. */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** go-swagger's `{code, message}` form (parsing and schema errors) instead of a string. */
    readonly swaggerCode?: number,
  ) {
    super(message);
  }
}

export function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  if (!(e instanceof APIError)) throw e;
  reply.code(e.status).type('application/json');
  if (e.swaggerCode !== undefined) return reply.send(JSON.stringify({ code: e.swaggerCode, message: e.message }));
  return reply.send(JSON.stringify(e.message) + '\n');
}

/** The JSON body of a request, as go-swagger takes it: application/json only. */
export function jsonBody(req: FastifyRequest, what: string): unknown {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new APIError(415, `unsupported media type ${JSON.stringify(type)}, only [application/json] are allowed`, 415);
  }
  const text = typeof req.body === 'string' ? req.body : '';
  if (text.trim() === '') throw new APIError(422, `${what} in body is required`, 602);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new APIError(400, `parsing ${what} body from "" failed, because ${(e as Error).message}`, 400);
  }
}

export function parseBool(q: Record<string, unknown>, name: string, dflt: boolean): boolean {
  const v = q[name];
  if (v === undefined) return dflt;
  const s = String(Array.isArray(v) ? v[v.length - 1] : v);
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new APIError(400, `${name}: ${JSON.stringify(s)} is not a boolean`, 400);
}

export function parseFilter(q: Record<string, unknown>): Matcher[] {
  const raw = q.filter;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
  const out: Matcher[] = [];
  // One regex budget for all the filters of a request, as for a query.
  withRegexBudget(() => {
    for (const f of list) {
      try {
        out.push(...parseMatchers(f));
      } catch (e) {
        if (e instanceof RegexBudgetError) throw new APIError(400, `bad matcher format: ${e.message}`);
        throw new APIError(400, `bad matcher format: ${f}`);
      }
    }
  });
  return out;
}

export function receiverFilter(q: Record<string, unknown>): Regex | null {
  const r = q.receiver;
  if (r === undefined || r === '') return null;
  try {
    return compileAnchoredRegex(String(r));
  } catch (e) {
    throw new APIError(400, `failed to parse receiver param: ${(e as Error).message}`);
  }
}
