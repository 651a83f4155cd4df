export {
  ABORTED_CODE,
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_SIZE_BUCKETS,
  HttpMetrics,
  UNMATCHED_ROUTE,
  contentLength,
  httpMetrics,
  type HttpMetricsOptions,
  type MiddlewareOptions,
  type RequestTimer,
} from './metrics.js';
export { trackNodeRequest, serveMetrics } from './node.js';
export { Health, health, httpCheck, type Check, type CheckResult, type HealthOptions, type HealthReport, type HealthResponse } from './health.js';
