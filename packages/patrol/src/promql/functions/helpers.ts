// Pieces of function semantics the evaluator needs around the kernels, written to give
// Prometheus's exact answers: Go's regexp template expansion for label_replace (model/expand), the labels of
// absent(), the orderings of sort/sort_desc/sort_by_label. Go's float parsing and formatting is
// model/gofloat.ts's.

export { expandTemplate } from '../../model/expand.js';

/**
 * The labels absent() / absent_over_time() give their output: the equality matchers of the
 * selector except the metric name; a label matched more than once, or by another matcher type,
 * is left out.
 */
export function absentLabels(matchers: readonly { type: string; name: string; value: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  const has = new Set<string>();
  for (const m of matchers) {
    if (m.name === '__name__') continue;
    if (m.type === '=' && !has.has(m.name)) {
      if (m.value !== '') out[m.name] = m.value;
      has.add(m.name);
    } else {
      delete out[m.name];
    }
  }
  return out;
}

/** sort(): ascending, NaN last. */
export function compareSortAsc(a: number, b: number): number {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an === bn ? 0 : an ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** sort_desc(): descending, NaN last. */
export function compareSortDesc(a: number, b: number): number {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an === bn ? 0 : an ? 1 : -1;
  return a > b ? -1 : a < b ? 1 : 0;
}

function chunks(s: string): string[] {
  return s.match(/\d+|\D+/g) ?? [];
}

/**
 * Natural "less than" of sort_by_label (github.com/facette/natsort): digit runs compare as
 * numbers, other runs as strings.
 */
export function natLess(a: string, b: string): boolean {
  const ca = chunks(a);
  const cb = chunks(b);
  for (let i = 0; i < ca.length; i++) {
    if (i >= cb.length) return false;
    const x = ca[i];
    const y = cb[i];
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const xi = BigInt(x);
      const yi = BigInt(y);
      if (xi === yi) {
        if (i === ca.length - 1) return true;
        if (i === cb.length - 1) return false;
        continue;
      }
      return xi < yi;
    }
    if (x === y) {
      if (i === ca.length - 1) return true;
      if (i === cb.length - 1) return false;
      continue;
    }
    return x < y;
  }
  return false;
}

/** Comparator for sort_by_label over label values (ascending; negate for _desc). */
export function compareNatural(a: string, b: string): number {
  if (a === b) return 0;
  return natLess(a, b) ? -1 : 1;
}
