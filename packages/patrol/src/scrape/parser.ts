// Exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0 text. Two layers:
//  - scanExposition walks the body line by line and hands each sample to a sink as its raw series
//    text (name and label block exactly as exposed), so a scrape loop can look the series up in a
//    cache without building labels; parseSeries turns that text into sorted labels on a miss.
//  - parseExposition builds the full ParseResult on top, for collectors and tests.
// Text 0.0.4 follows Prometheus's lexer (lenient whitespace, trailing commas, Go number syntax).
// OpenMetrics is validated strictly against the 1.0 specification (see openmetrics.ts), because
// a body that declares itself OpenMetrics makes promises about its structure.

import { isAscii, isUtf8 } from 'node:buffer';
import type { Label, Labels } from '../model/labels.js';
import { METRIC_NAME } from '../model/labels.js';
import { OpenMetricsValidator } from './openmetrics.js';

export interface ParsedSample {
  /** Sorted, includes __name__; empty label values are dropped as Prometheus does. */
  labels: Labels;
  value: number;
  /** Milliseconds since the epoch, when the exposition carries one. */
  timestamp?: number;
}

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped' | 'unknown' | 'info' | 'stateset' | 'gaugehistogram';

export interface MetricMeta {
  type: MetricType;
  help: string;
  unit: string;
}

export interface ParseResult {
  samples: ParsedSample[];
  /** Keyed by metric family name as given in # TYPE / # HELP / # UNIT. */
  metadata: Map<string, MetricMeta>;
}

export class ParseError extends Error {
  constructor(
    readonly line: number,
    what: string,
  ) {
    super(`line ${line}: ${what}`);
    this.name = 'ParseError';
  }
}

export type ExpositionFormat = 'prometheus' | 'openmetrics';

/** Picks the parser from a Content-Type header; anything but OpenMetrics is the 0.0.4 text format. */
export function formatFromContentType(contentType?: string): ExpositionFormat {
  if (contentType && /^\s*application\/openmetrics-text\b/i.test(contentType)) return 'openmetrics';
  return 'prometheus';
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8, throwing a ParseError naming the line of the first invalid byte. */
export function decodeBody(body: Uint8Array): string {
  // ASCII bodies (nearly all) are copied byte for byte; others are validated, then decoded.
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (isAscii(buf)) return buf.toString('latin1');
  try {
    if (isUtf8(buf)) return buf.toString('utf8');
    return utf8.decode(body);
  } catch {
    const bad = firstInvalidUtf8(body);
    let line = 1;
    for (let i = 0; i < bad; i++) if (body[i] === 0x0a) line++;
    throw new ParseError(line, `invalid UTF-8 at byte offset ${bad} (0x${body[bad]?.toString(16).padStart(2, '0') ?? '??'})`);
  }
}

function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    let n = 0;
    let min = 0;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
    } else return i;
    if (i + n >= b.length) return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length;
}

export interface ScanOptions {
  /** Lines longer than this (in UTF-16 units) fail the scan; a guard against runaway exporters. */
  maxLineLength?: number;
}

/** Receives samples from scanExposition in exposition order. */
export interface SampleSink {
  /**
   * `series` is the metric name and label block exactly as exposed (the cache key for
   * parseSeries); `timestamp` is in milliseconds. Throwing stops the scan.
   */
  sample(series: string, value: number, timestamp: number | undefined, line: number): void;
  /**
   * Optional: the series text the next sample probably has (e.g. the one at the same position
   * in the previous scrape). When the body matches it, `sample` receives this very string.
   */
  predict?(): string | undefined;
}

const C_NL = 10;
const C_SP = 32;
const C_TAB = 9;
const C_HASH = 35;
const C_LBRACE = 123;
const C_RBRACE = 125;
const C_QUOTE = 34;
const C_BACKSLASH = 92;
const C_EQ = 61;
const C_COMMA = 44;

function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
}
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || (c >= 48 && c <= 57);
}
function isLabelStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isLabelChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57);
}

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Shows a piece of a line in an error message, shortened. */
function show(s: string): string {
  return JSON.stringify(s.length > 60 ? s.slice(0, 60) + '…' : s);
}

/**
 * Parses a number as Go's strconv.ParseFloat does for the text format (decimal, inf/infinity/nan
 * in any case, hex floats with a p exponent), or strictly as OpenMetrics' ABNF when `om`.
 * Returns undefined when the text is not a number.
 */
export function parseNumber(s: string, om: boolean): number | undefined {
  const n = s.length;
  if (n === 0) return undefined;
  let i = 0;
  let c = s.charCodeAt(0);
  if (c === 43 || c === 45) {
    if (n === 1) return undefined;
    i = 1;
    c = s.charCodeAt(1);
  }
  if ((c >= 48 && c <= 57) || c === 46) {
    // Decimal: digits [. digits] [e [sign] digits]; hex/binary/octal prefixes are handled below.
    if (c === 48 && i + 1 < n) {
      const x = s.charCodeAt(i + 1) | 0x20;
      if (x === 120 /* x */) return om ? undefined : parseHexFloat(s);
      if (x === 98 || x === 111) return undefined;
    }
    let digits = 0;
    let j = i;
    while (j < n && (c = s.charCodeAt(j)) >= 48 && c <= 57) {
      j++;
      digits++;
    }
    if (j < n && s.charCodeAt(j) === 46) {
      j++;
      while (j < n && (c = s.charCodeAt(j)) >= 48 && c <= 57) {
        j++;
        digits++;
      }
    }
    if (digits === 0) return undefined;
    if (j < n && (s.charCodeAt(j) | 0x20) === 101) {
      j++;
      if (j < n && ((c = s.charCodeAt(j)) === 43 || c === 45)) j++;
      let ed = 0;
      while (j < n && (c = s.charCodeAt(j)) >= 48 && c <= 57) {
        j++;
        ed++;
      }
      if (ed === 0) return undefined;
    }
    if (j !== n) return undefined;
    return Number(s);
  }
  const word = s.slice(i).toLowerCase();
  const neg = s.charCodeAt(0) === 45;
  if (word === 'inf' || word === 'infinity') return neg ? -Infinity : Infinity;
  if (word === 'nan') return i === 0 || !om ? NaN : undefined;
  return undefined;
}

function parseHexFloat(s: string): number | undefined {
  const m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const frac = m[3] ?? '';
  const mant = parseInt((m[2] || '0') + frac, 16);
  const v = mant * Math.pow(2, Number(m[4]) - 4 * frac.length);
  return m[1] === '-' ? -v : v;
}

function parseIntTimestamp(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? Number(s) : undefined;
}

/** OpenMetrics timestamps are seconds as a real number (no NaN, no Inf, no hex). */
function parseOMTimestamp(s: string): number | undefined {
  const v = parseNumber(s, true);
  if (v === undefined || !Number.isFinite(v)) return undefined;
  return Math.round(v * 1000);
}

/** Finds the end of a `{...}` block starting at `i` (the brace), honouring quoted values; -1 if open. */
function labelBlockEnd(text: string, i: number, end: number): number {
  let inQuote = false;
  for (let j = i + 1; j < end; j++) {
    const c = text.charCodeAt(j);
    if (inQuote) {
      if (c === C_BACKSLASH) j++;
      else if (c === C_QUOTE) inQuote = false;
    } else if (c === C_QUOTE) inQuote = true;
    else if (c === C_RBRACE) return j;
  }
  return -1;
}

function unescapeLabelValue(raw: string): string {
  if (raw.indexOf('\\') < 0) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\' || i + 1 >= raw.length) {
      out += c;
      continue;
    }
    const d = raw[++i];
    if (d === 'n') out += '\n';
    else if (d === '\\') out += '\\';
    else if (d === '"') out += '"';
    else out += '\\' + d;
  }
  return out;
}

function unescapeHelp(raw: string): string {
  if (raw.indexOf('\\') < 0) return raw;
  return raw.replace(/\\(.)/gs, (m: string, d: string) => (d === 'n' ? '\n' : d === '\\' ? '\\' : m));
}

/**
 * Turns series text (`name{a="b",…}` as exposed) into sorted labels with __name__, dropping empty
 * values. Throws a ParseError naming the problem; OpenMetrics forbids whitespace and trailing
 * commas that the text format allows.
 */
export function parseSeries(series: string, line: number, format: ExpositionFormat): Labels {
  const om = format === 'openmetrics';
  const n = series.length;
  let i = 0;
  if (n === 0 || !isNameStart(series.charCodeAt(0))) throw new ParseError(line, `expected a metric name, got ${show(series)}`);
  while (i < n && isNameChar(series.charCodeAt(i))) i++;
  const name = series.slice(0, i);
  const out: Label[] = [{ name: METRIC_NAME, value: name }];
  if (!om) while (i < n && (series.charCodeAt(i) === C_SP || series.charCodeAt(i) === C_TAB)) i++;
  if (i === n) return out;
  if (series.charCodeAt(i) !== C_LBRACE) throw new ParseError(line, `unexpected ${show(series.slice(i))} after metric name ${name}`);
  i++;
  const seen = new Set<string>();
  let needComma = false;
  for (;;) {
    if (!om) while (i < n && (series.charCodeAt(i) === C_SP || series.charCodeAt(i) === C_TAB)) i++;
    if (i >= n) throw new ParseError(line, `unterminated label set in ${show(series)}`);
    let c = series.charCodeAt(i);
    if (c === C_RBRACE) {
      if (om && needComma === false && seen.size > 0) throw new ParseError(line, `trailing comma in label set of ${name}`);
      i++;
      break;
    }
    if (needComma) {
      if (c !== C_COMMA) throw new ParseError(line, `expected "," or "}" in label set of ${name}, got ${show(series.slice(i))}`);
      i++;
      needComma = false;
      continue;
    }
    if (!isLabelStart(c)) throw new ParseError(line, `invalid label name at ${show(series.slice(i))} in ${name}`);
    const ns = i;
    while (i < n && isLabelChar(series.charCodeAt(i))) i++;
    const lname = series.slice(ns, i);
    if (!om) while (i < n && (series.charCodeAt(i) === C_SP || series.charCodeAt(i) === C_TAB)) i++;
    if (series.charCodeAt(i) !== C_EQ) throw new ParseError(line, `expected "=" after label name ${lname} in ${name}`);
    i++;
    if (!om) while (i < n && (series.charCodeAt(i) === C_SP || series.charCodeAt(i) === C_TAB)) i++;
    if (series.charCodeAt(i) !== C_QUOTE) throw new ParseError(line, `expected a quoted value for label ${lname} in ${name}`);
    i++;
    const vs = i;
    for (;;) {
      if (i >= n) throw new ParseError(line, `unterminated value for label ${lname} in ${name}`);
      c = series.charCodeAt(i);
      if (c === C_BACKSLASH) i += 2;
      else if (c === C_QUOTE) break;
      else if (c === C_NL) throw new ParseError(line, `newline in value of label ${lname}`);
      else i++;
    }
    const value = unescapeLabelValue(series.slice(vs, i));
    i++;
    if (lname === METRIC_NAME || seen.has(lname)) throw new ParseError(line, `label ${lname} appears twice in ${name}`);
    seen.add(lname);
    if (value !== '') out.push({ name: lname, value });
    needComma = true;
  }
  if (i !== n) throw new ParseError(line, `unexpected ${show(series.slice(i))} after label set of ${name}`);
  if (out.length > 2) out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/**
 * Walks an exposition body, handing samples to `sink` and filling `metadata`. Throws ParseError
 * on the first malformed line. For OpenMetrics, also checks the structure the specification
 * requires (families contiguous, histogram buckets, counter values, # EOF).
 */
export function scanExposition(text: string, format: ExpositionFormat, sink: SampleSink, metadata?: Map<string, MetricMeta>, opts: ScanOptions = {}): void {
  const maxLine = opts.maxLineLength ?? Infinity;
  const predict = sink.predict?.bind(sink);
  if (format === 'openmetrics') {
    scanOpenMetrics(text, sink, metadata, maxLine);
    return;
  }
  const meta = metadata ?? new Map<string, MetricMeta>();
  const hist = new HistogramInfCheck();
  const len = text.length;
  let pos = 0;
  let line = 0;
  while (pos < len) {
    line++;
    let end = text.indexOf('\n', pos);
    if (end < 0) end = len;
    if (end - pos > maxLine) throw new ParseError(line, `line is ${end - pos} characters long (at most ${maxLine})`);
    let s = pos;
    pos = end + 1;
    let e = end;
    if (e > s && text.charCodeAt(e - 1) === 13) e--;
    while (s < e && (text.charCodeAt(s) === C_SP || text.charCodeAt(s) === C_TAB)) s++;
    if (s === e) continue;
    const c0 = text.charCodeAt(s);
    if (c0 === C_HASH) {
      textComment(text.slice(s + 1, e), line, meta, hist);
      continue;
    }
    if (!isNameStart(c0)) throw new ParseError(line, `expected a metric name or comment, got ${show(text.slice(s, e))}`);
    let i: number;
    let series: string | undefined;
    // Steady targets expose the same series in the same order: compare in place with the
    // predicted text and reuse that string, avoiding a slice and a hash per line.
    const pred = predict?.();
    if (pred !== undefined && text.startsWith(pred, s)) {
      const after = s + pred.length;
      const c = text.charCodeAt(after);
      if (after < e && (c === C_SP || c === C_TAB)) {
        series = pred;
        i = after;
      } else i = s;
    } else i = s;
    if (series === undefined) {
      i = s + 1;
      while (i < e && isNameChar(text.charCodeAt(i))) i++;
      const nameEnd = i;
      while (i < e && (text.charCodeAt(i) === C_SP || text.charCodeAt(i) === C_TAB)) i++;
      if (i < e && text.charCodeAt(i) === C_LBRACE) {
        const close = labelBlockEnd(text, i, e);
        if (close < 0) throw new ParseError(line, `unterminated label set in ${show(text.slice(s, e))}`);
        i = close + 1;
      } else i = nameEnd;
      series = text.slice(s, i);
    }
    while (i < e && (text.charCodeAt(i) === C_SP || text.charCodeAt(i) === C_TAB)) i++;
    if (i === e) throw new ParseError(line, `missing value for ${show(series)}`);
    const vs = i;
    // Fast path for plain integers (most counters); anything else goes through parseNumber.
    let value = 0;
    let digits = true;
    while (i < e) {
      const c = text.charCodeAt(i);
      if (c === C_SP || c === C_TAB) break;
      if (digits && c >= 48 && c <= 57) value = value * 10 + (c - 48);
      else digits = false;
      i++;
    }
    if (!digits || i - vs > 15) {
      const vtext = text.slice(vs, i);
      const v = parseNumber(vtext, false);
      if (v === undefined) throw new ParseError(line, `invalid value ${show(vtext)} for ${show(series)}`);
      value = v;
    }
    while (i < e && (text.charCodeAt(i) === C_SP || text.charCodeAt(i) === C_TAB)) i++;
    let ts: number | undefined;
    if (i < e) {
      const ts0 = i;
      while (i < e && text.charCodeAt(i) !== C_SP && text.charCodeAt(i) !== C_TAB) i++;
      const tt = text.slice(ts0, i);
      ts = parseIntTimestamp(tt);
      if (ts === undefined) throw new ParseError(line, `invalid timestamp ${show(tt)} for ${show(series)} (expected integer milliseconds)`);
      while (i < e && (text.charCodeAt(i) === C_SP || text.charCodeAt(i) === C_TAB)) i++;
      if (i < e) throw new ParseError(line, `unexpected ${show(text.slice(i, e))} after timestamp`);
    }
    if (hist.active) {
      let nameEnd = s + 1;
      while (nameEnd < e && isNameChar(text.charCodeAt(nameEnd))) nameEnd++;
      hist.sample(text, s, nameEnd, series, line);
    }
    sink.sample(series, value, ts, line);
  }
  hist.finish(line);
}

function textComment(body: string, line: number, meta: Map<string, MetricMeta>, hist: HistogramInfCheck): void {
  // `# HELP name text`, `# TYPE name type`; any other comment is ignored.
  const m = /^[ \t]+(HELP|TYPE)(?:[ \t]+(.*))?$/s.exec(body);
  if (!m) return;
  const rest = m[2] ?? '';
  const sp = rest.search(/[ \t]/);
  const name = sp < 0 ? rest : rest.slice(0, sp);
  if (!METRIC_NAME_RE.test(name)) throw new ParseError(line, `invalid metric name ${show(name)} in # ${m[1]}`);
  const arg = sp < 0 ? '' : rest.slice(sp).replace(/^[ \t]+/, '');
  const cur = meta.get(name) ?? { type: 'untyped' as MetricType, help: '', unit: '' };
  if (m[1] === 'HELP') {
    cur.help = unescapeHelp(arg);
  } else {
    const t = arg.trimEnd();
    if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(t)) throw new ParseError(line, `invalid metric type ${show(t)} for ${name}`);
    cur.type = t as MetricType;
    hist.setType(name, cur.type, line);
  }
  meta.set(name, cur);
}

/**
 * The text format says nothing about buckets, but a histogram whose buckets lack `le="+Inf"`
 * cannot be queried correctly (histogram_quantile needs it), so the scrape fails on it.
 */
class HistogramInfCheck {
  active = false;
  private family = '';
  /** Label groups (series text without `le`) that have buckets, and whether +Inf was seen. */
  private groups = new Map<string, boolean>();
  private firstLine = new Map<string, number>();

  setType(name: string, type: MetricType, line: number): void {
    this.finish(line);
    this.active = type === 'histogram';
    this.family = name;
  }

  sample(text: string, s: number, nameEnd: number, series: string, line: number): void {
    if (nameEnd - s !== this.family.length + 7 || !text.startsWith(this.family, s) || !text.startsWith('_bucket', s + this.family.length)) return;
    const labels = parseSeries(series, line, 'prometheus');
    let le: string | undefined;
    let key = '';
    for (const l of labels) {
      if (l.name === 'le') le = l.value;
      else if (l.name !== METRIC_NAME) key += l.name + '\xff' + l.value + '\xfe';
    }
    if (le === undefined) throw new ParseError(line, `histogram bucket ${this.family}_bucket has no "le" label`);
    const inf = parseNumber(le, false) === Infinity;
    if (!this.groups.has(key)) this.firstLine.set(key, line);
    this.groups.set(key, (this.groups.get(key) ?? false) || inf);
  }

  finish(line: number): void {
    for (const [key, hasInf] of this.groups) {
      if (!hasInf) {
        const shown = key.split('\xfe').filter(Boolean).map((p) => p.replace('\xff', '=')).join(',');
        throw new ParseError(this.firstLine.get(key) ?? line, `histogram ${this.family}${shown ? `{${shown}}` : ''} has no bucket with le="+Inf"`);
      }
    }
    this.groups.clear();
    this.firstLine.clear();
    this.active = false;
  }
}

function scanOpenMetrics(text: string, sink: SampleSink, metadata: Map<string, MetricMeta> | undefined, maxLine: number): void {
  const v = new OpenMetricsValidator(metadata ?? new Map());
  const len = text.length;
  let pos = 0;
  let line = 0;
  let sawEOF = false;
  while (pos < len) {
    line++;
    let end = text.indexOf('\n', pos);
    if (end < 0) end = len;
    if (end - pos > maxLine) throw new ParseError(line, `line is ${end - pos} characters long (at most ${maxLine})`);
    const l = text.slice(pos, end);
    const hadNewline = end < len;
    pos = end + 1;
    if (sawEOF) throw new ParseError(line, `content after # EOF`);
    if (l === '# EOF') {
      sawEOF = true;
      if (pos < len) throw new ParseError(line + 1, `content after # EOF`);
      continue;
    }
    if (l === '') throw new ParseError(line, 'empty line (OpenMetrics allows none)');
    if (!hadNewline) throw new ParseError(line, `last line ${show(l)} is not # EOF`);
    if (l.charCodeAt(0) === C_HASH) {
      v.metadataLine(l, line);
      continue;
    }
    const smp = omSampleLine(l, line);
    const labels = parseSeries(smp.series, line, 'openmetrics');
    v.sample(labels, smp.value, smp.timestamp, smp.exemplar, line);
    sink.sample(smp.series, smp.value, smp.timestamp, line);
  }
  if (!sawEOF) throw new ParseError(Math.max(line, 1), 'missing # EOF at the end');
  v.finish(line);
}

interface OMSampleLine {
  series: string;
  value: number;
  timestamp: number | undefined;
  exemplar: boolean;
}

function omSampleLine(l: string, line: number): OMSampleLine {
  const e = l.length;
  if (!isNameStart(l.charCodeAt(0))) throw new ParseError(line, `expected a metric name, got ${show(l)}`);
  let i = 1;
  while (i < e && isNameChar(l.charCodeAt(i))) i++;
  if (i < e && l.charCodeAt(i) === C_LBRACE) {
    const close = labelBlockEnd(l, i, e);
    if (close < 0) throw new ParseError(line, `unterminated label set in ${show(l)}`);
    i = close + 1;
  }
  const series = l.slice(0, i);
  if (l.charCodeAt(i) !== C_SP) throw new ParseError(line, i >= e ? `missing value for ${show(series)}` : `expected one space after ${show(series)}`);
  i++;
  const vs = i;
  while (i < e && l.charCodeAt(i) !== C_SP) i++;
  const vtext = l.slice(vs, i);
  const value = parseNumber(vtext, true);
  if (value === undefined) throw new ParseError(line, `invalid value ${show(vtext)} for ${show(series)}`);
  let timestamp: number | undefined;
  let exemplar = false;
  if (i < e) {
    i++; // the space
    if (l.charCodeAt(i) !== C_HASH) {
      const ts0 = i;
      while (i < e && l.charCodeAt(i) !== C_SP) i++;
      const tt = l.slice(ts0, i);
      timestamp = parseOMTimestamp(tt);
      if (timestamp === undefined) throw new ParseError(line, `invalid timestamp ${show(tt)} for ${show(series)}`);
      if (i < e) i++;
      else return { series, value, timestamp, exemplar };
    }
    if (l.charCodeAt(i) !== C_HASH) throw new ParseError(line, `unexpected ${show(l.slice(i))} after ${show(series)}`);
    omExemplar(l.slice(i), line);
    exemplar = true;
  }
  return { series, value, timestamp, exemplar };
}

/** Validates ` # {labels} value [timestamp]` (given from the `#`); exemplars are not stored. */
function omExemplar(x: string, line: number): void {
  if (!x.startsWith('# {')) throw new ParseError(line, `invalid exemplar ${show(x)} (expected "# {labels} value")`);
  const close = labelBlockEnd(x, 2, x.length);
  if (close < 0) throw new ParseError(line, `unterminated exemplar label set`);
  const labels = parseSeries('e' + x.slice(2, close + 1), line, 'openmetrics');
  let runes = 0;
  for (const lb of labels) if (lb.name !== METRIC_NAME) runes += [...lb.name].length + [...lb.value].length;
  // parseSeries drops empty values; they count 0 runes for the value but their names count.
  if (runes > 128) throw new ParseError(line, `exemplar labels are ${runes} characters long (at most 128)`);
  const rest = x.slice(close + 1);
  const m = /^ ([^ ]+)(?: ([^ ]+))?$/.exec(rest);
  if (!m) throw new ParseError(line, `invalid exemplar value/timestamp ${show(rest)}`);
  if (parseNumber(m[1], true) === undefined) throw new ParseError(line, `invalid exemplar value ${show(m[1])}`);
  if (m[2] !== undefined && parseOMTimestamp(m[2]) === undefined) throw new ParseError(line, `invalid exemplar timestamp ${show(m[2])}`);
}

/** Parses a whole body. `contentType` chooses the format (OpenMetrics or the 0.0.4 text format). */
export function parseExposition(body: string | Uint8Array, contentType?: string): ParseResult {
  const text = typeof body === 'string' ? body : decodeBody(body);
  const format = formatFromContentType(contentType);
  const samples: ParsedSample[] = [];
  const metadata = new Map<string, MetricMeta>();
  const cache = new Map<string, Labels>();
  scanExposition(
    text,
    format,
    {
      sample(series, value, timestamp, line) {
        let labels = cache.get(series);
        if (!labels) {
          labels = parseSeries(series, line, format);
          cache.set(series, labels);
        }
        samples.push(timestamp === undefined ? { labels, value } : { labels, value, timestamp });
      },
    },
    metadata,
  );
  return { samples, metadata };
}
