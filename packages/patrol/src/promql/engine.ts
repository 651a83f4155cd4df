// The PromQL engine: parses a query, has it evaluated (eval/: every node once over all the
// timestamps of the query, column-wise), and applies the limits (timeout, max_samples,
// max_concurrency) and Prometheus's finishing touches (metric-name removal, result order).

import { compareLabels, getLabel, labelsKey } from '../model/labels.js';
import type { Queryable } from '../storage/interface.js';
import type { Expr } from './ast.js';
import { compareNatural } from './functions/helpers.js';
import { exprType, parseExpr, parseExprSliced } from './parser.js';
import type { EngineOptions, InstantSample, QueryEngine, QueryOptions, QueryResult, RangeSeries, Value } from './types.js';
import { QueryError } from './types.js';
import type { Result, StepSeries } from './eval/context.js';
import { dropNameLabels, unwrapParens } from './eval/context.js';
import { Deadline, Evaluation } from './eval/evaluation.js';

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

/** Parsed expressions kept (see Engine.parse), and the longest text kept. */
const PARSE_CACHE_ENTRIES = 4096;
const PARSE_CACHE_MAX_TEXT = 16 * 1024;
/** Texts longer than this are parsed in slices (parseExprSliced). */
const SLICED_PARSE_FROM = 2048;

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

  /**
   * Parsed expressions by their text, most recently used last: rules (and dashboards) send the
   * same expressions every interval, and parsing (regex compilation included) cost as much as
   * evaluating many of them. Trees are never changed by evaluation, so one is shared.
   */
  private readonly parsed = new Map<string, Expr>();

  private parse(expr: string): Expr {
    const ast = this.parsed.get(expr);
    if (ast !== undefined) {
      this.parsed.delete(expr);
      this.parsed.set(expr, ast);
      return ast;
    }
    return this.remember(expr, parseExpr(expr));
  }

  private remember(expr: string, ast: Expr): Expr {
    if (expr.length <= PARSE_CACHE_MAX_TEXT) {
      if (this.parsed.size >= PARSE_CACHE_ENTRIES) this.parsed.delete(this.parsed.keys().next().value!);
      this.parsed.set(expr, ast);
    }
    return ast;
  }

  /**
   * `parse`, except that a long text not in the cache is parsed in slices with yields between
   * them (parseExprSliced): a dashboard's 20,000-value alternation or a selector with thousands
   * of matchers would hold the event loop. Short and cached texts are parsed at once, so a query
   * takes its concurrency slot in the same turn of the loop as before.
   */
  private parseAny(expr: string): Expr | Promise<Expr> {
    if (expr.length <= SLICED_PARSE_FROM || this.parsed.has(expr)) return this.parse(expr);
    return parseExprSliced(expr).then((ast) => this.remember(expr, ast));
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
    const parsed = this.parseAny(expr);
    const ast = parsed instanceof Promise ? await parsed : parsed;
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
    const parsed = this.parseAny(expr);
    const ast = parsed instanceof Promise ? await parsed : parsed;
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
