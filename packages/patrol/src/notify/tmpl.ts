// Alertmanager's notification templates: its template data as Go sees it (.Status,
// .Alerts.Firing, .GroupLabels.SortedPairs…), its template functions (toUpper, join,
// reReplaceAll, safeHtml…), users' `templates:` files and Patrol's default templates in English
// and Chinese (`language: en | zh-CN`). Integrations render their config strings through
// NotifyTemplates.render; a bad template is a permanent error naming the template, never a crash.

import { readFileSync, readlinkSync } from 'node:fs';
import { globSync } from '../config/glob.js';
import { resolvePath } from '../scrape/httpclient.js';
import { prometheusFuncs } from '../template/prometheus.js';
import { Template, TemplateError, type FuncMap } from '../template/template.js';
import type { GoValue } from '../template/gofmt.js';
import type { Alert } from '../model/alert.js';
import { templateData, type DataAlert, type TemplateData } from './data.js';
import { DEFAULT_TEMPLATES } from './tmpl_defaults.js';

export type Language = 'en' | 'zh-CN';

/** Adds Go methods (zero-argument, non-enumerable so `range` and printing skip them). */
function methods<T extends object>(o: T, m: Record<string, () => GoValue>): T {
  for (const [k, f] of Object.entries(m)) Object.defineProperty(o, k, { value: f, enumerable: false });
  return o;
}

interface Pair {
  Name: string;
  Value: string;
}

/** Alertmanager's template.KV: a map with SortedPairs, Names and Values. */
function kv(r: Readonly<Record<string, string>>): Record<string, string> {
  const o: Record<string, string> = { ...r };
  const keys = () => Object.keys(o).sort();
  return methods(o, {
    SortedPairs: () => {
      const ps = keys().map((k) => methods<Pair>({ Name: k, Value: o[k] }, {}));
      return methods(ps, { Names: () => ps.map((p) => p.Name), Values: () => ps.map((p) => p.Value) });
    },
    Names: () => keys(),
    Values: () => keys().map((k) => o[k]),
  });
}

function goAlert(a: DataAlert, ackURL?: (fingerprint: string) => string): GoValue {
  return {
    // Patrol's: the alert's signed acknowledgement link ('' when resolved or links are off).
    AckURL: ackURL && a.status === 'firing' ? ackURL(a.fingerprint) : '',
    Status: a.status,
    Labels: kv(a.labels),
    Annotations: kv(a.annotations),
    StartsAt: new Date(a.startsAt),
    EndsAt: new Date(a.endsAt),
    GeneratorURL: a.generatorURL,
    Fingerprint: a.fingerprint,
  };
}

/** template.Data as templates see it (each alert with Patrol's `.AckURL` when links are on). */
export function goData(d: TemplateData, ackURL?: (fingerprint: string) => string): GoValue {
  const alerts = d.alerts.map((a) => goAlert(a, ackURL)) as Record<string, GoValue>[];
  const list = (s: string) => alerts.filter((a) => a.Status === s);
  return {
    Receiver: d.receiver,
    Status: d.status,
    Alerts: methods(alerts, { Firing: () => list('firing'), Resolved: () => list('resolved') }),
    GroupLabels: kv(d.groupLabels),
    CommonLabels: kv(d.commonLabels),
    CommonAnnotations: kv(d.commonAnnotations),
    ExternalURL: d.externalURL,
  };
}

/** What a flush's templates see: its group's alerts (NotifyContext's fields). */
export function notifyData(
  ctx: { receiver: string; groupLabels: Readonly<Record<string, string>>; externalURL: string; now: number; ackURL?: ((fingerprint: string) => string) | undefined },
  alerts: readonly Alert[],
): GoValue {
  return goData(templateData(ctx.receiver, ctx.groupLabels, alerts, ctx.externalURL, ctx.now), ctx.ackURL);
}

function str(v: GoValue): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  return String(v);
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const ZONE = Symbol('zone');
/** A time carried in a time zone (what `tz` returns); still a Date for every other function. */
type ZonedDate = Date & { [ZONE]?: string };

const zoneFormats = new Map<string, Intl.DateTimeFormat>();
/** The formatter of a zone, made once per zone; an unknown zone is an error naming it. */
function zoneFormat(zone: string): Intl.DateTimeFormat {
  let f = zoneFormats.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', timeZoneName: 'short' });
    } catch {
      throw new Error(`unknown time zone ${JSON.stringify(zone)}`);
    }
    zoneFormats.set(zone, f);
  }
  return f;
}

/** The wall clock of `d` in `zone` as UTC fields, and the zone's short name at that instant. */
function inZone(d: Date, zone: string): { wall: Date; offsetMin: number; name: string } {
  // UTC itself needs no formatter (nor ICU's data).
  if (UTC_NAMES.has(zone)) return { wall: d, offsetMin: 0, name: 'UTC' };
  const p: Record<string, string> = {};
  for (const part of zoneFormat(zone).formatToParts(d)) p[part.type] = part.value;
  const wallMs = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second), d.getUTCMilliseconds());
  const offsetMin = Math.round((wallMs - d.getTime()) / 60_000);
  return { wall: new Date(wallMs), offsetMin, name: p.timeZoneName ?? 'UTC' };
}

/** Go's time.Format for the common layout elements, in UTC or in the zone `tz` attached. */
export function goTimeFormat(t: Date, layout: string): string {
  const zone = (t as ZonedDate)[ZONE];
  const z = zone ? inZone(t, zone) : { wall: t, offsetMin: 0, name: 'UTC' };
  const d = z.wall;
  const p2 = (n: number) => String(n).padStart(2, '0');
  const off = (sep: string) => `${z.offsetMin < 0 ? '-' : '+'}${p2(Math.floor(Math.abs(z.offsetMin) / 60))}${sep}${p2(Math.abs(z.offsetMin) % 60)}`;
  const tokens: [string, () => string][] = [
    ['2006', () => String(d.getUTCFullYear())],
    ['January', () => MONTHS[d.getUTCMonth()]],
    ['Jan', () => MONTHS[d.getUTCMonth()].slice(0, 3)],
    ['Monday', () => DAYS[d.getUTCDay()]],
    ['Mon', () => DAYS[d.getUTCDay()].slice(0, 3)],
    ['MST', () => z.name],
    ['Z07:00', () => (z.offsetMin === 0 ? 'Z' : off(':'))],
    ['-07:00', () => off(':')],
    ['-0700', () => off('')],
    ['01', () => p2(d.getUTCMonth() + 1)],
    ['02', () => p2(d.getUTCDate())],
    ['15', () => p2(d.getUTCHours())],
    ['03', () => p2(d.getUTCHours() % 12 || 12)],
    ['04', () => p2(d.getUTCMinutes())],
    ['05', () => p2(d.getUTCSeconds())],
    ['.000', () => '.' + String(d.getUTCMilliseconds()).padStart(3, '0')],
    ['PM', () => (d.getUTCHours() >= 12 ? 'PM' : 'AM')],
    ['06', () => p2(d.getUTCFullYear() % 100)],
  ];
  let out = '';
  let i = 0;
  outer: while (i < layout.length) {
    for (const [t, f] of tokens) {
      if (layout.startsWith(t, i)) {
        out += f();
        i += t.length;
        continue outer;
      }
    }
    out += layout[i++];
  }
  return out;
}

function toDate(v: GoValue): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'string' || typeof v === 'number') return new Date(v);
  throw new Error('expected a time');
}

const PROM = prometheusFuncs();

/**
 * Alertmanager's template functions (template.DefaultFuncs); the ones Prometheus's rule
 * templates share (regexes through RE2) are the same code.
 */
export const NOTIFY_FUNCS: FuncMap = {
  toUpper: PROM.toUpper,
  toLower: PROM.toLower,
  title: PROM.title,
  match: PROM.match,
  reReplaceAll: PROM.reReplaceAll,
  safeHtml: PROM.safeHtml,
  humanizeDuration: PROM.humanizeDuration,
  trimSpace: (s) => str(s).trim(),
  join: (sep, list) => (Array.isArray(list) ? list.map(str).join(str(sep)) : ''),
  safeUrl: (s) => str(s),
  urlUnescape: (s) => decodeURIComponent(str(s)),
  stringSlice: (...s) => s.map(str),
  list: (...s) => s,
  append: (l, ...v) => [...(Array.isArray(l) ? l : []), ...v],
  dict: (...kvs) => {
    const o: Record<string, GoValue> = {};
    for (let i = 0; i + 1 < kvs.length; i += 2) o[str(kvs[i])] = kvs[i + 1];
    return o;
  },
  toJson: (v) => JSON.stringify(v),
  since: (t) => (Date.now() - toDate(t).getTime()) / 1000,
  date: (layout, t) => goTimeFormat(toDate(t), str(layout)),
  /** Alertmanager 0.28's tz: the same instant, shown by `date` in that zone; an unknown zone is an error. */
  tz: (name, t) => zoned(toDate(t), str(name)),
};

function zoned(t: Date, zone: string): ZonedDate {
  zoneFormat(zone);
  const out: ZonedDate = new Date(t.getTime());
  out[ZONE] = zone;
  return out;
}

/** `2026-12-04 20:00:05 GMT+8`: a time in a zone (UTC without one), as the default messages show it. */
export function formatTime(ms: number, zone?: string): string {
  const t = new Date(ms);
  return goTimeFormat(zone ? zoned(t, zone) : t, '2006-01-02 15:04:05 MST');
}

let machineZone: string | undefined;

/**
 * This machine's time zone (the default of `global.time_zone`). From TZ or the /etc/localtime
 * link where they name a zone: asking Intl loads 8.5 MB of ICU's data into memory, which a
 * Patrol that never shows a time in a zone other than UTC need not carry.
 */
export function localTimeZone(): string {
  return (machineZone ??= systemZone() ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'));
}

/** The zone TZ or /etc/localtime names, as Intl would name it; undefined when neither is clear. */
function systemZone(): string | undefined {
  let zone: string | undefined;
  const tz = process.env.TZ;
  if (tz !== undefined) zone = tz.replace(/^:/, '') || 'UTC';
  else {
    try {
      zone = /\/zoneinfo\/(.+)$/.exec(readlinkSync('/etc/localtime'))?.[1];
    } catch {
      return undefined;
    }
  }
  if (zone === undefined || !/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(zone)) return undefined;
  return UTC_NAMES.has(zone) ? 'UTC' : zone;
}

/** Names of UTC that Intl reports as "UTC". */
const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'Etc/UCT', 'UCT', 'Etc/Universal', 'Universal', 'Etc/Zulu', 'Zulu']);

/** Users' template files plus the defaults: one set, shared by every integration of a config. */
export class NotifyTemplates {
  private readonly base: Template;

  private readonly funcs: FuncMap;

  /**
   * Throws naming a template file that does not parse or cannot be read. `timeZone` is the zone
   * the default messages show times in (`timeZone` in templates); this machine's by default.
   */
  constructor(files: readonly string[] = [], baseDir = '.', timeZone = localTimeZone()) {
    const funcs: FuncMap = { ...NOTIFY_FUNCS, timeZone: () => timeZone };
    let base = new Template('__defaults', DEFAULT_TEMPLATES, funcs);
    for (const pattern of files) {
      for (const f of globSync(resolvePath(pattern, baseDir))) {
        base = new Template(f, readFileSync(f, 'utf8'), funcs, base);
      }
    }
    this.base = base;
    this.funcs = funcs;
  }

  /** Renders one config string on the data; throws TemplateError. */
  async render(text: string, data: GoValue): Promise<string> {
    if (!text.includes('{{')) return text;
    const t = new Template('text', text, this.funcs, this.base);
    return t.execute(data, 'text', { maxOutput: 1 << 20 });
  }

  /** Renders several fields; the first failure names the field. */
  async renderAll<K extends string>(fields: Record<K, string>, data: GoValue): Promise<Record<K, string>> {
    const out = {} as Record<K, string>;
    for (const [k, v] of Object.entries(fields) as [K, string][]) {
      try {
        out[k] = await this.render(v, data);
      } catch (e) {
        throw new TemplateError(`${k}: ${(e as Error).message}`);
      }
    }
    return out;
  }
}

let shared: NotifyTemplates | undefined;
/** The defaults alone (when a receiver is built without a config's template files). */
export function defaultTemplates(): NotifyTemplates {
  return (shared ??= new NotifyTemplates());
}
