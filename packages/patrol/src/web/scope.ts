// Per-team scoping by label: a caller whose identity carries a team (a local user's `team`, an API
// token's, or an OIDC login's `team_claim`) sees only the alerts, alert groups, silences, alert
// history and notifications whose labels have `<team_label>="<team>"` (server.auth.team_label,
// `team` by default), and may only create, change or expire silences with a matcher that pins
// that label, post alerts that carry it, and acknowledge its alerts. Reads are filtered on the
// way out (one table of routes below), writes checked before the handler. A caller without a
// team sees everything its role allows.

import type { FastifyReply, FastifyRequest } from 'fastify';

type Labels = Readonly<Record<string, string>> | undefined;
interface MatcherLike {
  name?: unknown;
  value?: unknown;
  isRegex?: unknown;
  isEqual?: unknown;
}

export interface ScopeDeps {
  /** server.auth.team_label. */
  label: () => string;
  silence: (id: string) => { matchers: readonly MatcherLike[] } | undefined;
  alert: (fingerprint: string) => { labels: Labels } | undefined;
}

interface Team {
  /** The alert's labels are the team's. */
  owns: (labels: Labels) => boolean;
  /** The silence's matchers pin the team's label to the team (name="team", not a regex, not !=). */
  pins: (matchers: unknown) => boolean;
}

function teamOf(label: string, team: string): Team {
  return {
    owns: (labels) => !!labels && typeof labels === 'object' && labels[label] === team,
    pins: (matchers) => Array.isArray(matchers) && matchers.some((m: MatcherLike) => m && m.name === label && m.value === team && m.isRegex !== true && m.isEqual !== false),
  };
}

const NOT_FOUND = Symbol('not found');
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
const labelsOf = (v: unknown): Labels => (isObj(v) && isObj(v.labels) ? (v.labels as Record<string, string>) : undefined);
/** `{status, data: [...]}` with the list filtered. */
const envelope = (b: unknown, keep: (x: unknown) => unknown): unknown => (isObj(b) && Array.isArray(b.data) ? { ...b, data: b.data.map(keep).filter((x) => x !== NOT_FOUND) } : b);

/** What a scoped caller sees of each route's answer (GET, status 200). */
export const SCOPED_READS: Readonly<Record<string, (body: unknown, t: Team) => unknown>> = {
  '/api/v2/alerts': (b, t) => (Array.isArray(b) ? b.filter((a) => t.owns(labelsOf(a))) : []),
  '/api/v2/alerts/groups': (b, t) =>
    Array.isArray(b) ? b.map((g: unknown) => (isObj(g) && Array.isArray(g.alerts) ? { ...g, alerts: g.alerts.filter((a) => t.owns(labelsOf(a))) } : { alerts: [] })).filter((g) => g.alerts.length > 0) : [],
  '/api/v2/silences': (b, t) => (Array.isArray(b) ? b.filter((s) => isObj(s) && t.pins(s.matchers)) : []),
  '/api/v2/silence/:id': (b, t) => (isObj(b) && t.pins(b.matchers) ? b : NOT_FOUND),
  '/api/patrol/v1/alerts': (b, t) => envelope(b, (a) => (t.owns(labelsOf(a)) ? a : NOT_FOUND)),
  '/api/patrol/v1/alerts/history': (b, t) => envelope(b, (e) => (t.owns(labelsOf(e)) ? e : NOT_FOUND)),
  '/api/patrol/v1/notifications': (b, t) =>
    envelope(b, (n) => {
      if (!isObj(n) || !Array.isArray(n.alerts)) return NOT_FOUND;
      const alerts = n.alerts.filter((a) => t.owns(labelsOf(a)));
      return alerts.length > 0 ? { ...n, alerts } : NOT_FOUND;
    }),
  '/api/v1/alerts': (b, t) => (isObj(b) && isObj(b.data) && Array.isArray(b.data.alerts) ? { ...b, data: { ...b.data, alerts: b.data.alerts.filter((a) => t.owns(labelsOf(a))) } } : b),
};

function forbid(reply: FastifyReply, error: string) {
  return reply.code(403).send({ status: 'error', errorType: 'forbidden', error });
}

function jsonBody(req: FastifyRequest): unknown {
  if (typeof req.body !== 'string') return req.body;
  try {
    return JSON.parse(req.body) as unknown;
  } catch {
    return undefined; // the handler says what is wrong with it
  }
}

/** preHandler: a scoped caller's writes to alerts and silences must stay in its team. */
export function scopeWriteHook(d: ScopeDeps) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const team = req.patrolIdentity?.team;
    if (team === undefined || req.method === 'GET' || req.method === 'HEAD') return;
    const label = d.label();
    const t = teamOf(label, team);
    const pin = `${label}="${team}"`;
    const route = req.routeOptions?.url;
    if (route === '/api/v2/silences' && req.method === 'POST') {
      const b = jsonBody(req);
      if (!isObj(b)) return; // the handler refuses it
      if (!t.pins(b.matchers)) return void (await forbid(reply, `team ${team} may only create silences with the matcher ${pin}`));
      if (typeof b.id === 'string' && b.id !== '') {
        const old = d.silence(b.id);
        if (old && !t.pins(old.matchers)) return void (await forbid(reply, `silence ${b.id} is not team ${team}'s`));
      }
    } else if (route === '/api/v2/silence/:id' && req.method === 'DELETE') {
      const old = d.silence((req.params as { id: string }).id);
      if (old && !t.pins(old.matchers)) return void (await forbid(reply, `silence ${(req.params as { id: string }).id} is not team ${team}'s`));
    } else if (route === '/api/v2/alerts' && req.method === 'POST') {
      const b = jsonBody(req);
      if (Array.isArray(b) && !b.every((a) => t.owns(labelsOf(a)))) return void (await forbid(reply, `team ${team} may only post alerts with the label ${pin}`));
    } else if (route === '/api/patrol/v1/alerts/:fingerprint/ack') {
      const a = d.alert((req.params as { fingerprint: string }).fingerprint);
      if (a && !t.owns(a.labels)) return void (await forbid(reply, `that alert is not team ${team}'s`));
    }
  };
}

/** onSend: a scoped caller's reads show only its team's alerts and silences. */
export function scopeReadHook(d: ScopeDeps) {
  return async (req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    const team = req.patrolIdentity?.team;
    if (team === undefined || req.method !== 'GET' || reply.statusCode !== 200) return payload;
    const filter = SCOPED_READS[req.routeOptions?.url ?? ''];
    if (!filter) return payload;
    let body: unknown;
    try {
      body = JSON.parse(typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '');
    } catch {
      // Not JSON (or a stream): show nothing rather than another team's data.
      reply.code(500);
      return JSON.stringify({ status: 'error', errorType: 'internal', error: 'a scoped answer could not be filtered' });
    }
    const out = filter(body, teamOf(d.label(), team));
    if (out === NOT_FOUND) {
      reply.code(404);
      return JSON.stringify({ status: 'error', errorType: 'not_found', error: 'not found' });
    }
    return JSON.stringify(out);
  };
}
