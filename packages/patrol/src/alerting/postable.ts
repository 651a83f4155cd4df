// From Alertmanager API v2's postable alert to a stored alert, as Alertmanager's POST
// /api/v2/alerts does it: a missing start is now (or the end), a missing end is now plus
// resolve_timeout, empty labels are dropped, and the result is validated with its messages.

import type { PostableAlert } from '../model/alert.js';
import { isValidLabelName } from '../model/labels.js';
import { labelSetFingerprint, type Alert } from '../model/alert.js';

/** Go's zero time (0001-01-01T00:00:00Z) in ms: clients such as amtool send it for "unset". */
const GO_ZERO_MS = Date.parse('0001-01-01T00:00:00Z');

/** RFC 3339 as go-openapi's strfmt.DateTime reads it; NaN when it does not parse, 0 for Go's zero time. */
export function parseTime(s: string): number {
  if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/.test(s)) return NaN;
  const t = Date.parse(s.replace(' ', 'T'));
  return t <= GO_ZERO_MS ? 0 : t;
}

function validNames(r: Readonly<Record<string, string>>): string | null {
  for (const n of Object.keys(r)) if (!isValidLabelName(n)) return `invalid name ${JSON.stringify(n)}`;
  return null;
}

/** A stored alert, or Alertmanager's validation message. Times must already parse. */
export function alertFromPostable(p: PostableAlert, now: number, resolveTimeout: number): Alert | string {
  let startsAt = p.startsAt ? parseTime(p.startsAt) : 0;
  let endsAt = p.endsAt ? parseTime(p.endsAt) : 0;
  if (Number.isNaN(startsAt)) return `invalid startsAt ${JSON.stringify(p.startsAt)}`;
  if (Number.isNaN(endsAt)) return `invalid endsAt ${JSON.stringify(p.endsAt)}`;
  if (startsAt === 0) startsAt = endsAt === 0 ? now : endsAt;
  let timeout = false;
  if (endsAt === 0) {
    timeout = true;
    endsAt = now + resolveTimeout;
  }
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.labels ?? {})) if (v !== '') labels[k] = v;
  if (endsAt < startsAt) return 'start time must be before end time';
  const badLabel = validNames(labels);
  if (badLabel) return `invalid label set: ${badLabel}`;
  if (Object.keys(labels).length === 0) return 'at least one label pair required';
  const annotations = { ...(p.annotations ?? {}) };
  const badAnnotation = validNames(annotations);
  if (badAnnotation) return `invalid annotations: ${badAnnotation}`;
  return { labels, annotations, startsAt, endsAt, generatorURL: p.generatorURL ?? '', updatedAt: now, timeout, fingerprint: labelSetFingerprint(labels) };
}
