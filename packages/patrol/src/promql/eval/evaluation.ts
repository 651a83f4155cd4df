// The evaluation of one query: its limits (max_samples, deadline, cancellation), reading series
// from storage for instant and range selectors, subqueries, and the dispatch to the node
// evaluators (calls.ts, aggregate.ts, binary.ts). Every node is evaluated once over all the
// timestamps of a query, column-wise.

import type { Labels } from '../../model/labels.js';
import { labelsKey } from '../../model/labels.js';
import { isStaleNaN } from '../../model/value.js';
import type { Queryable, SampleIterator } from '../../storage/interface.js';
import { SampleBuffer } from '../../storage/interface.js';
import type { AtModifier, DurationExpr, Expr, SubqueryExpr, VectorSelector } from '../ast.js';
import { formatDuration } from '../format.js';
import { evalDuration, exprType } from '../parser.js';
import type { RangeSeries } from '../types.js';
import { QueryError } from '../types.js';
import type { Evaluator, RangeArg, RawSeries, Result, StepSeries } from './context.js';
import { dropNameLabels, unwrapParens, windowIndices } from './context.js';
import { call } from './calls.js';
import { aggregate } from './aggregate.js';
import { binary } from './binary.js';

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

/**
 * One time slice shared by every evaluation in the process. Queries run concurrently (rule
 * groups, API requests), and each yields to the event loop at its checks; were each allowed a
 * slice of its own, N queries resuming in the same turn of the loop would together hold it N
 * times as long. With one shared slice, once the current one has lasted SLICE_MS every query
 * yields at its next check, and the first to resume after a yield starts the next slice: all
 * queries together hold the loop for about SLICE_MS at a time, so timers (scrapes, probes)
 * wait at most about that long.
 */
const SLICE_MS = 8;
let sliceStart = 0;

export class Deadline {
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

/** Evaluation state for one query. */
export class Evaluation implements Evaluator {
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
   * Checks the deadline and cancellation; true every 200 calls or when the shared time slice is
   * spent, when the caller should yield to the event loop (`await this.yieldNow()`) so that
   * timers and aborts get through.
   */
  private tick(): boolean {
    this.deadline.check();
    if (++this.opsSinceYield >= 200 || performance.now() - sliceStart > SLICE_MS) {
      this.opsSinceYield = 0;
      return true;
    }
    return false;
  }

  pace(): Promise<void> | null {
    return this.tick() ? this.yieldNow() : null;
  }

  private async yieldNow(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    const now = performance.now();
    if (now - sliceStart > SLICE_MS) sliceStart = now;
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
        return call(this, e, ts);
      case 'aggregate':
        return aggregate(this, e, ts);
      case 'binary':
        return binary(this, e, ts);
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

  async scalarArgs(args: Expr[], ts: Float64Array): Promise<Float64Array[]> {
    const out: Float64Array[] = [];
    for (const a of args) {
      const r = await this.eval(a, ts);
      if (r.kind !== 'scalar') throw new QueryError('bad_data', 'expected a scalar argument');
      out.push(r.v);
    }
    return out;
  }

  async vectorArg(e: Expr, ts: Float64Array): Promise<StepSeries[]> {
    const r = await this.eval(e, ts);
    if (r.kind !== 'vector') throw new QueryError('bad_data', 'expected an instant vector argument');
    return r.series;
  }

  stringArg(e: Expr): string {
    e = unwrapParens(e);
    if (e.type !== 'string') throw new QueryError('bad_data', 'expected a string literal argument');
    return e.value;
  }

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
