// Liveness and readiness endpoints with dependency checks.
//
//   GET /health  liveness: 200 {"status":"up"} while the process serves requests (dependencies are
//                not consulted, so a database outage never gets the process restarted)
//   GET /ready   readiness: every check run concurrently, each bounded by `timeout`; 503 when a
//                critical check fails, 200 otherwise ("degraded" when only non-critical ones do).
//                The result is cached for `cacheMs` and concurrent requests share one run, so a
//                flood of probes does not hammer the database.
//
// Body: {"status":"down","checks":{"db":{"status":"down","critical":true,"latency_ms":2000,
//        "error":"timed out after 2000ms"}, ...}}
// so a Patrol http probe can assert field by field: `$.checks.*.status == up` fails with
// `$.checks.db.status is "down", expected "up"`.
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A dependency check: resolves (with anything but `false`) when the dependency is usable; throws,
 * rejects, resolves `false` or outlives the timeout when it is not. The signal aborts at the timeout.
 */
export type Check = (signal: AbortSignal) => unknown;

export interface HealthOptions {
  checks?: Record<string, Check>;
  /** Per-check bound in milliseconds (default 2000). */
  timeout?: number;
  /** Checks whose failure makes /ready answer 503 (default: all of them). */
  critical?: string[];
  /** How long a readiness result is reused, in milliseconds (default 1000; 0 runs checks per request). */
  cacheMs?: number;
  /** Paths served by the adapters (defaults /health and /ready). */
  livePath?: string;
  readyPath?: string;
}

export interface CheckResult {
  status: 'up' | 'down';
  critical: boolean;
  latency_ms: number;
  error?: string;
}

export interface HealthReport {
  status: 'up' | 'degraded' | 'down';
  checks: Record<string, CheckResult>;
}

export interface HealthResponse {
  statusCode: number;
  body: HealthReport | { status: 'up' };
}

const MAX_ERROR = 300;

function message(err: unknown): string {
  const m = err instanceof Error ? err.message || err.name : typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  const one = m.replace(/\s+/g, ' ').trim() || 'failed';
  return one.length > MAX_ERROR ? one.slice(0, MAX_ERROR - 3) + '...' : one;
}

async function runCheck(check: Check, timeoutMs: number, critical: boolean): Promise<CheckResult> {
  const t0 = performance.now();
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`timed out after ${timeoutMs}ms`);
      ctl.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    // A check that throws synchronously is caught the same way as one that rejects.
    const ok = await Promise.race([Promise.resolve().then(() => check(ctl.signal)), timedOut]);
    const latency_ms = Math.round(performance.now() - t0);
    return ok === false ? { status: 'down', critical, latency_ms, error: 'check returned false' } : { status: 'up', critical, latency_ms };
  } catch (err) {
    return { status: 'down', critical, latency_ms: Math.round(performance.now() - t0), error: message(err) };
  } finally {
    clearTimeout(timer);
  }
}

export class Health {
  readonly livePath: string;
  readonly readyPath: string;
  private readonly checks: [string, Check][];
  private readonly critical: Set<string>;
  private readonly timeout: number;
  private readonly cacheMs: number;
  private cached: { at: number; report: Promise<HealthReport> } | undefined;

  constructor(opts: HealthOptions = {}) {
    this.checks = Object.entries(opts.checks ?? {});
    const names = new Set(this.checks.map(([n]) => n));
    for (const n of opts.critical ?? []) if (!names.has(n)) throw new Error(`health: critical check ${JSON.stringify(n)} is not among the checks (${[...names].join(', ') || 'none'})`);
    this.critical = new Set(opts.critical ?? names);
    this.timeout = opts.timeout ?? 2000;
    this.cacheMs = opts.cacheMs ?? 1000;
    if (!(this.timeout > 0)) throw new Error('health: timeout must be > 0 ms');
    this.livePath = opts.livePath ?? '/health';
    this.readyPath = opts.readyPath ?? '/ready';
  }

  /** Runs the checks (or reuses a result younger than cacheMs, or a run in progress). */
  report(): Promise<HealthReport> {
    const now = performance.now();
    if (this.cached && now - this.cached.at < this.cacheMs) return this.cached.report;
    const report = this.run();
    // Cached from the start so concurrent requests share the run; the age counts from its end.
    const entry = { at: Infinity, report };
    this.cached = entry;
    void report.then(() => {
      entry.at = performance.now();
    });
    return report;
  }

  private async run(): Promise<HealthReport> {
    const results = await Promise.all(this.checks.map(([name, check]) => runCheck(check, this.timeout, this.critical.has(name))));
    const checks: Record<string, CheckResult> = {};
    let criticalDown = false;
    let anyDown = false;
    this.checks.forEach(([name], i) => {
      const r = results[i]!;
      checks[name] = r;
      if (r.status === 'down') {
        anyDown = true;
        if (r.critical) criticalDown = true;
      }
    });
    return { status: criticalDown ? 'down' : anyDown ? 'degraded' : 'up', checks };
  }

  live(): HealthResponse {
    return { statusCode: 200, body: { status: 'up' } };
  }

  async ready(): Promise<HealthResponse> {
    const body = await this.report();
    return { statusCode: body.status === 'down' ? 503 : 200, body };
  }

  /** The response for a path, or undefined when it is not one of ours. */
  async respond(method: string, path: string): Promise<HealthResponse | undefined> {
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    if (path === this.livePath) return this.live();
    if (path === this.readyPath) return this.ready();
    return undefined;
  }

  /** Node http / Express / Connect middleware: answers /health and /ready, passes the rest on. */
  node(): (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void {
    return (req, res, next) => {
      const path = (req.url ?? '/').split('?')[0]!;
      void this.respond(req.method ?? 'GET', path).then(
        (r) => {
          if (!r) {
            if (next) next();
            else {
              res.statusCode = 404;
              res.end();
            }
            return;
          }
          const body = JSON.stringify(r.body);
          res.statusCode = r.statusCode;
          res.setHeader('Content-Type', 'application/json; charset=utf-8');
          res.setHeader('Cache-Control', 'no-store');
          res.setHeader('Content-Length', Buffer.byteLength(body));
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (err: unknown) => (next ? next(err) : res.destroy(err as Error)),
      );
    };
  }

  /** Koa middleware. */
  koa(): (ctx: { method: string; path: string; status: number; body: unknown; set(k: string, v: string): void }, next: () => Promise<unknown>) => Promise<void> {
    return async (ctx, next) => {
      const r = await this.respond(ctx.method, ctx.path);
      if (!r) {
        await next();
        return;
      }
      ctx.status = r.statusCode;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = r.body;
    };
  }

  /** Hono middleware (works on any runtime). */
  hono(): (c: { req: { method: string; path: string } }, next: () => Promise<void>) => Promise<Response | void> {
    return async (c, next) => {
      const r = await this.respond(c.req.method, c.req.path);
      if (!r) return next();
      return new Response(c.req.method === 'HEAD' ? null : JSON.stringify(r.body), {
        status: r.statusCode,
        headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
      });
    };
  }

  /** Fastify: `health.fastify(app)` adds the two routes. */
  fastify(app: { get(path: string, handler: (req: unknown, reply: { code(n: number): { header(k: string, v: string): { send(b: unknown): unknown } } }) => Promise<unknown>): unknown }): void {
    app.get(this.livePath, async (_req, reply) => {
      const r = this.live();
      return reply.code(r.statusCode).header('Cache-Control', 'no-store').send(r.body);
    });
    app.get(this.readyPath, async (_req, reply) => {
      const r = await this.ready();
      return reply.code(r.statusCode).header('Cache-Control', 'no-store').send(r.body);
    });
  }
}

export function health(opts: HealthOptions = {}): Health {
  return new Health(opts);
}

/**
 * A check that GETs `url` and wants a 2xx (or one of `expect`) status; the body is drained and
 * discarded. The health timeout aborts the request.
 */
export function httpCheck(url: string | URL, opts: { expect?: number[]; headers?: Record<string, string> } = {}): Check {
  const target = String(url);
  // Errors name the URL without its query string or credentials, which may hold secrets.
  const u = new URL(target);
  const shown = u.origin + u.pathname;
  return async (signal) => {
    let res: Response;
    try {
      res = await fetch(target, { signal, headers: opts.headers, redirect: 'manual' });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const cause = (err as { cause?: unknown }).cause;
      throw new Error(`${shown}: ${cause instanceof Error ? cause.message : (err as Error).message}`);
    }
    await res.body?.cancel().catch(() => undefined);
    const ok = opts.expect ? opts.expect.includes(res.status) : res.status >= 200 && res.status < 300;
    if (!ok) throw new Error(`${shown} answered ${res.status}`);
    return true;
  };
}
