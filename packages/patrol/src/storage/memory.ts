// A simple in-memory Storage: the reference implementation for the storage contract tests and a
// fast backing store for PromQL test scripts. No persistence, no index; fine for thousands of series.

import type { Labels } from '../model/labels.js';
import { compareLabels, labelsKey, METRIC_NAME } from '../model/labels.js';
import type { Matcher } from '../model/matchers.js';
import { matchLabels } from '../model/matchers.js';
import { isStaleNaN, STALE_NAN } from '../model/value.js';
import type { Appender, Querier, SampleIterator, SelectHints, Series, SeriesRef, SeriesSet, Storage } from './interface.js';
import { StorageError } from './interface.js';

interface MemSeries {
  ref: number;
  labels: Labels;
  n: number;
  ts: Float64Array;
  vs: Float64Array;
}

export function validateLabels(labels: Labels): void {
  if (labels.length === 0) throw new StorageError('invalid_labels', 'empty label set');
  let hasName = false;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l.value === '') throw new StorageError('invalid_labels', `label ${l.name} has an empty value`);
    if (i > 0 && labels[i - 1].name >= l.name) throw new StorageError('invalid_labels', `labels not sorted or duplicated at ${l.name}`);
    if (l.name === METRIC_NAME) hasName = true;
  }
  if (!hasName) throw new StorageError('invalid_labels', 'no metric name');
}

/** Same value, treating any two NaNs with the same stale-ness as equal (as Prometheus compares bits). */
export function sameValue(a: number, b: number): boolean {
  if (a === b) return true;
  if (a !== a && b !== b) return isStaleNaN(a) === isStaleNaN(b);
  return false;
}

export class MemoryStorage implements Storage {
  private readonly byKey = new Map<string, MemSeries>();
  private readonly byRef: MemSeries[] = [];
  private closed = false;

  appender(): Appender {
    return new MemAppender(this);
  }

  /** @internal Used by MemAppender. */
  seriesFor(ref: SeriesRef, labels: Labels): MemSeries {
    const byRef = ref > 0 ? this.byRef[ref - 1] : undefined;
    if (byRef) return byRef;
    const key = labelsKey(labels);
    let s = this.byKey.get(key);
    if (!s) {
      validateLabels(labels);
      s = { ref: this.byRef.length + 1, labels, n: 0, ts: new Float64Array(16), vs: new Float64Array(16) };
      this.byKey.set(key, s);
      this.byRef.push(s);
    }
    return s;
  }

  /** @internal */
  isClosed(): boolean {
    return this.closed;
  }

  querier(mint: number, maxt: number): Querier {
    return new MemQuerier(this.byRef, mint, maxt);
  }

  deleteSeries(matchers: readonly Matcher[], mint: number, maxt: number): void {
    for (const s of this.byRef) {
      if (!matchLabels(matchers, s.labels)) continue;
      let w = 0;
      for (let i = 0; i < s.n; i++) {
        if (s.ts[i] >= mint && s.ts[i] <= maxt) continue;
        s.ts[w] = s.ts[i];
        s.vs[w] = s.vs[i];
        w++;
      }
      s.n = w;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

class MemAppender implements Appender {
  private pending: { s: MemSeries; t: number; v: number }[] = [];
  /** The newest pending sample per series, so validating an append is O(1) in the batch size. */
  private lastPending = new Map<MemSeries, { t: number; v: number }>();
  private done = false;

  constructor(private readonly store: MemoryStorage) {}

  append(ref: SeriesRef, labels: Labels, t: number, v: number): SeriesRef {
    if (this.done || this.store.isClosed()) throw new StorageError('closed', 'appender already committed or rolled back');
    const s = this.store.seriesFor(ref, labels);
    // Validate against both committed data and earlier samples of this batch.
    let lastT = s.n > 0 ? s.ts[s.n - 1] : -Infinity;
    let lastV = s.n > 0 ? s.vs[s.n - 1] : 0;
    const p = this.lastPending.get(s);
    if (p) {
      lastT = p.t;
      lastV = p.v;
    }
    if (t < lastT) throw new StorageError('out_of_order', `out of order sample: ${t} is older than ${lastT}`);
    if (t === lastT) {
      if (!sameValue(v, lastV)) throw new StorageError('duplicate_sample', `duplicate sample for timestamp ${t} with a different value`);
      return s.ref;
    }
    const entry = { s, t, v: isStaleNaN(v) ? STALE_NAN : v };
    this.pending.push(entry);
    this.lastPending.set(s, entry);
    return s.ref;
  }

  commit(): void {
    if (this.done) throw new StorageError('closed', 'appender already committed or rolled back');
    this.done = true;
    for (const { s, t, v } of this.pending) {
      if (s.n > 0 && t <= s.ts[s.n - 1]) continue;
      if (s.n === s.ts.length) {
        const ts = new Float64Array(s.n * 2);
        ts.set(s.ts);
        s.ts = ts;
        const vs = new Float64Array(s.n * 2);
        vs.set(s.vs);
        s.vs = vs;
      }
      s.ts[s.n] = t;
      s.vs[s.n] = v;
      s.n++;
    }
    this.pending = [];
    this.lastPending.clear();
  }

  rollback(): void {
    this.done = true;
    this.pending = [];
    this.lastPending.clear();
  }
}

class MemQuerier implements Querier {
  constructor(
    private readonly all: readonly MemSeries[],
    private readonly mint: number,
    private readonly maxt: number,
  ) {}

  private matching(matchers: readonly Matcher[] | undefined): MemSeries[] {
    const out: MemSeries[] = [];
    for (const s of this.all) {
      if (s.n === 0) continue;
      if (s.ts[s.n - 1] < this.mint || s.ts[0] > this.maxt) continue;
      if (!matchers || matchLabels(matchers, s.labels)) out.push(s);
    }
    return out;
  }

  select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
    const start = Math.max(hints.start, this.mint);
    const end = Math.min(hints.end, this.maxt);
    const list = this.matching(matchers)
      .filter((s) => hasSampleIn(s, start, end))
      .sort((a, b) => compareLabels(a.labels, b.labels))
      .map((s): Series => {
        const lo = lowerBound(s.ts, s.n, start);
        let hi = lowerBound(s.ts, s.n, end + 1);
        if (hi < lo) hi = lo;
        const ts = s.ts.slice(lo, hi);
        const vs = s.vs.slice(lo, hi);
        return { labels: s.labels, iterator: () => new ArrayIterator(ts, vs) };
      });
    return new ListSeriesSet(list);
  }

  labelNames(matchers?: readonly Matcher[]): string[] {
    const names = new Set<string>();
    for (const s of this.matching(matchers)) for (const l of s.labels) names.add(l.name);
    return [...names].sort();
  }

  labelValues(name: string, matchers?: readonly Matcher[]): string[] {
    const values = new Set<string>();
    for (const s of this.matching(matchers)) {
      for (const l of s.labels) if (l.name === name) values.add(l.value);
    }
    return [...values].sort();
  }

  close(): void {}
}

function hasSampleIn(s: MemSeries, start: number, end: number): boolean {
  const i = lowerBound(s.ts, s.n, start);
  return i < s.n && s.ts[i] <= end;
}

function lowerBound(ts: Float64Array, n: number, t: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Iterates samples held in two typed arrays. */
export class ArrayIterator implements SampleIterator {
  private i = -1;

  constructor(
    private readonly ts: Float64Array,
    private readonly vs: Float64Array,
  ) {}

  next(): boolean {
    if (this.i < this.ts.length) this.i++;
    return this.i < this.ts.length;
  }

  seek(t: number): boolean {
    if (this.i < 0) this.i = 0;
    while (this.i < this.ts.length && this.ts[this.i] < t) this.i++;
    return this.i < this.ts.length;
  }

  atT(): number {
    return this.ts[this.i];
  }

  atV(): number {
    return this.vs[this.i];
  }

  err(): Error | null {
    return null;
  }
}

/** A SeriesSet over an array already sorted by labels. */
export class ListSeriesSet implements SeriesSet {
  private i = -1;

  constructor(
    private readonly list: readonly Series[],
    private readonly warns: string[] = [],
  ) {}

  next(): boolean {
    if (this.i < this.list.length) this.i++;
    return this.i < this.list.length;
  }

  at(): Series {
    return this.list[this.i];
  }

  err(): Error | null {
    return null;
  }

  warnings(): string[] {
    return this.warns;
  }
}
