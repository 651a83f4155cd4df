// The alert as it travels from the rules to whoever takes alerts: Patrol's own dispatcher
// (in-process) and external Alertmanagers (over HTTP). Its shape is Alertmanager API v2's
// postable alert, so one value serves both paths and the API's POST /api/v2/alerts.

import { goQuote } from './goquote.js';

/** Alertmanager API v2 `postableAlert`; times are RFC 3339 strings, omitted when unset. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

/**
 * Something that takes alerts. `send` must return at once and never throw: a sink that talks
 * to the network queues (bounded, counting drops) and delivers in the background.
 */
export interface AlertSink {
  readonly name: string;
  send(alerts: readonly PostableAlert[]): void;
}

// The alert as the dispatcher keeps it: Alertmanager's types.Alert. Times are milliseconds since
// the epoch, 0 standing for Go's zero time (unset). Labels and annotations are plain records.

/** Alertmanager's `types.Alert`. Objects are never mutated once stored; updates replace them. */
export interface Alert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** ms; always set once stored. */
  readonly startsAt: number;
  /** ms; 0 when unset (only before the store sets a timeout). */
  readonly endsAt: number;
  readonly generatorURL: string;
  /** ms; when the alert was last received. */
  readonly updatedAt: number;
  /** endsAt was set by resolve_timeout rather than by the sender. */
  readonly timeout: boolean;
  /** labelSetFingerprint(labels). */
  readonly fingerprint: string;
}

/** Resolved at `now`: endsAt set and not after now. */
export function resolvedAt(a: Pick<Alert, 'endsAt'>, now: number): boolean {
  return a.endsAt !== 0 && a.endsAt <= now;
}

const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;

/**
 * The label-set fingerprint of prometheus/common (model.LabelSet.Fingerprint): FNV-1a 64 over
 * the names in sorted order, each name and value followed by the byte 0xff, as 16 hex digits.
 */
export function labelSetFingerprint(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort();
  let hi = OFFSET_HI;
  let lo = OFFSET_LO;
  const add = (b: number) => {
    lo ^= b;
    // Multiply (hi, lo) by the FNV prime 0x100_000001b3, modulo 2^64.
    const t = (lo >>> 0) * 0x1b3;
    const carry = Math.floor(t / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + ((lo << 8) | 0) + carry) >>> 0;
    lo = t >>> 0;
  };
  const addString = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) add(c);
      else {
        for (const b of Buffer.from(s.slice(i))) add(b);
        return;
      }
    }
  };
  for (const n of names) {
    addString(n);
    add(0xff);
    addString(labels[n]);
    add(0xff);
  }
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** Go's time.Time JSON form (RFC 3339 with nanoseconds, trailing zeros dropped) in UTC. */
export function goTimeJSON(ms: number): string {
  if (ms === 0) return GO_ZERO_TIME;
  const iso = new Date(ms).toISOString();
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac ? '.' + frac : ''}Z`;
}

/** go-openapi's strfmt.DateTime form: always three fraction digits. */
export function openAPITime(ms: number): string {
  if (ms === 0) return GO_ZERO_TIME.replace('Z', '.000Z');
  return new Date(ms).toISOString();
}


/** Alertmanager's model.LabelSet String(): `{a="1", b="2"}`, names sorted. */
export function labelSetString(labels: Readonly<Record<string, string>>): string {
  return '{' + Object.keys(labels).sort().map((n) => `${n}=${goQuote(labels[n])}`).join(', ') + '}';
}

/** A copy with keys in sorted order, as Go marshals maps. */
export function sortedRecord(r: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k];
  return out;
}

/**
 * Alertmanager's AlertSlice order: by `job`, then `instance` (an alert with the label first),
 * then by label set (fewer labels first, then label by label).
 */
export function compareAlerts(a: Alert, b: Alert): number {
  for (const k of ['job', 'instance']) {
    const av = a.labels[k];
    const bv = b.labels[k];
    if (av === undefined && bv === undefined) continue;
    if (av === undefined) return 1;
    if (bv === undefined) return -1;
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return labelSetBefore(a.labels, b.labels) ? -1 : labelSetBefore(b.labels, a.labels) ? 1 : 0;
}

function labelSetBefore(x: Readonly<Record<string, string>>, y: Readonly<Record<string, string>>): boolean {
  const xn = Object.keys(x);
  const yn = Object.keys(y);
  if (xn.length !== yn.length) return xn.length < yn.length;
  const names = [...xn, ...yn].sort();
  for (const n of names) {
    const xv = x[n];
    if (xv === undefined) return true;
    const yv = y[n];
    if (yv === undefined) return false;
    if (xv < yv) return true;
    if (xv > yv) return false;
  }
  return false;
}
