// Alertmanager's template data (template.Data): what webhook payloads carry and what message
// templates see.

import { goTimeJSON, resolvedAt, sortedRecord, type Alert } from '../model/alert.js';

export interface DataAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface TemplateData {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: DataAlert[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
}

/** Go's regexp.QuoteMeta (Alertmanager passes the receiver name through it). */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

function common(records: readonly Readonly<Record<string, string>>[]): Record<string, string> {
  if (records.length === 0) return {};
  const out: Record<string, string> = { ...records[0] };
  for (const r of records.slice(1)) {
    for (const k of Object.keys(out)) if (r[k] !== out[k]) delete out[k];
  }
  return sortedRecord(out);
}

export function templateData(receiver: string, groupLabels: Readonly<Record<string, string>>, alerts: readonly Alert[], externalURL: string, now: number): TemplateData {
  const out: DataAlert[] = alerts.map((a) => ({
    status: resolvedAt(a, now) ? 'resolved' : 'firing',
    labels: sortedRecord(a.labels),
    annotations: sortedRecord(a.annotations),
    startsAt: goTimeJSON(a.startsAt),
    endsAt: goTimeJSON(a.endsAt),
    generatorURL: a.generatorURL,
    fingerprint: a.fingerprint,
  }));
  return {
    receiver: quoteMeta(receiver),
    status: out.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts: out,
    groupLabels: sortedRecord(groupLabels),
    commonLabels: common(alerts.map((a) => a.labels)),
    commonAnnotations: common(alerts.map((a) => a.annotations)),
    externalURL,
  };
}
