// The texts of Prometheus's PromQL annotations (util/annotations), so warnings and infos read the
// same as Prometheus's. Positions are not included: Prometheus adds them only when the API asks
// for them with the query text.

/**
 * Go's `%g` for a float64: the shortest digits that round-trip, in exponent form when the decimal
 * exponent is below -4 or at least 6 (`1e+06`, `1.5e-07`), else plain (`123456`, `0.0001`).
 */
export function formatG(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, e] = v.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(v);
}

export const PROMQL_WARNING = 'PromQL warning';
export const PROMQL_INFO = 'PromQL info';

export const annotations = {
  invalidQuantile: (q: number): string => `${PROMQL_WARNING}: quantile value should be between 0 and 1, got ${formatG(q)}`,
  invalidRatio: (q: number, to: number): string => `${PROMQL_WARNING}: ratio value should be between -1 and 1, got ${formatG(q)}, capping to ${formatG(to)}`,
  badBucketLabel: (metricName: string, label: string): string =>
    withMetricName(`${PROMQL_WARNING}: bucket label "le" is missing or has a malformed value of ${JSON.stringify(label)}`, metricName),
  mixedFloatsHistograms: (metricName: string): string => `${PROMQL_WARNING}: encountered a mix of histograms and floats for metric name ${JSON.stringify(metricName)}`,
  mixedClassicNativeHistograms: (metricName: string): string => withMetricName(`${PROMQL_WARNING}: vector contains a mix of classic and native histograms`, metricName),
  possibleNonCounter: (metricName: string): string =>
    `${PROMQL_INFO}: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${JSON.stringify(metricName)}`,
  possibleNonCounterLabel: (metricName: string, typeLabel: string): string =>
    `${PROMQL_INFO}: metric might not be a counter, __type__ label is not set to "counter" or "histogram", got ${JSON.stringify(typeLabel)}: ${JSON.stringify(metricName)}`,
  histogramQuantileForcedMonotonicity: (metricName: string): string =>
    withMetricName(
      `${PROMQL_INFO}: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)`,
      metricName,
    ),
  incompatibleTypesInBinOp: (lhs: string, op: string, rhs: string): string => `${PROMQL_INFO}: incompatible sample types encountered for binary operator ${JSON.stringify(op)}: ${lhs} ${op} ${rhs}`,
  histogramIgnoredInAggregation: (aggregation: string): string => `${PROMQL_INFO}: ignored histogram in ${aggregation} aggregation`,
  histogramIgnoredInMixedRange: (metricName: string): string =>
    `${PROMQL_INFO}: ignored histograms in a range containing both floats and histograms for metric name ${JSON.stringify(metricName)}`,
  sortIneffectiveForRange: (): string => `${PROMQL_WARNING}: sort is ineffective for range queries since results are always ordered by labels`,
};

function withMetricName(text: string, metricName: string): string {
  return metricName === '' ? text : `${text} for metric name ${JSON.stringify(metricName)}`;
}

/**
 * True when a counter function (rate, increase) should report `possibleNonCounter` for a series
 * of this name: the name is set and does not end in _total, _sum, _count or _bucket.
 */
export function mightNotBeCounter(metricName: string | undefined): boolean {
  if (!metricName) return false;
  return !(metricName.endsWith('_total') || metricName.endsWith('_sum') || metricName.endsWith('_count') || metricName.endsWith('_bucket'));
}
