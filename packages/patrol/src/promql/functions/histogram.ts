// Quantiles and fractions over classic histogram buckets (the `le` series of one histogram), as
// Prometheus's histogram_quantile and histogram_fraction compute them.

import { almostEqual } from './almost.js';

export interface Bucket {
  /** The `le` bound. */
  upper: number;
  /** Cumulative count of observations <= upper. */
  count: number;
}

export interface BucketQuantileResult {
  value: number;
  /** Some counts decreased with a higher bound and were raised (report the monotonicity info). */
  forcedMonotonicity: boolean;
  /** Counts differing only by floating-point noise were made equal (no annotation). */
  fixedPrecision: boolean;
}

const SMALL_DELTA_TOLERANCE = 1e-12;

/** Sorted copy with buckets of equal bound merged. */
function prepare(buckets: readonly Bucket[]): Bucket[] {
  const sorted = buckets.map((b) => ({ upper: b.upper, count: b.count })).sort((a, b) => (a.upper < b.upper ? -1 : a.upper > b.upper ? 1 : 0));
  const out: Bucket[] = [];
  for (const b of sorted) {
    const last = out[out.length - 1];
    if (last && last.upper === b.upper) last.count += b.count;
    else out.push(b);
  }
  return out;
}

/**
 * Makes counts monotonic: differences within a relative 1e-12 are treated as equal, and any
 * decrease is raised to the previous count.
 */
function ensureMonotonic(buckets: Bucket[]): { forced: boolean; fixed: boolean } {
  let forced = false;
  let fixed = false;
  let prev = buckets[0].count;
  for (let i = 1; i < buckets.length; i++) {
    const cur = buckets[i].count;
    if (cur === prev) continue;
    if (almostEqual(prev, cur, SMALL_DELTA_TOLERANCE)) {
      buckets[i].count = prev;
      fixed = true;
      continue;
    }
    if (cur < prev) {
      buckets[i].count = prev;
      forced = true;
      continue;
    }
    prev = cur;
  }
  return { forced, fixed };
}

/**
 * The q-quantile, interpolating linearly inside the bucket that holds it. The lowest bucket
 * starts at 0 when its bound is positive (else its bound is returned); a quantile in the +Inf
 * bucket returns the second-highest bound. NaN when there is no +Inf bucket, fewer than two
 * buckets, or no observations; NaN / -Inf / +Inf for q NaN / < 0 / > 1.
 */
export function bucketQuantileDetailed(q: number, input: readonly Bucket[]): BucketQuantileResult {
  const none = (value: number): BucketQuantileResult => ({ value, forcedMonotonicity: false, fixedPrecision: false });
  if (Number.isNaN(q)) return none(NaN);
  if (q < 0) return none(-Infinity);
  if (q > 1) return none(Infinity);
  if (input.length === 0) return none(NaN);
  const buckets = prepare(input);
  if (buckets[buckets.length - 1].upper !== Infinity) return none(NaN);
  const { forced, fixed } = ensureMonotonic(buckets);
  if (buckets.length < 2) return none(NaN);
  const observations = buckets[buckets.length - 1].count;
  if (observations === 0) return none(NaN);
  let rank = q * observations;
  // First bucket (the +Inf one excluded) whose count reaches the rank, else the +Inf bucket.
  let lo = 0;
  let hi = buckets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (buckets[mid].count >= rank) hi = mid;
    else lo = mid + 1;
  }
  const b = lo;
  const result = (value: number): BucketQuantileResult => ({ value, forcedMonotonicity: forced, fixedPrecision: fixed });
  if (b === buckets.length - 1) return result(buckets[buckets.length - 2].upper);
  if (b === 0 && buckets[0].upper <= 0) return result(buckets[0].upper);
  let bucketStart = 0;
  const bucketEnd = buckets[b].upper;
  let count = buckets[b].count;
  if (b > 0) {
    bucketStart = buckets[b - 1].upper;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return result(bucketStart + (bucketEnd - bucketStart) * (rank / count));
}

export function bucketQuantile(q: number, buckets: { upper: number; count: number }[]): number {
  return bucketQuantileDetailed(q, buckets).value;
}

/**
 * The fraction of observations between lower and upper, interpolating linearly inside buckets.
 * The lowest bucket spans [0, bound] when its bound is positive, else (-Inf, bound]; buckets of
 * infinite width hold their observations at the infinite end, so they add to a fraction only when
 * it covers that end. NaN without a +Inf bucket, without observations, or for a NaN bound; 0
 * when lower >= upper.
 */
export function bucketFraction(lower: number, upper: number, input: { upper: number; count: number }[]): number {
  if (input.length === 0) return NaN;
  const buckets = prepare(input);
  if (buckets[buckets.length - 1].upper !== Infinity) return NaN;
  const total = buckets[buckets.length - 1].count;
  if (total === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return NaN;
  if (lower >= upper) return 0;
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i];
    const lowerBound = i > 0 ? buckets[i - 1].upper : b.upper > 0 ? 0 : -Infinity;
    const upperBound = b.upper;
    const at = (x: number): number => {
      // Infinite-width buckets put their mass at the infinite end.
      if (lowerBound === -Infinity) return b.count;
      if (upperBound === Infinity) return rank;
      return rank + ((b.count - rank) * (x - lowerBound)) / (upperBound - lowerBound);
    };
    if (!lowerSet && lowerBound >= lower) {
      lowerRank = rank;
      lowerSet = true;
    }
    if (!upperSet && lowerBound >= upper) {
      upperRank = rank;
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    if (!lowerSet && lowerBound < lower && upperBound > lower) {
      lowerRank = at(lower);
      lowerSet = true;
    }
    if (!upperSet && lowerBound < upper && upperBound > upper) {
      upperRank = at(upper);
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    rank = b.count;
  }
  if (!lowerSet || lowerRank > total) lowerRank = total;
  if (!upperSet || upperRank > total) upperRank = total;
  return (upperRank - lowerRank) / total;
}
