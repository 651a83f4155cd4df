// Authentication and authorisation for every route when server.auth is configured: API tokens
// (Authorization: Bearer), dashboard sessions (an HttpOnly SameSite=Strict cookie, with a CSRF
// token header required on writes), and Prometheus web.config basic auth users on the routes
// the role table marks. Failed credentials are rate limited per client address. Every write is
// written to the audit log.

import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/patrol.js';
import { parseDuration } from '../model/duration.js';
import { AuthStore, verifyPassword, type Identity } from './auth_store.js';
import { recordChange } from './audit_change.js';
import { requiredRole, roleAtLeast, ROLES, type Role } from './roles.js';
import { BasicAuthChecker, isReadRequest } from './security.js';

export const SESSION_COOKIE = 'patrol_session';
export const CSRF_HEADER = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyRequest {
    patrolIdentity?: Identity;
  }
}

/** Failures per client address in the current minute; bounded, cleared when full. */
export class FailureLimiter {
  private readonly counts = new Map<string, { n: number; start: number }>();
  constructor(private readonly perMinute: () => number) {}

  /** Seconds to wait when the address is over its budget, else 0. */
  blocked(key: string, now = Date.now()): number {
    const c = this.counts.get(key);
    if (!c || now - c.start >= 60_000) return 0;
    return c.n >= this.perMinute() ? Math.ceil((c.start + 60_000 - now) / 1000) : 0;
  }

  fail(key: string, now = Date.now()): void {
    let c = this.counts.get(key);
    if (!c || now - c.start >= 60_000) {
      if (this.counts.size >= 10_000) this.counts.clear();
      c = { n: 0, start: now };
      this.counts.set(key, c);
    }
    c.n++;
  }
}

export function cookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const SECRET_KEY = /pass|secret|token|key|auth|cookie|credential/i;

/** A request body for the audit log: secret-looking fields masked, bounded in size. */
export function maskForAudit(v: unknown, depth = 0): unknown {
  if (depth > 6) return '…';
  // A binary body (remote write) is recorded by its size: Object.entries of a 12.6 MB Buffer
  // made 12.6 M entries and held the event loop for 30-60 s with 2-3 GB of garbage.
  if (ArrayBuffer.isView(v)) return `<${v.byteLength} bytes>`;
  if (v instanceof ArrayBuffer) return `<${v.byteLength} bytes>`;
  if (Array.isArray(v)) return v.slice(0, 50).map((x) => maskForAudit(x, depth + 1));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      if (++n > 100) break;
      const x = (v as Record<string, unknown>)[k];
      out[k] = SECRET_KEY.test(k) ? '<secret>' : maskForAudit(x, depth + 1);
    }
    return out;
  }
  if (typeof v === 'string') return v.length > 1000 ? v.slice(0, 1000) + '…' : v;
  return v;
}

export interface AuthDeps {
  config: () => ServerConfig | undefined;
  store: () => AuthStore | null;
  /** Whether the listener is HTTPS (cookies get Secure). */
  secure: () => boolean;
  log: Logger;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The onRequest hook; does nothing when server.auth is absent. */
export function authHook(d: AuthDeps) {
  const basic = new BasicAuthChecker();
  const limiter = new FailureLimiter(() => d.config()?.auth?.failures_per_minute ?? 10);
  let lastLog = 0;
  let suppressed = 0;
  const refuse = async (req: FastifyRequest, reply: FastifyReply, code: number, why: string, failure: boolean) => {
    if (failure) {
      limiter.fail(req.ip);
      const now = Date.now();
      if (now - lastLog >= 60_000) {
        d.log.warn({ remote: req.ip, path: req.url.split('?')[0].slice(0, 200), reason: why, suppressed }, 'authentication failed');
        lastLog = now;
        suppressed = 0;
      } else suppressed++;
    }
    if (code === 401) reply.header('WWW-Authenticate', 'Bearer realm="patrol"');
    await reply.code(code).send({ status: 'error', errorType: code === 401 ? 'unauthorized' : code === 429 ? 'too_many_requests' : 'forbidden', error: why });
  };

  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const server = d.config();
    const auth = server?.auth;
    if (!auth) return;
    const { need, rule } = requiredRole(req.method, req.routeOptions?.url, req.url);
    if (need === 'public') return;
    const store = d.store();
    if (!store) return void (await reply.code(503).send({ status: 'error', errorType: 'unavailable', error: 'starting' }));
    const wait = limiter.blocked(req.ip);
    const header = req.headers.authorization;
    let id: Identity | null = null;
    if (header !== undefined) {
      if (wait > 0) {
        reply.header('Retry-After', String(wait));
        return refuse(req, reply, 429, 'too many failed attempts from this address; try again later', false);
      }
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (bearer) {
        const r = store.checkToken(bearer[1]);
        if ('refused' in r) return refuse(req, reply, 401, r.refused, true);
        id = r;
      } else if (/^Basic\s/i.test(header)) {
        const users = server.basic_auth_users ?? {};
        const r = await basic.verify(users, header);
        if (!r.ok) return refuse(req, reply, 401, 'wrong user or password', true);
        id = { name: `basic:${r.user}`, role: 'prometheus', via: 'basic' };
      } else return refuse(req, reply, 401, 'unsupported Authorization scheme (use Bearer TOKEN)', true);
    } else {
      const sid = cookie(req, SESSION_COOKIE);
      id = sid ? store.session(sid) : null;
      if (!id) return refuse(req, reply, 401, sid ? 'session expired; log in again' : 'authentication required', false);
      if (!isReadRequest(req.method, req.url)) {
        const token = req.headers[CSRF_HEADER];
        if (typeof token !== 'string' || !equal(token, id.csrf ?? '')) return refuse(req, reply, 403, `a write with a session needs the ${CSRF_HEADER} header from login or whoami`, false);
      }
    }
    if (id.role === 'prometheus') {
      if (!rule.prometheus) return refuse(req, reply, 403, 'basic_auth_users may call /metrics, /federate and remote write only', false);
    } else if (!roleAtLeast(id.role, need)) {
      return refuse(req, reply, 403, `role ${id.role} may not do this (needs ${need})`, false);
    }
    req.patrolIdentity = id;
  };
}

/** onResponse hook: every write (and every login) goes to the audit log. */
export function auditHook(d: AuthDeps) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (isReadRequest(req.method, req.url)) return;
    const store = d.store();
    if (!store) return;
    const id = req.patrolIdentity;
    // With server.auth, refused requests are not recorded (they are rate limited and logged), so
    // an anonymous flood cannot fill the disk.
    if (d.config()?.auth && !id) return;
    try {
      store.audit({
        who: id?.name ?? 'anonymous',
        via: id?.via ?? 'none',
        remote: req.ip,
        method: req.method,
        path: req.url.slice(0, 2000),
        status: reply.statusCode,
        what: maskForAudit(req.body ?? null),
        before: req.patrolChange?.before,
        after: req.patrolChange?.after,
      });
    } catch (e) {
      d.log.error({ err: e }, 'writing the audit log failed');
    }
  };
}

/**
 * Starts a dashboard session for a caller who proved who they are (a password or an OIDC login):
 * sets the HttpOnly SameSite=Strict cookie and answers the CSRF token writes must carry.
 */
export function startSession(d: AuthDeps, req: FastifyRequest, reply: FastifyReply, id: Identity & { role: Role }, source: 'local' | 'oidc' = 'local'): string {
  const ttl = d.config()?.auth?.session_ttl ?? 12 * 3600 * 1000;
  const s = d.store()!.createSession(id.name, id.role, ttl, Date.now(), { team: id.team, source });
  req.patrolIdentity = id;
  const attrs = ['Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.floor(ttl / 1000)}`, ...(d.secure() ? ['Secure'] : [])];
  reply.header('Set-Cookie', `${SESSION_COOKIE}=${s.id}; ${attrs.join('; ')}`);
  return s.csrf;
}

/** Login, logout, whoami, tokens and the audit log under /api/patrol/v1. */
export function registerAuthAPI(app: FastifyInstance, d: AuthDeps): void {
  const limiter = new FailureLimiter(() => d.config()?.auth?.failures_per_minute ?? 10);
  const off = (reply: FastifyReply) => reply.code(404).send({ status: 'error', errorType: 'not_found', error: 'server.auth is not configured' });
  const bad = (reply: FastifyReply, error: string) => reply.code(400).send({ status: 'error', errorType: 'bad_data', error });
  const body = (req: FastifyRequest): Record<string, unknown> => (req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {});

  app.post('/api/patrol/v1/auth/login', { bodyLimit: 16 * 1024 }, async (req, reply) => {
    const auth = d.config()?.auth;
    const store = d.store();
    if (!auth || !store) return off(reply);
    const b = body(req);
    const user = typeof b.username === 'string' ? b.username.slice(0, 64) : '';
    const password = typeof b.password === 'string' ? b.password.slice(0, 1024) : '';
    for (const key of [req.ip, `user:${user}`]) {
      const wait = limiter.blocked(key);
      if (wait > 0) return reply.code(429).header('Retry-After', String(wait)).send({ status: 'error', errorType: 'too_many_requests', error: 'too many failed logins; try again later' });
    }
    const entry = Object.hasOwn(auth.users, user) ? auth.users[user] : undefined;
    const ok = await verifyPassword(password, entry?.password_hash.reveal());
    if (!ok || !entry) {
      limiter.fail(req.ip);
      limiter.fail(`user:${user}`);
      d.log.warn({ remote: req.ip, user }, 'login failed');
      return reply.code(401).send({ status: 'error', errorType: 'unauthorized', error: 'wrong user or password' });
    }
    const csrf = startSession(d, req, reply, { name: user, role: entry.role, via: 'session', ...(entry.team !== undefined ? { team: entry.team } : {}) });
    return { status: 'success', data: { username: user, role: entry.role, csrf_token: csrf } };
  });

  app.post('/api/patrol/v1/auth/logout', async (req, reply) => {
    const sid = cookie(req, SESSION_COOKIE);
    if (sid) d.store()?.endSession(sid);
    reply.header('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return { status: 'success' };
  });

  app.get('/api/patrol/v1/auth/whoami', async (req, reply) => {
    const id = req.patrolIdentity;
    if (!id) return off(reply);
    return { status: 'success', data: { name: id.name, role: id.role, via: id.via, csrf_token: id.csrf, ...(id.team !== undefined ? { team: id.team } : {}) } };
  });

  app.get('/api/patrol/v1/auth/tokens', async (_req, reply) => {
    const store = d.store();
    if (!d.config()?.auth || !store) return off(reply);
    return { status: 'success', data: store.listTokens() };
  });

  app.post('/api/patrol/v1/auth/tokens', { bodyLimit: 16 * 1024 }, async (req, reply) => {
    const store = d.store();
    const id = req.patrolIdentity;
    if (!d.config()?.auth || !store || !id) return off(reply);
    const b = body(req);
    const name = typeof b.name === 'string' ? b.name.trim() : '';
    if (!/^[\w.@-]{1,64}$/.test(name)) return bad(reply, 'name: 1 to 64 letters, digits, . _ @ -');
    const role = b.role;
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) return bad(reply, `role: one of ${ROLES.join(', ')}`);
    if (id.role === 'prometheus' || !roleAtLeast(id.role, role as Role)) return reply.code(403).send({ status: 'error', errorType: 'forbidden', error: 'a token cannot have a higher role than its creator' });
    let expiresAt: number | null = null;
    if (b.expires_in !== undefined) {
      const ms = typeof b.expires_in === 'string' ? parseDuration(b.expires_in) : null;
      if (ms === null || ms <= 0) return bad(reply, 'expires_in: a duration such as "30d" or "12h"');
      expiresAt = Date.now() + ms;
    }
    // A scoped creator's token is scoped to its team; an unscoped one may scope a token.
    if (b.team !== undefined && (typeof b.team !== 'string' || b.team === '' || b.team.length > 200)) return bad(reply, 'team: a team name (the value of server.auth.team_label)');
    if (id.team !== undefined && b.team !== undefined && b.team !== id.team) return reply.code(403).send({ status: 'error', errorType: 'forbidden', error: `a token of team ${id.team} cannot be for another team` });
    const team = id.team ?? (b.team as string | undefined) ?? null;
    const t = store.createToken(name, role as Role, id.name, expiresAt, Date.now(), team);
    recordChange(req, null, t.info);
    return reply.code(201).send({ status: 'success', data: { ...t.info, token: t.token } });
  });

  app.delete('/api/patrol/v1/auth/tokens/:id', async (req, reply) => {
    const store = d.store();
    if (!d.config()?.auth || !store) return off(reply);
    const { id } = req.params as { id: string };
    const before = store.listTokens().find((t) => t.id === id);
    if (before) recordChange(req, before, { ...before, revoked_at: before.revoked_at ?? new Date().toISOString() });
    if (!store.revokeToken(id)) return reply.code(404).send({ status: 'error', errorType: 'not_found', error: 'no such token' });
    return { status: 'success' };
  });

  app.get('/api/patrol/v1/audit', async (req, reply) => {
    const store = d.store();
    if (!store) return reply.code(503).send({ status: 'error', errorType: 'unavailable', error: 'starting' });
    const q = req.query as Record<string, unknown>;
    const limit = Math.min(Math.max(Number(q.limit ?? 100) || 100, 1), 1000);
    const since = q.since !== undefined ? Date.parse(String(q.since)) : undefined;
    if (since !== undefined && Number.isNaN(since)) return bad(reply, 'since: an RFC 3339 time');
    const path = typeof q.path === 'string' && q.path !== '' ? q.path.slice(0, 500) : undefined;
    // The action filter: the method (POST, PUT, DELETE) and the path's start.
    const method = typeof q.method === 'string' && q.method !== '' ? q.method.toUpperCase().slice(0, 10) : undefined;
    const who = typeof q.who === 'string' && q.who !== '' ? q.who : undefined;
    // Paging: the entries older than the one with this id.
    const beforeId = q.before_id !== undefined ? Number(q.before_id) : undefined;
    if (beforeId !== undefined && !(Number.isSafeInteger(beforeId) && beforeId > 0)) return bad(reply, 'before_id: an entry id');
    return { status: 'success', data: store.auditLog({ limit, who, since, path, method, beforeId }) };
  });
}
