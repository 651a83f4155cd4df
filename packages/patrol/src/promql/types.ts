// The query engine's public vocabulary: what rules, the HTTP API and the CLI receive.

import type { Labels } from '../model/labels.js';
import type { Queryable } from '../storage/interface.js';

export interface InstantSample {
  labels: Labels;
  t: number;
  v: number;
}

export interface RangeSeries {
  labels: Labels;
  timestamps: Float64Array;
  values: Float64Array;
}

export type Value =
  | { type: 'scalar'; t: number; v: number }
  | { type: 'string'; t: number; v: string }
  | { type: 'vector'; samples: InstantSample[] }
  | { type: 'matrix'; series: RangeSeries[] };

/** Prometheus's API error types; the HTTP layer maps them to status codes. */
export type QueryErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'internal' | 'unavailable';

export class QueryError extends Error {
  constructor(
    readonly type: QueryErrorType,
    message: string,
    /** Position in the query text for parse and type errors (1-based line and column). */
    readonly position?: { line: number; column: number },
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

export interface QueryOptions {
  /** Aborts the query (client went away, shutdown). */
  signal?: AbortSignal;
  /** Overrides the engine's lookback delta, in milliseconds. */
  lookbackDelta?: number;
}

export interface QueryStats {
  samplesLoaded: number;
  evalMs: number;
}

export interface QueryResult {
  value: Value;
  warnings: string[];
  infos: string[];
  stats: QueryStats;
}

export interface EngineOptions {
  /** Default 5 minutes. */
  lookbackDelta?: number;
  /** Per-query time limit in milliseconds; default 2 minutes. */
  timeout?: number;
  /** Most samples one query may hold in memory at once (Prometheus: --query.max-samples, 50,000,000). */
  maxSamples?: number;
  /** Queries evaluated at the same time; more wait in a queue. Default 20. */
  maxConcurrent?: number;
}

/** Times are milliseconds since the epoch; step is milliseconds. */
export interface QueryEngine {
  instantQuery(q: Queryable, expr: string, time: number, opts?: QueryOptions): Promise<QueryResult>;
  rangeQuery(q: Queryable, expr: string, start: number, end: number, step: number, opts?: QueryOptions): Promise<QueryResult>;
}
