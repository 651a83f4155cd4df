// Runs PromQL test scripts against a QueryEngine, the way Prometheus's promqltest does:
// - every instant eval is also run as a range query from t-1m to t+1m step 1m and the point at
//   t must give the same answer (unless the eval expects a string or a range vector, or the
//   expression uses start(), end(), range() or step());
// - unless turned off, every instant eval is repeated with `@ t` added
//   to all selectors and subqueries, evaluated at -10t, 0, t/5, t and 10t (or -1s, 0, 1s at t=0);
// - annotations are checked against expect warn/info/no_warn/no_info lines.
// Native histograms are out of Patrol's scope: histogram samples are not loaded, evals that expect
// histogram values are skipped, and evals with a selector that selects a series that had
// histogram samples (or was made by load_with_nhcb) still run but are counted apart.

import type { Labels } from '../../model/labels.js';
import { labelsKey, METRIC_NAME, metricName, withLabel, withoutLabels } from '../../model/labels.js';
import { matchLabels } from '../../model/matchers.js';
import { selectorMatchers } from './selectors.js';
import type { Storage } from '../../storage/interface.js';
import type { InstantSample, QueryEngine, QueryOptions, QueryResult } from '../types.js';
import { assertSortedSeries, checkAnnotations, checkExpectedFailure, compareResult, compareVector, isFail, isOrdered } from './compare.js';
import type { Command, EvalCommand, LoadCommand } from './parse.js';
import { parseScript } from './parse.js';
import { atModifierRewrite } from './atmodifier.js';

export type EvalStatus = 'pass' | 'fail' | 'skip';

export interface EvalReport {
  line: number;
  expr: string;
  status: EvalStatus;
  /** Why it failed or was skipped. */
  reason?: string;
  /** The eval involves native histograms (expected values or loaded series). */
  nativeHistogram: boolean;
}

export interface Counts {
  pass: number;
  fail: number;
  skip: number;
}

export interface FileReport {
  file: string;
  evals: EvalReport[];
  /** Problems outside evals: load errors, unknown commands. */
  errors: { line: number; message: string }[];
  counts: { nativeHistogram: Counts; other: Counts; total: Counts };
}

export interface EngineSetup {
  engine: QueryEngine;
  storage: Storage;
}

export interface RunOptions {
  /**
   * Returns the expression with `@ <t seconds>` set on every selector and subquery that lacks
   * one (not inside a subquery that has one), or null when the expression calls a function
   * whose result depends on the evaluation time (time, predict_linear, the date functions…).
   * Defaults to `atModifierRewrite` (lezer-based text insertion); null turns the variants off.
   */
  atModifierRewrite?: ((expr: string, evalTimeMs: number) => string | null) | null;
  /** Per query, default 60 s: a slower query is aborted through its signal and fails its eval. */
  queryTimeoutMs?: number;
  /** Only run evals whose line is in this set (for debugging one case). */
  onlyLines?: ReadonlySet<number>;
}

const QUERY_CONTEXT_FUNCS_RE = /(start|end|range|step)\(\)/;
const MINUTE = 60_000;

interface DataState {
  setup: EngineSetup;
  /** Series that held native histograms since the last clear (loaded, or made by load_with_nhcb). */
  histogramSeries: SeriesSet;
  /** Series loaded with start timestamps, which Patrol cannot store. */
  startTimestampSeries: SeriesSet;
}

class SeriesSet {
  readonly names = new Set<string>();
  readonly labels: Labels[] = [];
  private readonly keys = new Set<string>();

  add(ls: Labels): void {
    const key = labelsKey(ls);
    if (this.keys.has(key)) return;
    this.keys.add(key);
    this.labels.push(ls);
    this.names.add(metricName(ls));
  }

  /** True when a selector of the expression selects one of the series. */
  touchedBy(expr: string): boolean {
    if (this.labels.length === 0) return false;
    const selectors = selectorMatchers(expr);
    if (selectors === null) return touches(expr, this.names);
    return selectors.some((ms) => this.labels.some((ls) => matchLabels(ms, ls)));
  }
}

function newState(makeEngine: () => EngineSetup): DataState {
  return { setup: makeEngine(), histogramSeries: new SeriesSet(), startTimestampSeries: new SeriesSet() };
}

export async function runTestFile(text: string, fileName: string, makeEngine: () => EngineSetup, opts: RunOptions = {}): Promise<FileReport> {
  const report: FileReport = {
    file: fileName,
    evals: [],
    errors: [],
    counts: { nativeHistogram: zero(), other: zero(), total: zero() },
  };
  const commands: Command[] = parseScript(text);
  const timeoutMs = opts.queryTimeoutMs ?? 60_000;
  let state: DataState = newState(makeEngine);
  try {
    for (const cmd of commands) {
      switch (cmd.kind) {
        case 'error':
          if (cmd.expr !== undefined) push(report, { line: cmd.line, expr: cmd.expr, status: 'fail', reason: `parse error: ${cmd.message}`, nativeHistogram: false });
          else report.errors.push({ line: cmd.line, message: cmd.message });
          break;
        case 'clear':
          await state.setup.storage.close();
          state = newState(makeEngine);
          break;
        case 'load':
          load(cmd, state, report);
          break;
        case 'eval': {
          if (opts.onlyLines && !opts.onlyLines.has(cmd.line)) break;
          if (cmd.histogramsExpected) {
            push(report, { line: cmd.line, expr: cmd.expr, status: 'skip', reason: 'expects native histogram values', nativeHistogram: true });
            break;
          }
          // Evals over series that had histogram samples still run (their float samples are
          // loaded) but are counted with the native-histogram evals.
          const nh = state.histogramSeries.touchedBy(cmd.expr);
          if (state.startTimestampSeries.touchedBy(cmd.expr)) {
            push(report, { line: cmd.line, expr: cmd.expr, status: 'skip', reason: 'start timestamps (@st) are not supported', nativeHistogram: false });
            break;
          }
          let reason: string | null;
          try {
            reason = cmd.range ? await runRange(cmd, state.setup.engine, state.setup.storage, timeoutMs) : await runInstant(cmd, state.setup.engine, state.setup.storage, opts, timeoutMs);
          } catch (e) {
            reason = `runner error: ${e instanceof Error ? e.message : String(e)}`;
          }
          push(report, { line: cmd.line, expr: cmd.expr, status: reason === null ? 'pass' : 'fail', ...(reason === null ? {} : { reason }), nativeHistogram: nh });
          break;
        }
      }
    }
  } finally {
    await state.setup.storage.close();
  }
  return report;
}

function zero(): Counts {
  return { pass: 0, fail: 0, skip: 0 };
}

function push(report: FileReport, r: EvalReport): void {
  report.evals.push(r);
  const bucket = r.nativeHistogram ? report.counts.nativeHistogram : report.counts.other;
  bucket[r.status]++;
  report.counts.total[r.status]++;
}

const HIST_SUFFIXES = ['_bucket', '_count', '_sum'];
const LE: ReadonlySet<string> = new Set(['le']);

function load(cmd: LoadCommand, state: DataState, report: FileReport): void {
  const app = state.setup.storage.appender();
  let failed: string | null = null;
  // A series defined twice in one load keeps its last definition, as in promqltest.
  const byKey = new Map<string, LoadCommand['series'][number]>();
  for (const s of cmd.series) byKey.set((s.startTimestamps ? '@st' : '') + labelsKey(s.labels), s);
  // A standalone `@st` line gives start timestamps to every series after it in the load.
  let defaultST = false;
  for (const s of byKey.values()) {
    const name = metricName(s.labels);
    if (s.startTimestamps) {
      if (s.labels.length === 0) defaultST = true;
      else state.startTimestampSeries.add(s.labels);
      continue;
    }
    if (defaultST) state.startTimestampSeries.add(s.labels);
    if (cmd.withNHCB) {
      for (const suf of HIST_SUFFIXES) {
        if (name.endsWith(suf)) state.histogramSeries.add(withLabel(withoutLabels(s.labels, LE), METRIC_NAME, name.slice(0, -suf.length)));
      }
    }
    let ref = 0;
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (v.kind === 'omitted') continue;
      if (v.kind === 'histogram') {
        state.histogramSeries.add(s.labels);
        continue;
      }
      try {
        ref = app.append(ref, s.labels as Labels, i * cmd.step, v.value);
      } catch (e) {
        failed ??= `line ${s.line}: ${e instanceof Error ? e.message : String(e)}`;
        break;
      }
    }
  }
  app.commit();
  if (failed) report.errors.push({ line: cmd.line, message: `load failed: ${failed}` });
}

/** Fallback when the expression does not parse: an identifier in it names one of the series. */
function touches(expr: string, names: ReadonlySet<string>): boolean {
  if (names.size === 0) return false;
  const stripped = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, (q) => {
    // Keep quoted strings that are exactly a metric name (`{"name"}` or __name__="name").
    const inner = q.slice(1, -1);
    return names.has(inner) ? ` ${inner} ` : ' ';
  });
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) if (names.has(m[0])) return true;
  return false;
}

type Outcome = { ok: true; res: QueryResult } | { ok: false; error: string };

/** Runs one query; one that takes longer than timeoutMs is aborted through its signal and fails. */
async function exec(p: (qo: QueryOptions) => Promise<QueryResult>, timeoutMs: number): Promise<Outcome> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new Error(`query did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return { ok: true, res: await Promise.race([p({ signal: ac.signal }), timeout]) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** Checks errors, annotations and the result of one run; null when all is as expected. */
function checkOutcome(ev: EvalCommand, out: Outcome, what: string): string | null | 'failed-as-expected' {
  if (!out.ok) {
    if (isFail(ev)) {
      const r = checkExpectedFailure(ev, out.error);
      return r === null ? 'failed-as-expected' : r;
    }
    return `error evaluating ${what}: ${out.error}`;
  }
  if (isFail(ev)) return `expected error evaluating ${what} but got none`;
  const a = checkAnnotations(ev, out.res.warnings, out.res.infos);
  if (a) return `${what}: ${a}`;
  const c = compareResult(ev, out.res.value);
  if (c) return `${what}: ${c}`;
  return null;
}

async function runRange(ev: EvalCommand, engine: QueryEngine, storage: Storage, timeoutMs: number): Promise<string | null> {
  const out = await exec((qo) => engine.rangeQuery(storage, ev.expr, ev.start, ev.end, ev.step, qo), timeoutMs);
  const r = checkOutcome(ev, out, 'range query');
  return r === 'failed-as-expected' ? null : r;
}

async function runInstant(ev: EvalCommand, engine: QueryEngine, storage: Storage, opts: RunOptions, timeoutMs: number): Promise<string | null> {
  const cases: { expr: string; t: number; label: string }[] = [{ expr: ev.expr, t: ev.evalTime, label: 'instant query' }];
  const rewrite = opts.atModifierRewrite === undefined ? atModifierRewrite : opts.atModifierRewrite;
  if (rewrite) {
    const ts = ev.evalTime;
    const rewritten = rewrite(ev.expr, ts);
    if (rewritten !== null) {
      const times = ts === 0 ? [-1000, 0, 1000] : [-10 * ts, 0, Math.trunc(ts / 5), ts, 10 * ts];
      for (const t of times) cases.push({ expr: rewritten, t, label: `instant query ${JSON.stringify(rewritten)} at ${t}ms` });
    }
  }
  for (const c of cases) {
    const out = await exec((qo) => engine.instantQuery(storage, c.expr, c.t, qo), timeoutMs);
    const r = checkOutcome(ev, out, c.label);
    if (r === 'failed-as-expected') continue;
    if (r !== null) return r;
    if (ev.excludeFromRangeQuery || QUERY_CONTEXT_FUNCS_RE.test(c.expr)) continue;
    const rr = await rangeModeCheck(ev, engine, storage, c.expr, c.t, out.ok ? out.res : null, timeoutMs);
    if (rr !== null) return `${c.label} in range mode: ${rr}`;
  }
  return null;
}

/** Runs the query as a range query around t and compares the point at t with the expectations. */
async function rangeModeCheck(ev: EvalCommand, engine: QueryEngine, storage: Storage, expr: string, t: number, instant: QueryResult | null, timeoutMs: number): Promise<string | null> {
  const out = await exec((qo) => engine.rangeQuery(storage, expr, t - MINUTE, t + MINUTE, MINUTE, qo), timeoutMs);
  if (!out.ok) return `error: ${out.error}`;
  if (isOrdered(ev)) return null;
  const v = out.res.value;
  if (v.type !== 'matrix') return `range query returned a ${v.type}, not a matrix`;
  const vec: InstantSample[] = [];
  for (const s of v.series) {
    for (let i = 0; i < s.timestamps.length; i++) {
      if (s.timestamps[i] === t) {
        vec.push({ labels: s.labels, t, v: s.values[i] });
        break;
      }
    }
  }
  const sortErr = assertSortedSeries(v.series.map((s) => s.labels));
  if (sortErr) return sortErr;
  if (instant?.value.type === 'scalar') {
    if (vec.length === 0) return 'no point at the evaluation time';
    return compareResult(ev, { type: 'scalar', t, v: vec[0].v });
  }
  if (ev.expectScalar !== undefined) return 'expected scalar result, but got vector';
  return compareVector(ev, vec);
}
