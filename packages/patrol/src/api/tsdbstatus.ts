// GET /api/v1/status/tsdb in Prometheus's shape: head statistics and the top `limit` label names
// and pairs by series count, value count and bytes of label values (what Prometheus's and
// Grafana's cardinality pages show). Read from the TSDB's index as it is now.

import { BadDataError } from './params.js';
import { goJSON } from './promjson.js';

/** What the TSDB offers for this page (TSDB.indexStats and TSDB.stats). */
export interface IndexStatsSource {
  indexStats(each: (name: string, value: string, series: number) => void): { series: number; minTime: number; maxTime: number };
  stats(): { chunks: number };
}

interface Stat {
  name: string;
  value: number;
}

/** The `limit` parameter: default 10, a positive integer (Prometheus's message otherwise). */
export function tsdbStatusLimit(raw: string): number {
  if (raw === '') return 10;
  const n = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new BadDataError('limit must be a positive number');
  return n;
}

function top(stats: Stat[], limit: number): Stat[] {
  stats.sort((a, b) => b.value - a.value || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return stats.slice(0, limit);
}

/** The `data` object as JSON text. */
export function tsdbStatusJSON(src: IndexStatsSource, limit: number): string {
  const byMetric: Stat[] = [];
  const pairs: Stat[] = [];
  const valueCount = new Map<string, number>();
  const bytes = new Map<string, number>();
  let numLabelPairs = 0;
  const head = src.indexStats((name, value, series) => {
    numLabelPairs++;
    if (name === '__name__') byMetric.push({ name: value, value: series });
    pairs.push({ name: `${name}=${value}`, value: series });
    valueCount.set(name, (valueCount.get(name) ?? 0) + 1);
    // As Prometheus counts it: the value's length once per series that carries it.
    bytes.set(name, (bytes.get(name) ?? 0) + Buffer.byteLength(value) * series);
  });
  const toStats = (m: Map<string, number>): Stat[] => [...m].map(([name, value]) => ({ name, value }));
  const empty = head.series === 0 || !Number.isFinite(head.minTime);
  return goJSON({
    headStats: {
      numSeries: head.series,
      numLabelPairs,
      chunkCount: src.stats().chunks,
      // An empty store has no time range; 0 rather than Go's MaxInt64/MinInt64 sentinels.
      minTime: empty ? 0 : head.minTime,
      maxTime: empty ? 0 : head.maxTime,
    },
    seriesCountByMetricName: top(byMetric, limit),
    labelValueCountByLabelName: top(toStats(valueCount), limit),
    memoryInBytesByLabelName: top(toStats(bytes), limit),
    seriesCountByLabelValuePair: top(pairs, limit),
  });
}

const BASE2: readonly [string, number][] = [
  ['EiB', 2 ** 60],
  ['PiB', 2 ** 50],
  ['TiB', 2 ** 40],
  ['GiB', 2 ** 30],
  ['MiB', 2 ** 20],
  ['KiB', 2 ** 10],
  ['B', 1],
];

/** Bytes as Go's units.Base2Bytes prints them: `1GiB`, `1GiB512MiB`, `0B`. */
export function formatBase2Bytes(n: number): string {
  if (n === 0) return '0B';
  let out = '';
  let rest = n;
  for (const [unit, size] of BASE2) {
    const q = Math.floor(rest / size);
    if (q > 0) {
      out += `${q}${unit}`;
      rest -= q * size;
    }
  }
  return out;
}

/**
 * runtimeinfo's storageRetention as Prometheus builds it: the time retention (`15d`), the size
 * retention (`512MiB`), or both joined by " or "; each only when set.
 */
export function formatStorageRetention(retentionMs: number, retentionBytes: number, formatDuration: (ms: number) => string): string {
  const parts: string[] = [];
  if (retentionMs > 0) parts.push(formatDuration(retentionMs));
  if (retentionBytes > 0) parts.push(formatBase2Bytes(retentionBytes));
  return parts.join(' or ');
}
