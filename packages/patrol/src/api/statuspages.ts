// Public status pages (status_pages: in patrol.yml). GET /api/patrol/v1/status-pages/:slug needs
// no credentials and answers only what an end user may see of the listed probes: name, group,
// current state (up, degraded, down, unknown), 90 daily uptime ratios and the state changes of
// those 90 days with their times. No target, label, type, reason or other probe. GET /status/:slug
// serves the page (packages/patrol/statuspage: one small HTML, script and style sheet of its own,
// not the operator dashboard's bundle). Answers are computed from the probe state-change events
// and cached for CACHE_MS per page, so a page opened by many people costs one computation.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import { resolveStatusPage } from '../config/statuspages.js';
import type { ProbeEvent, ProbeState } from '../model/probestate.js';
import { PACKAGE_ROOT } from '../paths.js';
import { dashboardCsp } from '../web/security.js';

const DAY = 86_400_000;
export const STATUS_DAYS = 90;
const CACHE_MS = 10_000;
/** The most state changes listed (newest first). */
const MAX_INCIDENTS = 200;
/** The most events read per probe over the 90 days (a flapping probe cannot make a page slow). */
const MAX_EVENTS = 20_000;

export const STATUS_PAGE_DIR = `${PACKAGE_ROOT}statuspage/`;

export interface StatusDay {
  /** UTC day, YYYY-MM-DD. */
  date: string;
  /** Share of the day's known time the probe was up or degraded; null: nothing known that day. */
  uptime: number | null;
  /** Minutes down that day. */
  down_minutes: number;
  /** Minutes degraded that day. */
  degraded_minutes: number;
}

export interface StatusProbe {
  name: string;
  state: ProbeState;
  since: number | null;
  /** Over the days with data. */
  uptime: number | null;
  days: StatusDay[];
}

export interface StatusPageData {
  slug: string;
  title: string;
  description: string;
  generated_at: number;
  /** The worst state of the listed probes (unknown only when none is known). */
  state: ProbeState;
  groups: { name: string; probes: StatusProbe[] }[];
  incidents: { probe: string; from: ProbeState; to: ProbeState; time: number }[];
}

/** Where the status pages read probes from (ProbeManager satisfies it). */
export interface StatusSource {
  stateOf(name: string): { state: ProbeState; since: number } | null;
  eventsOf(name: string, start: number, end: number, limit?: number): ProbeEvent[];
}

const SEVERITY: Record<ProbeState, number> = { unknown: 0, up: 1, degraded: 2, down: 3 };

/**
 * Daily uptime from state changes: each state holds from its change to the next one; a day's
 * ratio is the time up or degraded over the time in a known state. `before` is the state in force
 * at the window's start (the last change before it), if any.
 */
export function dailyUptime(eventsAsc: readonly { time: number; to: ProbeState }[], before: ProbeState | null, now: number, days = STATUS_DAYS): StatusDay[] {
  const todayStart = Math.floor(now / DAY) * DAY;
  const start = todayStart - (days - 1) * DAY;
  const good = new Float64Array(days);
  const known = new Float64Array(days);
  const down = new Float64Array(days);
  const degraded = new Float64Array(days);
  const add = (from: number, to: number, s: ProbeState) => {
    if (s === 'unknown') return;
    let t = Math.max(from, start);
    const end = Math.min(to, now);
    while (t < end) {
      const d = Math.floor((t - start) / DAY);
      const next = Math.min(end, start + (d + 1) * DAY);
      known[d] += next - t;
      if (s === 'down') down[d] += next - t;
      else good[d] += next - t;
      if (s === 'degraded') degraded[d] += next - t;
      t = next;
    }
  };
  let state: ProbeState | null = before;
  let since = start;
  for (const e of eventsAsc) {
    if (state !== null) add(since, e.time, state);
    state = e.to;
    since = e.time;
  }
  if (state !== null) add(since, now, state);
  const out: StatusDay[] = [];
  for (let d = 0; d < days; d++) {
    out.push({
      date: new Date(start + d * DAY).toISOString().slice(0, 10),
      uptime: known[d] > 0 ? Math.round((good[d] / known[d]) * 1e5) / 1e5 : null,
      down_minutes: Math.round(down[d] / 60_000),
      degraded_minutes: Math.round(degraded[d] / 60_000),
    });
  }
  return out;
}

/**
 * One probe's daily uptime over the last `days` UTC days from its state changes (the status pages
 * and the overview's 30- and 90-day bars): the days, the changes of the window (oldest first) and
 * the ratio over the days with data.
 */
export function probeUptimeDays(src: StatusSource, name: string, now: number, days = STATUS_DAYS): { days: StatusDay[]; events: ProbeEvent[]; uptime: number | null } {
  const start = Math.floor(now / DAY) * DAY - (days - 1) * DAY;
  const events = src.eventsOf(name, start, now, MAX_EVENTS).reverse();
  const before = src.eventsOf(name, 0, start - 1, 1)[0]?.to ?? null;
  const out = dailyUptime(events, before, now, days);
  let good = 0;
  let n = 0;
  for (const d of out) {
    if (d.uptime === null) continue;
    good += d.uptime;
    n++;
  }
  return { days: out, events, uptime: n > 0 ? Math.round((good / n) * 1e5) / 1e5 : null };
}

export function buildStatusPage(cfg: Config, slug: string, src: StatusSource, now = Date.now()): StatusPageData | null {
  const page = cfg.status_pages.find((p) => p.slug === slug);
  if (!page) return null;
  const resolved = resolveStatusPage(page, cfg.probes);
  const incidents: StatusPageData['incidents'] = [];
  let worst: ProbeState = 'unknown';
  const groups = resolved.groups.map((g) => ({
    name: g.name,
    probes: g.probes.map((name): StatusProbe => {
      const cur = src.stateOf(name);
      const { days, events, uptime } = probeUptimeDays(src, name, now);
      for (const e of events) if (!(e.from === 'unknown' && e.to === 'up')) incidents.push({ probe: name, from: e.from, to: e.to, time: e.time });
      const state = cur?.state ?? 'unknown';
      if (SEVERITY[state] > SEVERITY[worst]) worst = state;
      return { name, state, since: cur && cur.since > 0 ? cur.since : null, uptime, days };
    }),
  }));
  incidents.sort((a, b) => b.time - a.time);
  return { slug: resolved.slug, title: resolved.title, description: resolved.description, generated_at: now, state: worst, groups, incidents: incidents.slice(0, MAX_INCIDENTS) };
}

const FILES: Record<string, string> = { 'status.js': 'text/javascript; charset=utf-8', 'status.css': 'text/css; charset=utf-8' };

export function registerStatusPages(app: FastifyInstance, opts: { config: () => Config | null; probes: StatusSource; dir?: string }): void {
  const cache = new Map<string, { at: number; cfg: Config; body: string }>();
  const notFound = (slug: string) => ({ status: 'error', errorType: 'not_found', error: `no status page ${JSON.stringify(slug.slice(0, 100))}` });

  app.get<{ Params: { slug: string } }>('/api/patrol/v1/status-pages/:slug', async (req, reply) => {
    const cfg = opts.config();
    const slug = req.params.slug;
    const now = Date.now();
    const hit = cache.get(slug);
    reply.header('Cache-Control', 'public, max-age=10');
    if (hit && hit.cfg === cfg && now - hit.at < CACHE_MS) return reply.type('application/json; charset=utf-8').send(hit.body);
    const data = cfg ? buildStatusPage(cfg, slug, opts.probes, now) : null;
    if (!data) {
      cache.delete(slug);
      return reply.code(404).send(notFound(slug));
    }
    // Only configured slugs are cached: a stream of made-up slugs cannot grow the cache.
    const body = JSON.stringify({ status: 'success', data });
    cache.set(slug, { at: now, cfg: cfg!, body });
    for (const k of cache.keys()) if (!cfg!.status_pages.some((p) => p.slug === k)) cache.delete(k);
    return reply.type('application/json; charset=utf-8').send(body);
  });

  const dir = opts.dir ?? STATUS_PAGE_DIR;
  const read = (f: string): Buffer | null => (existsSync(join(dir, f)) ? readFileSync(join(dir, f)) : null);
  let html: Buffer | null = null;
  app.get<{ Params: { slug: string } }>('/status/:slug', async (req, reply) => {
    const cfg = opts.config();
    if (!cfg?.status_pages.some((p) => p.slug === req.params.slug)) return reply.code(404).type('text/plain; charset=utf-8').send(`no status page ${JSON.stringify(req.params.slug.slice(0, 100))}\n`);
    html ??= read('index.html');
    if (!html) return reply.code(500).type('text/plain; charset=utf-8').send('the status page files are missing from this installation\n');
    reply.header('Cache-Control', 'no-cache');
    reply.header('Content-Security-Policy', dashboardCsp([]));
    return reply.type('text/html; charset=utf-8').send(html);
  });
  app.get<{ Params: { file: string } }>('/status-assets/:file', async (req, reply) => {
    const type = FILES[req.params.file];
    const body = type ? read(req.params.file) : null;
    if (!type || !body) return reply.code(404).type('text/plain; charset=utf-8').send('not found\n');
    reply.header('Cache-Control', 'public, max-age=300');
    return reply.type(type).send(body);
  });
}
