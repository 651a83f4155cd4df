// The texts of Prometheus's PromQL annotations (util/annotations), so warnings and infos read the
// same as Prometheus's. Positions are not included: Prometheus adds them only when the API asks
// for them with the query text.

import { formatFloatG } from '../../model/gofloat.js';
import { goQuote } from '../../model/goquote.js';

export { goQuote };


export const PROMQL_WARNING = 'PromQL warning';
export const PROMQL_INFO = 'PromQL info';

export const annotations = {
  invalidQuantile: (q: number): string => `${PROMQL_WARNING}: quantile value should be between 0 and 1, got ${formatFloatG(q)}`,
  invalidRatio: (q: number, to: number): string => `${PROMQL_WARNING}: ratio value should be between -1 and 1, got ${formatFloatG(q)}, capping to ${formatFloatG(to)}`,
  badBucketLabel: (metricName: string, label: string): string =>
    withMetricName(`${PROMQL_WARNING}: bucket label "le" is missing or has a malformed value of ${goQuote(label)}`, metricName),
  mixedFloatsHistograms: (metricName: string): string => `${PROMQL_WARNING}: encountered a mix of histograms and floats for metric name ${goQuote(metricName)}`,
  mixedClassicNativeHistograms: (metricName: string): string => withMetricName(`${PROMQL_WARNING}: vector contains a mix of classic and native histograms`, metricName),
  possibleNonCounter: (metricName: string): string =>
    `${PROMQL_INFO}: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${goQuote(metricName)}`,
  possibleNonCounterLabel: (metricName: string, typeLabel: string): string =>
    `${PROMQL_INFO}: metric might not be a counter, __type__ label is not set to "counter" or "histogram", got ${goQuote(typeLabel)}: ${goQuote(metricName)}`,
  histogramQuantileForcedMonotonicity: (metricName: string): string =>
    withMetricName(
      `${PROMQL_INFO}: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)`,
      metricName,
    ),
  incompatibleTypesInBinOp: (lhs: string, op: string, rhs: string): string => `${PROMQL_INFO}: incompatible sample types encountered for binary operator ${goQuote(op)}: ${lhs} ${op} ${rhs}`,
  histogramIgnoredInAggregation: (aggregation: string): string => `${PROMQL_INFO}: ignored histogram in ${aggregation} aggregation`,
  histogramIgnoredInMixedRange: (metricName: string): string =>
    `${PROMQL_INFO}: ignored histograms in a range containing both floats and histograms for metric name ${goQuote(metricName)}`,
  sortIneffectiveForRange: (): string => `${PROMQL_WARNING}: sort is ineffective for range queries since results are always ordered by labels`,
};

function withMetricName(text: string, metricName: string): string {
  return metricName === '' ? text : `${text} for metric name ${goQuote(metricName)}`;
}

/**
 * True when a counter function (rate, increase) should report `possibleNonCounter` for a series
 * of this name: the name is set and does not end in _total, _sum, _count or _bucket.
 */
export function mightNotBeCounter(metricName: string | undefined): boolean {
  if (!metricName) return false;
  return !(metricName.endsWith('_total') || metricName.endsWith('_sum') || metricName.endsWith('_count') || metricName.endsWith('_bucket'));
}
