// Patrol's probe API under /api/patrol/v1: probes with state, last result, uptime and latency;
// one probe's result history and state-change events over a time range. Handlers only parse
// input, call the manager and map its errors; responses use Prometheus's envelope
// ({status, data} / {status, errorType, error}).

import type { FastifyInstance, FastifyReply } from 'fastify';
import { maskSecrets } from '../config/secrets.js';
import { maskOverviewRow } from './events.js';
import { hourCode, overviewColumns } from './overview_columns.js';
import { probeUptimeDays } from './statuspages.js';
import { UnknownProbeError, type ProbeManager } from '../probe/manager.js';
import { sendJsonText } from '../web/compress.js';

const PREFIX = '/api/patrol/v1/probes';
const DAY = 86_400_000;

/** Parses a time as Prometheus's API does: unix seconds (fractions allowed) or RFC 3339. */
export function parseTime(v: string | undefined, fallback: number): number | { error: string } {
  if (v === undefined || v === '') return fallback;
  if (/^-?\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  if (/^\d{4}-\d{2}-\d{2}T/.test(v) && Number.isFinite(t)) return t;
  return { error: `cannot parse ${JSON.stringify(v)} to a valid timestamp (unix seconds or RFC 3339)` };
}

function badRequest(reply: FastifyReply, error: string) {
  return reply.code(400).send({ status: 'error', errorType: 'bad_data', error });
}

function range(q: { start?: string; end?: string }, defaultSpan: number): { start: number; end: number } | { error: string } {
  const now = Date.now();
  const end = parseTime(q.end, now);
  if (typeof end !== 'number') return end;
  const start = parseTime(q.start, end - defaultSpan);
  if (typeof start !== 'number') return start;
  if (start > end) return { error: 'end timestamp must not be before start time' };
  return { start, end };
}

export function registerProbeAPI(app: FastifyInstance, manager: ProbeManager): void {
  const handle = async (reply: FastifyReply, fn: () => unknown) => {
    try {
      // A target's `http://user:pass@…` (and any secret the result quotes) is masked.
      return reply.send({ status: 'success', data: maskSecrets(await fn()) });
    } catch (e) {
      if (e instanceof UnknownProbeError) return reply.code(404).send({ status: 'error', errorType: 'not_found', error: e.message });
      throw e;
    }
  };

  app.get(PREFIX, async (_req, reply) => handle(reply, () => manager.listAsync()));

  // The dashboard's overview: every probe in compact rows, or (after=SEQ&generation=G from the
  // previous answer) only the probes that changed since, so a poll every few seconds stays cheap.
  // format=columns answers the same rows in columns (overview_columns.ts), a third of the size;
  // head=N only the first N probes in the dashboard's order (down first) with the total, for its
  // first screen while the full read loads.
  app.get<{ Querystring: { after?: string; generation?: string; format?: string; head?: string } }>('/api/patrol/v1/overview', async (req, reply) => {
    const { after, generation, format } = req.query;
    if (format !== undefined && format !== 'rows' && format !== 'columns') return badRequest(reply, `format ${JSON.stringify(format)} is not rows or columns`);
    const send = (data: Parameters<typeof overviewColumns>[0]) => {
      // Masked row by row (a URL's password in the target or a reason), cheaper than maskSecrets'
      // deep copy of 10,000 rows on every poll.
      for (const p of data.probes) maskOverviewRow(p);
      return sendJsonText(req, reply, JSON.stringify({ status: 'success', data: format === 'columns' ? overviewColumns(data) : data }));
    };
    if (req.query.head !== undefined) {
      const n = Number(req.query.head);
      if (!Number.isSafeInteger(n) || n < 1 || n > 1000) return badRequest(reply, `head ${JSON.stringify(req.query.head)} is not an integer from 1 to 1000`);
      return send(manager.overviewHead(n));
    }
    const num = (v: string | undefined, what: string): number | undefined | { error: string } => {
      if (v === undefined || v === '') return undefined;
      const n = Number(v);
      return Number.isSafeInteger(n) && n >= 0 ? n : { error: `${what} ${JSON.stringify(v)} is not a non-negative integer` };
    };
    const a = num(after, 'after');
    const g = num(generation, 'generation');
    if (typeof a === 'object') return badRequest(reply, a.error);
    if (typeof g === 'object') return badRequest(reply, g.error);
    return send(await manager.overview({ after: a, generation: g }));
  });

  // The overview's 30- and 90-day bars: per probe (configuration order) the daily uptime from its
  // state changes, the same figures as the status pages, each day packed as one character like
  // the overview's hourly cells (hourCode), oldest first, UTC days. Computed in slices that yield
  // to the event loop and kept for UPTIME_CACHE_MS (a day's cell moves slowly).
  const uptimeCache = new Map<number, { at: number; body: Promise<string> }>();
  app.get<{ Querystring: { days?: string } }>('/api/patrol/v1/overview/uptime', async (req, reply) => {
    const days = req.query.days === undefined ? 90 : Number(req.query.days);
    if (days !== 30 && days !== 90) return badRequest(reply, `days ${JSON.stringify(req.query.days)} is not 30 or 90`);
    const now = Date.now();
    let hit = uptimeCache.get(days);
    if (!hit || now - hit.at > UPTIME_CACHE_MS) {
      hit = { at: now, body: overviewUptime(manager, days, now) };
      uptimeCache.set(days, hit);
      hit.body.catch(() => uptimeCache.delete(days));
    }
    return sendJsonText(req, reply, await hit.body);
  });

  app.get<{ Params: { name: string } }>(`${PREFIX}/:name`, async (req, reply) => handle(reply, () => manager.get(req.params.name)));

  // Runs the probe now and answers its status with that run's result.
  app.post<{ Params: { name: string } }>(`${PREFIX}/:name/run`, async (req, reply) => handle(reply, () => manager.runNow(req.params.name)));

  app.get<{ Params: { name: string }; Querystring: { start?: string; end?: string; limit?: string } }>(`${PREFIX}/:name/history`, async (req, reply) => {
    const r = range(req.query, DAY);
    if ('error' in r) return badRequest(reply, r.error);
    const limit = req.query.limit === undefined ? undefined : Number(req.query.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) return badRequest(reply, `limit ${JSON.stringify(req.query.limit)} is not a positive integer`);
    return handle(reply, () => manager.history(req.params.name, r.start, r.end, limit));
  });

  app.get<{ Params: { name: string }; Querystring: { start?: string; end?: string; limit?: string } }>(`${PREFIX}/:name/events`, async (req, reply) => {
    const r = range(req.query, 30 * DAY);
    if ('error' in r) return badRequest(reply, r.error);
    const limit = req.query.limit === undefined ? undefined : Number(req.query.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) return badRequest(reply, `limit ${JSON.stringify(req.query.limit)} is not a positive integer`);
    return handle(reply, () => manager.eventsOf(req.params.name, r.start, r.end, limit));
  });
}

const UPTIME_CACHE_MS = 60_000;

async function overviewUptime(manager: ProbeManager, days: number, now: number): Promise<string> {
  const names = manager.names();
  const name: string[] = [];
  const uptime: number[] = [];
  const cells: string[] = [];
  for (let i = 0; i < names.length; i++) {
    if (i > 0 && i % 200 === 0) await new Promise((r) => setImmediate(r));
    let d: ReturnType<typeof probeUptimeDays>;
    try {
      d = probeUptimeDays(manager, names[i], now, days);
    } catch (e) {
      if (e instanceof UnknownProbeError) continue; // removed by a reload meanwhile
      throw e;
    }
    name.push(names[i]);
    uptime.push(d.uptime ?? -1);
    cells.push(String.fromCharCode(...d.days.map((x) => hourCode(x.uptime ?? -1))));
  }
  const first = new Date(Math.floor(now / 86_400_000) * 86_400_000 - (days - 1) * 86_400_000).toISOString().slice(0, 10);
  return JSON.stringify({ status: 'success', data: { days, first_day: first, generated_at: now, name, uptime, cells } });
}
