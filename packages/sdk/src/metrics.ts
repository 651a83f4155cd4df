// The HTTP metrics every middleware of this package records, under the names Go services get
// from the common Gin/promhttp middlewares, so Patrol's `http` rule pack reads Node and Go
// services alike:
//   http_requests_total{method,route,code}            counter
//   http_request_duration_seconds{method,route}       histogram, seconds
//   http_request_size_bytes{method,route}             histogram (Content-Length of the request)
//   http_response_size_bytes{method,route}            histogram (bytes of the body sent)
//   http_requests_in_flight                           gauge
// plus prom-client's default Node runtime metrics (event-loop lag, heap, GC, CPU, handles).
// `route` is always the framework's route template ("/users/:id"), never the raw path, and
// requests no route matched share one fixed value, so the series count is bounded by the number
// of routes the code declares whatever clients send.
import { Counter, Gauge, Histogram, collectDefaultMetrics, register as globalRegistry, type Registry } from 'prom-client';

/** Latency buckets for APIs: 1 ms to 10 s, with a boundary at the rule pack's 0.5 s default. */
export const DEFAULT_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Body size buckets: 100 B to 10 MB. */
export const DEFAULT_SIZE_BUCKETS = [100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];
/** The `route` value of requests no route matched (404s, scans). */
export const UNMATCHED_ROUTE = 'unmatched';
/** The `code` value of requests the client abandoned before the response was sent (nginx's 499). */
export const ABORTED_CODE = '499';

export interface HttpMetricsOptions {
  /** Where the metrics are registered; prom-client's global registry by default. */
  registry?: Registry;
  durationBuckets?: number[];
  sizeBuckets?: number[];
  /** Also register prom-client's default Node runtime metrics (default true). */
  defaultMetrics?: boolean;
  /** The `route` label of unmatched requests (default "unmatched"). */
  unmatchedRoute?: string;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);

/** One request being measured; `end` records it once. */
export interface RequestTimer {
  end(route: string | undefined, code: number | string, responseBytes: number | undefined): void;
}

/** Label objects kept for reuse, per method and route (the route is a template: few of them). */
const MAX_CACHED_SERIES = 10_000;

class Timer implements RequestTimer {
  private readonly t0 = performance.now();
  private done = false;
  constructor(
    private readonly metrics: HttpMetrics,
    private readonly method: string,
    private readonly requestBytes: number,
  ) {}
  end(route: string | undefined, code: number | string, responseBytes: number | undefined): void {
    if (this.done) return;
    this.done = true;
    this.metrics.finish(this.method, route, code, (performance.now() - this.t0) / 1000, this.requestBytes, responseBytes);
  }
}

export class HttpMetrics {
  readonly registry: Registry;
  readonly unmatchedRoute: string;
  private readonly requests: Counter<'method' | 'route' | 'code'>;
  private readonly duration: Histogram<'method' | 'route'>;
  private readonly requestSize: Histogram<'method' | 'route'>;
  private readonly responseSize: Histogram<'method' | 'route'>;
  private readonly inFlight: Gauge;
  private readonly series = new Map<string, { labels: { method: string; route: string }; codes: Map<number | string, { method: string; route: string; code: string }> }>();

  constructor(opts: HttpMetricsOptions = {}) {
    const registers = [(this.registry = opts.registry ?? globalRegistry)];
    this.unmatchedRoute = opts.unmatchedRoute ?? UNMATCHED_ROUTE;
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template and status code.',
      labelNames: ['method', 'route', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from the request to the end of the response, in seconds.',
      labelNames: ['method', 'route'],
      buckets: opts.durationBuckets ?? DEFAULT_DURATION_BUCKETS,
      registers,
    });
    const sizeBuckets = opts.sizeBuckets ?? DEFAULT_SIZE_BUCKETS;
    this.requestSize = new Histogram({
      name: 'http_request_size_bytes',
      help: 'Request body sizes (Content-Length), in bytes.',
      labelNames: ['method', 'route'],
      buckets: sizeBuckets,
      registers,
    });
    this.responseSize = new Histogram({
      name: 'http_response_size_bytes',
      help: 'Response body sizes, in bytes.',
      labelNames: ['method', 'route'],
      buckets: sizeBuckets,
      registers,
    });
    this.inFlight = new Gauge({ name: 'http_requests_in_flight', help: 'HTTP requests being served.', registers });
    if (opts.defaultMetrics !== false && !this.registry.getSingleMetric('nodejs_eventloop_lag_seconds')) {
      collectDefaultMetrics({ register: this.registry });
    }
  }

  /** Starts measuring one request. `requestBytes` is its Content-Length (0 when absent). */
  start(method: string, requestBytes: number): RequestTimer {
    this.inFlight.inc();
    return new Timer(this, method, requestBytes);
  }

  /**
   * Records one finished request (`start` must have counted it in flight). The label objects are
   * made once per method, route and code and reused: the per-request work is prom-client's.
   */
  finish(method: string, route: string | undefined, code: number | string, seconds: number, requestBytes: number, responseBytes: number | undefined): void {
    this.inFlight.dec();
    const m = METHODS.has(method) ? method : 'OTHER';
    const r = route || this.unmatchedRoute;
    const key = m + ' ' + r;
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { method: m, route: r }, codes: new Map() };
      if (this.series.size < MAX_CACHED_SERIES) this.series.set(key, s);
    }
    const c = typeof code === 'number' ? code : String(code);
    let withCode = s.codes.get(c);
    if (!withCode) {
      withCode = { method: m, route: r, code: String(c) };
      if (s.codes.size < 100) s.codes.set(c, withCode);
    }
    this.requests.inc(withCode);
    this.duration.observe(s.labels, seconds);
    this.requestSize.observe(s.labels, requestBytes);
    if (responseBytes !== undefined) this.responseSize.observe(s.labels, responseBytes);
  }

  /** The exposition text and its content type, for a /metrics endpoint. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

const byRegistry = new WeakMap<Registry, HttpMetrics>();

/**
 * The HttpMetrics of a registry, created on first use: middlewares built twice (tests, hot
 * reload, two apps in one process) share the metrics instead of failing on duplicate names. The
 * options of the first call win.
 */
export function httpMetrics(opts: HttpMetricsOptions = {}): HttpMetrics {
  const registry = opts.registry ?? globalRegistry;
  let m = byRegistry.get(registry);
  if (!m) {
    m = new HttpMetrics({ ...opts, registry });
    byRegistry.set(registry, m);
  }
  return m;
}

/** Content-Length of a request as a number, 0 when absent or invalid. */
export function contentLength(v: string | string[] | number | null | undefined): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'number' ? v : Number(Array.isArray(v) ? v[0] : v);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/** Options every framework middleware takes. */
export interface MiddlewareOptions extends HttpMetricsOptions {
  /** Use these metrics instead of the registry's shared ones. */
  metrics?: HttpMetrics;
  /** Serve the registry at this path (GET), default "/metrics"; false to serve it yourself. */
  metricsPath?: string | false;
}

export function resolveMiddleware(opts: MiddlewareOptions): { metrics: HttpMetrics; metricsPath: string | false } {
  return { metrics: opts.metrics ?? httpMetrics(opts), metricsPath: opts.metricsPath === undefined ? '/metrics' : opts.metricsPath };
}
