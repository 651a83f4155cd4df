// Exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0 text. Two layers:
//  - scanExposition walks the body's bytes line by line and hands each sample to a sink with the
//    position of its raw series text (name and label block exactly as exposed). Given where the
//    series were in the previous body of the same target, it recognises them by comparing bytes,
//    so a steady target costs no string, no hash and no label parsing per line; parseSeries turns
//    the text of a series not seen before into sorted labels.
//  - parseExposition builds the full ParseResult on top, for collectors and tests.
// Text 0.0.4 follows Prometheus's lexer (lenient whitespace, trailing commas, Go number syntax).
// OpenMetrics is validated strictly against the 1.0 specification (see openmetrics.ts), because
// a body that declares itself OpenMetrics makes promises about its structure.

import { isAscii, isUtf8 } from 'node:buffer';
import type { Label, Labels } from '../model/labels.js';
import { METRIC_NAME } from '../model/labels.js';
import { OMSeries, OpenMetricsValidator } from './openmetrics.js';
import { ParseError, parseNumber, type ExpositionFormat, type MetricMeta, type MetricType, type ParsedSample, type ParseResult } from './common.js';

export { ParseError, parseNumber, type ExpositionFormat, type MetricMeta, type MetricType, type ParsedSample, type ParseResult } from './common.js';

/** Picks the parser from a Content-Type header; anything but OpenMetrics is the 0.0.4 text format. */
export function formatFromContentType(contentType?: string): ExpositionFormat {
  if (contentType && /^\s*application\/openmetrics-text\b/i.test(contentType)) return 'openmetrics';
  return 'prometheus';
}

/**
 * Checks that a body is UTF-8, throwing a ParseError naming the line of the first invalid byte.
 * Returns true when it is plain ASCII (nearly all bodies), where bytes and characters coincide.
 */
export function checkUtf8(body: Buffer): boolean {
  if (isAscii(body)) return true;
  if (isUtf8(body)) return false;
  const bad = firstInvalidUtf8(body);
  let line = 1;
  for (let i = 0; i < bad; i++) if (body[i] === 0x0a) line++;
  throw new ParseError(line, `invalid UTF-8 at byte offset ${bad} (0x${body[bad]?.toString(16).padStart(2, '0') ?? '??'})`);
}

/** A Buffer view of any byte array, without copying. */
export function asBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** Decodes UTF-8, throwing a ParseError naming the line of the first invalid byte. */
export function decodeBody(body: Uint8Array): string {
  const buf = asBuffer(body);
  return buf.toString(checkUtf8(buf) ? 'latin1' : 'utf8');
}

/** The text of bytes [start, end) of a body that checkUtf8 accepted. */
export function textOf(body: Buffer, start: number, end: number): string {
  return body.toString('utf8', start, end);
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
  /** Lines longer than this many bytes fail the scan; a guard against runaway exporters. */
  maxLineLength?: number;
  /** Where the series were in the previous body of the same source: see SeriesPositions. */
  previous?: SeriesPositions;
  /** Filled with where this body's series are (reset first), to pass as `previous` next time. */
  record?: SeriesPositions;
}

/** Receives samples from scanExposition in exposition order. */
export interface SampleSink {
  /**
   * One sample. Its series, the metric name and label block exactly as exposed, is bytes
   * [start, end) of `body` (textOf decodes it). `same` is the index of the sample with the very
   * same series text in `ScanOptions.previous`, or -1. `timestamp` is in milliseconds. Throwing
   * stops the scan.
   */
  sample(body: Buffer, start: number, end: number, value: number, timestamp: number | undefined, line: number, same: number): void;
}

/**
 * Where each sample's series text lies in one body, kept by a scrape loop so the next body's
 * series can be recognised by comparing bytes: first with the series that followed the last one
 * recognised (targets expose the same series in the same order), then through a hash index built
 * on the first miss.
 */
export class SeriesPositions {
  body: Buffer = Buffer.alloc(0);
  start = new Int32Array(64);
  end = new Int32Array(64);
  n = 0;
  /** For OpenMetrics: each series as the validator saw it, reused when the text recurs. */
  om: (OMSeries | undefined)[] = [];
  private index: Map<number, number> | null = null;
  /** Chains indexes with the same hash: next[i] is the previous index with i's hash, or -1. */
  private next: Int32Array | null = null;

  reset(body: Buffer): void {
    this.body = body;
    this.n = 0;
    this.om.length = 0;
    this.index = null;
    this.next = null;
  }

  push(start: number, end: number): void {
    if (this.n === this.start.length) {
      const s = new Int32Array(this.n * 2);
      s.set(this.start);
      this.start = s;
      const e = new Int32Array(this.n * 2);
      e.set(this.end);
      this.end = e;
    }
    this.start[this.n] = start;
    this.end[this.n] = end;
    this.n++;
  }

  /** Whether series i's bytes equal bytes [s, e) of `b`. */
  equals(i: number, b: Buffer, s: number, e: number): boolean {
    const ps = this.start[i];
    const len = this.end[i] - ps;
    return len === e - s && sameBytes(b, s, this.body, ps, len);
  }

  /** The index of the (last) series with bytes [s, e) of `b`, or -1. */
  find(b: Buffer, s: number, e: number): number {
    if (!this.index) this.buildIndex();
    for (let i = this.index!.get(hashBytes(b, s, e)) ?? -1; i >= 0; i = this.next![i]) if (this.equals(i, b, s, e)) return i;
    return -1;
  }

  /** Releases the body when it is a small view of a larger buffer (undici's read chunks). */
  compact(): void {
    const b = this.body;
    if (b.byteLength < b.buffer.byteLength / 2) this.body = Buffer.from(b);
  }

  private buildIndex(): void {
    const index = new Map<number, number>();
    const next = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) {
      const h = hashBytes(this.body, this.start[i], this.end[i]);
      next[i] = index.get(h) ?? -1;
      index.set(h, i);
    }
    this.index = index;
    this.next = next;
  }
}

/** Whether `len` bytes of `a` from `as` equal those of `b` from `bs`; four at a time, then the rest. */
function sameBytes(a: Buffer, as: number, b: Buffer, bs: number, len: number): boolean {
  const whole = len & ~3;
  let j = 0;
  if (whole > 0) {
    const da = viewOf(a);
    const db = viewOf(b);
    while (j < whole && da.getInt32(as + j) === db.getInt32(bs + j)) j += 4;
    if (j < whole) return false;
  }
  while (j < len && a[as + j] === b[bs + j]) j++;
  return j === len;
}

let lastBuf: Buffer | null = null;
let lastView: DataView | null = null;
let lastBuf2: Buffer | null = null;
let lastView2: DataView | null = null;

/** A DataView over a Buffer, cached for the two buffers last asked for (a body and its predecessor). */
function viewOf(b: Buffer): DataView {
  if (b === lastBuf) return lastView!;
  if (b === lastBuf2) return lastView2!;
  lastBuf2 = lastBuf;
  lastView2 = lastView;
  lastBuf = b;
  lastView = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return lastView;
}

/** A multiplicative hash of bytes [s, e), four bytes a step. */
function hashBytes(b: Buffer, s: number, e: number): number {
  const v = viewOf(b);
  let h = 0x811c9dc5 ^ (e - s);
  let i = s;
  for (; i + 4 <= e; i += 4) h = Math.imul(h ^ v.getInt32(i), 0x01000193) ^ (h >>> 15);
  for (; i < e; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h | 0;
}

const C_NL = 10;
const C_CR = 13;
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

function parseIntTimestamp(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? Number(s) : undefined;
}

/** OpenMetrics timestamps are seconds as a real number (no NaN, no Inf, no hex). */
function parseOMTimestamp(s: string): number | undefined {
  const v = parseNumber(s, true);
  if (v === undefined || !Number.isFinite(v)) return undefined;
  return Math.round(v * 1000);
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
export function scanExposition(body: Uint8Array | string, format: ExpositionFormat, sink: SampleSink, metadata?: Map<string, MetricMeta>, opts: ScanOptions = {}): void {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : asBuffer(body);
  const ascii = checkUtf8(b);
  opts.record?.reset(b);
  if (format === 'openmetrics') scanOpenMetrics(b, ascii, sink, metadata ?? new Map(), opts);
  else scanText(b, sink, metadata ?? new Map(), opts);
}

/** Bytes [s, e) of a line for an error message, shortened. */
function showBytes(b: Buffer, s: number, e: number): string {
  return show(b.toString('utf8', s, Math.min(e, s + 240)));
}

function lineEnd(b: Buffer, from: number): number {
  const e = b.indexOf(C_NL, from);
  return e < 0 ? b.length : e;
}

function isBlank(c: number): boolean {
  return c === C_SP || c === C_TAB;
}

function blanksThenBrace(b: Buffer, i: number, len: number): boolean {
  while (i < len && isBlank(b[i])) i++;
  return b[i] === C_LBRACE;
}

function isLineEnd(c: number): boolean {
  return c === C_NL || c === C_CR;
}

/** The text format 0.0.4, on bytes. */
function scanText(b: Buffer, sink: SampleSink, meta: Map<string, MetricMeta>, opts: ScanOptions): void {
  const maxLine = opts.maxLineLength ?? Infinity;
  const prev = opts.previous;
  const rec = opts.record;
  const prevN = prev ? prev.n : 0;
  const hist = new HistogramInfCheck();
  const len = b.length;
  /** The previous body's index expected next. */
  let p = 0;
  let pos = 0;
  let line = 0;
  let ls = 0;
  /** Throws `what` for the current line, unless the line is too long: then that is the error. */
  const fail = (what: string): never => {
    const e = lineEnd(b, ls);
    if (e - ls > maxLine) throw new ParseError(line, `line is ${e - ls} bytes long (at most ${maxLine})`);
    throw new ParseError(line, what);
  };
  while (pos < len) {
    line++;
    ls = pos;
    let s = pos;
    while (s < len && isBlank(b[s])) s++;
    const c0 = s < len ? b[s] : C_NL;
    if (c0 === C_NL || c0 === C_HASH || c0 === C_CR) {
      const end = lineEnd(b, s);
      if (end - ls > maxLine) fail('');
      pos = end + 1;
      let e = end;
      if (e > s && b[e - 1] === C_CR) e--;
      if (c0 === C_HASH) textComment(b.toString('utf8', s + 1, e), line, meta, hist);
      else if (e > s) fail(`expected a metric name or comment, got ${showBytes(b, s, e)}`);
      continue;
    }
    if (!isNameStart(c0)) fail(`expected a metric name or comment, got ${showBytes(b, s, lineEnd(b, s))}`);
    // The series text: recognised as the previous body's next series by comparing bytes, or
    // delimited by scanning the name and label block.
    let i = -1;
    let same = -1;
    if (p < prevN) {
      const ps = prev!.start[p];
      const plen = prev!.end[p] - ps;
      const pb = prev!.body;
      // A name without labels followed by blanks and `{` is a different series.
      if (s + plen < len && isBlank(b[s + plen]) && sameBytes(b, s, pb, ps, plen) && (pb[ps + plen - 1] === C_RBRACE || !blanksThenBrace(b, s + plen, len))) {
        i = s + plen;
        same = p;
      }
    }
    if (i < 0) {
      i = s + 1;
      while (i < len && isNameChar(b[i])) i++;
      const nameEnd = i;
      while (i < len && isBlank(b[i])) i++;
      if (i < len && b[i] === C_LBRACE) {
        const close = labelBlockEndBytes(b, i, len);
        if (close < 0) fail(`unterminated label set in ${showBytes(b, s, lineEnd(b, s))}`);
        i = close + 1;
      } else i = nameEnd;
      if (prevN > 0) same = prev!.find(b, s, i);
    }
    if (same >= 0) p = same + 1;
    const se = i;
    while (i < len && isBlank(b[i])) i++;
    if (i >= len || isLineEnd(b[i])) fail(`missing value for ${showBytes(b, s, se)}`);
    const vs = i;
    // Fast path for plain integers (most counters); anything else goes through parseNumber.
    let value = 0;
    let digits = true;
    while (i < len) {
      const c = b[i];
      if (c === C_SP || c === C_TAB || c === C_NL || c === C_CR) break;
      if (digits && c >= 48 && c <= 57) value = value * 10 + (c - 48);
      else digits = false;
      i++;
    }
    if (!digits || i - vs > 15) {
      const vtext = b.toString('utf8', vs, i);
      const v = parseNumber(vtext, false);
      if (v === undefined) fail(`invalid value ${show(vtext)} for ${showBytes(b, s, se)}`);
      value = v!;
    }
    while (i < len && isBlank(b[i])) i++;
    let ts: number | undefined;
    if (i < len && !isLineEnd(b[i])) {
      const ts0 = i;
      while (i < len && !isBlank(b[i]) && !isLineEnd(b[i])) i++;
      const tt = b.toString('utf8', ts0, i);
      ts = parseIntTimestamp(tt);
      if (ts === undefined) fail(`invalid timestamp ${show(tt)} for ${showBytes(b, s, se)} (expected integer milliseconds)`);
      while (i < len && isBlank(b[i])) i++;
    }
    if (i < len && b[i] === C_CR && (i + 1 === len || b[i + 1] === C_NL)) i++;
    if (i < len && b[i] !== C_NL) fail(`unexpected ${showBytes(b, i, lineEnd(b, i))} after ${ts === undefined ? 'value' : 'timestamp'}`);
    pos = i + 1;
    if (i - ls > maxLine) fail('');
    if (hist.active) hist.sample(b, s, se, line);
    rec?.push(s, se);
    sink.sample(b, s, se, value, ts, line, same);
  }
  hist.finish(line);
}

/** Finds the `}` closing the block whose `{` is at `i`, honouring quoted values; -1 when the line ends first. */
function labelBlockEndBytes(b: Buffer, i: number, end: number): number {
  let inQuote = false;
  for (let j = i + 1; j < end; j++) {
    const c = b[j];
    if (c === C_NL) return -1;
    if (inQuote) {
      if (c === C_BACKSLASH) j++;
      else if (c === C_QUOTE) inQuote = false;
    } else if (c === C_QUOTE) inQuote = true;
    else if (c === C_RBRACE) return j;
  }
  return -1;
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
 * cannot be queried correctly (histogram_quantile needs it), so the scrape fails on it. Works on
 * bytes: a bucket's group is the hash of its series text without the `le` pair.
 */
class HistogramInfCheck {
  active = false;
  private family: Buffer = Buffer.alloc(0);
  private familyName = '';
  /** Per group: whether +Inf was seen, and the first bucket's line and series text position. */
  private groups = new Map<number, { inf: boolean; line: number; body: Buffer; start: number; end: number }>();

  setType(name: string, type: MetricType, line: number): void {
    this.finish(line);
    this.active = type === 'histogram';
    this.familyName = name;
    this.family = Buffer.from(name + '_bucket');
  }

  sample(b: Buffer, s: number, se: number, line: number): void {
    const f = this.family;
    const n = f.length;
    if (se - s < n || isNameChar(b[s + n])) return;
    for (let j = 0; j < n; j++) if (b[s + j] !== f[j]) return;
    // Walk the label pairs, hashing everything but `le="…"`.
    let h1 = 0x811c9dc5;
    let h2 = 0x12345678;
    let le: string | undefined;
    let i = s + n;
    while (i < se && b[i] !== C_LBRACE) i++;
    i++;
    while (i < se) {
      while (i < se && (isBlank(b[i]) || b[i] === C_COMMA)) i++;
      if (i >= se || b[i] === C_RBRACE) break;
      const ns = i;
      while (i < se && isLabelChar(b[i])) i++;
      const isLe = i - ns === 2 && b[ns] === 108 && b[ns + 1] === 101;
      while (i < se && b[i] !== C_QUOTE) i++;
      const vs = ++i;
      while (i < se && b[i] !== C_QUOTE) i += b[i] === C_BACKSLASH ? 2 : 1;
      if (isLe) le = b.toString('utf8', vs, i);
      else
        for (let j = ns; j < i; j++) {
          h1 = Math.imul(h1 ^ b[j], 0x01000193);
          h2 = Math.imul(h2 ^ b[j], 0x5bd1e995);
        }
      i++;
    }
    if (le === undefined) throw new ParseError(line, `histogram bucket ${this.familyName}_bucket has no "le" label`);
    const key = (h1 >>> 0) * 0x200000 + (h2 >>> 11);
    const inf = parseNumber(le, false) === Infinity;
    const g = this.groups.get(key);
    if (g) g.inf ||= inf;
    else this.groups.set(key, { inf, line, body: b, start: s, end: se });
  }

  finish(line: number): void {
    for (const g of this.groups.values()) {
      if (g.inf) continue;
      const labels = parseSeries(g.body.toString('utf8', g.start, g.end), g.line, 'prometheus').filter((l) => l.name !== METRIC_NAME && l.name !== 'le');
      const shown = labels.map((l) => `${l.name}=${l.value}`).join(',');
      throw new ParseError(g.line ?? line, `histogram ${this.familyName}${shown ? `{${shown}}` : ''} has no bucket with le="+Inf"`);
    }
    this.groups.clear();
    this.active = false;
  }
}

function scanOpenMetrics(b: Buffer, ascii: boolean, sink: SampleSink, metadata: Map<string, MetricMeta>, opts: ScanOptions): void {
  const maxLine = opts.maxLineLength ?? Infinity;
  const prev = opts.previous;
  const rec = opts.record;
  const prevN = prev ? prev.n : 0;
  const v = new OpenMetricsValidator(metadata);
  const len = b.length;
  let p = 0;
  let pos = 0;
  let line = 0;
  let sawEOF = false;
  while (pos < len) {
    line++;
    const start = pos;
    const end = lineEnd(b, pos);
    if (end - pos > maxLine) throw new ParseError(line, `line is ${end - pos} bytes long (at most ${maxLine})`);
    const hadNewline = end < len;
    pos = end + 1;
    if (sawEOF) throw new ParseError(line, `content after # EOF`);
    if (end === start) throw new ParseError(line, 'empty line (OpenMetrics allows none)');
    if (b[start] === C_HASH) {
      const l = b.toString(ascii ? 'latin1' : 'utf8', start, end);
      if (l === '# EOF') {
        sawEOF = true;
        if (pos < len) throw new ParseError(line + 1, `content after # EOF`);
        continue;
      }
      if (!hadNewline) throw new ParseError(line, `last line ${show(l)} is not # EOF`);
      v.metadataLine(l, line);
      continue;
    }
    if (!hadNewline) throw new ParseError(line, `last line ${showBytes(b, start, end)} is not # EOF`);
    // The series: the previous body's next one, found by its bytes, or delimited here.
    let se = -1;
    let same = -1;
    if (p < prevN) {
      const plen = prev!.end[p] - prev!.start[p];
      if (start + plen < end && b[start + plen] === C_SP && prev!.equals(p, b, start, start + plen)) {
        se = start + plen;
        same = p;
      }
    }
    if (se < 0) {
      se = omSeriesEnd(b, start, end, line);
      if (prevN > 0) same = prev!.find(b, start, se);
    }
    if (same >= 0) p = same + 1;
    let series = same >= 0 ? prev!.om[same] : undefined;
    if (!series) series = new OMSeries(parseSeries(textOf(b, start, se), line, 'openmetrics'));
    // Value, timestamp, exemplar: a plain integer and nothing after it is read from the bytes.
    let value = 0;
    let timestamp: number | undefined;
    let exemplar = false;
    let i = se + 1;
    if (b[se] === C_SP) while (i < end && b[i] >= 48 && b[i] <= 57) value = value * 10 + (b[i++] - 48);
    if (b[se] !== C_SP || i < end || i === se + 1 || i - se > 16) {
      const rest = omRest(b.toString(ascii ? 'latin1' : 'utf8', se, end), line, () => textOf(b, start, se));
      value = rest.value;
      timestamp = rest.timestamp;
      exemplar = rest.exemplar;
    }
    v.sample(series, value, timestamp, exemplar, line);
    if (rec) {
      rec.om[rec.n] = series;
      rec.push(start, se);
    }
    sink.sample(b, start, se, value, timestamp, line, same);
  }
  if (!sawEOF) throw new ParseError(Math.max(line, 1), 'missing # EOF at the end');
  v.finish(line);
}

/** The end of an OpenMetrics sample's series text (name and label block) starting at `s`. */
function omSeriesEnd(b: Buffer, s: number, e: number, line: number): number {
  if (!isNameStart(b[s])) throw new ParseError(line, `expected a metric name, got ${showBytes(b, s, e)}`);
  let i = s + 1;
  while (i < e && isNameChar(b[i])) i++;
  if (i < e && b[i] === C_LBRACE) {
    const close = labelBlockEndBytes(b, i, e);
    if (close < 0) throw new ParseError(line, `unterminated label set in ${showBytes(b, s, e)}`);
    i = close + 1;
  }
  return i;
}

/** Parses what follows an OpenMetrics sample's series: ` value [timestamp] [# exemplar]`. */
function omRest(r: string, line: number, series: () => string): { value: number; timestamp: number | undefined; exemplar: boolean } {
  const e = r.length;
  if (r.charCodeAt(0) !== C_SP) throw new ParseError(line, e === 0 ? `missing value for ${show(series())}` : `expected one space after ${show(series())}`);
  let i = 1;
  while (i < e && r.charCodeAt(i) !== C_SP) i++;
  const vtext = r.slice(1, i);
  const value = parseNumber(vtext, true);
  if (value === undefined) throw new ParseError(line, `invalid value ${show(vtext)} for ${show(series())}`);
  if (i >= e) return { value, timestamp: undefined, exemplar: false };
  i++; // the space
  let timestamp: number | undefined;
  if (r.charCodeAt(i) !== C_HASH) {
    const ts0 = i;
    while (i < e && r.charCodeAt(i) !== C_SP) i++;
    const tt = r.slice(ts0, i);
    timestamp = parseOMTimestamp(tt);
    if (timestamp === undefined) throw new ParseError(line, `invalid timestamp ${show(tt)} for ${show(series())}`);
    if (i >= e) return { value, timestamp, exemplar: false };
    i++;
  }
  if (r.charCodeAt(i) !== C_HASH) throw new ParseError(line, `unexpected ${show(r.slice(i))} after ${show(series())}`);
  omExemplar(r.slice(i), line);
  return { value, timestamp, exemplar: true };
}

/** Validates ` # {labels} value [timestamp]` (given from the `#`); exemplars are not stored. */
function omExemplar(x: string, line: number): void {
  if (!x.startsWith('# {')) throw new ParseError(line, `invalid exemplar ${show(x)} (expected "# {labels} value")`);
  const xb = Buffer.from(x, 'utf8');
  const closeAt = labelBlockEndBytes(xb, 2, xb.length);
  if (closeAt < 0) throw new ParseError(line, `unterminated exemplar label set`);
  const close = xb.toString('utf8', 0, closeAt).length;
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
  const format = formatFromContentType(contentType);
  const samples: ParsedSample[] = [];
  const metadata = new Map<string, MetricMeta>();
  const cache = new Map<string, Labels>();
  scanExposition(
    body,
    format,
    {
      sample(b, start, end, value, timestamp, line) {
        const series = textOf(b, start, end);
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
