// The label index of the head: for every label name and value, the refs of the live series that
// carry it (ascending), and one shared Label object per pair so a million series do not each hold
// their own copy of `job="node"`. Owns nothing else: whether a ref is alive or has data in a time
// range is the head's (head.ts), which filters what this index proposes.

import type { Label, Labels } from '../model/labels.js';
import type { Matcher } from '../model/matchers.js';

interface PostingEntry {
  label: Label;
  /** Refs carrying the pair, ascending (queries hand them to ChunkStore.chunksMany, which relies on it). */
  refs: number[];
}

export class Postings {
  private readonly byName = new Map<string, Map<string, PostingEntry>>();

  /** Adds `ref` under name=value; returns the shared Label object of the pair. */
  add(ref: number, name: string, value: string): Label {
    let byValue = this.byName.get(name);
    if (!byValue) {
      byValue = new Map();
      this.byName.set(name, byValue);
    }
    const e = byValue.get(value);
    if (!e) {
      const label = { name, value };
      byValue.set(value, { label, refs: [ref] });
      return label;
    }
    const refs = e.refs;
    // Refs are created in ascending order, but a start loads stored series first and then the
    // ones only the WAL names, which can be older (a series created, then first committed later).
    if (refs.length === 0 || refs[refs.length - 1] < ref) refs.push(ref);
    else {
      const i = lowerBound(refs, ref);
      if (refs[i] !== ref) refs.splice(i, 0, ref);
    }
    return e.label;
  }

  /** Removes `ref` from the pairs of `ls`, and pairs no series carries any more. */
  remove(ref: number, ls: Labels): void {
    for (const l of ls) {
      const byValue = this.byName.get(l.name);
      const e = byValue?.get(l.value);
      if (!byValue || !e) continue;
      const i = lowerBound(e.refs, ref);
      if (e.refs[i] === ref) e.refs.splice(i, 1);
      if (e.refs.length === 0) {
        byValue.delete(l.value);
        if (byValue.size === 0) this.byName.delete(l.name);
      }
    }
  }

  /**
   * Candidate refs for matchers (ascending): the intersection of the postings of the matchers
   * that do not match the empty string (a regex unions the values it matches). null when no matcher
   * narrows the search (every series is a candidate); the caller checks all matchers on each.
   */
  candidates(matchers: readonly Matcher[] | undefined): number[] | null {
    const lists: number[][] = [];
    for (const m of matchers ?? []) {
      if (m.matchesEmpty()) continue;
      const byValue = this.byName.get(m.name);
      if (!byValue) return [];
      let list: number[];
      if (m.type === '=') list = byValue.get(m.value)?.refs ?? [];
      else {
        list = [];
        for (const [v, e] of byValue) if (m.matches(v)) for (const r of e.refs) list.push(r);
        list.sort((a, b) => a - b);
      }
      if (list.length === 0) return [];
      lists.push(list);
    }
    if (lists.length === 0) return null;
    if (lists.length === 1) return lists[0];
    // The intersection, from the shortest list: `job="a"` and a metric name each hold many
    // series, together few; the caller then checks far fewer candidates one by one.
    lists.sort((a, b) => a.length - b.length);
    let cand = lists[0];
    for (let k = 1; k < lists.length && cand.length > 0; k++) cand = intersect(cand, lists[k]);
    return cand;
  }

  /**
   * Label names (name null) or the values of one name whose postings hold a ref for which
   * `wanted` is true, unsorted.
   */
  namesOrValues(name: string | null, wanted: (ref: number) => boolean, out: Set<string>): void {
    const scan = (n: string, byValue: Map<string, PostingEntry>): void => {
      for (const [v, e] of byValue) {
        if (e.refs.some(wanted)) {
          out.add(name === null ? n : v);
          if (name === null) return;
        }
      }
    };
    if (name === null) for (const [n, byValue] of this.byName) scan(n, byValue);
    else {
      const byValue = this.byName.get(name);
      if (byValue) scan(name, byValue);
    }
  }

  /** Calls `each` for every label pair with its number of series. */
  each(each: (name: string, value: string, series: number) => void): void {
    for (const [name, byValue] of this.byName) for (const [value, e] of byValue) each(name, value, e.refs.length);
  }
}

/** The refs in both ascending lists, `a` the shorter: each looked up in `b` from where the last was found. */
function intersect(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let j = 0;
  for (const r of a) {
    if (b[j] < r) {
      // Gallop: double the step until past r, then binary search in the last step.
      let step = 1;
      while (j + step < b.length && b[j + step] < r) step *= 2;
      let lo = j + (step >> 1);
      let hi = Math.min(j + step, b.length);
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (b[mid] < r) lo = mid + 1;
        else hi = mid;
      }
      j = lo;
    }
    if (j >= b.length) break;
    if (b[j] === r) out.push(r);
  }
  return out;
}

/** The first index of sorted `a` whose element is not less than `t`. */
export function lowerBound(a: readonly number[], t: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
