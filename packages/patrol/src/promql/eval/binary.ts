// Binary operators: arithmetic and comparison between scalars and vectors, vector matching
// (on/ignoring, group_left/group_right, fill modifiers) and the set operators and/or/unless.

import type { Labels } from '../../model/labels.js';
import { getLabel, labelsKey, METRIC_NAME, withLabel } from '../../model/labels.js';
import type { Binary, VectorMatching } from '../ast.js';
import { COMPARISON_OPS } from '../ast.js';
import { QueryError } from '../types.js';
import type { Evaluator, Result, StepSeries } from './context.js';

export async function binary(ev: Evaluator, e: Binary, ts: Float64Array): Promise<Result> {
  const n = ts.length;
  const l = await ev.eval(e.lhs, ts);
  const r = await ev.eval(e.rhs, ts);
  const isCmp = COMPARISON_OPS.has(e.op);
  if (l.kind === 'scalar' && r.kind === 'scalar') {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = arith(e.op, l.v[i], r.v[i]);
    return { kind: 'scalar', v };
  }
  if (l.kind === 'vector' && r.kind === 'scalar') return { kind: 'vector', series: vectorScalar(e, l.series, r.v, false, isCmp) };
  if (l.kind === 'scalar' && r.kind === 'vector') return { kind: 'vector', series: vectorScalar(e, r.series, l.v, true, isCmp) };
  if (l.kind === 'vector' && r.kind === 'vector') {
    const m = e.matching ?? { card: 'one-to-one', on: false, labels: [], include: [], explicit: false };
    if (e.op === 'and' || e.op === 'or' || e.op === 'unless') return { kind: 'vector', series: setOp(e.op, l.series, r.series, m, n) };
    return { kind: 'vector', series: vectorVector(e, l.series, r.series, m, n) };
  }
  throw new QueryError('bad_data', 'binary expression must contain only scalar and instant vector types');
}

function vectorScalar(e: Binary, series: StepSeries[], sc: Float64Array, scalarLeft: boolean, isCmp: boolean): StepSeries[] {
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

function signature(m: VectorMatching): (ls: Labels) => string {
  const names = new Set(m.labels);
  if (m.on) return (ls) => labelsKey(ls.filter((l) => names.has(l.name)));
  return (ls) => labelsKey(ls.filter((l) => l.name !== METRIC_NAME && !names.has(l.name)));
}

function setOp(op: 'and' | 'or' | 'unless', lhs: StepSeries[], rhs: StepSeries[], m: VectorMatching, n: number): StepSeries[] {
  const sig = signature(m);
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

function vectorVector(e: Binary, lhs: StepSeries[], rhs: StepSeries[], m: VectorMatching, n: number): StepSeries[] {
  const isCmp = COMPARISON_OPS.has(e.op);
  const sig = signature(m);
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

/**
 * A label set as Prometheus's labels.String() prints it in error messages: every label in
 * order, the metric name as `__name__` inside the braces (`{__name__="up", job="a"}`).
 */
function labelSetString(ls: Labels): string {
  return `{${ls.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(', ')}}`;
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

function matchGroupLabels(ls: Labels, m: VectorMatching): Labels {
  const names = new Set(m.labels);
  return m.on ? ls.filter((l) => names.has(l.name)) : ls.filter((l) => l.name !== METRIC_NAME && !names.has(l.name));
}
