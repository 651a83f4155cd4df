// The HTTP edge's access rules, applied to every route by one onRequest hook: basic
// authentication with bcrypt hashes (Prometheus's web configuration `basic_auth_users`), CORS for
// read endpoints only (Prometheus's --web.cors.origin), and refusal of cross-site writes that a
// browser could send without a preflight (an HTML form or a no-cors fetch).

import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Secret } from '../config/secret.js';

export interface EdgeSettings {
  /** user → bcrypt hash; absent or empty: no authentication. */
  basicAuthUsers?: Record<string, Secret>;
  /** Origins allowed to read the API from a browser; absent: no CORS headers at all. */
  corsOrigin?: { readonly source: string; test(s: string): boolean };
}

/** Paths that answer POST but only read (Prometheus's API takes form POSTs for long queries). */
const READ_POSTS = new Set([
  '/api/v1/query',
  '/api/v1/query_range',
  '/api/v1/query_exemplars',
  '/api/v1/series',
  '/api/v1/labels',
  '/api/v1/format_query',
  '/api/v1/parse_query',
]);

/** Content types an HTML form (or a no-cors fetch) can send without a CORS preflight. */
const SIMPLE_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/**
 * Writes whose own page posts a form: the signed acknowledgement link (the signature in its URL
 * authorises it, not the caller's session, so a forged form gains nothing). Origin and
 * Sec-Fetch-Site checks still apply.
 */
const FORM_WRITE_PREFIXES = ['/api/patrol/v1/ack/'];

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** Whether the request only reads: GET, HEAD, OPTIONS, or a POST to a query endpoint. */
export function isReadRequest(method: string, url: string): boolean {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return true;
  return method === 'POST' && READ_POSTS.has(pathOf(url));
}

/**
 * Why a write request looks cross-site, or null. A write is refused when the browser says it
 * comes from another site (Sec-Fetch-Site), when its Origin is not this server's own, or when
 * it carries a content type a form can send (every Patrol write expects something else).
 */
export function crossSiteWriteReason(req: FastifyRequest): string | null {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `cross-site write refused (Sec-Fetch-Site: ${site})`;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host = '';
    try {
      host = new URL(origin).host;
    } catch {
      // "null" and other opaque origins are never this server.
    }
    if (host === '' || host !== req.headers.host) return 'cross-site write refused (Origin is not this server)';
  }
  const ct = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (SIMPLE_TYPES.includes(ct) && !FORM_WRITE_PREFIXES.some((p) => req.url.startsWith(p))) return `content type ${ct} is not accepted on this endpoint (it is what a cross-site form sends)`;
  return null;
}

interface Failure {
  count: number;
  first: number;
}

/**
 * Checks `Authorization: Basic` against bcrypt hashes. A verdict is cached per (user, password,
 * hash), so bcrypt's cost is paid once per credential, not once per request; concurrent checks
 * of the same credential share one bcrypt run. The cache is bounded and cleared when full.
 */
export class BasicAuthChecker {
  private readonly verdicts = new Map<string, Promise<boolean>>();
  private static readonly MAX_CACHED = 1024;
  /** A bcrypt hash compared for unknown users, so they take as long as known ones. */
  private static readonly DUMMY = '$2a$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

  verify(users: Record<string, Secret>, header: string | undefined): Promise<{ ok: boolean; user: string }> {
    const m = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
    if (!m) return Promise.resolve({ ok: false, user: '' });
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return Promise.resolve({ ok: false, user: '' });
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const known = Object.hasOwn(users, user);
    const hash = known ? users[user].reveal() : BasicAuthChecker.DUMMY;
    const key = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('base64');
    let verdict = this.verdicts.get(key);
    if (!verdict) {
      if (this.verdicts.size >= BasicAuthChecker.MAX_CACHED) this.verdicts.clear();
      verdict = bcrypt.compare(password, hash).catch(() => false);
      this.verdicts.set(key, verdict);
    }
    return verdict.then((ok) => ({ ok: ok && known, user }));
  }
}

/**
 * The onRequest hook for the whole server. `settings()` is read per request, so a reload that
 * changes users or the CORS origin takes effect at once. Failed logins are logged at most once
 * per minute (with the count since the last line), so a password guesser cannot flood the log.
 */
export function edgeHook(settings: () => EdgeSettings, log: Logger) {
  const checker = new BasicAuthChecker();
  let failure: Failure | null = null;
  const noteFailure = (req: FastifyRequest, user: string) => {
    const now = Date.now();
    if (failure && now - failure.first < 60_000) {
      failure.count++;
      return;
    }
    const suppressed = failure ? failure.count - 1 : 0;
    failure = { count: 1, first: now };
    log.warn({ remote: req.ip, user: user.slice(0, 64), path: pathOf(req.url).slice(0, 200), suppressed }, 'authentication failed');
  };

  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const s = settings();
    const origin = req.headers.origin;
    const preflight = req.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined;
    // A preflight is judged by the method it asks for: a POST to /-/reload gets no CORS.
    const read = isReadRequest(preflight ? String(req.headers['access-control-request-method']).toUpperCase() : req.method, req.url);
    const corsAllowed = read && origin !== undefined && s.corsOrigin !== undefined && s.corsOrigin.test(origin);
    if (corsAllowed) {
      reply.header('Access-Control-Allow-Origin', origin);
      reply.header('Access-Control-Allow-Headers', 'Accept, Authorization, Content-Type, Origin');
      reply.header('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      reply.header('Access-Control-Expose-Headers', 'Date');
      reply.header('Vary', 'Origin');
    }
    // A preflight carries no credentials; answer it before authentication, as browsers require.
    if (preflight) {
      await reply.code(corsAllowed ? 204 : 403).send();
      return;
    }
    const users = s.basicAuthUsers;
    if (users && Object.keys(users).length > 0) {
      const r = await checker.verify(users, req.headers.authorization);
      if (!r.ok) {
        noteFailure(req, r.user);
        await reply.code(401).header('WWW-Authenticate', 'Basic').type('text/plain; charset=utf-8').send('Unauthorized\n');
        return;
      }
    }
    if (!read) {
      const why = crossSiteWriteReason(req);
      if (why) await reply.code(403).type('text/plain; charset=utf-8').send(why + '\n');
    }
  };
}

/** The policy of every response that is not the dashboard's page: it loads nothing and is never framed. */
export const API_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * The dashboard page's policy: its own scripts, styles, images and API only, the inline scripts
 * whose hashes are given (the theme bootstrap in index.html), never framed.
 */
export function dashboardCsp(scriptHashes: string[]): string {
  const scripts = ["'self'", ...scriptHashes.map((h) => `'sha256-${h}'`)].join(' ');
  return `default-src 'self'; script-src ${scripts}; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;
}

/**
 * onSend hook: security headers on every response. A route that set its own
 * Content-Security-Policy (the dashboard) keeps it.
 */
export function securityHeadersHook() {
  return async (_req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Referrer-Policy', 'same-origin');
    if (!reply.hasHeader('content-security-policy')) reply.header('Content-Security-Policy', API_CSP);
    return payload;
  };
}
