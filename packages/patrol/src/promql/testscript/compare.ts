// Comparison of query results with the expectations of an eval command, as promqltest does it:
// floats are equal within a relative error of 1e-6, NaN equals NaN, series are matched by their
// exact label set, ordered evals also check positions.

import type { Labels } from '../../model/labels.js';
import { compareLabels, formatLabels, labelsKey } from '../../model/labels.js';
import { isStaleNaN } from '../../model/value.js';
import type { InstantSample, Value } from '../types.js';
import type { EvalCommand, ExpectedSeries } from './parse.js';
import { expectationMatches } from './parse.js';

export const DEFAULT_EPSILON = 0.000001;
const MIN_NORMAL = 2.2250738585072014e-308;

/** Prometheus's util/almost.Equal. */
export function almostEqual(a: number, b: number, epsilon = DEFAULT_EPSILON): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return isStaleNaN(a) === isStaleNaN(b);
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < MIN_NORMAL) return diff < epsilon * MIN_NORMAL;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

/** Go's %v for floats, close enough for messages. */
export function fmtFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function isOrdered(ev: EvalCommand): boolean {
  return ev.legacy.ordered || ev.expectations.some((e) => e.type === 'ordered');
}

function expectedByKey(ev: EvalCommand): Map<string, ExpectedSeries> {
  const m = new Map<string, ExpectedSeries>();
  for (const e of ev.expected) m.set(labelsKey(e.labels), e);
  return m;
}

export function assertSortedSeries(labels: Labels[]): string | null {
  for (let i = 0; i + 1 < labels.length; i++) {
    if (compareLabels(labels[i], labels[i + 1]) > 0) {
      return `matrix results should always be sorted by labels, but matrix is not sorted: series at index ${i + 1} with labels ${formatLabels(labels[i + 1])} sorts before series at index ${i} with labels ${formatLabels(labels[i])}`;
    }
  }
  return null;
}

/** Returns null when the value matches the expectations, else why not. */
export function compareResult(ev: EvalCommand, value: Value): string | null {
  const scalarExpected = ev.expectScalar !== undefined;
  switch (value.type) {
    case 'matrix': {
      if (isOrdered(ev)) return 'expected ordered result, but query returned a matrix';
      if (scalarExpected) return 'expected scalar result, but got matrix';
      const sortErr = assertSortedSeries(value.series.map((s) => s.labels));
      if (sortErr) return sortErr;
      const exp = expectedByKey(ev);
      const seen = new Set<string>();
      for (const s of value.series) {
        const key = labelsKey(s.labels);
        const e = exp.get(key);
        if (!e) return `unexpected metric ${formatLabels(s.labels)} in result, has ${formatPoints(s.timestamps, s.values)}`;
        seen.add(key);
        const want: { t: number; v: number }[] = [];
        for (let i = 0; i < e.values.length; i++) {
          const t = ev.start + i * ev.step;
          if (t > ev.end) return `expected ${e.values.length} points for ${formatLabels(e.labels)}, but query time range cannot return this many points`;
          const sv = e.values[i];
          if (sv.kind === 'float') want.push({ t, v: sv.value });
          else if (sv.kind === 'histogram') return `expected native histogram points for ${formatLabels(e.labels)}, which Patrol does not produce`;
        }
        if (want.length !== s.values.length) {
          return `expected ${want.length} float points and 0 histogram points for ${formatLabels(e.labels)}, but got ${formatPoints(s.timestamps, s.values)}`;
        }
        for (let i = 0; i < want.length; i++) {
          if (want[i].t !== s.timestamps[i]) {
            return `expected float value at index ${i} for ${formatLabels(e.labels)} to have timestamp ${want[i].t}, but it had timestamp ${s.timestamps[i]} (result has ${formatPoints(s.timestamps, s.values)})`;
          }
          if (!almostEqual(s.values[i], want[i].v)) {
            return `expected float value at index ${i} (t=${s.timestamps[i]}) for ${formatLabels(e.labels)} to be ${fmtFloat(want[i].v)}, but got ${fmtFloat(s.values[i])} (result has ${formatPoints(s.timestamps, s.values)})`;
          }
        }
      }
      for (const [key, e] of exp) if (!seen.has(key)) return `expected metric ${formatLabels(e.labels)} not found`;
      return null;
    }
    case 'vector':
      if (scalarExpected) return `expected scalar result, but got vector ${formatVector(value.samples)}`;
      return compareVector(ev, value.samples);
    case 'scalar': {
      if (!scalarExpected) return `expected vector or matrix result, but got scalar ${fmtFloat(value.v)}`;
      if (!almostEqual(ev.expectScalar!, value.v)) return `expected scalar ${fmtFloat(ev.expectScalar!)} but got ${fmtFloat(value.v)}`;
      return null;
    }
    case 'string':
      if (ev.expectString !== value.v) return `expected string "${ev.expectString ?? ''}" but got "${value.v}"`;
      return null;
  }
}

export function compareVector(ev: EvalCommand, samples: readonly InstantSample[]): string | null {
  const exp = expectedByKey(ev);
  const ordered = isOrdered(ev);
  const seen = new Set<string>();
  for (let pos = 0; pos < samples.length; pos++) {
    const s = samples[pos];
    const key = labelsKey(s.labels);
    const e = exp.get(key);
    if (!e) return `unexpected metric ${formatLabels(s.labels)} in result, has value ${fmtFloat(s.v)}`;
    if (ordered && e.pos !== pos + 1) return `expected metric ${formatLabels(s.labels)} at position ${e.pos} but was at ${pos + 1}`;
    const e0 = e.values[0];
    if (e0 === undefined) return `no expected value given for ${formatLabels(e.labels)}`;
    if (e0.kind === 'histogram') return `expected histogram for ${formatLabels(s.labels)} but got float value ${fmtFloat(s.v)}`;
    const want = e0.kind === 'float' ? e0.value : 0;
    if (!almostEqual(want, s.v)) return `expected ${fmtFloat(want)} for ${formatLabels(s.labels)} but got ${fmtFloat(s.v)}`;
    seen.add(key);
  }
  for (const [key, e] of exp) {
    if (!seen.has(key)) return `expected metric ${formatLabels(e.labels)} with ${formatExpected(e)} not found`;
  }
  return null;
}

function formatExpected(e: ExpectedSeries): string {
  return '[' + e.values.map((v) => (v.kind === 'float' ? fmtFloat(v.value) : v.kind === 'omitted' ? '_' : v.text)).join(' ') + ']';
}

function formatVector(samples: readonly InstantSample[]): string {
  return samples.map((s) => `${formatLabels(s.labels)} => ${fmtFloat(s.v)} @[${s.t}]`).join(', ');
}

function formatPoints(ts: Float64Array, vs: Float64Array): string {
  const pts: string[] = [];
  for (let i = 0; i < ts.length && i < 20; i++) pts.push(`${fmtFloat(vs[i])} @[${ts[i]}]`);
  if (ts.length > 20) pts.push('…');
  return `${ts.length} float point${ts.length === 1 ? '' : 's'} [${pts.join(' ')}]`;
}

/** Checks the warnings and infos against expect warn/info/no_warn/no_info and eval_warn/eval_info. */
export function checkAnnotations(ev: EvalCommand, warnings: readonly string[], infos: readonly string[]): string | null {
  if (ev.legacy.warn && warnings.length === 0) return 'expected warnings but got none';
  if (ev.legacy.info && infos.length === 0) return 'expected info annotations but got none';
  const byType = (t: string): EvalCommand['expectations'] => ev.expectations.filter((e) => e.type === t);
  const check = (kind: 'warn' | 'info', actual: readonly string[]): string | null => {
    const exp = byType(kind);
    if (exp.length === 0) return null;
    if (actual.length === 0) return `expected ${kind} annotations but none were found`;
    for (const e of exp) {
      if (!actual.some((a) => expectationMatches(e, a))) {
        return `expected ${kind} annotation matching ${e.regex ? 'pattern' : 'message'} ${JSON.stringify(e.regex ? e.regex.source : (e.message ?? ''))} but no matching annotation was found, found: ${JSON.stringify([...warnings, ...infos])}`;
      }
    }
    for (const a of actual) if (!exp.some((e) => expectationMatches(e, a))) return `unexpected ${kind} annotation ${JSON.stringify(a)}`;
    return null;
  };
  const w = check('warn', warnings);
  if (w) return w;
  const i = check('info', infos);
  if (i) return i;
  if (byType('no_warn').length > 0 && warnings.length > 0) return `unexpected warning annotations: ${JSON.stringify(warnings)}`;
  if (byType('no_info').length > 0 && infos.length > 0) return `unexpected info annotations: ${JSON.stringify(infos)}`;
  return null;
}


/** For evals expected to fail: null when the error is the expected one. */
export function checkExpectedFailure(ev: EvalCommand, message: string): string | null {
  if (ev.expectedFailMessage !== undefined && ev.expectedFailMessage !== '' && ev.expectedFailMessage !== message) {
    return `expected error ${JSON.stringify(ev.expectedFailMessage)}, but got: ${message}`;
  }
  if (ev.expectedFailRegexp && !ev.expectedFailRegexp.test(message)) {
    return `expected error matching pattern ${JSON.stringify(ev.expectedFailRegexp.source)}, but got: ${message}`;
  }
  const f = ev.expectations.find((e) => e.type === 'fail');
  if (f && !expectationMatches(f, message)) {
    return `expected error matching ${JSON.stringify(f.regex ? f.regex.source : (f.message ?? ''))}, but got: ${message}`;
  }
  return null;
}

export function isFail(ev: EvalCommand): boolean {
  return ev.legacy.fail || ev.expectations.some((e) => e.type === 'fail');
}
