// Prometheus's federation endpoint, GET /federate?match[]=…: the latest sample (within the
// lookback delta) of every series that a match[] selector selects, in the text exposition
// format with its timestamp, so that a central Prometheus can pull from Patrol. As Prometheus
// does (web/federate.go): each series keeps its own labels (`job`, `instance`…), the external
// labels are added where the series lacks them, `instance=""` is added to a series without an
// instance (so a scraper with `honor_labels: true` keeps it absent rather than writing the
// federating target's address), stale markers are left out (the format cannot carry them), and
// every family is typed `untyped`.

import type { FastifyInstance } from 'fastify';
import { formatFloatG } from '../model/gofloat.js';
import { compareLabels, getLabel, labelsKey, METRIC_NAME, type Labels } from '../model/labels.js';
import type { Matcher } from '../model/matchers.js';
import { isStaleNaN } from '../model/value.js';
import type { Queryable } from '../storage/interface.js';
import { Params, queryEntries } from './params.js';
import { parseSelector } from './selector.js';
import { withRegexBudget } from '../model/regex.js';

export interface FederateOptions {
  queryable: Queryable;
  /** global.external_labels of the running configuration. */
  externalLabels: () => Readonly<Record<string, string>>;
  /** The lookback delta in milliseconds (query.lookback_delta, default 5m). */
  lookbackDelta: () => number;
  now?: () => number;
}

export const FEDERATE_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function registerFederate(app: FastifyInstance, opts: FederateOptions): void {
  app.get('/federate', async (req, reply) => {
    const params = new Params(queryEntries(req.raw.url ?? ''));
    let sets: Matcher[][];
    try {
      // One regex budget for all match[] values, as for a query.
      sets = withRegexBudget(() => params.all('match[]').map(parseMatchSelector));
    } catch (e) {
      return reply.code(400).type('text/plain; charset=utf-8').send(`${(e as Error).message}\n`);
    }
    const now = opts.now?.() ?? Date.now();
    const text = federate(opts.queryable, sets, now - opts.lookbackDelta(), now, opts.externalLabels());
    return reply.type(FEDERATE_CONTENT_TYPE).send(text);
  });
}

/** A match[] value: a series selector with at least one matcher that does not match "". */
function parseMatchSelector(v: string): Matcher[] {
  const ms = parseSelector(v);
  if (!ms.some((m) => !m.matchesEmpty())) throw new Error('vector selector must contain at least one non-empty matcher');
  return ms;
}

interface Latest {
  labels: Labels;
  name: string;
  t: number;
  v: number;
}

/** The exposition text: the newest non-stale sample in [mint, maxt] of each selected series. */
export function federate(queryable: Queryable, sets: readonly Matcher[][], mint: number, maxt: number, external: Readonly<Record<string, string>>): string {
  if (sets.length === 0) return '';
  const found = new Map<string, Latest>();
  const q = queryable.querier(mint, maxt);
  try {
    for (const ms of sets) {
      const set = q.select({ start: mint, end: maxt }, ms);
      while (set.next()) {
        const s = set.at();
        const key = labelsKey(s.labels);
        if (found.has(key)) continue;
        const it = s.iterator();
        let t = NaN;
        let v = NaN;
        if (it.seek(mint)) {
          do {
            if (it.atT() > maxt) break;
            t = it.atT();
            v = it.atV();
          } while (it.next());
        }
        if (Number.isNaN(t) || isStaleNaN(v)) continue;
        const name = getLabel(s.labels, METRIC_NAME);
        if (name === '') continue; // a nameless series cannot be exposed
        found.set(key, { labels: s.labels, name, t, v });
      }
      const err = set.err();
      if (err) throw err;
    }
  } finally {
    q.close();
  }
  const all = [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : compareLabels(a.labels, b.labels)));
  const ext: Record<string, string> = { instance: '', ...external };
  const extNames = Object.keys(ext).sort();
  const out: string[] = [];
  let family = '';
  for (const s of all) {
    if (s.name !== family) {
      family = s.name;
      out.push(`# TYPE ${family} untyped\n`);
    }
    const parts: string[] = [];
    const own = new Set<string>();
    for (const l of s.labels) {
      if (l.name === METRIC_NAME || l.value === '') continue;
      own.add(l.name);
      parts.push(`${l.name}="${escapeLabelValue(l.value)}"`);
    }
    for (const n of extNames) if (!own.has(n)) parts.push(`${n}="${escapeLabelValue(ext[n])}"`);
    out.push(`${s.name}{${parts.join(',')}} ${formatFloatG(s.v)} ${s.t}\n`);
  }
  return out.join('');
}

function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}
