// The seams between sample producers (probes, scrapes, host collectors, rules, remote write),
// the engine (tsdb/) and consumers (PromQL, API). Every producer and consumer goes through these.

import type { Labels } from '../model/labels.js';
import type { Matcher } from '../model/matchers.js';

/** An opaque handle for a series, returned by append so the next append can skip the lookup. */
export type SeriesRef = number;

export type StorageErrorCode =
  | 'out_of_order' // older than the newest sample of the series (outside any OOO window)
  | 'duplicate_sample' // same timestamp as the newest sample, different value
  | 'out_of_bounds' // older than what the engine still accepts (before retention / head min)
  | 'invalid_labels' // empty, unsorted, duplicate names, or no metric name
  | 'closed' // appender used after commit/rollback or storage closed
  | 'read_only'; // the storage was opened read-only (e.g. too little free disk space at start)

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

/**
 * A batch of samples written atomically. `append` validates each sample at once and throws a
 * StorageError for one that will be rejected; the batch stays usable. Nothing is visible to
 * queriers until `commit`, which makes the batch durable (it survives kill -9) before returning.
 * After commit or rollback the appender is unusable. Not safe to share between concurrent tasks;
 * take one appender per batch.
 */
export interface Appender {
  /**
   * Adds a sample. `ref` is the value a previous append returned for the same labels, or 0.
   * Labels must be sorted by name (see model/labels). `t` is milliseconds since the epoch.
   * Returns the series ref.
   */
  append(ref: SeriesRef, labels: Labels, t: number, v: number): SeriesRef;
  commit(): void;
  rollback(): void;
}

/**
 * A growable pair of sample columns that bulk readers append to (`SampleIterator.readInto`).
 * `bits` views the values as 32-bit halves (low half first), for bit-exact writes of NaN payloads.
 */
export class SampleBuffer {
  n = 0;
  t: Float64Array;
  v: Float64Array;
  bits: Uint32Array;
  constructor(capacity = 1024) {
    this.t = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
    this.bits = new Uint32Array(this.v.buffer);
  }
  /** Makes room for `extra` more samples after the first `n`. */
  reserve(extra: number): void {
    const need = this.n + extra;
    if (need <= this.t.length) return;
    const cap = Math.max(need, this.t.length * 2);
    const t = new Float64Array(cap);
    t.set(this.t.subarray(0, this.n));
    const v = new Float64Array(cap);
    v.set(this.v.subarray(0, this.n));
    this.t = t;
    this.v = v;
    this.bits = new Uint32Array(v.buffer);
  }
}

/** Iterates samples in timestamp order. After `next()` or `seek()` return false, check `err()`. */
export interface SampleIterator {
  /**
   * Optional bulk read on a fresh iterator: appends every sample with mint <= t <= maxt to
   * `into` (from `into.n` on, advancing it) and leaves the iterator exhausted; check `err()`.
   */
  readInto?(mint: number, maxt: number, into: SampleBuffer): void;
  next(): boolean;
  /** Advances to the first sample with timestamp >= t (staying put if already there). */
  seek(t: number): boolean;
  atT(): number;
  atV(): number;
  err(): Error | null;
}

export interface Series {
  readonly labels: Labels;
  iterator(): SampleIterator;
}

/** Series sorted by labels. After `next()` returns false, check `err()` and `warnings()`. */
export interface SeriesSet {
  next(): boolean;
  at(): Series;
  err(): Error | null;
  warnings(): string[];
}

export interface SelectHints {
  /** Inclusive bounds in milliseconds for the samples the iterators return. */
  start: number;
  end: number;
  /** Consumers that only need labels (e.g. /api/v1/series) set this; iterators may be empty. */
  labelsOnly?: boolean;
}

/** A read view of samples between mint and maxt (inclusive, milliseconds). */
export interface Querier {
  select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet;
  /** Sorted label names of series that match all matchers (all series when none). */
  labelNames(matchers?: readonly Matcher[]): string[];
  /** Sorted values of one label over series that match all matchers. */
  labelValues(name: string, matchers?: readonly Matcher[]): string[];
  close(): void;
}

export interface Queryable {
  querier(mint: number, maxt: number): Querier;
}

export interface Storage extends Queryable {
  appender(): Appender;
  /** Removes samples of matching series in [mint, maxt]. */
  deleteSeries(matchers: readonly Matcher[], mint: number, maxt: number): void;
  /** Flushes and releases everything; the storage is unusable afterwards. */
  close(): Promise<void>;
}

/** A series with all of its selected samples loaded, for consumers that want arrays. */
export interface LoadedSeries {
  labels: Labels;
  timestamps: Float64Array;
  values: Float64Array;
}

/** Drains an iterator into typed arrays (which keep the stale NaN's exact bits). */
export function loadSamples(it: SampleIterator, mint = -Infinity, maxt = Infinity): { timestamps: Float64Array; values: Float64Array } {
  let ts = new Float64Array(64);
  let vs = new Float64Array(64);
  let n = 0;
  let ok = mint === -Infinity ? it.next() : it.seek(mint);
  while (ok) {
    const t = it.atT();
    if (t > maxt) break;
    if (n === ts.length) {
      const nts = new Float64Array(n * 2);
      nts.set(ts);
      ts = nts;
      const nvs = new Float64Array(n * 2);
      nvs.set(vs);
      vs = nvs;
    }
    ts[n] = t;
    vs[n] = it.atV();
    n++;
    ok = it.next();
  }
  const e = it.err();
  if (e) throw e;
  return { timestamps: ts.subarray(0, n), values: vs.subarray(0, n) };
}

/** Collects a SeriesSet into an array, throwing the set's error if it has one. */
export function collectSeries(set: SeriesSet): Series[] {
  const out: Series[] = [];
  while (set.next()) out.push(set.at());
  const e = set.err();
  if (e) throw e;
  return out;
}
