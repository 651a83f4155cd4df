// From the rules' alerts to what travels to Alertmanagers, as Prometheus's sendAlerts and its
// notifier do it: startsAt is when the alert fired; a firing alert's endsAt is its validUntil
// (the evaluation time + 4 × max(resend delay, group interval), set by the rule when it marks the
// alert sent), so an Alertmanager that stops hearing about it resolves it by itself; a resolved
// alert carries endsAt = resolvedAt. The generator URL is the external URL and a table link to
// the rule's expression. external_labels are added where the alert has no such label, then
// alert_relabel_configs run, any step of which may drop the alert.

import type { PostableAlert } from '../model/alert.js';
import { labelsFromRecord, labelsToRecord } from '../model/labels.js';
import type { Alert } from '../rules/alerting.js';
import { relabel, type CompiledRelabel } from '../scrape/relabel.js';

/** Go's url.QueryEscape: everything but ALPHA / DIGIT / - _ . ~ percent-encoded, space as '+'. */
export function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Prometheus's strutil.TableLinkForExpression: the relative link to the expression's table view. */
export function tableLinkForExpression(expr: string): string {
  return `/graph?g0.expr=${queryEscape(expr)}&g0.tab=1`;
}

function rfc3339(ms: number): string | undefined {
  return ms > 0 ? new Date(ms).toISOString() : undefined;
}

/** The alerts a rule handed over (firing or resolved, already marked sent) as postable alerts. */
export function toPostableAlerts(expr: string, alerts: readonly Alert[], externalURL: string): PostableAlert[] {
  const generatorURL = externalURL.replace(/\/+$/, '') + tableLinkForExpression(expr);
  return alerts.map((a) => {
    const out: PostableAlert = { labels: labelsToRecord(a.labels), annotations: { ...a.annotations } };
    const startsAt = rfc3339(a.firedAt);
    const endsAt = rfc3339(a.resolvedAt !== 0 ? a.resolvedAt : a.validUntil);
    if (startsAt !== undefined) out.startsAt = startsAt;
    if (endsAt !== undefined) out.endsAt = endsAt;
    out.generatorURL = generatorURL;
    return out;
  });
}

/**
 * Prometheus's relabelAlerts: adds each external label the alert lacks (an alert's own label
 * wins), then applies the relabel steps. Alerts a step drops are left out. Returns new objects;
 * the input is not changed.
 */
export function relabelAlerts(alerts: readonly PostableAlert[], externalLabels: Readonly<Record<string, string>>, steps: readonly CompiledRelabel[]): PostableAlert[] {
  const external = Object.entries(externalLabels);
  if (external.length === 0 && steps.length === 0) return [...alerts];
  const out: PostableAlert[] = [];
  for (const a of alerts) {
    const rec = { ...a.labels };
    for (const [k, v] of external) if (!rec[k]) rec[k] = v;
    const ls = relabel(labelsFromRecord(rec), steps);
    if (ls === null) continue;
    out.push({ ...a, labels: labelsToRecord(ls) });
  }
  return out;
}
