// PromQL function calls: the functions the engine answers itself (time(), absent(), sort_by_label,
// label_replace, histogram_quantile...), and the range functions, whose per-window kernels are
// in functions/ (evalOverSteps walks the steps of one series).

import { formatOpenMetricsFloat, parseGoFloat } from '../../model/gofloat.js';
import type { Labels } from '../../model/labels.js';
import { getLabel, labelsFromRecord, labelsKey, METRIC_NAME, withLabel } from '../../model/labels.js';
import { Matcher } from '../../model/matchers.js';
import type { Call, Expr, VectorSelector } from '../ast.js';
import { ELEMENTWISE, RANGE_KERNELS, annotations, evalOverSteps, extrapolate, bucketFraction, bucketQuantileDetailed, mightNotBeCounter } from '../kernels.js';
import { absentLabels as matcherLabels } from '../functions/helpers.js';
import { FUNCTIONS } from '../signatures.js';
import { exprType } from '../parser.js';
import { QueryError } from '../types.js';
import { expandTemplate } from '../../model/expand.js';
import type { Evaluator, RangeArg, RawSeries, Result, StepSeries } from './context.js';
import { unwrapParens, validLabelName, windowIndices } from './context.js';

export async function call(ev: Evaluator, e: Call, ts: Float64Array): Promise<Result> {
  const n = ts.length;
  const f = e.func;
  switch (f) {
    case 'time':
      return { kind: 'scalar', v: ts.map((t) => t / 1000) };
    case 'pi':
      return { kind: 'scalar', v: new Float64Array(n).fill(Math.PI) };
    case 'min_of':
    case 'max_of': {
      const [a, b] = await ev.scalarArgs(e.args, ts);
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = Number.isNaN(a[i]) || Number.isNaN(b[i]) ? NaN : f === 'min_of' ? Math.min(a[i], b[i]) : Math.max(a[i], b[i]);
      return { kind: 'scalar', v };
    }
    case 'start':
      return { kind: 'scalar', v: new Float64Array(n).fill(ev.queryStart / 1000) };
    case 'end':
      return { kind: 'scalar', v: new Float64Array(n).fill(ev.queryEnd / 1000) };
    case 'step':
      return { kind: 'scalar', v: new Float64Array(n).fill(ev.queryStep / 1000) };
    case 'range':
      return { kind: 'scalar', v: new Float64Array(n).fill((ev.queryEnd - ev.queryStart) / 1000) };
    case 'vector': {
      const [s] = await ev.scalarArgs(e.args, ts);
      return { kind: 'vector', series: [{ labels: [], v: s, has: new Uint8Array(n).fill(1), dropName: false }] };
    }
    case 'scalar': {
      const series = await ev.vectorArg(e.args[0], ts);
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
        const { series, sampleTs } = await ev.instantSelector(arg, ts);
        return { kind: 'vector', series: series.map((s, k) => ({ ...s, v: sampleTs[k].map((t) => t / 1000), dropName: true })) };
      }
      const series = await ev.vectorArg(arg, ts);
      return { kind: 'vector', series: series.map((s) => ({ ...s, v: ts.map((t) => t / 1000), dropName: true })) };
    }
    case 'absent': {
      const series = await ev.vectorArg(e.args[0], ts);
      const has = new Uint8Array(n).fill(1);
      for (const s of series) for (let i = 0; i < n; i++) if (s.has[i]) has[i] = 0;
      if (!has.some((x) => x)) return { kind: 'vector', series: [] };
      return { kind: 'vector', series: [{ labels: absentLabels(e.args[0]), v: new Float64Array(n).fill(1), has, dropName: false }] };
    }
    case 'absent_over_time': {
      const arg = await ev.rangeArg(e.args[0], ts);
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
      if (ev.isRange) ev.warnings.add(annotations.sortIneffectiveForRange());
      return { kind: 'vector', series: await ev.vectorArg(e.args[0], ts) };
    case 'label_replace':
      return labelReplace(ev, e, ts);
    case 'label_join':
      return labelJoin(ev, e, ts);
    case 'histogram_quantile':
    case 'histogram_quantiles':
    case 'histogram_fraction':
      return histogramFn(ev, e, ts);
    case 'histogram_count':
    case 'histogram_sum':
    case 'histogram_avg':
    case 'histogram_stddev':
    case 'histogram_stdvar':
      // Native histograms are not stored; float samples are ignored by these functions.
      await ev.vectorArg(e.args[0], ts);
      return { kind: 'vector', series: [] };
    case 'info':
      return info(ev, e, ts);
    case 'clamp':
    case 'clamp_min':
    case 'clamp_max':
      return clamp(ev, e, ts);
  }
  if (f in RANGE_KERNELS) return rangeFunction(ev, e, ts);
  const el = ELEMENTWISE[f];
  if (el) {
    let vecExpr: Expr | null = null;
    const scalarExprs: Expr[] = [];
    for (const a of e.args) {
      if (exprType(a) === 'vector' && vecExpr === null) vecExpr = a;
      else scalarExprs.push(a);
    }
    let series: StepSeries[];
    if (vecExpr) series = await ev.vectorArg(vecExpr, ts);
    else series = [{ labels: [], v: ts.map((t) => t / 1000), has: new Uint8Array(n).fill(1), dropName: false }];
    const params = await ev.scalarArgs(scalarExprs, ts);
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
async function info(ev: Evaluator, e: Call, ts: Float64Array): Promise<Result> {
  const n = ts.length;
  const base = await ev.vectorArg(e.args[0], ts);
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
  const { series: infos, sampleTs } = await ev.instantSelector(infoSel, ts);
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

async function clamp(ev: Evaluator, e: Call, ts: Float64Array): Promise<Result> {
  const series = await ev.vectorArg(e.args[0], ts);
  const params = await ev.scalarArgs(e.args.slice(1), ts);
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
export async function rangeFunction(ev: Evaluator, e: Call, ts: Float64Array, emit?: (s: StepSeries) => void): Promise<Result> {
  const n = ts.length;
  let rangeIdx = e.args.findIndex((a) => exprType(a) === 'matrix');
  if (rangeIdx < 0) rangeIdx = 0;
  const params = await ev.scalarArgs(
    e.args.filter((_, i) => i !== rangeIdx),
    ts,
  );
  const keepName = FUNCTIONS.get(e.func)?.keepsName === true;
  const warnings = ev.warnings;
  const infos = ev.infos;
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
  const full = await ev.rangeArg(e.args[rangeIdx], ts, { onMeta, each });
  if (arg === null) {
    // Subqueries are evaluated whole, then windowed.
    onMeta(full);
    for (const s of full.series) each(s);
  }
  return { kind: 'vector', series: out };
}

async function labelReplace(ev: Evaluator, e: Call, ts: Float64Array): Promise<Result> {
  const series = await ev.vectorArg(e.args[0], ts);
  const dst = ev.stringArg(e.args[1]);
  const repl = ev.stringArg(e.args[2]);
  const src = ev.stringArg(e.args[3]);
  const reText = ev.stringArg(e.args[4]);
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
    // A regex over thousands of long values (16 KiB each) is the one costly step here.
    const pause = ev.pace();
    if (pause) await pause;
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

async function labelJoin(ev: Evaluator, e: Call, ts: Float64Array): Promise<Result> {
  const series = await ev.vectorArg(e.args[0], ts);
  const dst = ev.stringArg(e.args[1]);
  const sep = ev.stringArg(e.args[2]);
  const srcs = e.args.slice(3).map((a) => ev.stringArg(a));
  if (!validLabelName(dst)) throw new QueryError('bad_data', `invalid destination label name in label_join(): ${dst}`);
  const out: StepSeries[] = [];
  for (const s of series) {
    const value = srcs.map((l) => getLabel(s.labels, l)).join(sep);
    out.push({ ...s, labels: withLabel(s.labels, dst, value), dropName: dst === METRIC_NAME ? false : s.dropName });
  }
  return { kind: 'vector', series: out };
}

/** histogram_quantile, histogram_quantiles and histogram_fraction over classic `le` buckets. */
async function histogramFn(ev: Evaluator, e: Call, ts: Float64Array): Promise<Result> {
  const n = ts.length;
  const f = e.func;
  let vecArg: Expr;
  let scalarArgs: Expr[];
  let qLabel = '';
  if (f === 'histogram_quantiles') {
    vecArg = e.args[0];
    qLabel = ev.stringArg(e.args[1]);
    scalarArgs = e.args.slice(2);
  } else {
    vecArg = e.args[e.args.length - 1];
    scalarArgs = e.args.slice(0, -1);
  }
  const params = await ev.scalarArgs(scalarArgs, ts);
  if (f !== 'histogram_fraction') {
    for (const p of params) {
      for (let i = 0; i < n; i++) {
        const q = p[i];
        if (Number.isNaN(q) || q < 0 || q > 1) {
          ev.warnings.add(annotations.invalidQuantile(q));
          break;
        }
      }
    }
  }
  const series = await ev.vectorArg(vecArg, ts);
  // Buckets of one histogram share all labels but `le` (the metric name included).
  const groups = new Map<string, { labels: Labels; name: string; members: { le: number; s: StepSeries }[] }>();
  for (const s of series) {
    const leText = getLabel(s.labels, 'le');
    const le = parseGoFloat(leText);
    if (le === null) {
      ev.warnings.add(annotations.badBucketLabel(getLabel(s.labels, METRIC_NAME), leText));
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
          if (r.forcedMonotonicity) ev.infos.add(annotations.histogramQuantileForcedMonotonicity(g.name));
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

/** Labels of absent()'s result: the equality matchers of a plain selector. */
function absentLabels(e: Expr): Labels {
  e = unwrapParens(e);
  let vs: VectorSelector | null = null;
  if (e.type === 'vectorSelector') vs = e;
  else if (e.type === 'matrixSelector') vs = e.selector;
  if (!vs) return [];
  return labelsFromRecord(matcherLabels(vs.matchers));
}
