// JSON encoding of query results exactly as Prometheus's HTTP API writes them: sample values as
// strings in Go's shortest float formatting, timestamps as seconds with millisecond fractions,
// label sets in label order, and Go's HTML-safe string escaping. Hand-built strings rather than
// JSON.stringify so that large matrices do not go through an intermediate object tree.

import { formatFloatF } from '../model/gofloat.js';
import type { Labels } from '../model/labels.js';
import type { QueryStats, Value } from '../promql/types.js';

/**
 * A sample value the way vectors and matrices carry it (Prometheus's jsonutil.MarshalFloat):
 * strconv.FormatFloat(f, 'f', -1, 64), switching to 'e' below 1e-6 and from 1e21 on, with Go's
 * two-digit exponents (`1e-07`, `1.5e+21`), and `+Inf`, `-Inf`, `NaN`, `-0`.
 */
export function formatSampleValue(v: number): string {
  if (v !== v) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  // JavaScript switches to exponent notation at exactly the same bounds as Prometheus
  // (|v| < 1e-6, |v| >= 1e21) and also prints the shortest round-tripping digits.
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const exp = s.slice(e + 2);
  return exp.length === 1 ? `${s.slice(0, e + 2)}0${exp}` : s;
}

/**
 * A sample timestamp (jsonutil.MarshalTimestamp): whole seconds, then `.` and exactly three
 * millisecond digits when the fraction is not zero (`1.500`, `-0.050`).
 */
export function formatTimestamp(ms: number): string {
  let t = Math.round(ms);
  let sign = '';
  if (t < 0) {
    sign = '-';
    t = -t;
  }
  const frac = t % 1000;
  const secs = (t - frac) / 1000;
  if (frac === 0) return sign + secs;
  return `${sign}${secs}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** A scalar's or string's timestamp: Go's encoding of float64(t)/1000. */
export function formatGoFloat(v: number): string {
  if (!Number.isFinite(v)) return 'null';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  return String(v);
}

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;
const HTML_ESCAPES: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };

/** A JSON string as Go's encoder writes it: HTML-sensitive characters escaped as \u00XX. */
export function jsonString(s: string): string {
  const j = JSON.stringify(s);
  return HTML_UNSAFE.test(j) ? ((HTML_UNSAFE.lastIndex = 0), j.replace(HTML_UNSAFE, (c) => HTML_ESCAPES[c])) : j;
}

/** A label set as a JSON object in label order. */
export function labelsJSON(ls: Labels): string {
  if (ls.length === 0) return '{}';
  let s = '{';
  for (let i = 0; i < ls.length; i++) {
    if (i > 0) s += ',';
    s += jsonString(ls[i].name) + ':' + jsonString(ls[i].value);
  }
  return s + '}';
}

/** Any JSON-able value, with Go's string escaping and Go's map key order (sorted). */
export function goJSON(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return jsonString(v);
    case 'number':
      return formatGoFloat(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v.toString();
    case 'object': {
      if (Array.isArray(v)) return '[' + v.map(goJSON).join(',') + ']';
      const withToJSON = v as { toJSON?: () => unknown };
      if (typeof withToJSON.toJSON === 'function') return goJSON(withToJSON.toJSON());
      if (v instanceof Map) return goJSON(Object.fromEntries(v));
      const rec = v as Record<string, unknown>;
      const keys = Object.keys(rec)
        .filter((k) => rec[k] !== undefined)
        .sort();
      return '{' + keys.map((k) => jsonString(k) + ':' + goJSON(rec[k])).join(',') + '}';
    }
    default:
      return 'null';
  }
}

/** Like goJSON, but object keys keep their insertion order (Go structs, not maps). */
export function structJSON(v: Record<string, unknown>): string {
  const keys = Object.keys(v).filter((k) => v[k] !== undefined);
  return '{' + keys.map((k) => jsonString(k) + ':' + goJSON(v[k])).join(',') + '}';
}

/** The `data` of a query response: `{"resultType":…,"result":…}` plus stats when asked. */
export function queryDataJSON(value: Value, stats?: string): string {
  return queryDataParts(value, stats).join('');
}

/**
 * The same as queryDataJSON in pieces (about one per series), so that results larger than a
 * JavaScript string can hold are streamed rather than joined.
 */
export function queryDataParts(value: Value, stats?: string): string[] {
  const out: string[] = [`{"resultType":"${value.type}","result":`];
  switch (value.type) {
    case 'scalar':
      out.push(`[${formatGoFloat(value.t / 1000)},"${formatFloatF(value.v)}"]`);
      break;
    case 'string':
      out.push(`[${formatGoFloat(value.t / 1000)},${jsonString(value.v)}]`);
      break;
    case 'vector': {
      const n = value.samples.length;
      // Vectors are small per entry; group them so that the pieces stay few.
      let chunk = '[';
      for (let i = 0; i < n; i++) {
        const s = value.samples[i];
        if (i > 0) chunk += ',';
        chunk += `{"metric":${labelsJSON(s.labels)},"value":[${formatTimestamp(s.t)},"${formatSampleValue(s.v)}"]}`;
        if (chunk.length > 1 << 16) {
          out.push(chunk);
          chunk = '';
        }
      }
      out.push(chunk + ']');
      break;
    }
    case 'matrix': {
      out.push('[');
      // Points go through an array and one join per series: several times faster in V8 than
      // growing one string point by point.
      // Series of a range query mostly share their timestamps (the step grid): their text is
      // reused while they do.
      let points: string[] = [];
      let prevTs: Float64Array | null = null;
      let tsText: string[] = [];
      for (let i = 0; i < value.series.length; i++) {
        const s = value.series[i];
        const ts = s.timestamps;
        const vs = s.values;
        if (points.length !== ts.length) points = new Array<string>(ts.length);
        let same = prevTs !== null && prevTs.length === ts.length;
        for (let j = 0; same && j < ts.length; j++) same = prevTs![j] === ts[j];
        if (!same) {
          tsText = new Array<string>(ts.length);
          for (let j = 0; j < ts.length; j++) tsText[j] = '[' + formatTimestamp(ts[j]) + ',"';
          prevTs = ts;
        }
        for (let j = 0; j < ts.length; j++) points[j] = tsText[j] + formatSampleValue(vs[j]) + '"]';
        out.push(`${i > 0 ? ',' : ''}{"metric":${labelsJSON(s.labels)},"values":[${points.join(',')}]}`);
      }
      out.push(']');
      break;
    }
  }
  out.push(stats !== undefined ? `,"stats":${stats}}` : '}');
  return out;
}

/** Prometheus's query stats object (`stats=all`): timings in seconds and sample counts. */
export function statsJSON(stats: QueryStats, execTotalMs: number, queueMs: number): string {
  const secs = (ms: number) => formatSampleValue(Math.max(0, ms) / 1000);
  const timings =
    `{"evalTotalTime":${secs(stats.evalMs)},"resultSortTime":0,"queryPreparationTime":0,` +
    `"innerEvalTime":${secs(stats.evalMs)},"execQueueTime":${secs(queueMs)},"execTotalTime":${secs(execTotalMs)}}`;
  return `{"timings":${timings},"samples":{"totalQueryableSamples":${stats.samplesLoaded},"peakSamples":${stats.samplesLoaded}}}`;
}

/** The success envelope; warnings and infos appear only when there are some. */
export function successJSON(dataJSON: string, warnings: readonly string[] = [], infos: readonly string[] = []): string {
  return successParts([dataJSON], warnings, infos).join('');
}

export function successParts(data: readonly string[], warnings: readonly string[] = [], infos: readonly string[] = []): string[] {
  let tail = '';
  if (warnings.length > 0) tail += `,"warnings":${goJSON(warnings)}`;
  if (infos.length > 0) tail += `,"infos":${goJSON(infos)}`;
  return ['{"status":"success","data":', ...data, tail + '}'];
}

export function errorJSON(errorType: string, message: string, warnings: readonly string[] = []): string {
  let out = `{"status":"error","errorType":${jsonString(errorType)},"error":${jsonString(message)}`;
  if (warnings.length > 0) out += `,"warnings":${goJSON(warnings)}`;
  return out + '}';
}
