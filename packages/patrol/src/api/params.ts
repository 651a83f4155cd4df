// Request parameters of the Prometheus HTTP API: times (RFC 3339 or Unix seconds with a
// fraction), durations (float seconds or Prometheus duration syntax), limits, and the merged
// form of URL query and form-encoded body. Error texts are Prometheus's own.

import { parseDuration as parsePromDuration } from '../model/duration.js';

/** Raised for a request Prometheus would answer with 400 bad_data. */
export class BadDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadDataError';
  }
}

/** `invalid parameter "name": reason`, as Prometheus's invalidParamError words it. */
export function invalidParam(name: string, reason: string): BadDataError {
  return new BadDataError(`invalid parameter ${goQuote(name)}: ${reason}`);
}

/** Go's %q for the strings that occur in parameter errors. */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

/**
 * The earliest and latest times the API accepts for open-ended label and series requests
 * (Prometheus uses the extremes of its int64 milliseconds; these stay exact in a double and are
 * still valid Dates).
 */
export const MIN_TIME = -8_640_000_000_000_000;
export const MAX_TIME = 8_640_000_000_000_000;
// The texts Prometheus's clients send for its own MinTime/MaxTime (years outside RFC 3339).
const MIN_TIME_TEXT = '-292273086-05-16T16:47:06Z';
const MAX_TIME_TEXT = '292277025-08-18T07:12:54.999999999Z';

const FLOAT_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Go's math.Round: halves away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** Milliseconds since the epoch, or throws `cannot parse "x" to a valid timestamp`. */
export function parseTime(text: string): number {
  if (FLOAT_RE.test(text)) {
    const t = Number(text);
    if (Number.isFinite(t)) {
      const whole = Math.trunc(t);
      // Beyond what Prometheus's int64 milliseconds hold: pinned to the extremes.
      return Math.min(MAX_TIME, Math.max(MIN_TIME, whole * 1000 + roundHalfAway((t - whole) * 1000)));
    }
  }
  const m = RFC3339_RE.exec(text);
  if (m) {
    const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
    const month = Number(mo);
    const day = Number(d);
    const daysInMonth = new Date(Date.UTC(2000 + (Number(y) % 400), month, 0)).getUTCDate();
    if (month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && Number(h) < 24 && Number(mi) < 60 && Number(s) < 60) {
      let ms = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s));
      // Date.UTC treats years 0-99 as 1900-1999; RFC 3339 years are literal.
      if (Number(y) < 100) ms = new Date(ms).setUTCFullYear(Number(y));
      // Go truncates the fraction to milliseconds (timestamp.FromTime).
      if (frac) ms += Number(frac.padEnd(9, '0').slice(0, 3));
      if (!z) ms -= (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
      return ms;
    }
  }
  if (text === MIN_TIME_TEXT) return MIN_TIME;
  if (text === MAX_TIME_TEXT) return MAX_TIME;
  throw new Error(`cannot parse ${goQuote(text)} to a valid timestamp`);
}

/**
 * A duration in milliseconds (may be fractional): float seconds or Prometheus's syntax (`5m`,
 * `1h30m`). Throws `cannot parse "x" to a valid duration`.
 */
export function parseDurationParam(text: string): number {
  if (FLOAT_RE.test(text)) {
    const secs = Number(text);
    const ns = secs * 1e9;
    if (ns > 9.223372036854776e18 || ns < -9.223372036854776e18) {
      throw new Error(`cannot parse ${goQuote(text)} to a valid duration. It overflows int64`);
    }
    // time.Duration keeps nanoseconds; milliseconds with a fraction keep that precision.
    return Math.trunc(ns) / 1e6;
  }
  const ms = parsePromDuration(text);
  if (ms === null) throw new Error(`cannot parse ${goQuote(text)} to a valid duration`);
  return ms;
}

/** The request's parameters: form body values first, then URL query values (Go's r.Form). */
export class Params {
  private readonly map = new Map<string, string[]>();

  constructor(...sources: Iterable<[string, string]>[]) {
    for (const src of sources) {
      for (const [k, v] of src) {
        const list = this.map.get(k);
        if (list) list.push(v);
        else this.map.set(k, [v]);
      }
    }
  }

  /** The first value, or '' (Go's r.FormValue). */
  get(name: string): string {
    return this.map.get(name)?.[0] ?? '';
  }

  all(name: string): string[] {
    return this.map.get(name) ?? [];
  }

  /** A time parameter with a default when absent (Prometheus's parseTimeParam). */
  time(name: string, dflt: number): number {
    const v = this.get(name);
    if (v === '') return dflt;
    try {
      return parseTime(v);
    } catch (e) {
      throw invalidParam(name, `Invalid time value for '${name}': ${(e as Error).message}`);
    }
  }

  /** A non-negative integer limit; 0 (or absent) means no limit. */
  limit(name = 'limit'): number {
    const v = this.get(name);
    if (v === '') return 0;
    if (!/^[+-]?\d+$/.test(v)) throw invalidParam(name, `strconv.Atoi: parsing ${goQuote(v)}: invalid syntax`);
    const n = Number(v);
    if (n < 0) throw invalidParam(name, 'limit must be non-negative');
    return n;
  }
}

/** Reads a form-encoded body however it was parsed (our string parser, or an object parser). */
export function formEntries(body: unknown): [string, string][] {
  if (typeof body === 'string') return [...new URLSearchParams(body)];
  if (body instanceof URLSearchParams) return [...body];
  if (body && typeof body === 'object' && !Buffer.isBuffer(body)) {
    const out: [string, string][] = [];
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (Array.isArray(v)) for (const x of v) out.push([k, String(x)]);
      else if (v !== undefined && v !== null) out.push([k, String(v)]);
    }
    return out;
  }
  return [];
}

/** The URL's query string as entries, `+` as space, repeated keys kept. */
export function queryEntries(url: string): [string, string][] {
  const q = url.indexOf('?');
  return q < 0 ? [] : [...new URLSearchParams(url.slice(q + 1))];
}
