// /api/v1/rules and /api/v1/alerts in Prometheus's response shapes, so Grafana's and Prometheus's
// rule and alert views read Patrol unchanged.

import type { FastifyInstance } from 'fastify';
import { formatFloatE } from '../model/gofloat.js';
import { labelsToRecord } from '../model/labels.js';
import { formatExpr } from '../promql/format.js';
import { parseExpr } from '../promql/parser.js';
import { AlertingRule, type Alert } from '../rules/alerting.js';
import type { Group } from '../rules/group.js';
import type { RuleBase } from '../rules/rule.js';

/** Go's zero time, what Prometheus shows for a rule not evaluated yet. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

function time(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : ZERO_TIME;
}

function query(expr: string): string {
  try {
    return formatExpr(parseExpr(expr));
  } catch {
    return expr;
  }
}

function alertJSON(a: Alert): Record<string, unknown> {
  const out: Record<string, unknown> = {
    labels: labelsToRecord(a.labels),
    annotations: a.annotations,
    state: a.state,
    activeAt: time(a.activeAt),
  };
  if (a.keepFiringSince > 0) out.keepFiringSince = time(a.keepFiringSince);
  out.value = formatFloatE(a.value);
  return out;
}

function ruleJSON(r: RuleBase, withAlerts: boolean): Record<string, unknown> {
  const common = { health: r.health, ...(r.lastError ? { lastError: r.lastError } : {}), evaluationTime: r.evaluationTime, lastEvaluation: time(r.lastEvaluation) };
  if (r instanceof AlertingRule) {
    return {
      state: r.state(),
      name: r.name,
      query: query(r.expr),
      duration: r.holdDuration / 1000,
      keepFiringFor: r.keepFiringFor / 1000,
      labels: r.labels,
      annotations: r.annotations,
      alerts: withAlerts ? r.activeAlerts().map(alertJSON) : [],
      ...common,
      type: 'alerting',
    };
  }
  // Prometheus omits a recording rule's labels when it has none.
  return { name: r.name, query: query(r.expr), ...(Object.keys(r.labels).length ? { labels: r.labels } : {}), ...common, type: 'recording' };
}

function list(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function badData(error: string): { status: 'error'; errorType: 'bad_data'; error: string } {
  return { status: 'error', errorType: 'bad_data', error };
}

/** The rule groups sorted as Prometheus sorts them: by file, then name. */
function sorted(groups: Group[]): Group[] {
  return [...groups].sort((a, b) => (a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function registerRulesAPI(app: FastifyInstance, groups: () => Group[]): void {
  app.get('/api/v1/rules', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const type = String(q.type ?? '').toLowerCase();
    if (type !== '' && type !== 'alert' && type !== 'record') return reply.code(400).send(badData(`invalid parameter "type": not supported value ${JSON.stringify(type)}`));
    const names = new Set(list(q['rule_name[]'] ?? q.rule_name));
    const groupNames = new Set([...list(q['rule_group[]'] ?? q.rule_group), ...list(q['group_name[]'])]);
    const files = new Set(list(q['file[]'] ?? q.file));
    const excludeAlerts = String(q.exclude_alerts ?? '') === 'true';
    const filtering = names.size > 0 || groupNames.size > 0 || files.size > 0 || type !== '';
    const out: Record<string, unknown>[] = [];
    for (const g of sorted(groups())) {
      if (groupNames.size > 0 && !groupNames.has(g.name)) continue;
      if (files.size > 0 && !files.has(g.file)) continue;
      const rules = g.rules
        .filter((r) => (type === '' ? true : type === 'alert' ? r instanceof AlertingRule : !(r instanceof AlertingRule)))
        .filter((r) => names.size === 0 || names.has(r.name))
        .map((r) => ruleJSON(r, !excludeAlerts));
      if (filtering && rules.length === 0) continue;
      out.push({ name: g.name, file: g.file, rules, interval: g.interval / 1000, limit: g.limit, evaluationTime: g.evaluationTime, lastEvaluation: time(g.lastEvaluation) });
    }
    return reply.send({ status: 'success', data: { groups: out } });
  });

  app.get('/api/v1/alerts', async (_req, reply) => {
    const alerts: Record<string, unknown>[] = [];
    for (const g of sorted(groups())) for (const r of g.rules) if (r instanceof AlertingRule) alerts.push(...r.activeAlerts().map(alertJSON));
    return reply.send({ status: 'success', data: { alerts } });
  });
}
