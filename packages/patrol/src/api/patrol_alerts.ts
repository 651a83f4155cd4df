// Patrol's own alerting API (/api/patrol/v1): alerts with their acknowledgement, escalation
// step and why they are held back; acknowledging (API and signed links); alert and
// notification history by matchers and time range. Alertmanager's /api/v2 stays as it is.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AckError, type PatrolAlerting } from '../alerting/escalation.js';
import type { AlertDispatcher } from '../alerting/dispatcher.js';
import type { Ack } from '../alerting/history.js';
import { matchesAll } from '../alerting/route.js';
import { openAPITime, resolvedAt, sortedRecord } from '../model/alert.js';
import { parseMatchers, type Matcher } from '../model/matchers.js';
import { parseTime } from './params.js';

export interface PatrolAlertsAPIOptions {
  dispatcher: AlertDispatcher;
  patrol: PatrolAlerting;
}

class BadRequest extends Error {}

const MAX_LIMIT = 10_000;

function list(v: unknown): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
}

function matchers(text: string): Matcher[] {
  try {
    return parseMatchers(text);
  } catch (e) {
    throw new BadRequest(`bad matcher ${JSON.stringify(text)}: ${(e as Error).message}`);
  }
}

/** `match[]` (any set) and `filter` (all of them, Alertmanager's syntax) as matcher sets. */
function matcherSets(q: Record<string, unknown>): Matcher[][] {
  const filter = list(q.filter).flatMap(matchers);
  const sets = list(q['match[]']).map(matchers);
  if (sets.length === 0) return filter.length > 0 ? [filter] : [];
  return sets.map((s) => [...s, ...filter]);
}

function time(q: Record<string, unknown>, name: string, dflt: number): number {
  const v = list(q[name]).at(-1);
  if (v === undefined || v === '') return dflt;
  try {
    return parseTime(v);
  } catch (e) {
    throw new BadRequest(`${name}: ${(e as Error).message}`);
  }
}

function limit(q: Record<string, unknown>): number {
  const v = list(q.limit).at(-1);
  if (v === undefined || v === '') return 1000;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new BadRequest(`limit: ${JSON.stringify(v)} is not a positive integer`);
  return Math.min(n, MAX_LIMIT);
}

function ackJSON(k: Ack): Record<string, unknown> {
  return { by: k.by, comment: k.comment, at: openAPITime(k.at), expiresAt: k.expiresAt === 0 ? null : openAPITime(k.expiresAt) };
}

function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Body as an object: JSON or an HTML form. */
function bodyObject(req: FastifyRequest): Record<string, unknown> {
  const text = typeof req.body === 'string' ? req.body : '';
  if (text.trim() === '') return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BadRequest('the body must be a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw e instanceof BadRequest ? e : new BadRequest(`the body is not JSON: ${(e as Error).message}`);
  }
}

function expiry(b: Record<string, unknown>): number | undefined {
  const v = b.expiresAt;
  if (v === undefined || v === null || v === '') return undefined;
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new BadRequest(`expiresAt: ${JSON.stringify(v)} is not an RFC 3339 time`);
  return t;
}

export function registerPatrolAlertsAPI(app: FastifyInstance, o: PatrolAlertsAPIOptions): void {
  const { dispatcher: d, patrol: p } = o;
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));

    const handle =
      (fn: (req: FastifyRequest, reply: FastifyReply) => unknown) =>
      async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
        try {
          return await fn(req, reply);
        } catch (e) {
          if (e instanceof BadRequest) return reply.code(400).send({ status: 'error', error: e.message });
          if (e instanceof AckError) return reply.code(e.status).send({ status: 'error', error: e.message });
          throw e;
        }
      };

    scope.get(
      '/api/patrol/v1/alerts',
      handle((req) => {
        const sets = matcherSets(req.query as Record<string, unknown>);
        const now = Date.now();
        const out: Record<string, unknown>[] = [];
        for (const a of d.store.list()) {
          if (resolvedAt(a, now)) continue;
          if (sets.length > 0 && !sets.some((s) => matchesAll(s, a.labels))) continue;
          const k = p.ackOf(a, now);
          const e = p.escalationOf(a.fingerprint);
          out.push({
            fingerprint: a.fingerprint,
            labels: sortedRecord(a.labels),
            annotations: sortedRecord(a.annotations),
            startsAt: openAPITime(a.startsAt),
            status: d.status(a, now),
            heldBy: p.heldBy(a, now),
            acknowledged: k ? ackJSON(k) : null,
            escalation: e && e.startsAt === a.startsAt ? { step: e.step, nextAt: openAPITime(e.nextAt) } : null,
            ackURL: p.ackURL(a.fingerprint),
          });
        }
        return { status: 'success', data: out };
      }),
    );

    scope.get(
      '/api/patrol/v1/alerts/history',
      handle((req) => {
        const q = req.query as Record<string, unknown>;
        const r = p.db.alertHistory({ matchers: matcherSets(q), start: time(q, 'start', 0), end: time(q, 'end', Date.now() + 60_000), limit: limit(q) });
        return { status: 'success', data: r.events.map((e) => ({ ...e, ts: openAPITime(e.ts) })), truncated: r.truncated };
      }),
    );

    scope.get(
      '/api/patrol/v1/notifications',
      handle((req) => {
        const q = req.query as Record<string, unknown>;
        const r = p.db.notifications({ matchers: matcherSets(q), start: time(q, 'start', 0), end: time(q, 'end', Date.now() + 60_000), limit: limit(q) });
        return { status: 'success', data: r.notifications.map((n) => ({ ...n, ts: openAPITime(n.ts) })), truncated: r.truncated };
      }),
    );

    scope.post(
      '/api/patrol/v1/alerts/:fingerprint/ack',
      handle((req) => {
        const b = bodyObject(req);
        const { fingerprint } = req.params as { fingerprint: string };
        const k = p.ack(fingerprint, { by: typeof b.by === 'string' ? b.by : '', comment: typeof b.comment === 'string' ? b.comment : '', expiresAt: expiry(b) });
        return { status: 'success', data: ackJSON(k) };
      }),
    );

    scope.delete(
      '/api/patrol/v1/alerts/:fingerprint/ack',
      handle((req, reply) => {
        const { fingerprint } = req.params as { fingerprint: string };
        if (!p.unack(fingerprint, 'api')) return reply.code(404).send({ status: 'error', error: `alert ${fingerprint} is not acknowledged` });
        return { status: 'success' };
      }),
    );

    // The signed link: GET shows a page with a button (link previews must not acknowledge);
    // POST acknowledges. No login: the signature and expiry are the authorisation.
    scope.get(
      '/api/patrol/v1/ack/:fingerprint',
      handle((req, reply) => {
        const { fingerprint } = req.params as { fingerprint: string };
        const q = req.query as Record<string, unknown>;
        const exp = String(list(q.exp).at(-1) ?? '');
        const sig = String(list(q.sig).at(-1) ?? '');
        p.verifyLink(fingerprint, exp, sig);
        const a = d.store.get(fingerprint);
        const name = a?.labels.alertname ?? fingerprint;
        const action = `?exp=${encodeURIComponent(exp)}&sig=${encodeURIComponent(sig)}`;
        return reply
          .type('text/html; charset=utf-8')
          .send(
            `<!doctype html><title>Acknowledge ${escapeHTML(name)}</title><h1>Acknowledge ${escapeHTML(name)}</h1>` +
              `<form method="post" action="${escapeHTML(action)}"><label>Your name <input name="by" required></label> ` +
              `<label>Comment <input name="comment"></label> <button>Acknowledge</button></form>`,
          );
      }),
    );

    scope.post(
      '/api/patrol/v1/ack/:fingerprint',
      handle((req) => {
        const { fingerprint } = req.params as { fingerprint: string };
        const q = req.query as Record<string, unknown>;
        p.verifyLink(fingerprint, String(list(q.exp).at(-1) ?? ''), String(list(q.sig).at(-1) ?? ''));
        const b = bodyObject(req);
        const by = typeof b.by === 'string' && b.by.trim() ? b.by : 'link';
        const k = p.ack(fingerprint, { by, comment: typeof b.comment === 'string' ? b.comment : 'acknowledged through a link' });
        return { status: 'success', data: ackJSON(k) };
      }),
    );
  });
}
