// /api/v1/targets and /api/v1/targets/metadata in Prometheus's exact response shape, so
// Grafana and existing tooling read them unchanged.

import type { FastifyInstance } from 'fastify';
import type { Labels } from '../model/labels.js';
import { labelsToRecord } from '../model/labels.js';
import { matchLabels, parseMatchers, type Matcher } from '../model/matchers.js';
import { withRegexBudget } from '../model/regex.js';
import type { ScrapeManager } from '../scrape/manager.js';
import { SCRAPE_INTERVAL_LABEL, SCRAPE_TIMEOUT_LABEL } from '../scrape/target.js';

/** Go's zero time, what Prometheus shows for a target not scraped yet. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

function labelValue(ls: Labels, name: string): string {
  return ls.find((l) => l.name === name)?.value ?? '';
}

type TargetsManager = Pick<ScrapeManager, 'activeTargets' | 'droppedTargets' | 'droppedTargetCounts' | 'targetMetadata'>;

export function targetsResponse(manager: TargetsManager, state: string, pools: string[]): unknown {
  const wantActive = state === '' || state === 'any' || state === 'active';
  const wantDropped = state === '' || state === 'any' || state === 'dropped';
  const poolOk = (p: string): boolean => pools.length === 0 || pools.includes(p);
  const activeTargets = wantActive
    ? manager
        .activeTargets()
        .filter(({ pool }) => poolOk(pool))
        .map(({ pool, target: t }) => ({
          discoveredLabels: labelsToRecord(t.discovered),
          labels: labelsToRecord(t.publicLabels),
          scrapePool: pool,
          scrapeUrl: t.scrapeUrl,
          globalUrl: t.globalUrl,
          lastError: t.lastError,
          lastScrape: t.lastScrape > 0 ? new Date(t.lastScrape).toISOString() : ZERO_TIME,
          lastScrapeDuration: t.lastScrapeDuration,
          health: t.health,
          scrapeInterval: labelValue(t.labels, SCRAPE_INTERVAL_LABEL),
          scrapeTimeout: labelValue(t.labels, SCRAPE_TIMEOUT_LABEL),
        }))
    : [];
  const droppedTargets = wantDropped
    ? manager
        .droppedTargets()
        .filter((d) => poolOk(d.scrapePool))
        .map((d) => ({ discoveredLabels: labelsToRecord(d.discoveredLabels), scrapePool: d.scrapePool }))
    : [];
  // Counts of dropped targets per pool (Prometheus ≥ 2.45), whatever the state filter.
  const droppedTargetCounts = Object.fromEntries(Object.entries(manager.droppedTargetCounts()).filter(([p]) => poolOk(p)));
  return { status: 'success', data: { activeTargets, droppedTargets, droppedTargetCounts } };
}

function asList(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function badData(error: string): { status: 'error'; errorType: 'bad_data'; error: string } {
  return { status: 'error', errorType: 'bad_data', error };
}

export function registerTargetsAPI(app: FastifyInstance, manager: TargetsManager): void {
  app.get('/api/v1/targets', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const state = String(q.state ?? '').toLowerCase();
    if (!['', 'any', 'active', 'dropped'].includes(state)) return reply.code(400).send(badData(`invalid state ${JSON.stringify(state)}: expected active, dropped or any`));
    return reply.send(targetsResponse(manager, state, asList(q.scrapePool)));
  });

  app.get('/api/v1/targets/metadata', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    let matchers: Matcher[] = [];
    const mt = q.match_target === undefined ? '' : String(q.match_target);
    if (mt !== '') {
      try {
        matchers = withRegexBudget(() => parseMatchers(mt));
      } catch (e) {
        return reply.code(400).send(badData((e as Error).message));
      }
    }
    const metric = q.metric === undefined ? '' : String(q.metric);
    const limit = q.limit === undefined || q.limit === '' ? -1 : Number(q.limit);
    if (!Number.isInteger(limit)) return reply.code(400).send(badData(`invalid limit ${JSON.stringify(q.limit)}`));
    const data: Record<string, unknown>[] = [];
    for (const m of manager.targetMetadata()) {
      if (limit >= 0 && data.length >= limit) break;
      if (!matchLabels(matchers, m.target)) continue;
      if (metric !== '' && m.metric !== metric) continue;
      const entry: Record<string, unknown> = { target: labelsToRecord(m.target) };
      if (metric === '') entry.metric = m.metric;
      entry.type = m.meta.type;
      entry.help = m.meta.help;
      entry.unit = m.meta.unit;
      data.push(entry);
    }
    if (matchers.length > 0 && data.length === 0 && manager.targetMetadata().every((m) => !matchLabels(matchers, m.target))) {
      return reply.code(404).send({ status: 'error', errorType: 'not_found', error: 'specified metadata not found' });
    }
    return reply.send({ status: 'success', data });
  });
}
