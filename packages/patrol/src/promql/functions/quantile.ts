// The φ-quantile of a list of floats as Prometheus computes it for quantile_over_time and the
// quantile aggregation: sort (NaN first), then interpolate linearly between the two closest ranks.

/** Sorts ascending with NaN first, as Prometheus's vectorByValueHeap. Mutates `values`. */
export function sortWithNaNFirst(values: number[]): number[] {
  return values.sort((a, b) => {
    const an = Number.isNaN(a);
    const bn = Number.isNaN(b);
    if (an || bn) return an === bn ? 0 : an ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** NaN for no values or q = NaN, -Inf for q < 0, +Inf for q > 1. Sorts `values` in place. */
export function quantile(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  sortWithNaNFirst(values);
  const n = values.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return values[lower] * (1 - weight) + values[upper] * weight;
}
