// The PromQL evaluator. Every node is evaluated once over all the timestamps of a query (one for
// an instant query, one per step for a range query), column-wise: a selector loads each series
// once for the whole range into typed arrays and walks the steps with moving pointers; label
// work (grouping keys, matching signatures) is done once per series, not per step.

import { formatFloatF, formatFloatG, formatOpenMetricsFloat, parseGoFloat } from '../model/gofloat.js';
import type { Labels } from '../model/labels.js';
import { compareLabels, getLabel, labelsFromRecord, labelsKey, METRIC_NAME, withLabel } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN } from '../model/value.js';
import type { Queryable, SampleIterator } from '../storage/interface.js';
import { SampleBuffer } from '../storage/interface.js';

import type { Aggregate, AtModifier, Binary, Call, DurationExpr, Expr, SubqueryExpr, VectorMatching, VectorSelector } from './ast.js';
import { COMPARISON_OPS } from './ast.js';
import { ELEMENTWISE, RANGE_KERNELS, annotations, evalOverSteps, extrapolate, bucketFraction, bucketQuantileDetailed, mightNotBeCounter } from './kernels.js';
import { absentLabels as matcherLabels, compareNatural } from './functions/helpers.js';
import { kahanInc } from './functions/kahan.js';
import { quantile } from './functions/quantile.js';
import { FUNCTIONS } from './signatures.js';
import { formatDuration } from './format.js';
import { evalDuration, exprType, parseExpr } from './parser.js';
import type { EngineOptions, InstantSample, QueryEngine, QueryOptions, QueryResult, RangeSeries, Value } from './types.js';
import { QueryError } from './types.js';
import { expandTemplate } from '../model/expand.js';

/** One output series of an instant-vector node: a value per evaluation timestamp where `has`. */
interface StepSeries {
  labels: Labels;
  v: Float64Array;
  has: Uint8Array;
  /** The metric name is to be removed when the result is final (Prometheus 3 delayed name removal). */
  dropName: boolean;
}

/** Raw samples of one series (stale markers removed), for range-vector arguments. */
interface RawSeries {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  dropName: boolean;
}

type Result =
  | { kind: 'scalar'; v: Float64Array }
  | { kind: 'string'; s: string }
  | { kind: 'vector'; series: StepSeries[] };

/** A range-vector argument: raw series plus the window (end - range, end] for each step. */
interface RangeArg {
  series: RawSeries[];
  range: number;
  ends: Float64Array;
  /** anchored/smoothed: windows also hold samples up to `before` ms before and `after` ms after. */
  mode?: 'anchored' | 'smoothed' | null;
  before?: number;
  after?: number;
}

const DEFAULT_SUBQUERY_STEP = 60_000;

/** Subquery steps evaluated in one go; longer grids are evaluated slice by slice. */
const SUBQUERY_SLICE = 8192;

/** The points of a step series where it has values, at the given step times. */
function pointsOf(s: StepSeries, times: Float64Array): RawSeries {
  let n = 0;
  for (let i = 0; i < times.length; i++) if (s.has[i]) n++;
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < times.length; i++) {
    if (!s.has[i]) continue;
    t[k] = times[i];
    v[k] = s.v[i];
    k++;
  }
  return { labels: s.labels, t, v, dropName: s.dropName };
}

/** Collects a subquery series' points slice after slice (capacity doubling). */
class PointsBuilder {
  private t = new Float64Array(16);
  private v = new Float64Array(16);
  private n = 0;

  constructor(
    private readonly labels: Labels,
    private readonly dropName: boolean,
  ) {}

  /** Appends the points of `s` at `times`; returns how many. */
  append(s: StepSeries, times: Float64Array): number {
    const before = this.n;
    for (let i = 0; i < times.length; i++) {
      if (!s.has[i]) continue;
      if (this.n === this.t.length) {
        const t = new Float64Array(this.n * 2);
        const v = new Float64Array(this.n * 2);
        t.set(this.t);
        v.set(this.v);
        this.t = t;
        this.v = v;
      }
      this.t[this.n] = times[i];
      this.v[this.n] = s.v[i];
      this.n++;
    }
    return this.n - before;
  }

  finish(): RawSeries {
    return { labels: this.labels, t: this.t.slice(0, this.n), v: this.v.slice(0, this.n), dropName: this.dropName };
  }
}

class Deadline {
  constructor(
    readonly until: number,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number,
  ) {}
  check(): void {
    if (this.signal?.aborted) throw new QueryError('canceled', 'query was canceled');
    if (Date.now() >= this.until) throw new QueryError('timeout', 'query timed out in expression evaluation');
  }
}

/**
 * A label set as Prometheus's labels.String() prints it in error messages: every label in
 * order, the metric name as `__name__` inside the braces (`{__name__="up", job="a"}`).
 */
function labelSetString(ls: Labels): string {
  return `{${ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ')}}`;
}

/** Dropping the metric name also drops the type and unit metadata labels (Prometheus 3). */
function dropNameLabels(ls: Labels): Labels {
  return ls.filter((l) => l.name !== METRIC_NAME && l.name !== '__type__' && l.name !== '__unit__');
}

/** Go's math.Pow special cases that differ from JavaScript's. */
function goPow(a: number, b: number): number {
  if (a === 1 || b === 0) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return Math.pow(a, b);
}

function arith(op: string, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '%':
      return a % b;
    case '^':
      return goPow(a, b);
    case 'atan2':
      return Math.atan2(a, b);
    case '==':
      return a === b ? 1 : 0;
    case '!=':
      return a !== b ? 1 : 0;
    case '>':
      return a > b ? 1 : 0;
    case '<':
      return a < b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
  }
  throw new QueryError('internal', `operator ${op} not handled`);
}

function unwrapParens(e: Expr): Expr {
  while (e.type === 'paren') e = e.expr;
  return e;
}

/** Evaluation state for one query. */
class Evaluation {
  /** Samples held at once (loaded plus computed points), checked against maxSamples. */
  samples = 0;
  /** Samples read from storage. */
  loaded = 0;
  readonly warnings = new Set<string>();
  readonly infos = new Set<string>();
  private opsSinceYield = 0;

  constructor(
    private readonly q: Queryable,
    readonly queryStart: number,
    readonly queryEnd: number,
    readonly queryStep: number,
    private readonly lookback: number,
    private readonly maxSamples: number,
    private readonly deadline: Deadline,
    readonly isRange: boolean,
  ) {}

  private addSamples(n: number): void {
    this.samples += n;
    if (this.samples > this.maxSamples) {
      throw new QueryError('execution', 'query processing would load too many samples into memory in query execution');
    }
  }

  /**
   * Checks the deadline and cancellation; true every 200 calls, when the caller should yield to
   * the event loop (`await this.yieldNow()`) so that timers and aborts get through.
   */
  private tick(): boolean {
    this.deadline.check();
    if (++this.opsSinceYield >= 200) {
      this.opsSinceYield = 0;
      return true;
    }
    return false;
  }

  private async yieldNow(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    this.deadline.check();
  }

  private dur(d: DurationExpr): number {
    return evalDuration(d, { step: this.queryStep, range: this.queryEnd - this.queryStart });
  }

  private atTime(at: AtModifier): number {
    if (at.kind === 'start') return this.queryStart;
    if (at.kind === 'end') return this.queryEnd;
    return at.ms;
  }

  /** Timestamps a selector or subquery reads at: the steps, or the @ time, minus the offset. */
  private readTimes(ts: Float64Array, at: AtModifier | null, offset: DurationExpr | null): Float64Array {
    const off = offset ? this.dur(offset) : 0;
    const out = new Float64Array(ts.length);
    if (at) out.fill(this.atTime(at) - off);
    else for (let i = 0; i < ts.length; i++) out[i] = ts[i] - off;
    return out;
  }

  private readonly scratch = new SampleBuffer(1024);

  /**
   * Reads one series into exactly-sized arrays (a scratch buffer absorbs the growth), or with
   * `transient` returns views of the scratch buffer, valid until the next load.
   */
  private loadSeries(it: SampleIterator, mint: number, maxt: number, transient = false): { t: Float64Array; v: Float64Array } {
    const buf = this.scratch;
    buf.n = 0;
    if (it.readInto) it.readInto(mint, maxt, buf);
    else {
      let ok = it.seek(mint);
      while (ok) {
        const t = it.atT();
        if (t > maxt) break;
        if (buf.n === buf.t.length) buf.reserve(1);
        buf.t[buf.n] = t;
        buf.v[buf.n] = it.atV();
        buf.n++;
        ok = it.next();
      }
    }
    const e = it.err();
    if (e) throw new QueryError('execution', e.message);
    const n = buf.n;
    if (transient) return { t: buf.t.subarray(0, n), v: buf.v.subarray(0, n) };
    return { t: buf.t.slice(0, n), v: buf.v.slice(0, n) };
  }

  /**
   * Selects series and loads their samples in [mint, maxt]. With `each`, series are handed over
   * one at a time and not kept (range functions stream this way); otherwise they are returned.
   */
  private async select(
    vs: VectorSelector,
    mint: number,
    maxt: number,
    each?: (r: { labels: Labels; t: Float64Array; v: Float64Array }) => void,
    transient = false,
  ): Promise<{ labels: Labels; t: Float64Array; v: Float64Array }[]> {
    const querier = this.q.querier(mint, maxt);
    try {
      const set = querier.select({ start: mint, end: maxt }, vs.matchers);
      const out: { labels: Labels; t: Float64Array; v: Float64Array }[] = [];
      while (set.next()) {
        const s = set.at();
        // Transient series are consumed before the next load, so they may share the scratch buffer.
        const { t, v } = this.loadSeries(s.iterator(), mint, maxt, transient);
        this.addSamples(t.length);
        this.loaded += t.length;
        if (each) each({ labels: s.labels, t, v });
        else out.push({ labels: s.labels, t, v });
        if (this.tick()) await this.yieldNow();
      }
      const e = set.err();
      if (e) throw new QueryError('execution', e.message);
      for (const w of set.warnings()) this.warnings.add(w);
      return out;
    } finally {
      querier.close();
    }
  }

  async eval(e: Expr, ts: Float64Array): Promise<Result> {
    if (this.tick()) await this.yieldNow();
    switch (e.type) {
      case 'number':
        return { kind: 'scalar', v: new Float64Array(ts.length).fill(e.value) };
      case 'string':
        return { kind: 'string', s: e.value };
      case 'paren':
        return this.eval(e.expr, ts);
      case 'unary': {
        const r = await this.eval(e.expr, ts);
        if (e.op === '+') return r;
        if (r.kind === 'scalar') return { kind: 'scalar', v: r.v.map((x) => -x) };
        if (r.kind === 'vector') return { kind: 'vector', series: r.series.map((s) => ({ ...s, v: s.v.map((x) => -x), dropName: true })) };
        return r;
      }
      case 'vectorSelector':
        return { kind: 'vector', series: (await this.instantSelector(e, ts)).series };
      case 'matrixSelector':
      case 'subquery':
        throw new QueryError('bad_data', `invalid expression type "range vector" for range query, must be Scalar or instant Vector`);
      case 'call':
        return this.call(e, ts);
      case 'aggregate':
        return this.aggregate(e, ts);
      case 'binary':
        return this.binary(e, ts);
    }
  }

  /** The last sample at or before each read time within the lookback window, unless stale. */
  async instantSelector(vs: VectorSelector, ts: Float64Array): Promise<{ series: StepSeries[]; sampleTs: Float64Array[] }> {
    const times = this.readTimes(ts, vs.at, vs.offset);
    let minT = Infinity;
    let maxT = -Infinity;
    for (const t of times) {
      if (t < minT) minT = t;
      if (t > maxT) maxT = t;
    }
    const smoothed = vs.mode === 'smoothed';
    const raw = await this.select(vs, minT - this.lookback + 1, maxT + (smoothed ? this.lookback : 0));
    if (smoothed) for (const r of raw) Object.assign(r, dropStale(r.t, r.v));
    const series: StepSeries[] = [];
    const sampleTs: Float64Array[] = [];
    const n = times.length;
    for (const r of raw) {
      const v = new Float64Array(n);
      const has = new Uint8Array(n);
      const st = new Float64Array(n);
      let any = false;
      let j = -1; // index of the last sample <= current read time
      let prevT = -Infinity;
      for (let i = 0; i < n; i++) {
        const t = times[i];
        if (t < prevT) j = -1; // times are only non-monotonic with @, which repeats one time
        prevT = t;
        while (j + 1 < r.t.length && r.t[j + 1] <= t) j++;
        if (j < 0) continue;
        if (r.t[j] <= t - this.lookback) continue;
        let x = r.v[j];
        if (x !== x && isStaleNaN(x)) continue;
        if (smoothed && r.t[j] < t && j + 1 < r.t.length && r.t[j + 1] - t < this.lookback) {
          x = x + ((r.v[j + 1] - x) * (t - r.t[j])) / (r.t[j + 1] - r.t[j]);
        }
        v[i] = x;
        has[i] = 1;
        st[i] = r.t[j];
        any = true;
      }
      if (any) {
        series.push({ labels: r.labels, v, has, dropName: false });
        sampleTs.push(st);
      }
    }
    this.addSamples(series.length * n);
    return { series, sampleTs };
  }

  /** Evaluates a range-vector expression (matrix selector or subquery) for windows ending at each step. */
  /**
   * Evaluates a range-vector expression (matrix selector or subquery) for windows ending at
   * each step. With `each`, a matrix selector's series are streamed to it (after `onMeta` has
   * the window layout) instead of being collected.
   */
  async rangeArg(e: Expr, ts: Float64Array, stream?: { onMeta: (a: RangeArg) => void; each: (s: RawSeries) => void }): Promise<RangeArg> {
    e = unwrapParens(e);
    if (e.type === 'matrixSelector') {
      const vs = e.selector;
      const range = this.dur(e.range);
      const ends = this.readTimes(ts, vs.at, vs.offset);
      let minT = Infinity;
      let maxT = -Infinity;
      for (const t of ends) {
        if (t < minT) minT = t;
        if (t > maxT) maxT = t;
      }
      const before = vs.mode ? this.lookback : 0;
      const after = vs.mode === 'smoothed' ? this.lookback : 0;
      const series: RawSeries[] = [];
      const meta: RangeArg = { series, range, ends, mode: vs.mode, before, after };
      stream?.onMeta(meta);
      const take = (r: { labels: Labels; t: Float64Array; v: Float64Array }): void => {
        const { t, v } = dropStale(r.t, r.v);
        if (t.length === 0) return;
        const rs = { labels: r.labels, t, v, dropName: false };
        if (stream) stream.each(rs);
        else series.push(rs);
      };
      await this.select(vs, minT - range - before + 1, maxT + after, take, stream !== undefined);
      return meta;
    }
    if (e.type === 'subquery') return this.subquery(e, ts);
    throw new QueryError('bad_data', `expected a range vector, got ${exprType(e)}`);
  }

  private async subquery(e: SubqueryExpr, ts: Float64Array): Promise<RangeArg> {
    const range = this.dur(e.range);
    const step = e.step ? this.dur(e.step) : DEFAULT_SUBQUERY_STEP;
    if (step <= 0) throw new QueryError('bad_data', `zero or negative subquery step is not allowed`);
    const ends = this.readTimes(ts, e.at, e.offset);
    let minT = Infinity;
    let maxT = -Infinity;
    for (const t of ends) {
      if (t < minT) minT = t;
      if (t > maxT) maxT = t;
    }
    let first = Math.ceil((minT - range) / step) * step;
    if (first <= minT - range) first += step;
    if (first > maxT) return { series: [], range, ends };
    const count = Math.floor((maxT - first) / step) + 1;
    // Counted before anything is allocated: every inner series holds up to `count` points, so a
    // subquery whose steps alone exceed max_samples is refused here (a 1ms step over 100y would
    // otherwise fail allocating, or allocate gigabytes).
    if (count > this.maxSamples - this.samples) {
      throw new QueryError(
        'execution',
        `query processing would load too many samples into memory in query execution: the subquery [${formatDuration(range)}:${formatDuration(step)}] evaluates ${count} steps, more than max_samples (${this.maxSamples}) allows; use a larger step or a shorter range`,
      );
    }
    this.addSamples(count);
    // A long grid is evaluated in slices, each a complete evaluation of the inner expression at
    // its steps (PromQL steps are independent), with the deadline checked and the event loop
    // served between slices: one synchronous pass over millions of steps would hold off the
    // query timeout, cancellation and every other request for as long as it runs.
    const series: RawSeries[] = [];
    let kept = 0;
    if (count <= SUBQUERY_SLICE) {
      const inner = new Float64Array(count);
      for (let i = 0; i < count; i++) inner[i] = first + i * step;
      const r = await this.eval(e.expr, inner);
      if (r.kind === 'vector') {
        for (const s of r.series) {
          const rs = pointsOf(s, inner);
          series.push(rs);
          kept += rs.t.length;
        }
      }
    } else {
      const builders = new Map<string, PointsBuilder[]>();
      for (let from = 0; from < count; from += SUBQUERY_SLICE) {
        if (from > 0) await this.yieldNow();
        const inner = new Float64Array(Math.min(SUBQUERY_SLICE, count - from));
        for (let i = 0; i < inner.length; i++) inner[i] = first + (from + i) * step;
        const r = await this.eval(e.expr, inner);
        if (r.kind !== 'vector') continue;
        // The same series in the next slice continues its points; a label set that occurs twice
        // in one slice stays two series, as it would unsliced.
        const seen = new Map<string, number>();
        for (const s of r.series) {
          const key = (s.dropName ? '1' : '0') + labelsKey(s.labels);
          const k = seen.get(key) ?? 0;
          seen.set(key, k + 1);
          let list = builders.get(key);
          if (!list) builders.set(key, (list = []));
          if (k === list.length) list.push(new PointsBuilder(s.labels, s.dropName));
          kept += list[k].append(s, inner);
        }
      }
      for (const list of builders.values()) for (const b of list) series.push(b.finish());
    }
    // The step grid was counted above; the points the series hold beyond it count too.
    if (kept > count) this.addSamples(kept - count);
    return { series, range, ends };
  }

  /** A matrix value for an instant query whose result is a range vector. */
  async matrixValue(e: Expr, t: number): Promise<RangeSeries[]> {
    const arg = await this.rangeArg(e, new Float64Array([t]));
    const end = arg.ends[0];
    const out: RangeSeries[] = [];
    for (const s of arg.series) {
      const [a, b] = windowIndices(s.t, end - arg.range, end);
      if (b > a) out.push({ labels: s.dropName ? dropNameLabels(s.labels) : s.labels, timestamps: s.t.slice(a, b), values: s.v.slice(a, b) });
    }
    return out;
  }

  private async scalarArgs(args: Expr[], ts: Float64Array): Promise<Float64Array[]> {
    const out: Float64Array[] = [];
    for (const a of args) {
      const r = await this.eval(a, ts);
      if (r.kind !== 'scalar') throw new QueryError('bad_data', 'expected a scalar argument');
      out.push(r.v);
    }
    return out;
  }

  private async vectorArg(e: Expr, ts: Float64Array): Promise<StepSeries[]> {
    const r = await this.eval(e, ts);
    if (r.kind !== 'vector') throw new QueryError('bad_data', 'expected an instant vector argument');
    return r.series;
  }

  private stringArg(e: Expr): string {
    e = unwrapParens(e);
    if (e.type !== 'string') throw new QueryError('bad_data', 'expected a string literal argument');
    return e.value;
  }

  private async call(e: Call, ts: Float64Array): Promise<Result> {
    const n = ts.length;
    const f = e.func;
    switch (f) {
      case 'time':
        return { kind: 'scalar', v: ts.map((t) => t / 1000) };
      case 'pi':
        return { kind: 'scalar', v: new Float64Array(n).fill(Math.PI) };
      case 'min_of':
      case 'max_of': {
        const [a, b] = await this.scalarArgs(e.args, ts);
        const v = new Float64Array(n);
        for (let i = 0; i < n; i++) v[i] = Number.isNaN(a[i]) || Number.isNaN(b[i]) ? NaN : f === 'min_of' ? Math.min(a[i], b[i]) : Math.max(a[i], b[i]);
        return { kind: 'scalar', v };
      }
      case 'start':
        return { kind: 'scalar', v: new Float64Array(n).fill(this.queryStart / 1000) };
      case 'end':
        return { kind: 'scalar', v: new Float64Array(n).fill(this.queryEnd / 1000) };
      case 'step':
        return { kind: 'scalar', v: new Float64Array(n).fill(this.queryStep / 1000) };
      case 'range':
        return { kind: 'scalar', v: new Float64Array(n).fill((this.queryEnd - this.queryStart) / 1000) };
      case 'vector': {
        const [s] = await this.scalarArgs(e.args, ts);
        return { kind: 'vector', series: [{ labels: [], v: s, has: new Uint8Array(n).fill(1), dropName: false }] };
      }
      case 'scalar': {
        const series = await this.vectorArg(e.args[0], ts);
        const v = new Float64Array(n).fill(NaN);
        for (let i = 0; i < n; i++) {
          let c = 0;
          for (const s of series) {
            if (s.has[i]) {
              c++;
              v[i] = s.v[i];
            }
          }
          if (c !== 1) v[i] = NaN;
        }
        return { kind: 'scalar', v };
      }
      case 'timestamp': {
        const arg = unwrapParens(e.args[0]);
        if (arg.type === 'vectorSelector') {
          const { series, sampleTs } = await this.instantSelector(arg, ts);
          return { kind: 'vector', series: series.map((s, k) => ({ ...s, v: sampleTs[k].map((t) => t / 1000), dropName: true })) };
        }
        const series = await this.vectorArg(arg, ts);
        return { kind: 'vector', series: series.map((s) => ({ ...s, v: ts.map((t) => t / 1000), dropName: true })) };
      }
      case 'absent': {
        const series = await this.vectorArg(e.args[0], ts);
        const has = new Uint8Array(n).fill(1);
        for (const s of series) for (let i = 0; i < n; i++) if (s.has[i]) has[i] = 0;
        if (!has.some((x) => x)) return { kind: 'vector', series: [] };
        return { kind: 'vector', series: [{ labels: absentLabels(e.args[0]), v: new Float64Array(n).fill(1), has, dropName: false }] };
      }
      case 'absent_over_time': {
        const arg = await this.rangeArg(e.args[0], ts);
        const has = new Uint8Array(n).fill(1);
        for (const s of arg.series) {
          for (let i = 0; i < n; i++) {
            if (!has[i]) continue;
            const [a, b] = windowIndices(s.t, arg.ends[i] - arg.range, arg.ends[i]);
            if (b > a) has[i] = 0;
          }
        }
        if (!has.some((x) => x)) return { kind: 'vector', series: [] };
        return { kind: 'vector', series: [{ labels: absentLabels(e.args[0]), v: new Float64Array(n).fill(1), has, dropName: false }] };
      }
      case 'sort':
      case 'sort_desc':
      case 'sort_by_label':
      case 'sort_by_label_desc':
        // Ordering only matters for instant queries; the engine orders the final vector.
        if (this.isRange) this.warnings.add(annotations.sortIneffectiveForRange());
        return { kind: 'vector', series: await this.vectorArg(e.args[0], ts) };
      case 'label_replace':
        return this.labelReplace(e, ts);
      case 'label_join':
        return this.labelJoin(e, ts);
      case 'histogram_quantile':
      case 'histogram_quantiles':
      case 'histogram_fraction':
        return this.histogramFn(e, ts);
      case 'histogram_count':
      case 'histogram_sum':
      case 'histogram_avg':
      case 'histogram_stddev':
      case 'histogram_stdvar':
        // Native histograms are not stored; float samples are ignored by these functions.
        await this.vectorArg(e.args[0], ts);
        return { kind: 'vector', series: [] };
      case 'info':
        return this.info(e, ts);
      case 'clamp':
      case 'clamp_min':
      case 'clamp_max':
        return this.clamp(e, ts);
    }
    if (f in RANGE_KERNELS) return this.rangeFunction(e, ts);
    const el = ELEMENTWISE[f];
    if (el) {
      let vecExpr: Expr | null = null;
      const scalarExprs: Expr[] = [];
      for (const a of e.args) {
        if (exprType(a) === 'vector' && vecExpr === null) vecExpr = a;
        else scalarExprs.push(a);
      }
      let series: StepSeries[];
      if (vecExpr) series = await this.vectorArg(vecExpr, ts);
      else series = [{ labels: [], v: ts.map((t) => t / 1000), has: new Uint8Array(n).fill(1), dropName: false }];
      const params = await this.scalarArgs(scalarExprs, ts);
      const p: number[] = new Array<number>(params.length);
      const out: StepSeries[] = [];
      for (const s of series) {
        const v = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          if (!s.has[i]) continue;
          for (let k = 0; k < params.length; k++) p[k] = params[k][i];
          v[i] = el(s.v[i], p);
        }
        out.push({ labels: s.labels, v, has: s.has, dropName: true });
      }
      return { kind: 'vector', series: out };
    }
    throw new QueryError('bad_data', `function "${f}" is not implemented`);
  }

  /** info(v, selector): adds the data labels of matching info series (by instance and job). */
  private async info(e: Call, ts: Float64Array): Promise<Result> {
    const n = ts.length;
    const base = await this.vectorArg(e.args[0], ts);
    const sel = e.args[1] ? unwrapParens(e.args[1]) : null;
    const all = sel && sel.type === 'vectorSelector' ? sel.matchers : [];
    let nameMatchers = all.filter((m) => m.name === METRIC_NAME);
    const dataMatchers = all.filter((m) => m.name !== METRIC_NAME);
    if (nameMatchers.length === 0) nameMatchers = [new Matcher('=', METRIC_NAME, 'target_info')];
    const identifying = ['instance', 'job'];
    const infoSel: VectorSelector = {
      type: 'vectorSelector',
      name: '',
      matchers: [...nameMatchers, ...dataMatchers],
      offset: null,
      at: null,
      mode: null,
      start: 0,
      end: 0,
    };
    const { series: infos, sampleTs } = await this.instantSelector(infoSel, ts);
    const byId = new Map<string, number[]>();
    const exactName = nameMatchers.some((m) => m.type === '=');
    for (let k = 0; k < infos.length; k++) {
      // Without an exact name, only metrics named like info metrics (*_info) enrich.
      if (!exactName && !getLabel(infos[k].labels, METRIC_NAME).endsWith('_info')) continue;
      const id = identifying.map((l) => getLabel(infos[k].labels, l)).join('\xff');
      const a = byId.get(id);
      if (a) a.push(k);
      else byId.set(id, [k]);
    }
    const dataNames = new Set(dataMatchers.map((m) => m.name));
    const emptyOk = dataMatchers.every((m) => m.matchesEmpty());
    const out = new Map<string, StepSeries>();
    const add = (labels: Labels, i: number, x: number, dropName: boolean): void => {
      const key = labelsKey(labels);
      let o = out.get(key);
      if (!o) out.set(key, (o = { labels, v: new Float64Array(n), has: new Uint8Array(n), dropName }));
      o.v[i] = x;
      o.has[i] = 1;
    };
    for (const s of base) {
      const name = getLabel(s.labels, METRIC_NAME);
      const isInfo = nameMatchers.some((m) => m.type === '=' || m.type === '=~') && nameMatchers.every((m) => m.matches(name));
      const cands = isInfo ? undefined : byId.get(identifying.map((l) => getLabel(s.labels, l)).join('\xff'));
      for (let i = 0; i < n; i++) {
        if (!s.has[i]) continue;
        if (isInfo) {
          add(s.labels, i, s.v[i], s.dropName);
          continue;
        }
        // The latest sample per info metric name wins.
        const best = new Map<string, number>();
        for (const k of cands ?? []) {
          if (!infos[k].has[i]) continue;
          const nm = getLabel(infos[k].labels, METRIC_NAME);
          const prev = best.get(nm);
          if (prev === undefined || sampleTs[k][i] > sampleTs[prev][i]) best.set(nm, k);
        }
        if (best.size === 0) {
          if (emptyOk) add(s.labels, i, s.v[i], s.dropName);
          continue;
        }
        let ls = s.labels;
        const added = new Map<string, string>();
        for (const k of best.values()) {
          for (const l of infos[k].labels) {
            if (l.name === METRIC_NAME || identifying.includes(l.name)) continue;
            if (dataNames.size > 0 && !dataNames.has(l.name)) continue;
            if (getLabel(s.labels, l.name) !== '') continue;
            const prev = added.get(l.name);
            if (prev !== undefined && prev !== l.value) {
              throw new QueryError('execution', `conflicting label ${JSON.stringify(l.name)}: info series disagree (${JSON.stringify(prev)} and ${JSON.stringify(l.value)})`);
            }
            added.set(l.name, l.value);
            ls = withLabel(ls, l.name, l.value);
          }
        }
        add(ls, i, s.v[i], s.dropName);
      }
    }
    return { kind: 'vector', series: [...out.values()] };
  }

  private async clamp(e: Call, ts: Float64Array): Promise<Result> {
    const series = await this.vectorArg(e.args[0], ts);
    const params = await this.scalarArgs(e.args.slice(1), ts);
    const n = ts.length;
    const out: StepSeries[] = [];
    for (const s of series) {
      const v = new Float64Array(n);
      const has = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        if (!s.has[i]) continue;
        let lo = -Infinity;
        let hi = Infinity;
        if (e.func === 'clamp') {
          lo = params[0][i];
          hi = params[1][i];
          if (lo > hi) continue;
        } else if (e.func === 'clamp_min') lo = params[0][i];
        else hi = params[0][i];
        const x = s.v[i];
        // Go's math.Max/Min propagate NaN from either side.
        v[i] = Number.isNaN(lo) || Number.isNaN(hi) || Number.isNaN(x) ? NaN : Math.max(lo, Math.min(hi, x));
        has[i] = 1;
      }
      out.push({ labels: s.labels, v, has, dropName: true });
    }
    return { kind: 'vector', series: out.filter((s) => s.has.some((x) => x)) };
  }

  /** With `emit`, output series are handed over one by one instead of being collected. */
  private async rangeFunction(e: Call, ts: Float64Array, emit?: (s: StepSeries) => void): Promise<Result> {
    const n = ts.length;
    let rangeIdx = e.args.findIndex((a) => exprType(a) === 'matrix');
    if (rangeIdx < 0) rangeIdx = 0;
    const params = await this.scalarArgs(
      e.args.filter((_, i) => i !== rangeIdx),
      ts,
    );
    const keepName = FUNCTIONS.get(e.func)?.keepsName === true;
    const warnings = this.warnings;
    const infos = this.infos;
    const ctx = {
      warn: (m: string) => warnings.add(m),
      info: (m: string) => infos.add(m),
    };
    const out: StepSeries[] = [];
    const push = emit ?? ((x: StepSeries): void => void out.push(x));
    let arg: RangeArg | null = null;
    let fast = null as { counter: boolean; rate: boolean } | null;
    let before = 0;
    let after = 0;
    const onMeta = (a: RangeArg): void => {
      arg = a;
      before = a.before ?? 0;
      after = a.after ?? 0;
      // rate/increase/delta without modifiers run inline: no window objects per step.
      fast = a.mode ? null : (FAST_RATES[e.func] ?? null);
    };
    const each = (s: RawSeries): void => {
      const a = arg!;
      const fr = fast;
      if (fr !== null) {
        const name = getLabel(s.labels, METRIC_NAME);
        // A streamed series is folded into its group before the next one: it may reuse buffers.
        const r = rateSeries(s.t, s.v, a.ends, a.range, fr.counter, fr.rate, emit ? scratchOut : null);
        if (r === null) return;
        if (fr.counter && mightNotBeCounter(name)) infos.add(annotations.possibleNonCounter(name));
        push({ labels: s.labels, v: r.v, has: r.has, dropName: keepName ? s.dropName : true });
        return;
      }
      const v = new Float64Array(n);
      const has = new Uint8Array(n);
      const any = evalOverSteps(
        e.func,
        { t: s.t, v: s.v, ends: a.ends, range: a.range, evalTimes: ts, metricName: getLabel(s.labels, METRIC_NAME), mode: a.mode ?? undefined, before, after },
        params,
        ctx,
        v,
        has,
      );
      if (after > 0) smoothedNeedsDataUpToEnd(s.t, a.ends, a.range + before, has);
      if (any) push({ labels: s.labels, v, has, dropName: keepName ? s.dropName : true });
    };
    const scratchOut = { v: new Float64Array(n), has: new Uint8Array(n) };
    const full = await this.rangeArg(e.args[rangeIdx], ts, { onMeta, each });
    if (arg === null) {
      // Subqueries are evaluated whole, then windowed.
      onMeta(full);
      for (const s of full.series) each(s);
    }
    return { kind: 'vector', series: out };
  }

  private async labelReplace(e: Call, ts: Float64Array): Promise<Result> {
    const series = await this.vectorArg(e.args[0], ts);
    const dst = this.stringArg(e.args[1]);
    const repl = this.stringArg(e.args[2]);
    const src = this.stringArg(e.args[3]);
    const reText = this.stringArg(e.args[4]);
    let re: NonNullable<Matcher['re']>;
    try {
      re = new Matcher('=~', 'x', reText).re!;
    } catch {
      throw new QueryError('bad_data', `invalid regular expression in label_replace(): ${reText}`);
    }
    if (!validLabelName(dst)) {
      throw new QueryError('bad_data', `invalid destination label name in label_replace(): ${dst}`);
    }
    const out: StepSeries[] = [];
    for (const s of series) {
      const m = re.exec(getLabel(s.labels, src));
      if (!m) {
        out.push(s);
        continue;
      }
      const value = expandTemplate(repl, m);
      out.push({ ...s, labels: withLabel(s.labels, dst, value), dropName: dst === METRIC_NAME ? false : s.dropName });
    }
    return { kind: 'vector', series: out };
  }

  private async labelJoin(e: Call, ts: Float64Array): Promise<Result> {
    const series = await this.vectorArg(e.args[0], ts);
    const dst = this.stringArg(e.args[1]);
    const sep = this.stringArg(e.args[2]);
    const srcs = e.args.slice(3).map((a) => this.stringArg(a));
    if (!validLabelName(dst)) throw new QueryError('bad_data', `invalid destination label name in label_join(): ${dst}`);
    const out: StepSeries[] = [];
    for (const s of series) {
      const value = srcs.map((l) => getLabel(s.labels, l)).join(sep);
      out.push({ ...s, labels: withLabel(s.labels, dst, value), dropName: dst === METRIC_NAME ? false : s.dropName });
    }
    return { kind: 'vector', series: out };
  }

  /** histogram_quantile, histogram_quantiles and histogram_fraction over classic `le` buckets. */
  private async histogramFn(e: Call, ts: Float64Array): Promise<Result> {
    const n = ts.length;
    const f = e.func;
    let vecArg: Expr;
    let scalarArgs: Expr[];
    let qLabel = '';
    if (f === 'histogram_quantiles') {
      vecArg = e.args[0];
      qLabel = this.stringArg(e.args[1]);
      scalarArgs = e.args.slice(2);
    } else {
      vecArg = e.args[e.args.length - 1];
      scalarArgs = e.args.slice(0, -1);
    }
    const params = await this.scalarArgs(scalarArgs, ts);
    if (f !== 'histogram_fraction') {
      for (const p of params) {
        for (let i = 0; i < n; i++) {
          const q = p[i];
          if (Number.isNaN(q) || q < 0 || q > 1) {
            this.warnings.add(annotations.invalidQuantile(q));
            break;
          }
        }
      }
    }
    const series = await this.vectorArg(vecArg, ts);
    // Buckets of one histogram share all labels but `le` (the metric name included).
    const groups = new Map<string, { labels: Labels; name: string; members: { le: number; s: StepSeries }[] }>();
    for (const s of series) {
      const leText = getLabel(s.labels, 'le');
      const le = parseGoFloat(leText);
      if (le === null) {
        this.warnings.add(annotations.badBucketLabel(getLabel(s.labels, METRIC_NAME), leText));
        continue;
      }
      const labels = s.labels.filter((l) => l.name !== 'le');
      const key = labelsKey(labels);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { labels, name: getLabel(s.labels, METRIC_NAME), members: [] }));
      g.members.push({ le, s });
    }
    const out: StepSeries[] = [];
    const outputs = f === 'histogram_quantiles' ? params.length : 1;
    for (const g of groups.values()) {
      const vs: Float64Array[] = [];
      const hs: Uint8Array[] = [];
      for (let o = 0; o < outputs; o++) {
        vs.push(new Float64Array(n));
        hs.push(new Uint8Array(n));
      }
      let any = false;
      for (let i = 0; i < n; i++) {
        const buckets: { upper: number; count: number }[] = [];
        for (const m of g.members) if (m.s.has[i]) buckets.push({ upper: m.le, count: m.s.v[i] });
        if (buckets.length === 0) continue;
        buckets.sort((a, b) => a.upper - b.upper);
        for (let o = 0; o < outputs; o++) {
          if (f === 'histogram_fraction') vs[o][i] = bucketFraction(params[0][i], params[1][i], buckets);
          else {
            const r = bucketQuantileDetailed(params[f === 'histogram_quantiles' ? o : 0][i], buckets);
            if (r.forcedMonotonicity) this.infos.add(annotations.histogramQuantileForcedMonotonicity(g.name));
            vs[o][i] = r.value;
          }
          hs[o][i] = 1;
        }
        any = true;
      }
      if (!any) continue;
      for (let o = 0; o < outputs; o++) {
        let labels = g.labels;
        if (f === 'histogram_quantiles') {
          const q = params[o][0];
          labels = withLabel(labels, qLabel, formatOpenMetricsFloat(q));
        }
        out.push({ labels, v: vs[o], has: hs[o], dropName: true });
      }
    }
    return { kind: 'vector', series: out };
  }

  private async aggregate(e: Aggregate, ts: Float64Array): Promise<Result> {
    const n = ts.length;
    let param: Float64Array | null = null;
    let label = '';
    if (e.param) {
      if (e.op === 'count_values') label = this.stringArg(e.param);
      else [param] = await this.scalarArgs([e.param], ts);
    }
    const grouping = new Set(e.grouping);
    const groupLabels = (ls: Labels): Labels =>
      e.without ? ls.filter((l) => l.name !== METRIC_NAME && !grouping.has(l.name)) : ls.filter((l) => grouping.has(l.name));
    const inner = unwrapParens(e.expr);
    if (
      (e.op === 'sum' || e.op === 'count' || e.op === 'group' || e.op === 'min' || e.op === 'max') &&
      inner.type === 'call' &&
      inner.func in RANGE_KERNELS &&
      inner.args.some((a) => unwrapParens(a).type === 'matrixSelector')
    ) {
      return this.streamAggregate(e.op, inner, ts, groupLabels, grouping.has(METRIC_NAME) && !e.without);
    }
    const series = await this.vectorArg(e.expr, ts);
    // Groups are formed before a pending metric-name removal (Prometheus 3's delayed removal):
    // `by (__name__)` keeps the name and the group inherits the removal from its members.
    const groups = new Map<string, { labels: Labels; members: StepSeries[]; dropName: boolean }>();
    const order: { labels: Labels; members: StepSeries[]; dropName: boolean }[] = [];
    for (const s of series) {
      const labels = groupLabels(s.labels);
      const key = labelsKey(labels);
      let g = groups.get(key);
      if (!g) {
        g = { labels, members: [], dropName: false };
        groups.set(key, g);
        order.push(g);
      }
      g.members.push(s);
      if (s.dropName) g.dropName = true;
    }
    if (e.op === 'count_values') {
      if (!validLabelName(label)) throw new QueryError('bad_data', `invalid label name ${JSON.stringify(label)}`);
      const outMap = new Map<string, StepSeries>();
      for (const g of order) {
        for (let i = 0; i < n; i++) {
          for (const s of g.members) {
            if (!s.has[i]) continue;
            const ls = withLabel(g.labels, label, formatFloatF(s.v[i]));
            const key = labelsKey(ls);
            let o = outMap.get(key);
            if (!o) outMap.set(key, (o = { labels: ls, v: new Float64Array(n), has: new Uint8Array(n), dropName: false }));
            o.v[i]++;
            o.has[i] = 1;
          }
        }
      }
      return { kind: 'vector', series: [...outMap.values()] };
    }
    if (e.op === 'topk' || e.op === 'bottomk' || e.op === 'limitk' || e.op === 'limit_ratio') {
      return { kind: 'vector', series: this.selectK(e.op, order, param!, n) };
    }
    const out: StepSeries[] = [];
    if (e.op === 'sum' || e.op === 'count' || e.op === 'group' || e.op === 'min' || e.op === 'max') {
      for (const g of order) {
        const r = simpleAggregate(e.op, g.members, n);
        if (r) out.push({ labels: g.labels, v: r.v, has: r.has, dropName: g.dropName && grouping.has(METRIC_NAME) && !e.without });
      }
      return { kind: 'vector', series: out };
    }
    for (const g of order) {
      const v = new Float64Array(n);
      const has = new Uint8Array(n);
      const vals: number[] = [];
      for (let i = 0; i < n; i++) {
        let count = 0;
        let acc = 0;
        let comp = 0;
        let mean = 0;
        let m2 = 0;
        let incremental = false;
        vals.length = 0;
        for (const s of g.members) {
          if (!s.has[i]) continue;
          const x = s.v[i];
          count++;
          switch (e.op as string) {
            case 'sum':
            case 'avg': {
              if (count === 1) {
                acc = x;
                comp = 0;
                mean = x;
                break;
              }
              if (e.op === 'avg' && !incremental) {
                const ns = acc + x;
                if (!Number.isFinite(ns) && Number.isFinite(acc) && Number.isFinite(x)) {
                  incremental = true;
                  mean = acc / (count - 1) + comp / (count - 1);
                } else {
                  [acc, comp] = kahanInc(x, acc, comp);
                  break;
                }
              }
              if (e.op === 'avg' && incremental) {
                if (!Number.isFinite(mean) && mean === x) break;
                mean += x / count - mean / count;
                break;
              }
              [acc, comp] = kahanInc(x, acc, comp);
              break;
            }
            case 'min':
              if (count === 1 || acc > x || Number.isNaN(acc)) acc = x;
              break;
            case 'max':
              if (count === 1 || acc < x || Number.isNaN(acc)) acc = x;
              break;
            case 'count':
            case 'group':
              break;
            case 'stddev':
            case 'stdvar': {
              const d = x - mean;
              mean += d / count;
              m2 += d * (x - mean);
              break;
            }
            case 'quantile':
              vals.push(x);
              break;
          }
        }
        if (count === 0) continue;
        has[i] = 1;
        switch (e.op as string) {
          case 'sum':
            v[i] = acc + comp;
            break;
          case 'avg':
            v[i] = incremental ? mean : count === 1 ? mean : (acc + comp) / count;
            break;
          case 'min':
          case 'max':
            v[i] = acc;
            break;
          case 'count':
            v[i] = count;
            break;
          case 'group':
            v[i] = 1;
            break;
          case 'stdvar':
            v[i] = m2 / count;
            break;
          case 'stddev':
            v[i] = Math.sqrt(m2 / count);
            break;
          case 'quantile':
            v[i] = quantile(param![i], vals);
            break;
        }
      }
      if (has.some((x) => x)) out.push({ labels: g.labels, v, has, dropName: g.dropName && grouping.has(METRIC_NAME) && !e.without });
    }
    if (e.op === 'quantile' && param) {
      for (let i = 0; i < n; i++) {
        const q = param[i];
        if (q < 0 || q > 1 || Number.isNaN(q)) {
          this.warnings.add(annotations.invalidQuantile(q));
          break;
        }
      }
    }
    return { kind: 'vector', series: out };
  }

  /**
   * sum/count/group/min/max over a range function of a selector, folding each series into its
   * group as it is computed, so the per-series results are never all held at once.
   */
  private async streamAggregate(
    op: 'sum' | 'count' | 'group' | 'min' | 'max',
    call: Call,
    ts: Float64Array,
    groupLabels: (ls: Labels) => Labels,
    keepsName: boolean,
  ): Promise<Result> {
    const n = ts.length;
    const groups = new Map<string, Accumulator>();
    await this.rangeFunction(call, ts, (s) => {
      const labels = groupLabels(s.labels);
      const key = labelsKey(labels);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = newAccumulator(labels, n, op)));
      accumulate(op, g, s);
    });
    const out: StepSeries[] = [];
    for (const g of groups.values()) {
      if (!g.any) continue;
      finishAccumulator(g);
      out.push({ labels: g.labels, v: g.v, has: g.has, dropName: g.dropName && keepsName });
    }
    return { kind: 'vector', series: out };
  }

  private selectK(op: string, groups: { labels: Labels; members: StepSeries[] }[], param: Float64Array, n: number): StepSeries[] {
    const outHas = new Map<StepSeries, Uint8Array>();
    const rank = new Map<StepSeries, Float64Array>();
    for (let i = 0; i < n; i++) {
      const p = param[i];
      if (op === 'limit_ratio') {
        if (Number.isNaN(p)) throw new QueryError('bad_data', `Ratio value is NaN`);
        const r = Math.max(-1, Math.min(1, p));
        if (p < -1 || p > 1) this.warnings.add(annotations.invalidRatio(p, r));
        for (const g of groups) {
          for (const s of g.members) {
            if (!s.has[i]) continue;
            const h = ratioHash(s.labels);
            const keep = r >= 0 ? h < r : h >= 1 + r;
            if (!keep) continue;
            let has = outHas.get(s);
            if (!has) outHas.set(s, (has = new Uint8Array(n)));
            has[i] = 1;
          }
        }
        continue;
      }
      if (Number.isNaN(p)) throw new QueryError('bad_data', `Parameter value is NaN`);
      if (Math.abs(p) >= 2 ** 63) throw new QueryError('bad_data', `Scalar value ${formatFloatG(p)} overflows int64`);
      const k = Math.trunc(p);
      if (k < 1) continue;
      for (const g of groups) {
        let present = g.members.filter((s) => s.has[i]);
        if (op === 'topk' || op === 'bottomk') {
          const desc = op === 'topk';
          present = present.slice().sort((a, b) => {
            const x = a.v[i];
            const y = b.v[i];
            if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : 1;
            if (Number.isNaN(y)) return -1;
            return desc ? y - x : x - y;
          });
        }
        const chosen = present.slice(0, k);
        for (let c = 0; c < chosen.length; c++) {
          const s = chosen[c];
          let has = outHas.get(s);
          if (!has) {
            outHas.set(s, (has = new Uint8Array(n)));
            rank.set(s, new Float64Array(n));
          }
          has[i] = 1;
          rank.get(s)![i] = c;
        }
      }
    }
    const out: StepSeries[] = [];
    for (const g of groups) {
      for (const s of g.members) {
        const has = outHas.get(s);
        if (has) out.push({ labels: s.labels, v: s.v, has, dropName: s.dropName });
      }
    }
    if (n === 1 && (op === 'topk' || op === 'bottomk')) {
      const desc = op === 'topk';
      out.sort((a, b) => (desc ? b.v[0] - a.v[0] : a.v[0] - b.v[0]));
    }
    return out;
  }

  private async binary(e: Binary, ts: Float64Array): Promise<Result> {
    const n = ts.length;
    const l = await this.eval(e.lhs, ts);
    const r = await this.eval(e.rhs, ts);
    const isCmp = COMPARISON_OPS.has(e.op);
    if (l.kind === 'scalar' && r.kind === 'scalar') {
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = arith(e.op, l.v[i], r.v[i]);
      return { kind: 'scalar', v };
    }
    if (l.kind === 'vector' && r.kind === 'scalar') return { kind: 'vector', series: this.vectorScalar(e, l.series, r.v, false, isCmp) };
    if (l.kind === 'scalar' && r.kind === 'vector') return { kind: 'vector', series: this.vectorScalar(e, r.series, l.v, true, isCmp) };
    if (l.kind === 'vector' && r.kind === 'vector') {
      const m = e.matching ?? { card: 'one-to-one', on: false, labels: [], include: [], explicit: false };
      if (e.op === 'and' || e.op === 'or' || e.op === 'unless') return { kind: 'vector', series: this.setOp(e.op, l.series, r.series, m, n) };
      return { kind: 'vector', series: this.vectorVector(e, l.series, r.series, m, n) };
    }
    throw new QueryError('bad_data', 'binary expression must contain only scalar and instant vector types');
  }

  private vectorScalar(e: Binary, series: StepSeries[], sc: Float64Array, scalarLeft: boolean, isCmp: boolean): StepSeries[] {
    const n = sc.length;
    const out: StepSeries[] = [];
    for (const s of series) {
      const v = new Float64Array(n);
      const has = new Uint8Array(n);
      let any = false;
      for (let i = 0; i < n; i++) {
        if (!s.has[i]) continue;
        const a = scalarLeft ? sc[i] : s.v[i];
        const b = scalarLeft ? s.v[i] : sc[i];
        const x = arith(e.op, a, b);
        if (isCmp && !e.bool) {
          if (x === 0) continue;
          v[i] = s.v[i];
        } else v[i] = x;
        has[i] = 1;
        any = true;
      }
      if (any) out.push({ labels: s.labels, v, has, dropName: s.dropName || !isCmp || e.bool });
    }
    return out;
  }

  private signature(m: VectorMatching): (ls: Labels) => string {
    const names = new Set(m.labels);
    if (m.on) return (ls) => labelsKey(ls.filter((l) => names.has(l.name)));
    return (ls) => labelsKey(ls.filter((l) => l.name !== METRIC_NAME && !names.has(l.name)));
  }

  private setOp(op: 'and' | 'or' | 'unless', lhs: StepSeries[], rhs: StepSeries[], m: VectorMatching, n: number): StepSeries[] {
    const sig = this.signature(m);
    const sigLabels = (s: StepSeries): string => sig(s.labels);
    const rhsBySig = new Map<string, StepSeries[]>();
    for (const s of rhs) {
      const k = sigLabels(s);
      const a = rhsBySig.get(k);
      if (a) a.push(s);
      else rhsBySig.set(k, [s]);
    }
    const presentAt = (list: StepSeries[] | undefined, i: number): boolean => {
      if (!list) return false;
      for (const s of list) if (s.has[i]) return true;
      return false;
    };
    if (op === 'and' || op === 'unless') {
      const out: StepSeries[] = [];
      for (const s of lhs) {
        const others = rhsBySig.get(sigLabels(s));
        const has = new Uint8Array(n);
        let any = false;
        for (let i = 0; i < n; i++) {
          if (!s.has[i]) continue;
          const p = presentAt(others, i);
          if (op === 'and' ? p : !p) {
            has[i] = 1;
            any = true;
          }
        }
        if (any) out.push({ ...s, has });
      }
      return out;
    }
    const lhsBySig = new Map<string, StepSeries[]>();
    for (const s of lhs) {
      const k = sigLabels(s);
      const a = lhsBySig.get(k);
      if (a) a.push(s);
      else lhsBySig.set(k, [s]);
    }
    const out: StepSeries[] = [...lhs];
    for (const s of rhs) {
      const others = lhsBySig.get(sigLabels(s));
      const has = new Uint8Array(n);
      let any = false;
      for (let i = 0; i < n; i++) {
        if (!s.has[i]) continue;
        if (!presentAt(others, i)) {
          has[i] = 1;
          any = true;
        }
      }
      if (any) out.push({ ...s, has });
    }
    return out;
  }

  private vectorVector(e: Binary, lhs: StepSeries[], rhs: StepSeries[], m: VectorMatching, n: number): StepSeries[] {
    const isCmp = COMPARISON_OPS.has(e.op);
    const sig = this.signature(m);
    // "one" side and "many" side; for one-to-one the right side is the one looked up.
    const swap = m.card === 'one-to-many';
    const many = swap ? rhs : lhs;
    const one = swap ? lhs : rhs;
    const oneBySig = new Map<string, StepSeries[]>();
    for (const s of one) {
      const k = sig(s.labels);
      const a = oneBySig.get(k);
      if (a) a.push(s);
      else oneBySig.set(k, [s]);
    }
    const dropName = !isCmp || e.bool;
    const onNames = new Set(m.labels);
    const include = m.include;
    const resultLabels = (ml: Labels, ol: Labels): Labels => {
      let ls: Labels = ml;
      if (m.card === 'one-to-one') {
        ls = m.on ? ls.filter((l) => onNames.has(l.name)) : ls.filter((l) => !onNames.has(l.name));
      }
      for (const name of include) ls = withLabel(ls, name, getLabel(ol, name));
      return ls;
    };
    const outMap = new Map<string, StepSeries>();
    const outList: StepSeries[] = [];
    const manySeen = m.card === 'one-to-one' ? new Map<string, Int32Array>() : null;
    const fill = e.fill;
    const oneSide = swap ? 'left' : 'right';
    for (let mi = 0; mi < many.length; mi++) {
      const ms = many[mi];
      const k = sig(ms.labels);
      const candidates = oneBySig.get(k);
      for (let i = 0; i < n; i++) {
        if (!ms.has[i]) continue;
        let os: StepSeries | null = null;
        if (candidates) {
          for (const c of candidates) {
            if (!c.has[i]) continue;
            if (os) {
              throw new QueryError(
                'execution',
                `found duplicate series for the match group ${labelSetString(matchGroupLabels(ms.labels, m))} on the ${oneSide} hand-side of the operation: [${labelSetString(c.labels)}, ${labelSetString(os.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`,
              );
            }
            os = c;
          }
        }
        let ov: number;
        if (!os) {
          // Prometheus applies fill_right to a missing "one" side and fill_left to a missing
          // "many" side, also under group_right.
          const fv = fill ? fill.rhs : null;
          if (fv === null || fv === undefined) continue;
          ov = fv;
        } else ov = os.v[i];
        if (manySeen) {
          let seen = manySeen.get(k);
          if (!seen) manySeen.set(k, (seen = new Int32Array(n).fill(-1)));
          if (seen[i] >= 0 && seen[i] !== mi) {
            throw new QueryError(
              'execution',
              `found duplicate series for the match group ${labelSetString(matchGroupLabels(ms.labels, m))} on the left hand-side of the operation: [${labelSetString(ms.labels)}, ${labelSetString(many[seen[i]].labels)}];many-to-many matching not allowed: matching labels must be unique on one side`,
            );
          }
          seen[i] = mi;
        }
        const a = swap ? ov : ms.v[i];
        const b = swap ? ms.v[i] : ov;
        let x = arith(e.op, a, b);
        if (isCmp && !e.bool) {
          if (x === 0) continue;
          x = a;
        }
        const ls = resultLabels(ms.labels, os ? os.labels : []);
        const key = labelsKey(ls) + (dropName || ms.dropName ? '\x00d' : '');
        let o = outMap.get(key);
        if (!o) {
          o = { labels: ls, v: new Float64Array(n), has: new Uint8Array(n), dropName: dropName || ms.dropName };
          outMap.set(key, o);
          outList.push(o);
        } else if (o.has[i]) {
          throw new QueryError('execution', `multiple matches for labels: grouping labels must ensure unique matches`);
        }
        o.v[i] = x;
        o.has[i] = 1;
      }
    }
    if (fill) {
      // Series of the "one" side without a partner on the "many" side.
      const fv = fill.lhs;
      if (fv !== null && fv !== undefined) {
        const manyBySig = new Map<string, StepSeries[]>();
        for (const s of many) {
          const k = sig(s.labels);
          const a = manyBySig.get(k);
          if (a) a.push(s);
          else manyBySig.set(k, [s]);
        }
        for (const os of one) {
          const partners = manyBySig.get(sig(os.labels));
          for (let i = 0; i < n; i++) {
            if (!os.has[i]) continue;
            if (partners && partners.some((p) => p.has[i])) continue;
            const a = swap ? os.v[i] : fv;
            const b = swap ? fv : os.v[i];
            let x = arith(e.op, a, b);
            if (isCmp && !e.bool) {
              if (x === 0) continue;
              x = a;
            }
            const ls: Labels = m.on ? os.labels.filter((l) => onNames.has(l.name)) : os.labels.filter((l) => !onNames.has(l.name));
            const key = labelsKey(ls) + '\x00d';
            let o = outMap.get(key);
            if (!o) {
              o = { labels: ls, v: new Float64Array(n), has: new Uint8Array(n), dropName: true };
              outMap.set(key, o);
              outList.push(o);
            }
            o.v[i] = x;
            o.has[i] = 1;
          }
        }
      }
    }
    return outList;
  }
}

/** Prometheus 3 accepts any valid UTF-8 label name; U+FFFD marks bytes that were not UTF-8. */
function validLabelName(s: string): boolean {
  return s !== '' && !s.includes('\ufffd');
}

/** A smoothed window with samples only after its end yields nothing (as in Prometheus). */
function smoothedNeedsDataUpToEnd(t: Float64Array, ends: Float64Array, reach: number, has: Uint8Array): void {
  for (let i = 0; i < ends.length; i++) {
    if (!has[i]) continue;
    const [a, b] = windowIndices(t, ends[i] - reach, ends[i]);
    if (b === a) has[i] = 0;
  }
}

const FAST_RATES: Record<string, { counter: boolean; rate: boolean } | undefined> = {
  rate: { counter: true, rate: true },
  increase: { counter: true, rate: false },
  delta: { counter: false, rate: false },
};

/** rate/increase/delta of one series at every step (windows (end - range, end]). */
function rateSeries(
  t: Float64Array,
  v: Float64Array,
  ends: Float64Array,
  range: number,
  isCounter: boolean,
  isRate: boolean,
  reuse: { v: Float64Array; has: Uint8Array } | null = null,
): { v: Float64Array; has: Uint8Array } | null {
  const n = ends.length;
  const len = t.length;
  // Most counters never reset: then no window needs the reset scan.
  let resets = false;
  if (isCounter) {
    for (let i = 1; i < len; i++) {
      if (v[i] < v[i - 1]) {
        resets = true;
        break;
      }
    }
  }
  let out: Float64Array | null = null;
  let has: Uint8Array | null = null;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < n; i++) {
    const end = ends[i];
    const start = end - range;
    if (i > 0 && end < ends[i - 1]) {
      lo = 0;
      hi = 0;
    }
    while (lo < len && t[lo] <= start) lo++;
    if (hi < lo) hi = lo;
    while (hi < len && t[hi] <= end) hi++;
    if (hi - lo < 2) continue;
    const r = extrapolate(t, v, lo, hi, start, end, isCounter, isRate, resets);
    if (r === null) continue;
    if (out === null) {
      if (reuse) {
        out = reuse.v;
        has = reuse.has;
        has.fill(0);
      } else {
        out = new Float64Array(n);
        has = new Uint8Array(n);
      }
    }
    out[i] = r;
    has![i] = 1;
  }
  return out === null ? null : { v: out, has: has! };
}


function matchGroupLabels(ls: Labels, m: VectorMatching): Labels {
  const names = new Set(m.labels);
  return m.on ? ls.filter((l) => names.has(l.name)) : ls.filter((l) => l.name !== METRIC_NAME && !names.has(l.name));
}

interface Accumulator {
  labels: Labels;
  v: Float64Array;
  has: Uint8Array;
  comp: Float64Array | null;
  any: boolean;
  dropName: boolean;
}

function newAccumulator(labels: Labels, n: number, op: 'sum' | 'count' | 'group' | 'min' | 'max'): Accumulator {
  return { labels, v: new Float64Array(n), has: new Uint8Array(n), comp: op === 'sum' ? new Float64Array(n) : null, any: false, dropName: false };
}

/** Folds one series into a group over all steps (Kahan-compensated for sum). */
function accumulate(op: 'sum' | 'count' | 'group' | 'min' | 'max', acc: Accumulator, s: StepSeries): void {
  const { v, has, comp } = acc;
  const sv = s.v;
  const sh = s.has;
  const n = v.length;
  if (s.dropName) acc.dropName = true;
  for (let i = 0; i < n; i++) {
    if (!sh[i]) continue;
    const x = sv[i];
    if (!has[i]) {
      has[i] = 1;
      acc.any = true;
      v[i] = op === 'count' || op === 'group' ? 1 : x;
      continue;
    }
    switch (op) {
      case 'sum': {
        const sum = v[i];
        const t = sum + x;
        if (Number.isFinite(t)) {
          if (Math.abs(sum) >= Math.abs(x)) comp![i] += sum - t + x;
          else comp![i] += x - t + sum;
        } else comp![i] = 0;
        v[i] = t;
        break;
      }
      case 'count':
        v[i]++;
        break;
      case 'group':
        break;
      case 'min':
        if (v[i] > x || Number.isNaN(v[i])) v[i] = x;
        break;
      case 'max':
        if (v[i] < x || Number.isNaN(v[i])) v[i] = x;
        break;
    }
  }
}

function finishAccumulator(acc: Accumulator): void {
  const { v, has, comp } = acc;
  if (comp) for (let i = 0; i < v.length; i++) if (has[i] && Number.isFinite(v[i])) v[i] += comp[i];
}

/** sum, count, group, min, max of one group, member by member over all steps. */
function simpleAggregate(op: 'sum' | 'count' | 'group' | 'min' | 'max', members: StepSeries[], n: number): { v: Float64Array; has: Uint8Array } | null {
  const acc = newAccumulator([], n, op);
  for (const s of members) accumulate(op, acc, s);
  if (!acc.any) return null;
  finishAccumulator(acc);
  return { v: acc.v, has: acc.has };
}

/** A stable pseudo-random fraction in [0, 1) per label set, for limit_ratio. */
function ratioHash(ls: Labels): number {
  const s = labelsKey(ls);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

function dropStale(t: Float64Array, v: Float64Array): { t: Float64Array; v: Float64Array } {
  let stale = 0;
  for (let i = 0; i < v.length; i++) if (v[i] !== v[i] && isStaleNaN(v[i])) stale++;
  if (stale === 0) return { t, v };
  const nt = new Float64Array(t.length - stale);
  const nv = new Float64Array(t.length - stale);
  let k = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== v[i] && isStaleNaN(v[i])) continue;
    nt[k] = t[i];
    nv[k] = v[i];
    k++;
  }
  return { t: nt, v: nv };
}

/** Indices [a, b) of samples with start < t <= end. */
function windowIndices(t: Float64Array, start: number, end: number): [number, number] {
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

/** Labels of absent()'s result: the equality matchers of a plain selector. */
function absentLabels(e: Expr): Labels {
  e = unwrapParens(e);
  let vs: VectorSelector | null = null;
  if (e.type === 'vectorSelector') vs = e;
  else if (e.type === 'matrixSelector') vs = e.selector;
  if (!vs) return [];
  return labelsFromRecord(matcherLabels(vs.matchers));
}

/** Removes metric names where dropped and checks that no two series collide afterwards. */
function finalizeSeries(series: StepSeries[], n: number): StepSeries[] {
  const out: StepSeries[] = [];
  const seen = new Map<string, StepSeries>();
  for (const s of series) {
    const labels = s.dropName ? dropNameLabels(s.labels) : s.labels;
    const key = labelsKey(labels);
    const prev = seen.get(key);
    if (prev) {
      for (let i = 0; i < n; i++) {
        if (prev.has[i] && s.has[i]) throw new QueryError('execution', 'vector cannot contain metrics with the same labelset');
      }
      for (let i = 0; i < n; i++) {
        if (s.has[i]) {
          prev.has[i] = 1;
          prev.v[i] = s.v[i];
        }
      }
      continue;
    }
    const copy = { labels, v: s.v, has: s.has, dropName: false };
    if (s.dropName) {
      copy.v = Float64Array.from(s.v);
      copy.has = Uint8Array.from(s.has);
    }
    seen.set(key, copy);
    out.push(copy);
  }
  return out;
}

/** Sorting wanted by the outermost sort*() call of an instant query, if any. */
function outerSort(e: Expr): ((a: InstantSample, b: InstantSample) => number) | null | 'keep' {
  e = unwrapParens(e);
  if (e.type === 'aggregate' && (e.op === 'topk' || e.op === 'bottomk')) return 'keep';
  if (e.type !== 'call') return null;
  const byValue = (desc: boolean) => (a: InstantSample, b: InstantSample) => {
    if (Number.isNaN(a.v)) return Number.isNaN(b.v) ? 0 : 1;
    if (Number.isNaN(b.v)) return -1;
    return desc ? b.v - a.v : a.v - b.v;
  };
  switch (e.func) {
    case 'sort':
      return byValue(false);
    case 'sort_desc':
      return byValue(true);
    case 'sort_by_label':
    case 'sort_by_label_desc': {
      const names = e.args.slice(1).map((a) => {
        const u = unwrapParens(a);
        return u.type === 'string' ? u.value : '';
      });
      const desc = e.func === 'sort_by_label_desc';
      return (a, b) => {
        for (const name of names) {
          const c = compareNatural(getLabel(a.labels, name), getLabel(b.labels, name));
          if (c !== 0) return desc ? -c : c;
        }
        const c = compareLabels(a.labels, b.labels);
        return desc ? -c : c;
      };
    }
  }
  return null;
}

/** A counting semaphore for maxConcurrent. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private limit: number) {}
  /** Changes the limit; a higher one lets waiting queries in at once, a lower one takes effect as queries finish. */
  setLimit(limit: number): void {
    this.limit = limit;
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()!();
    }
  }
  get limitValue(): number {
    return this.limit;
  }
  /** Queries running and waiting. */
  get load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }
  async enter(signal?: AbortSignal): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    if (signal?.aborted) throw new QueryError('canceled', 'query was canceled while waiting in the queue');
    await new Promise<void>((resolve, reject) => {
      const go = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new QueryError('canceled', 'query was canceled while waiting in the queue'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(go);
    });
  }
  leave(): void {
    this.active--;
    // The slot passes to the next waiter (counted for it here), unless the limit was lowered.
    if (this.active < this.limit) {
      const next = this.waiting.shift();
      if (next) {
        this.active++;
        next();
      }
    }
  }
}

/**
 * The PromQL engine. Safe to share: each query has its own evaluation state; at most
 * `maxConcurrent` queries run at once and the rest wait in arrival order.
 */
export class Engine implements QueryEngine {
  private lookbackDelta = 5 * 60_000;
  private timeout = 2 * 60_000;
  private maxSamples = 50_000_000;
  private readonly gate: Gate;

  constructor(opts: EngineOptions = {}) {
    this.gate = new Gate(20);
    this.setLimits(opts);
  }

  /**
   * Changes the limits (a configuration reload). Options left out keep their value. Queries
   * already running keep the limits they started with; a new concurrency limit applies at once.
   */
  setLimits(opts: EngineOptions): void {
    const check = (name: string, v: number | undefined, min: number): void => {
      if (v !== undefined && !(v >= min && Number.isFinite(v))) throw new RangeError(`engine option ${name} must be a number >= ${min}, got ${v}`);
    };
    check('lookbackDelta', opts.lookbackDelta, 0);
    check('timeout', opts.timeout, 0);
    check('maxSamples', opts.maxSamples, 1);
    check('maxConcurrent', opts.maxConcurrent, 1);
    if (opts.lookbackDelta !== undefined) this.lookbackDelta = opts.lookbackDelta;
    if (opts.timeout !== undefined) this.timeout = opts.timeout;
    if (opts.maxSamples !== undefined) this.maxSamples = opts.maxSamples;
    if (opts.maxConcurrent !== undefined) this.gate.setLimit(opts.maxConcurrent);
  }

  /** The limits in force. */
  get limits(): Required<EngineOptions> {
    return { lookbackDelta: this.lookbackDelta, timeout: this.timeout, maxSamples: this.maxSamples, maxConcurrent: this.gate.limitValue };
  }

  /** Queries running and waiting for a slot. */
  get queue(): { active: number; waiting: number } {
    return this.gate.load;
  }

  async instantQuery(q: Queryable, expr: string, time: number, opts: QueryOptions = {}): Promise<QueryResult> {
    const ast = parseExpr(expr);
    return this.run(q, opts, async (ev) => {
      const t = exprType(ast);
      if (t === 'matrix') return { type: 'matrix', series: await ev.matrixValue(ast, time) };
      const r = await ev.eval(ast, new Float64Array([time]));
      return this.instantValue(ast, r, time);
    }, time, time, 0);
  }

  async rangeQuery(q: Queryable, expr: string, start: number, end: number, step: number, opts: QueryOptions = {}): Promise<QueryResult> {
    if (step <= 0) throw new QueryError('bad_data', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
    if (end < start) throw new QueryError('bad_data', 'end timestamp must not be before start time');
    if ((end - start) / step > 11000) {
      throw new QueryError('bad_data', 'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
    }
    const ast = parseExpr(expr);
    const t = exprType(ast);
    if (t !== 'scalar' && t !== 'vector') {
      throw new QueryError('bad_data', `invalid expression type "${t === 'matrix' ? 'range vector' : t}" for range query, must be Scalar or instant Vector`);
    }
    return this.run(q, opts, async (ev) => {
      const n = Math.floor((end - start) / step) + 1;
      const ts = new Float64Array(n);
      for (let i = 0; i < n; i++) ts[i] = start + i * step;
      const r = await ev.eval(ast, ts);
      const series: RangeSeries[] = [];
      if (r.kind === 'scalar') {
        series.push({ labels: [], timestamps: ts, values: r.v });
      } else if (r.kind === 'vector') {
        for (const s of finalizeSeries(r.series, n)) {
          let c = 0;
          for (let i = 0; i < n; i++) if (s.has[i]) c++;
          if (c === 0) continue;
          const tt = new Float64Array(c);
          const vv = new Float64Array(c);
          let k = 0;
          for (let i = 0; i < n; i++) {
            if (!s.has[i]) continue;
            tt[k] = ts[i];
            vv[k] = s.v[i];
            k++;
          }
          series.push({ labels: s.labels, timestamps: tt, values: vv });
        }
        series.sort((a, b) => compareLabels(a.labels, b.labels));
      }
      return { type: 'matrix', series };
    }, start, end, step);
  }

  private instantValue(ast: Expr, r: Result, time: number): Value {
    if (r.kind === 'scalar') return { type: 'scalar', t: time, v: r.v[0] };
    if (r.kind === 'string') return { type: 'string', t: time, v: r.s };
    const samples: InstantSample[] = [];
    for (const s of finalizeSeries(r.series, 1)) if (s.has[0]) samples.push({ labels: s.labels, t: time, v: s.v[0] });
    const order = outerSort(ast);
    if (order === null) samples.sort((a, b) => compareLabels(a.labels, b.labels));
    else if (order !== 'keep') samples.sort(order);
    return { type: 'vector', samples };
  }

  private async run(q: Queryable, opts: QueryOptions, body: (ev: Evaluation) => Promise<Value>, start: number, end: number, step: number): Promise<QueryResult> {
    await this.gate.enter(opts.signal);
    const began = Date.now();
    try {
      const deadline = new Deadline(began + this.timeout, opts.signal, this.timeout);
      deadline.check();
      const ev = new Evaluation(q, start, end, step, opts.lookbackDelta ?? this.lookbackDelta, this.maxSamples, deadline, step > 0);
      const value = await body(ev);
      return {
        value,
        warnings: [...ev.warnings],
        infos: [...ev.infos],
        stats: { samplesLoaded: ev.loaded, evalMs: Date.now() - began },
      };
    } finally {
      this.gate.leave();
    }
  }
}
