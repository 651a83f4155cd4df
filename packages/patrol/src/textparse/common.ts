// The exposition parsers' shared vocabulary (samples, metadata, errors, Go-style numbers), a leaf
// module so the text and OpenMetrics layers import it without importing each other.

import type { Labels } from '../model/labels.js';

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

