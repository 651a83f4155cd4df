// Alertmanager API v2 silences: GET/POST /api/v2/silences, GET/DELETE /api/v2/silence/{id},
// with Alertmanager's validation order, messages and status codes.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { openAPITime } from '../model/alert.js';
import { parseTime } from '../alerting/postable.js';
import { broadSilenceWarning, SilenceError, silenceState, type Silence, type SilenceMatcher, type Silences, type SilenceState } from '../alerting/silences.js';
import type { Matcher } from '../model/matchers.js';
import { APIError, jsonBody, parseFilter } from './alertmanager_request.js';
import { recordChange } from '../web/audit_change.js';

type Handler = (fn: (req: FastifyRequest, reply: FastifyReply) => unknown) => (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function gettableSilence(s: Silence, now: number): Record<string, unknown> {
  return {
    id: s.id,
    status: { state: silenceState(s, now) },
    updatedAt: openAPITime(s.updatedAt),
    comment: s.comment,
    createdBy: s.createdBy,
    endsAt: openAPITime(s.endsAt),
    matchers: s.matchers.map((m) => ({ isEqual: m.isEqual, isRegex: m.isRegex, name: m.name, value: m.value })),
    startsAt: openAPITime(s.startsAt),
  };
}

const STATE_ORDER: Record<SilenceState, number> = { active: 0, pending: 1, expired: 2 };

/** Alertmanager's SortSilences: active by end, pending by start, expired latest end first. */
export function sortSilences(list: Silence[], now: number): Silence[] {
  return list.sort((a, b) => {
    const sa = silenceState(a, now);
    const sb = silenceState(b, now);
    if (sa !== sb) return STATE_ORDER[sa] - STATE_ORDER[sb];
    if (sa === 'pending') return a.startsAt - b.startsAt;
    if (sa === 'expired') return b.endsAt - a.endsAt;
    return a.endsAt - b.endsAt;
  });
}

/** Alertmanager's filter on silences: each filter matcher against the silence's matcher values. */
function silenceMatchesFilter(s: Silence, filter: Matcher[]): boolean {
  const sms = new Map(s.matchers.map((m) => [m.name, m.value]));
  for (const m of filter) {
    const v = sms.get(m.name);
    const negative = m.type === '!=' || m.type === '!~';
    if (m.value === '' && (negative ? v !== undefined : v === undefined)) continue;
    if (!m.matches(v ?? '')) return false;
  }
  return true;
}

function required(o: Record<string, unknown>, key: string, path = key): unknown {
  const v = o[key];
  if (v === undefined || v === null) throw new APIError(422, `${path} in body is required`, 602);
  return v;
}

function typed<T>(v: unknown, type: 'string' | 'boolean', path: string): T {
  if (typeof v !== type) throw new APIError(400, `parsing silence body from "" failed, because json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field ${path} of type ${type === 'boolean' ? 'bool' : 'string'}`, 400);
  return v as T;
}

function postableSilence(body: unknown): Omit<Silence, 'id' | 'updatedAt'> & { id?: string } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new APIError(400, `parsing silence body from "" failed, because json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type models.PostableSilence`, 400);
  }
  const o = body as Record<string, unknown>;
  const comment = typed<string>(required(o, 'comment'), 'string', 'PostableSilence.comment');
  const createdBy = typed<string>(required(o, 'createdBy'), 'string', 'PostableSilence.createdBy');
  const endsText = typed<string>(required(o, 'endsAt'), 'string', 'PostableSilence.endsAt');
  const rawMatchers = required(o, 'matchers');
  if (!Array.isArray(rawMatchers)) throw new APIError(400, 'parsing silence body from "" failed, because json: cannot unmarshal into Go struct field PostableSilence.matchers of type models.Matchers', 400);
  if (rawMatchers.length === 0) throw new APIError(422, 'matchers in body should have at least 1 items', 612);
  const matchers: SilenceMatcher[] = rawMatchers.map((m: unknown, i) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new APIError(422, `matchers.${i} in body must be of type object`, 602);
    const mo = m as Record<string, unknown>;
    return {
      name: typed<string>(required(mo, 'name', `matchers.${i}.name`), 'string', 'Matcher.name'),
      value: typed<string>(required(mo, 'value', `matchers.${i}.value`), 'string', 'Matcher.value'),
      isRegex: typed<boolean>(required(mo, 'isRegex', `matchers.${i}.isRegex`), 'boolean', 'Matcher.isRegex'),
      isEqual: mo.isEqual === undefined || mo.isEqual === null ? true : typed<boolean>(mo.isEqual, 'boolean', 'Matcher.isEqual'),
    };
  });
  const startsText = typed<string>(required(o, 'startsAt'), 'string', 'PostableSilence.startsAt');
  const startsAt = parseTime(startsText);
  const endsAt = parseTime(endsText);
  for (const [t, text] of [
    [startsAt, startsText],
    [endsAt, endsText],
  ] as const) {
    if (Number.isNaN(t)) throw new APIError(400, `parsing silence body from "" failed, because parsing time ${JSON.stringify(text)}: not an RFC 3339 time`, 400);
  }
  const id = o.id === undefined || o.id === null || o.id === '' ? undefined : typed<string>(o.id, 'string', 'PostableSilence.id');
  return { id, matchers, startsAt, endsAt, createdBy, comment };
}

export function registerSilenceRoutes(scope: FastifyInstance, silences: Silences, handle: Handler): void {
  const silenceError = (e: unknown): never => {
    if (e instanceof SilenceError) throw new APIError(e.status, e.message);
    throw e;
  };

  scope.get(
    '/api/v2/silences',
    handle(async (req, reply) => {
      const filter = parseFilter(req.query as Record<string, unknown>);
      const now = Date.now();
      const list = sortSilences(silences.list().filter((s) => silenceMatchesFilter(s, filter)), now);
      return reply.type('application/json').send(JSON.stringify(list.map((s) => gettableSilence(s, now))));
    }),
  );

  scope.post(
    '/api/v2/silences',
    handle(async (req, reply) => {
      const sil = postableSilence(jsonBody(req, 'silence'));
      if (sil.startsAt >= sil.endsAt) throw new APIError(400, 'Failed to create silence: start time must be before end time');
      if (sil.endsAt < Date.now()) throw new APIError(400, "Failed to create silence: end time can't be in the past");
      let id = '';
      const before = sil.id ? silences.get(sil.id) : undefined;
      try {
        id = silences.set(sil);
        const now = Date.now();
        // Changing a silence's matchers expires it and makes a new one: both are the change.
        recordChange(req, before ? gettableSilence(before, now) : null, gettableSilence(silences.get(id)!, now));
      } catch (e) {
        silenceError(e);
      }
      // Allowed, but said so (Alertmanager answers 400): a warning beside the id and in the log.
      const warning = broadSilenceWarning(sil.matchers);
      if (warning) {
        req.log.warn({ silenceID: id, matchers: sil.matchers }, warning);
        return reply.send({ silenceID: id, warnings: [warning] });
      }
      return reply.send({ silenceID: id });
    }),
  );

  const idParam = (req: FastifyRequest): string => {
    const id = (req.params as { id: string }).id;
    if (!UUID.test(id)) throw new APIError(422, `silenceID in path must be of type uuid: ${JSON.stringify(id)}`, 601);
    return id;
  };

  scope.get(
    '/api/v2/silence/:id',
    handle(async (req, reply) => {
      const s = silences.get(idParam(req));
      if (!s) return reply.code(404).send();
      return reply.send(gettableSilence(s, Date.now()));
    }),
  );

  scope.delete(
    '/api/v2/silence/:id',
    handle(async (req, reply) => {
      const id = idParam(req);
      const before = silences.get(id);
      try {
        silences.expire(id);
        const after = silences.get(id);
        if (before && after) recordChange(req, gettableSilence(before, Date.now()), gettableSilence(after, Date.now()));
      } catch (e) {
        silenceError(e);
      }
      return reply.code(200).send();
    }),
  );
}
