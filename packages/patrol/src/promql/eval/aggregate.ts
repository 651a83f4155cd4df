// Aggregation operators (sum, avg, topk, quantile, count_values, limitk...): grouping by labels
// once per series, then accumulating column-wise over the steps.

import { formatFloatF, formatFloatG } from '../../model/gofloat.js';
import type { Labels } from '../../model/labels.js';
import { labelsKey, METRIC_NAME, withLabel } from '../../model/labels.js';
import type { Aggregate, Call } from '../ast.js';
import { RANGE_KERNELS, annotations } from '../kernels.js';
import { kahanInc } from '../functions/kahan.js';
import { quantile } from '../functions/quantile.js';
import { QueryError } from '../types.js';
import type { Evaluator, Result, StepSeries } from './context.js';
import { unwrapParens, validLabelName } from './context.js';
import { rangeFunction } from './calls.js';

export async function aggregate(ev: Evaluator, e: Aggregate, ts: Float64Array): Promise<Result> {
  const n = ts.length;
  let param: Float64Array | null = null;
  let label = '';
  if (e.param) {
    if (e.op === 'count_values') label = ev.stringArg(e.param);
    else [param] = await ev.scalarArgs([e.param], ts);
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
    return streamAggregate(ev, e.op, inner, ts, groupLabels, grouping.has(METRIC_NAME) && !e.without);
  }
  const series = await ev.vectorArg(e.expr, ts);
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
    return { kind: 'vector', series: selectK(ev, e.op, order, param!, n) };
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
        ev.warnings.add(annotations.invalidQuantile(q));
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
async function streamAggregate(
  ev: Evaluator,
  op: 'sum' | 'count' | 'group' | 'min' | 'max',
  call: Call,
  ts: Float64Array,
  groupLabels: (ls: Labels) => Labels,
  keepsName: boolean,
): Promise<Result> {
  const n = ts.length;
  const groups = new Map<string, Accumulator>();
  await rangeFunction(ev, call, ts, (s) => {
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

function selectK(ev: Evaluator, op: string, groups: { labels: Labels; members: StepSeries[] }[], param: Float64Array, n: number): StepSeries[] {
  const outHas = new Map<StepSeries, Uint8Array>();
  const rank = new Map<StepSeries, Float64Array>();
  for (let i = 0; i < n; i++) {
    const p = param[i];
    if (op === 'limit_ratio') {
      if (Number.isNaN(p)) throw new QueryError('bad_data', `Ratio value is NaN`);
      const r = Math.max(-1, Math.min(1, p));
      if (p < -1 || p > 1) ev.warnings.add(annotations.invalidRatio(p, r));
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
