// The series notation shared by `load` blocks and expected results of the PromQL test-script
// language (the same expanding syntax as `promtool test rules`):
//
//   metric{a="b"} 1+2x3 _ _x2 stale 5x2 -1-1x4 Inf NaN {{schema:1 sum:3 count:22}}
//
// `a+bxn` is a followed by n further values, each adding b (accumulated, as Prometheus does);
// `axn` is a repeated n+1 times; `_` is a missing sample, `_xn` n missing samples; `stale` is a
// staleness marker. Native-histogram values `{{…}}` are recognised and kept only as markers:
// Patrol's engine works on floats.

import type { Labels } from '../../model/labels.js';
import { labelsFromPairs, METRIC_NAME } from '../../model/labels.js';
import { STALE_NAN } from '../../model/value.js';

export type SequenceValue =
  | { kind: 'float'; value: number }
  | { kind: 'omitted' }
  /** A native histogram sample; its content is not interpreted. */
  | { kind: 'histogram'; text: string };

export interface SeriesDesc {
  labels: Labels;
  values: SequenceValue[];
}

export class ScriptSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScriptSyntaxError';
  }
}

const IDENT_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Parses `metric{labels} values…`. Throws ScriptSyntaxError naming the bad part. */
export function parseSeriesDesc(line: string): SeriesDesc {
  const { labels, rest } = parseMetric(line);
  return { labels, values: parseSequence(rest) };
}

/** Parses the metric part of a series line; returns the labels and the unparsed remainder. */
export function parseMetric(text: string): { labels: Labels; rest: string } {
  let s = text.trimStart();
  const pairs: [string, string][] = [];
  const m = IDENT_RE.exec(s);
  if (m) {
    pairs.push([METRIC_NAME, m[0]]);
    s = s.slice(m[0].length);
  }
  if (s.startsWith('{')) {
    s = s.slice(1);
    for (;;) {
      s = s.trimStart();
      if (s.startsWith('}')) {
        s = s.slice(1);
        break;
      }
      let name: string;
      if (s[0] === '"' || s[0] === "'" || s[0] === '`') {
        const q = readQuoted(s);
        name = q.value;
        s = q.rest.trimStart();
        if (!s.startsWith('=')) {
          // A lone quoted string is the metric name (Prometheus 3 UTF-8 syntax).
          pairs.push([METRIC_NAME, name]);
          if (s.startsWith(',')) s = s.slice(1);
          continue;
        }
      } else {
        const lm = LABEL_RE.exec(s);
        if (!lm) throw new ScriptSyntaxError(`expected a label name in ${JSON.stringify(text)} at ${JSON.stringify(s.slice(0, 20))}`);
        name = lm[0];
        s = s.slice(name.length).trimStart();
      }
      if (!s.startsWith('=')) throw new ScriptSyntaxError(`expected "=" after label ${name} in ${JSON.stringify(text)}`);
      s = s.slice(1).trimStart();
      const q = readQuoted(s);
      pairs.push([name, q.value]);
      s = q.rest.trimStart();
      if (s.startsWith(',')) s = s.slice(1);
      else if (!s.startsWith('}')) throw new ScriptSyntaxError(`expected "," or "}" in ${JSON.stringify(text)} at ${JSON.stringify(s.slice(0, 20))}`);
    }
  } else if (!m) {
    throw new ScriptSyntaxError(`expected a metric name or "{" at the start of ${JSON.stringify(text)}`);
  }
  if (s !== '' && !/^\s/.test(s)) throw new ScriptSyntaxError(`unexpected ${JSON.stringify(s.slice(0, 20))} after the metric in ${JSON.stringify(text)}`);
  return { labels: labelsFromPairs(pairs), rest: s };
}

/** Reads a Go-style quoted string ("…" or '…' with escapes, `…` raw) at the start of s. */
export function readQuoted(s: string): { value: string; rest: string } {
  const q = s[0];
  if (q !== '"' && q !== "'" && q !== '`') throw new ScriptSyntaxError(`expected a quoted string at ${JSON.stringify(s.slice(0, 20))}`);
  if (q === '`') {
    const end = s.indexOf('`', 1);
    if (end < 0) throw new ScriptSyntaxError(`unterminated raw string ${JSON.stringify(s)}`);
    return { value: s.slice(1, end), rest: s.slice(end + 1) };
  }
  let out = '';
  let i = 1;
  const bytes: number[] = [];
  const flushBytes = (): void => {
    if (bytes.length) {
      out += Buffer.from(bytes).toString('utf8');
      bytes.length = 0;
    }
  };
  while (i < s.length) {
    const c = s[i];
    if (c === q) {
      flushBytes();
      return { value: out, rest: s.slice(i + 1) };
    }
    if (c !== '\\') {
      flushBytes();
      out += c;
      i++;
      continue;
    }
    const e = s[i + 1];
    i += 2;
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (e !== undefined && e in simple) {
      flushBytes();
      out += simple[e];
    } else if (e === 'x') {
      bytes.push(parseInt(s.slice(i, i + 2), 16));
      i += 2;
    } else if (e !== undefined && e >= '0' && e <= '7') {
      bytes.push(parseInt(s.slice(i - 1, i + 2), 8));
      i += 2;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      flushBytes();
      out += String.fromCodePoint(parseInt(s.slice(i, i + n), 16));
      i += n;
    } else {
      throw new ScriptSyntaxError(`invalid escape \\${e ?? ''} in ${JSON.stringify(s)}`);
    }
  }
  throw new ScriptSyntaxError(`unterminated string ${JSON.stringify(s)}`);
}

/** Splits a value sequence on blanks, keeping `{{…}}` histogram literals whole. */
function tokenize(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    let tok = '';
    while (i < text.length && !/\s/.test(text[i])) {
      if (text.startsWith('{{', i)) {
        const end = text.indexOf('}}', i);
        if (end < 0) throw new ScriptSyntaxError(`unterminated histogram literal in ${JSON.stringify(text)}`);
        tok += text.slice(i, end + 2);
        i = end + 2;
      } else {
        tok += text[i];
        i++;
      }
    }
    out.push(tok);
  }
  return out;
}

// No hexadecimal here: Prometheus forbids it in series descriptions (`0x3` is 0 repeated).
const NUM = String.raw`(?:[iI][nN][fF]|[nN][aA][nN]|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)`;
const ITEM_RE = new RegExp(String.raw`^([+-]?${NUM}|stale)(?:([+-])(${NUM}))?(?:x(\d+))?$`);
const HIST_ITEM_RE = /^(\{\{.*?\}\})(?:([+-])(\{\{.*?\}\}))?(?:x(\d+))?$/;

export function parseNumberLiteral(s: string): number {
  let sign = 1;
  let t = s;
  if (t[0] === '+' || t[0] === '-') {
    if (t[0] === '-') sign = -1;
    t = t.slice(1);
  }
  const low = t.toLowerCase();
  if (low === 'inf') return sign * Infinity;
  if (low === 'nan') return NaN;
  const v = Number(t);
  if (Number.isNaN(v)) throw new ScriptSyntaxError(`invalid number ${JSON.stringify(s)}`);
  return sign * v;
}

/** Expands a value sequence (everything after the metric). */
export function parseSequence(text: string): SequenceValue[] {
  const out: SequenceValue[] = [];
  for (const tok of tokenize(text)) {
    if (tok === '_') {
      out.push({ kind: 'omitted' });
      continue;
    }
    const blank = /^_x(\d+)$/.exec(tok);
    if (blank) {
      for (let i = 0; i < Number(blank[1]); i++) out.push({ kind: 'omitted' });
      continue;
    }
    if (tok.startsWith('{{')) {
      const h = HIST_ITEM_RE.exec(tok);
      if (!h) throw new ScriptSyntaxError(`invalid histogram item ${JSON.stringify(tok)}`);
      const times = h[4] === undefined ? 0 : Number(h[4]);
      for (let i = 0; i <= times; i++) out.push({ kind: 'histogram', text: h[1] });
      continue;
    }
    const m = ITEM_RE.exec(tok);
    if (!m) throw new ScriptSyntaxError(`invalid series value ${JSON.stringify(tok)}`);
    let v = m[1] === 'stale' ? STALE_NAN : parseNumberLiteral(m[1]);
    if (m[4] === undefined) {
      if (m[2] !== undefined) throw new ScriptSyntaxError(`series value ${JSON.stringify(tok)} needs a repeat count (x<n>)`);
      out.push({ kind: 'float', value: v });
      continue;
    }
    const times = Number(m[4]);
    const inc = m[2] === undefined ? 0 : (m[2] === '-' ? -1 : 1) * parseNumberLiteral(m[3]);
    for (let i = 0; i <= times; i++) {
      out.push({ kind: 'float', value: v });
      if (m[2] !== undefined) v += inc;
    }
  }
  return out;
}

/**
 * The number forms an expected scalar line accepts (Go's strconv.ParseInt with base 0, then
 * ParseFloat): `42`, `0x1f`, `017`, `0b101`, `1.5e3`, `+Inf`, `NaN`. Returns null otherwise.
 */
export function parseScalarLine(s: string): number | null {
  const int = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9]\d*)$/.exec(s);
  if (int) {
    const body = int[2];
    let v: number;
    if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
    else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
    else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
    else if (body.length > 1 && body[0] === '0') v = parseInt(body.slice(1), 8);
    else v = Number(body);
    return int[1] === '-' ? -v : v;
  }
  const f = /^([+-]?)(inf|infinity|nan|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)$/i.exec(s);
  if (!f) return null;
  const low = f[2].toLowerCase();
  if (low === 'nan') return NaN;
  const v = low === 'inf' || low === 'infinity' ? Infinity : Number(f[2]);
  return f[1] === '-' ? -v : v;
}
