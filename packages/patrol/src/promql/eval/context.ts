// What the parts of the evaluator exchange: the column-wise series of instant and range vectors,
// the view of the evaluation that node evaluators get, and small helpers they share.

import type { Labels } from '../../model/labels.js';
import { METRIC_NAME } from '../../model/labels.js';
import type { Expr, VectorSelector } from '../ast.js';

/** One output series of an instant-vector node: a value per evaluation timestamp where `has`. */
export interface StepSeries {
  labels: Labels;
  v: Float64Array;
  has: Uint8Array;
  /** The metric name is to be removed when the result is final (Prometheus 3 delayed name removal). */
  dropName: boolean;
}

/** Raw samples of one series (stale markers removed), for range-vector arguments. */
export interface RawSeries {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  dropName: boolean;
}

export type Result =
  | { kind: 'scalar'; v: Float64Array }
  | { kind: 'string'; s: string }
  | { kind: 'vector'; series: StepSeries[] };

/** A range-vector argument: raw series plus the window (end - range, end] for each step. */
export interface RangeArg {
  series: RawSeries[];
  range: number;
  ends: Float64Array;
  /** anchored/smoothed: windows also hold samples up to `before` ms before and `after` ms after. */
  mode?: 'anchored' | 'smoothed' | null;
  before?: number;
  after?: number;
}

/** Dropping the metric name also drops the type and unit metadata labels (Prometheus 3). */
export function dropNameLabels(ls: Labels): Labels {
  return ls.filter((l) => l.name !== METRIC_NAME && l.name !== '__type__' && l.name !== '__unit__');
}


export function unwrapParens(e: Expr): Expr {
  while (e.type === 'paren') e = e.expr;
  return e;
}

/** Prometheus 3 accepts any valid UTF-8 label name; U+FFFD marks bytes that were not UTF-8. */
export function validLabelName(s: string): boolean {
  return s !== '' && !s.includes('\ufffd');
}

/** Indices [a, b) of samples with start < t <= end. */
export function windowIndices(t: Float64Array, start: number, end: number): [number, number] {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t[mid] <= start) lo = mid + 1;
    else hi = mid;
  }
  const a = lo;
  hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t[mid] <= end) lo = mid + 1;
    else hi = mid;
  }
  return [a, lo];
}

/** What the node evaluators (calls, aggregations, binary operators) use of the evaluation. */
export interface Evaluator {
  readonly warnings: Set<string>;
  readonly infos: Set<string>;
  readonly queryStart: number;
  readonly queryEnd: number;
  readonly queryStep: number;
  readonly isRange: boolean;
  eval(e: Expr, ts: Float64Array): Promise<Result>;
  instantSelector(vs: VectorSelector, ts: Float64Array): Promise<{ series: StepSeries[]; sampleTs: Float64Array[] }>;
  rangeArg(e: Expr, ts: Float64Array, stream?: { onMeta: (a: RangeArg) => void; each: (s: RawSeries) => void }): Promise<RangeArg>;
  scalarArgs(args: Expr[], ts: Float64Array): Promise<Float64Array[]>;
  vectorArg(e: Expr, ts: Float64Array): Promise<StepSeries[]>;
  stringArg(e: Expr): string;
  /**
   * Checks the deadline and cancellation; a promise to await (a yield to the event loop) once the
   * shared time slice is spent, else null. For loops whose steps can be long (a regex per series).
   */
  pace(): Promise<void> | null;
}
