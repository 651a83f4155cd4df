// Prometheus's template functions and data for alert labels and annotations ($labels, $value,
// $externalLabels, $externalURL, humanize…, query…), on the generic text/template engine.

import { RE2JS } from 're2js';
import { parseDuration } from '../model/duration.js';
import { splitHostPort } from '../model/hostport.js';
import { formatGoTime, formatValue, sprintf, struct, type GoValue } from './gofmt.js';
import { Template, TemplateError, type FuncMap } from './template.js';

/** A query for templates: instant query at `t` (ms) returning labels and values. */
export type TemplateQuery = (expr: string, t: number) => Promise<{ labels: Record<string, string>; value: number }[]>;

function toFloat(v: GoValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    const t = v.trim();
    const f = /^[+-]?(inf|infinity)$/i.test(t) ? (t.startsWith('-') ? -Infinity : Infinity) : /^nan$/i.test(t) ? NaN : t === '' ? NaN : Number(t);
    if (Number.isNaN(f) && !/^nan$/i.test(t)) throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`);
    return f;
  }
  throw new Error(`can't convert ${typeof v === 'boolean' ? 'bool' : v === null || v === undefined ? '<nil>' : 'value'} to float`);
}

const g4 = (v: number, suffix = ''): string => sprintf('%.4g', [v]) + suffix;

export function humanize(i: GoValue): string {
  let v = toFloat(i);
  if (v === 0 || !Number.isFinite(v)) return g4(v);
  let prefix = '';
  if (Math.abs(v) >= 1) {
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return g4(v, prefix);
  }
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return g4(v, prefix);
}

export function humanize1024(i: GoValue): string {
  let v = toFloat(i);
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return g4(v);
  let prefix = '';
  for (const p of ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi']) {
    if (Math.abs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return g4(v, prefix);
}

export function humanizeDuration(i: GoValue): string {
  let v = toFloat(i);
  if (!Number.isFinite(v)) return g4(v);
  if (v === 0) return '0s';
  if (Math.abs(v) >= 1) {
    let sign = '';
    if (v < 0) {
      sign = '-';
      v = -v;
    }
    const d = Math.trunc(v);
    const seconds = d % 60;
    const minutes = Math.trunc(d / 60) % 60;
    const hours = Math.trunc(d / 3600) % 24;
    const days = Math.trunc(d / 86400);
    if (days !== 0) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0) return `${sign}${minutes}m ${seconds}s`;
    return `${sign}${g4(v)}s`;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${g4(v)}${prefix}s`;
}

export function humanizePercentage(i: GoValue): string {
  return g4(toFloat(i) * 100, '%');
}

function toTime(i: GoValue): Date {
  const v = toFloat(i);
  if (!Number.isFinite(v)) throw new Error(`cannot convert ${formatValue(v)} to Time`);
  // model.TimeFromUnixNano(int64(v*1e9)): nanoseconds from the float product, then milliseconds.
  return new Date(Number(BigInt(Math.trunc(v * 1e9)) / 1_000_000n));
}

export function humanizeTimestamp(i: GoValue): string {
  const v = toFloat(i);
  if (!Number.isFinite(v)) return g4(v);
  return formatGoTime(toTime(v));
}

/** strings.Title: upper-cases the first letter of each word (words split at non-letters/digits). */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    const sep = !/[\p{L}\p{N}_']/u.test(prev) ;
    out += sep ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

const reCache = new Map<string, RE2JS>();
function re(pattern: string): RE2JS {
  let r = reCache.get(pattern);
  if (!r) {
    try {
      r = RE2JS.compile(pattern);
    } catch (e) {
      throw new Error(`regexp: Compile(${JSON.stringify(pattern)}): ${(e as Error).message}`);
    }
    if (reCache.size > 500) reCache.clear();
    reCache.set(pattern, r);
  }
  return r;
}

/** Go's Regexp.ReplaceAllString: $1, ${1}, $name, ${name} in the replacement; $$ is a dollar. */
function reReplaceAll(pattern: string, repl: string, text: string): string {
  const r = re(pattern);
  const m = r.matcher(text);
  const names = r.namedGroups() as Record<string, number>;
  let out = '';
  let last = 0;
  let guard = 0;
  while (m.find()) {
    if (++guard > 1_000_000) throw new Error('too many matches');
    const start = m.start();
    const end = m.end();
    out += text.slice(last, start);
    out += repl.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_all, d: string, braced?: string, bare?: string) => {
      if (d === '$') return '$';
      const name = (braced ?? bare)!;
      const idx = /^\d+$/.test(name) ? Number(name) : names[name];
      if (idx === undefined || idx > m.groupCount()) return '';
      return m.group(idx) ?? '';
    });
    last = end;
  }
  return out + text.slice(last);
}

type Sample = { Labels: Record<string, string>; Value: number };

/**
 * The function map of Prometheus's rule templates. `query` runs at `time`; externalURL gives
 * externalURL and pathPrefix.
 */
export function prometheusFuncs(opts: { query?: TemplateQuery; time?: number; externalURL?: string } = {}): FuncMap {
  const ext = opts.externalURL ?? '';
  return {
    query: async (q) => {
      if (!opts.query) throw new Error('query is not available here');
      const r = await opts.query(String(q), opts.time ?? Date.now());
      return r.map((s) => struct({ Labels: s.labels, Value: s.value }));
    },
    first: (v) => {
      if (Array.isArray(v) && v.length > 0) return v[0];
      throw new Error('first() called on vector with no elements');
    },
    label: (name, s) => ((s as Sample | null)?.Labels?.[String(name)] ?? ''),
    value: (s) => (s as Sample).Value,
    strvalue: (s) => ((s as Sample | null)?.Labels?.__value__ ?? ''),
    args: (...a) => Object.fromEntries(a.map((v, i) => [`arg${i}`, v])),
    reReplaceAll: (p, r, t) => reReplaceAll(String(p), String(r), String(t)),
    safeHtml: (t) => String(t),
    match: (p, t) => re(String(p)).matcher(String(t)).find(),
    title: (t) => title(String(t)),
    toUpper: (t) => String(t).toUpperCase(),
    toLower: (t) => String(t).toLowerCase(),
    graphLink: (e) => `/graph?g0.expr=${encodeURIComponent(String(e)).replace(/%20/g, '+')}&g0.tab=0`,
    tableLink: (e) => `/graph?g0.expr=${encodeURIComponent(String(e)).replace(/%20/g, '+')}&g0.tab=1`,
    sortByLabel: (l, v) => (Array.isArray(v) ? [...v].sort((a: Sample, b: Sample) => ((a.Labels[String(l)] ?? '') < (b.Labels[String(l)] ?? '') ? -1 : (a.Labels[String(l)] ?? '') > (b.Labels[String(l)] ?? '') ? 1 : 0)) : v),
    humanize,
    humanize1024,
    humanizeDuration,
    humanizePercentage,
    humanizeTimestamp,
    toTime,
    toDuration: (v) => toFloat(v),
    parseDuration: (s) => {
      const d = parseDuration(String(s));
      if (d === null) throw new Error(`not a valid duration string: ${JSON.stringify(s)}`);
      return d / 1000;
    },
    stripPort: (hp) => splitHostPort(String(hp))?.host ?? String(hp),
    stripDomain: (hp) => {
      const s = String(hp);
      const split = splitHostPort(s);
      const host = split ? split.host : s;
      const port = split ? split.port : '';
      if (/^[\d.]+$/.test(host) || host.includes(':')) return s;
      const short = host.split('.')[0];
      return port ? `${short}:${port}` : short;
    },
    externalURL: () => ext,
    pathPrefix: () => {
      try {
        return new URL(ext).pathname.replace(/\/$/, '');
      } catch {
        return '';
      }
    },
  };
}

/** Prometheus's prefix: the variables every alert template can use. */
export const ALERT_TEMPLATE_DEFS = '{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}';

/** Parses an alert label or annotation template as Prometheus checks it at load; the error or null. */
export function checkAlertTemplate(alertName: string, text: string): string | null {
  if (!text.includes('{{')) return null;
  try {
    new Template(`__alert_${alertName}`, ALERT_TEMPLATE_DEFS + text, PARSE_FUNCS);
    return null;
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
}

const PARSE_FUNCS = prometheusFuncs();

export interface AlertTemplateData {
  labels: Record<string, string>;
  externalLabels: Record<string, string>;
  externalURL: string;
  value: number;
}

/**
 * Expands alert label and annotation templates the way Prometheus does: parsed once per text
 * (cached), executed with the alert's data. Errors read as Prometheus's ("error parsing
 * template __alert_NAME: …" / "error executing template …").
 */
export class AlertTemplateExpander {
  private readonly cache = new Map<string, Template | TemplateError>();
  private readonly parseFuncs = prometheusFuncs();

  constructor(private readonly query?: TemplateQuery) {}

  async expand(name: string, text: string, data: AlertTemplateData, time: number): Promise<string> {
    const key = `${name}\x00${text}`;
    let t = this.cache.get(key);
    if (!t) {
      try {
        t = new Template(name, ALERT_TEMPLATE_DEFS + text, this.parseFuncs);
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        t = e;
      }
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, t);
    }
    if (t instanceof TemplateError) throw new TemplateError(`error parsing template ${name}: ${t.message}`);
    try {
      return await t.execute(struct({ Labels: data.labels, ExternalLabels: data.externalLabels, ExternalURL: data.externalURL, Value: data.value }), name, {
        funcs: prometheusFuncs({ query: this.query, time, externalURL: data.externalURL }),
        missingKey: 'zero',
      });
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      throw new TemplateError(`error executing template ${name}: ${e.message}`);
    }
  }
}
