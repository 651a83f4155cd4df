// The structural rules of OpenMetrics 1.0 that a line-by-line syntax check cannot see: metric
// families are contiguous and declared once, metadata precedes samples, each type has its own
// sample names and labels, counters never go negative, histogram buckets are cumulative and end
// in +Inf, and timestamps of a series never go backwards.

import type { Labels } from '../model/labels.js';
import { METRIC_NAME } from '../model/labels.js';
import { ParseError, parseNumber, type MetricMeta, type MetricType } from './common.js';

const OM_TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'gaugehistogram', 'stateset', 'info', 'summary', 'unknown'];
const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** The sample-name suffixes each type may use after the family name. */
const SUFFIXES: Record<string, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [''],
  unknown: [''],
  stateset: [''],
  info: ['_info'],
  summary: ['', '_count', '_sum', '_created'],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
};

interface HistogramGroup {
  lastLe: number;
  lastBucket: number;
  inf: number | undefined;
  negativeBucket: boolean;
  count: number | undefined;
  sum: number | undefined;
  line: number;
}

interface Family {
  name: string;
  type: MetricType;
  hasHelp: boolean;
  hasType: boolean;
  hasUnit: boolean;
  unit: string;
  sawSamples: boolean;
  group: string | null;
  finishedGroups: Set<string>;
  hist: HistogramGroup | null;
  lastTs: Map<string, number | null>;
}

function labelsKey(ls: Labels, skip: string): string {
  let k = '';
  for (const l of ls) if (l.name !== METRIC_NAME && l.name !== skip) k += l.name + '\xff' + l.value + '\xfe';
  return k;
}

function getLabel(ls: Labels, name: string): string | undefined {
  for (const l of ls) if (l.name === name) return l.value;
  return undefined;
}

/**
 * A series as the validator sees it: its labels and the keys derived from them. Scanners keep it
 * across scrapes for series whose text recurs, so a steady target parses no labels.
 */
export class OMSeries {
  readonly name: string;
  /** Every label but the name. */
  readonly key: string;
  /** Name and labels: the identity for timestamp checks. */
  readonly seriesKey: string;
  private skip = '';
  private skipKey: string;

  constructor(readonly labels: Labels) {
    this.name = labels[0]?.name === METRIC_NAME ? labels[0].value : (getLabel(labels, METRIC_NAME) ?? '');
    this.key = labelsKey(labels, '');
    this.seriesKey = this.name + '\xfe' + this.key;
    this.skipKey = this.key;
  }

  /** The key of the labels without `skip` (a histogram's le, a summary's quantile). */
  groupKey(skip: string): string {
    if (skip === '') return this.key;
    if (skip !== this.skip) {
      this.skip = skip;
      this.skipKey = labelsKey(this.labels, skip);
    }
    return this.skipKey;
  }
}

export class OpenMetricsValidator {
  private cur: Family | null = null;
  /** Family names and sample names taken by families already seen. */
  private readonly claimed = new Set<string>();

  constructor(private readonly metadata: Map<string, MetricMeta>) {}

  metadataLine(l: string, line: number): void {
    const m = /^# (HELP|TYPE|UNIT) ([^ ]*)(?: (.*))?$/s.exec(l);
    if (!m) throw new ParseError(line, `invalid line ${JSON.stringify(l.slice(0, 60))} (comments must be # HELP, # TYPE, # UNIT or # EOF)`);
    const [, kind, name, arg] = m;
    if (!NAME_RE.test(name)) throw new ParseError(line, `invalid metric name ${JSON.stringify(name)} in # ${kind}`);
    if (arg === undefined) throw new ParseError(line, `# ${kind} ${name} needs a value after a space`);
    let fam = this.cur;
    if (!fam || fam.name !== name) fam = this.openFamily(name, 'unknown', line);
    else if (fam.sawSamples) throw new ParseError(line, `# ${kind} for ${name} after its samples`);
    const meta = this.metadata.get(name) ?? { type: 'unknown' as MetricType, help: '', unit: '' };
    if (kind === 'HELP') {
      if (fam.hasHelp) throw new ParseError(line, `second # HELP for ${name}`);
      fam.hasHelp = true;
      meta.help = arg.replace(/\\(.)/gs, (x: string, d: string) => (d === 'n' ? '\n' : d === '\\' ? '\\' : d === '"' ? '"' : x));
    } else if (kind === 'TYPE') {
      if (fam.hasType) throw new ParseError(line, `second # TYPE for ${name}`);
      if (!OM_TYPES.includes(arg as MetricType)) throw new ParseError(line, `invalid type ${JSON.stringify(arg)} for ${name} (expected one of ${OM_TYPES.join(', ')})`);
      fam.hasType = true;
      fam.type = arg as MetricType;
      for (const s of SUFFIXES[fam.type]) {
        if (this.claimed.has(name + s)) throw new ParseError(line, `${name} of type ${fam.type} would expose ${name + s}, which another family already uses`);
      }
      if (fam.hasUnit && fam.unit !== '' && (fam.type === 'info' || fam.type === 'stateset')) throw new ParseError(line, `${fam.type} ${name} cannot have a unit`);
      meta.type = fam.type;
    } else {
      if (fam.hasUnit) throw new ParseError(line, `second # UNIT for ${name}`);
      if (!/^[a-zA-Z0-9_:]*$/.test(arg)) throw new ParseError(line, `invalid unit ${JSON.stringify(arg)} for ${name}`);
      if (arg !== '' && !name.endsWith('_' + arg)) throw new ParseError(line, `metric ${name} with unit ${arg} must end in _${arg}`);
      if (arg !== '' && (fam.type === 'info' || fam.type === 'stateset')) throw new ParseError(line, `${fam.type} ${name} cannot have a unit`);
      fam.hasUnit = true;
      fam.unit = arg;
      meta.unit = arg;
    }
    this.metadata.set(name, meta);
  }

  private openFamily(name: string, type: MetricType, line: number): Family {
    this.closeFamily(line);
    if (this.claimed.has(name)) throw new ParseError(line, `metric family ${name} appears again or clashes with an earlier family (families must be contiguous)`);
    const fam: Family = {
      name,
      type,
      hasHelp: false,
      hasType: false,
      hasUnit: false,
      unit: '',
      sawSamples: false,
      group: null,
      finishedGroups: new Set(),
      hist: null,
      lastTs: new Map(),
    };
    this.cur = fam;
    return fam;
  }

  private closeFamily(line: number): void {
    const fam = this.cur;
    if (!fam) return;
    this.finishGroup(fam, line);
    this.claimed.add(fam.name);
    for (const s of SUFFIXES[fam.type] ?? ['']) this.claimed.add(fam.name + s);
    this.cur = null;
  }

  private suffixOf(fam: Family, name: string): string | undefined {
    if (!name.startsWith(fam.name)) return undefined;
    const s = name.slice(fam.name.length);
    return SUFFIXES[fam.type].includes(s) ? s : undefined;
  }

  sample(series: OMSeries, value: number, ts: number | undefined, exemplar: boolean, line: number): void {
    const { labels, name } = series;
    let fam = this.cur;
    let suffix = fam ? this.suffixOf(fam, name) : undefined;
    if (!fam || suffix === undefined) {
      fam = this.openFamily(name, 'unknown', line);
      suffix = '';
    }
    fam.sawSamples = true;
    const t = fam.type;
    const show = `${name} ${value}`;

    if (exemplar) {
      const ok = (t === 'counter' && suffix === '_total') || ((t === 'histogram' || t === 'gaugehistogram') && suffix === '_bucket');
      if (!ok) throw new ParseError(line, `exemplar not allowed on ${name} (only on counter _total and histogram _bucket samples)`);
    }

    let skip = '';
    if (t === 'counter' && suffix === '_total') {
      if (!(value >= 0)) throw new ParseError(line, `counter ${show}: value must be a non-negative number`);
    } else if (t === 'info') {
      if (value !== 1) throw new ParseError(line, `info ${show}: value must be 1`);
    } else if (t === 'stateset') {
      if (getLabel(labels, fam.name) === undefined) throw new ParseError(line, `stateset ${name} needs a label named ${fam.name}`);
      if (value !== 0 && value !== 1) throw new ParseError(line, `stateset ${show}: value must be 0 or 1`);
      skip = fam.name;
    } else if (t === 'summary') {
      if (suffix === '') {
        const q = getLabel(labels, 'quantile');
        if (q === undefined) throw new ParseError(line, `summary sample ${name} needs a quantile label`);
        const qv = parseNumber(q, true);
        if (qv === undefined || !(qv >= 0 && qv <= 1)) throw new ParseError(line, `summary ${name}: quantile ${JSON.stringify(q)} is not a number between 0 and 1`);
        if (value < 0) throw new ParseError(line, `summary ${show}: quantile value must not be negative`);
        skip = 'quantile';
      } else if (suffix === '_count' || suffix === '_sum') {
        if (!(value >= 0)) throw new ParseError(line, `summary ${show}: value must be a non-negative number`);
      }
    } else if (t === 'histogram' || t === 'gaugehistogram') {
      skip = suffix === '_bucket' ? 'le' : '';
    }

    const group = series.groupKey(skip);
    if (group !== fam.group) {
      this.finishGroup(fam, line);
      if (fam.finishedGroups.has(group)) throw new ParseError(line, `samples of ${fam.name} with the same labels are not together`);
      fam.group = group;
    }

    // A series' timestamps never go backwards, and a series either always has one or never.
    const seriesKey = series.seriesKey;
    const prev = fam.lastTs.get(seriesKey);
    if (prev !== undefined) {
      if (prev === null || ts === undefined) throw new ParseError(line, prev === null && ts === undefined ? `duplicate sample for ${name}` : `${name}: a series must either always or never have a timestamp`);
      if (ts < prev) throw new ParseError(line, `${name}: timestamp ${ts / 1000} goes backwards from ${prev / 1000}`);
    }
    fam.lastTs.set(seriesKey, ts ?? null);

    if (t === 'histogram' || t === 'gaugehistogram') this.histogramSample(fam, suffix, labels, value, line);
  }

  private histogramSample(fam: Family, suffix: string, labels: Labels, value: number, line: number): void {
    const h = (fam.hist ??= { lastLe: -Infinity, lastBucket: 0, inf: undefined, negativeBucket: false, count: undefined, sum: undefined, line });
    const name = fam.name + suffix;
    if (suffix === '_bucket') {
      const le = getLabel(labels, 'le');
      if (le === undefined) throw new ParseError(line, `${name} needs an le label`);
      const lv = parseNumber(le, true);
      if (lv === undefined || Number.isNaN(lv) || lv === -Infinity || (lv === Infinity && le !== '+Inf')) throw new ParseError(line, `${name}: le=${JSON.stringify(le)} is not a number (infinity is written "+Inf")`);
      if (lv <= h.lastLe && h.lastLe !== -Infinity) throw new ParseError(line, `${name}: bucket le=${le} is not greater than the previous bucket`);
      if (!(value >= 0)) throw new ParseError(line, `${name}{le="${le}"} ${value}: bucket count must be a non-negative number`);
      if (value < h.lastBucket) throw new ParseError(line, `${name}{le="${le}"} ${value}: buckets must be cumulative (previous bucket was ${h.lastBucket})`);
      if (h.inf !== undefined) throw new ParseError(line, `${name}: bucket after le="+Inf"`);
      h.lastLe = lv;
      h.lastBucket = value;
      if (lv < 0) h.negativeBucket = true;
      if (lv === Infinity) h.inf = value;
    } else if (suffix === '_count' || suffix === '_gcount') {
      if (!(value >= 0)) throw new ParseError(line, `${name} ${value}: count must be a non-negative number`);
      h.count = value;
    } else if (suffix === '_sum' || suffix === '_gsum') {
      if (Number.isNaN(value)) throw new ParseError(line, `${name}: sum must not be NaN`);
      h.sum = value;
    }
  }

  private finishGroup(fam: Family, line: number): void {
    if (fam.group !== null) fam.finishedGroups.add(fam.group);
    fam.group = null;
    const h = fam.hist;
    fam.hist = null;
    if (!h || (fam.type !== 'histogram' && fam.type !== 'gaugehistogram')) return;
    const at = h.line;
    const gauge = fam.type === 'gaugehistogram';
    const cnt = gauge ? '_gcount' : '_count';
    const sum = gauge ? '_gsum' : '_sum';
    if (h.inf === undefined) throw new ParseError(at, `histogram ${fam.name} has no bucket with le="+Inf"`);
    if ((h.count === undefined) !== (h.sum === undefined)) throw new ParseError(line, `histogram ${fam.name} must have both ${cnt} and ${sum} or neither`);
    if (h.count !== undefined && h.count !== h.inf) throw new ParseError(line, `histogram ${fam.name}: ${cnt} ${h.count} differs from the +Inf bucket ${h.inf}`);
    if (h.sum !== undefined) {
      if (!gauge && h.negativeBucket) throw new ParseError(line, `histogram ${fam.name} has negative buckets, so it must not have ${sum}`);
      if (h.sum < 0 && !h.negativeBucket) throw new ParseError(line, `histogram ${fam.name}: ${sum} ${h.sum} is negative without negative buckets`);
    }
  }

  finish(line: number): void {
    this.closeFamily(line);
  }
}
