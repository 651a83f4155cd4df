// The overview in columns (GET /api/patrol/v1/overview?format=columns): the same rows as the
// default answer, but one array per field instead of 10,000 objects repeating every key, label
// sets and failure reasons in tables, and the 24 hourly cells and the sparkline of each probe
// packed into short strings. At 10,000 probes the JSON is about a third of the rows' size, so the
// server stringifies and compresses less and the browser decodes and parses less before the first
// screen. The dashboard (packages/ui/src/api.ts, decodeColumns) reads it; other readers keep the rows.
//
// Per probe i (every array has `n` entries):
//   name[i], target[i]              strings
//   type[i]                         index into `strings`
//   labels[i]                       index into `labelsets` (distinct label sets, usually a few)
//   state[i]                        index into ['unknown', 'up', 'down', 'degraded']
//   since[i]                        `base` minus the time the state began (ms), or -1 (null)
//   failures[i]                     failures in a row
//   last[i]                         [base - time (ms), 1|0 success, ms] of the last run, or 0 (null)
//   fail[i]                         [base - time (ms), index into `strings`] of the last failure, or 0
//   uptime[i]                       24 h uptime rounded to 1e-5, or -1 (null)
//   hours[i]                        24 characters, oldest first: ' ' no runs, else PACK[level] where
//                                   level = 90 for a ratio >= 0.999, else floor(ratio * 90) (so the
//                                   0.9 and 0.999 boundaries the bars colour by are kept exactly)
//   spark[i]                        [max ms, PACK[round(value / max * 90)] per run] or 0 (no runs)

import type { OverviewRow } from '../probe/manager.js';
import type { ProbeState } from '../model/probestate.js';

/** 91 characters that need no escaping in JSON: '#' to '~' without the backslash; index = level. */
export const PACK = Array.from({ length: 0x7e - 0x23 + 1 }, (_, i) => String.fromCharCode(0x23 + i))
  .filter((c) => c !== '\\')
  .join('');
const TOP = PACK.length - 1; // 90

/** A label set's key in the table (the configuration's label objects live across reads). */
const labelKeys = new WeakMap<Record<string, string>, string>();

export const STATES: readonly ProbeState[] = ['unknown', 'up', 'down', 'degraded'];

export interface OverviewColumns {
  format: 'columns';
  generation: number;
  seq: number;
  full: boolean;
  /** head=N reads: the first rows only, of `total`. */
  head?: true;
  total?: number;
  counts: Record<string, number>;
  base: number;
  n: number;
  strings: string[];
  labelsets: Record<string, string>[];
  name: string[];
  target: string[];
  type: number[];
  labels: number[];
  state: number[];
  since: number[];
  failures: number[];
  last: ([number, number, number] | 0)[];
  fail: ([number, number] | 0)[];
  uptime: number[];
  hours: string[];
  spark: ([number, string] | 0)[];
}

const CODE = Array.from(PACK, (c) => c.charCodeAt(0));

/** One hour's success ratio (-1: no runs) as the character code of its cell in `hours`. */
export function hourCode(h: number): number {
  if (h < 0) return 0x20;
  return CODE[h >= 0.999 ? TOP : Math.min(TOP - 1, Math.floor(h * TOP))];
}

/** Rows (already masked) in columns; `base` is the time the relative times count back from. */
export function overviewColumns(a: { generation: number; seq: number; full: boolean; head?: true; total?: number; counts: Record<string, number>; probes: OverviewRow[] }, base = Date.now()): OverviewColumns {
  const strings: string[] = [];
  const stringIdx = new Map<string, number>();
  const str = (s: string): number => {
    let i = stringIdx.get(s);
    if (i === undefined) stringIdx.set(s, (i = strings.push(s) - 1));
    return i;
  };
  const labelsets: Record<string, string>[] = [];
  // The rows of one probe share their config's labels object: look it up by identity first.
  const byObject = new Map<Record<string, string>, number>();
  const byKey = new Map<string, number>();
  const labelset = (l: Record<string, string>): number => {
    let i = byObject.get(l);
    if (i !== undefined) return i;
    let key = labelKeys.get(l);
    if (key === undefined) {
      key = '';
      for (const k in l) key += `${k}\u0000${l[k]}\u0000`;
      labelKeys.set(l, key);
    }
    i = byKey.get(key);
    if (i === undefined) byKey.set(key, (i = labelsets.push(l) - 1));
    byObject.set(l, i);
    return i;
  };
  const n = a.probes.length;
  const out: OverviewColumns = {
    format: 'columns',
    generation: a.generation,
    seq: a.seq,
    full: a.full,
    ...(a.head ? { head: true as const, total: a.total } : {}),
    counts: a.counts,
    base,
    n,
    strings,
    labelsets,
    name: new Array<string>(n),
    target: new Array<string>(n),
    type: new Array<number>(n),
    labels: new Array<number>(n),
    state: new Array<number>(n),
    since: new Array<number>(n),
    failures: new Array<number>(n),
    last: new Array<[number, number, number] | 0>(n),
    fail: new Array<[number, number] | 0>(n),
    uptime: new Array<number>(n),
    hours: new Array<string>(n),
    spark: new Array<[number, string] | 0>(n),
  };
  for (let i = 0; i < n; i++) {
    const p = a.probes[i];
    out.name[i] = p.name;
    out.target[i] = p.target;
    out.type[i] = str(p.type);
    out.labels[i] = labelset(p.labels);
    out.state[i] = STATES.indexOf(p.state);
    out.since[i] = p.since === null ? -1 : base - p.since;
    out.failures[i] = p.failures;
    out.last[i] = p.last ? [base - p.last.time, p.last.success ? 1 : 0, p.last.ms] : 0;
    out.fail[i] = p.last_failure ? [base - p.last_failure.time, str(p.last_failure.reason)] : 0;
    out.uptime[i] = p.uptime_24h === null ? -1 : Math.round(p.uptime_24h * 1e5) / 1e5;
    out.hours[i] = String.fromCharCode(...p.hours.map(hourCode));
    if (p.spark.length === 0) out.spark[i] = 0;
    else {
      let max = 0;
      for (const v of p.spark) if (v > max) max = v;
      out.spark[i] = [max, String.fromCharCode(...p.spark.map((v) => CODE[max > 0 ? Math.round((v / max) * TOP) : 0]))];
    }
  }
  return out;
}
