// The Prometheus HTTP API v1 (/api/v1/…): queries, series, labels, metadata, status and the
// query formatter, with Prometheus's response shapes, status codes and error texts, so that
// Grafana, promtool and other Prometheus clients work against Patrol unchanged.
//
// Error types map to status codes as Prometheus maps them: bad_data 400, execution 422,
// canceled 499, timeout 503, unavailable 503, internal 500, not_found 404.

import { maskSecrets } from '../config/secrets.js';
import { truncate } from '../web/truncate.js';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createDeflate, createGzip, deflate, deflateSync, gzip, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { stringify as yamlStringify } from 'yaml';
import { compareLabels, labelsKey, type Labels } from '../model/labels.js';
import type { Matcher } from '../model/matchers.js';
import { QueryError, type QueryEngine, type QueryErrorType, type QueryResult } from '../promql/types.js';
import { StorageError, type Queryable } from '../storage/interface.js';
import { BUILD_INFO } from '../version.js';
import { BadDataError, MAX_TIME, MIN_TIME, Params, formEntries, goQuote, invalidParam, parseDurationParam, parseTime, queryEntries } from './params.js';
import { tsdbStatusJSON, tsdbStatusLimit, type IndexStatsSource } from './tsdbstatus.js';
import { errorJSON, goJSON, jsonString, labelsJSON, queryDataParts, statsJSON, structJSON, successParts } from './promjson.js';
import { parseSelector } from './selector.js';
import { withRegexBudget } from '../model/regex.js';

export interface MetricMetadata {
  type: string;
  help: string;
  unit: string;
}

export interface PrometheusAPIOptions {
  queryable: Queryable;
  engine: QueryEngine;
  /** Lookback delta in milliseconds passed to every query unless the request sets lookback_delta. */
  lookbackDelta?: number;
  /** The AST of an expression as JSON-able data, for /parse_query; throws QueryError on bad input. */
  parse?: (expr: string) => unknown;
  /** The canonical text of an expression, for /format_query; throws QueryError on bad input. */
  format?: (expr: string) => string;
  /** Metric metadata by metric name (from scrapes), for /metadata. */
  metadata?: () => Map<string, MetricMetadata[]>;
  /** Command-line flags as Prometheus reports them, for /status/flags. */
  flags?: Record<string, string>;
  /** The running configuration (YAML text or an object), for /status/config. */
  config?: () => unknown;
  /** Fields merged over the defaults of /status/runtimeinfo. */
  runtimeInfo?: () => object;
  /** The TSDB's index, for /status/tsdb (null while storage is not open: 503). */
  tsdbStatus?: () => IndexStatsSource | null;
  /** Milliseconds since the epoch; the default time of instant queries. */
  now?: () => number;
  /** Mount point; default /api/v1. */
  prefix?: string;
  /**
   * The TSDB admin endpoints (delete_series, clean_tombstones), answered only while `enabled()`
   * says so (server.enable_admin_api); otherwise 500 "admin APIs disabled", as Prometheus does
   * without --web.enable-admin-api.
   */
  admin?: {
    enabled: () => boolean;
    deleteSeries: (matchers: Matcher[], start: number, end: number) => unknown;
    /** Writes a snapshot and resolves to its name. */
    snapshot?: (skipHead: boolean) => Promise<string>;
  };
}

/**
 * A Queryable for storage that opens after the routes are registered (server.ts opens storage in
 * start()). Until `get` returns one, requests fail with 503 unavailable, as Prometheus answers
 * while its TSDB is not ready.
 */
export function deferredQueryable(get: () => Queryable | null | undefined): Queryable {
  return {
    querier(mint: number, maxt: number) {
      const q = get();
      if (!q) throw new QueryError('unavailable', 'TSDB not ready');
      return q.querier(mint, maxt);
    },
  };
}

/** The Prometheus version Patrol reports, so that clients (Grafana) enable 3.x features. */
export const PROMETHEUS_COMPAT_VERSION = '3.14.0';

/** Prometheus refuses range queries with more points per series than this. */
export const MAX_POINTS_PER_SERIES = 11_000;

const STATUS: Record<string, number> = {
  bad_data: 400,
  execution: 422,
  canceled: 499,
  timeout: 503,
  unavailable: 503,
  internal: 500,
  not_found: 404,
};

class APIError extends Error {
  constructor(
    readonly type: QueryErrorType | 'not_found',
    message: string,
    /** The HTTP status when it is not the usual one for the type. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'APIError';
  }
}

/** Bodies up to this many characters are sent as one string; larger ones are streamed. */
const STREAM_ABOVE = 8 << 20;

interface Handled {
  /** The `data` field, already JSON, whole or in pieces to be concatenated; null answers 204 with no body. */
  data: string | string[] | null;
  warnings?: readonly string[];
  infos?: readonly string[];
}

type Handler = (p: Params, req: FastifyRequest, reply: FastifyReply) => Promise<Handled> | Handled;

/**
 * Registers the API's routes on `app` under /api/v1, inside an encapsulated plugin so that its
 * form-body parser (for application/x-www-form-urlencoded POSTs) applies to these routes only.
 * The routes exist once the app is ready (before listen or inject).
 */
export function registerPrometheusAPI(app: FastifyInstance, opts: PrometheusAPIOptions): void {
  const now = opts.now ?? Date.now;
  const startTime = new Date(now()).toISOString();
  const prefix = opts.prefix ?? '/api/v1';

  void app.register(
    async (scope) => {
      if (!scope.hasContentTypeParser('application/x-www-form-urlencoded')) {
        scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
      }

      // CORS is answered for every endpoint by the server's edge (web/security.ts, server.cors_origin);
      // a plain OPTIONS gets 204, as Prometheus's router answers it.
      scope.options('/*', async (_req, reply) => reply.code(204).send());

      scope.setNotFoundHandler(async (_req, reply) =>
        reply.code(404).header('X-Content-Type-Options', 'nosniff').type('text/plain; charset=utf-8').send('404 page not found\n'),
      );

      const route = (methods: ('GET' | 'POST' | 'PUT')[], path: string, handler: Handler) => {
        // Other methods on a known path get 405 with Allow, as Prometheus's router answers.
        const others = (['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const).filter((m) => !(methods as string[]).includes(m));
        const allow = [...methods, 'OPTIONS'].join(', ');
        scope.route({
          method: [...others],
          url: path,
          handler: async (_req, reply) =>
            reply.code(405).header('Allow', allow).header('X-Content-Type-Options', 'nosniff').type('text/plain; charset=utf-8').send('Method Not Allowed\n'),
        });
        scope.route({
          method: methods,
          url: path,
          handler: async (req, reply) => {
            const params = new Params(formEntries(req.body), queryEntries(req.raw.url ?? ''));
            let out: Handled;
            try {
              out = await handler(params, req, reply);
            } catch (e) {
              const err = toAPIError(e);
              return sendJSON(req, reply, err.status ?? STATUS[err.type] ?? 500, [errorJSON(err.type, truncate(err.message))]);
            }
            if (out.data === null) return reply.code(204).send();
            return sendJSON(req, reply, 200, successParts(typeof out.data === 'string' ? [out.data] : out.data, out.warnings, out.infos));
          },
        });
      };

      /** Sends JSON pieces, compressed as the client accepts and streamed when large. */
      const sendJSON = async (req: FastifyRequest, reply: FastifyReply, code: number, parts: string[]) => {
        let size = 0;
        for (const p of parts) size += p.length;
        reply.code(code).type('application/json');
        const encoding = chooseEncoding(req.headers['accept-encoding']);
        if (encoding) reply.header('Content-Encoding', encoding);
        if (size <= STREAM_ABOVE) {
          const body = parts.join('');
          if (!encoding) return reply.send(body);
          // Small bodies compress faster than a round trip through the zlib thread pool.
          if (size < 1 << 16) return reply.send(encoding === 'gzip' ? gzipSync(body, ZLIB_OPTS) : deflateSync(body, ZLIB_OPTS));
          return reply.send(await (encoding === 'gzip' ? gzipAsync : deflateAsync)(body, ZLIB_OPTS));
        }
        const stream = Readable.from(bodyChunks(parts), { objectMode: false });
        return reply.send(encoding ? stream.pipe(encoding === 'gzip' ? createGzip(ZLIB_OPTS) : createDeflate(ZLIB_OPTS)) : stream);
      };

      route(['GET', 'POST'], '/query', (p, req, reply) => instantQuery(p, req, reply));
      route(['GET', 'POST'], '/query_range', (p, req, reply) => rangeQuery(p, req, reply));
      route(['GET', 'POST'], '/series', (p) => series(p));
      route(['GET', 'POST'], '/labels', (p) => labelNames(p));
      route(['GET'], '/label/:name/values', (p, req) => labelValues(p, (req.params as { name: string }).name));
      route(['GET', 'POST'], '/query_exemplars', (p) => {
        const start = p.time('start', MIN_TIME);
        const end = p.time('end', MAX_TIME);
        if (end < start) throw invalidParam('end', 'end timestamp must not be before start time');
        parseQueryParam(p.get('query'));
        // Patrol stores no exemplars; the answer is the empty list Prometheus gives without them.
        return { data: '[]' };
      });
      route(['GET'], '/metadata', (p) => metadata(p));
      route(['GET'], '/status/buildinfo', () => ({
        data: structJSON({
          version: PROMETHEUS_COMPAT_VERSION,
          revision: BUILD_INFO.revision,
          branch: BUILD_INFO.branch,
          buildUser: BUILD_INFO.buildUser,
          buildDate: BUILD_INFO.buildDate,
          goVersion: BUILD_INFO.goVersion,
          patrolVersion: BUILD_INFO.version,
        }),
      }));
      route(['GET'], '/status/flags', () => ({ data: goJSON(opts.flags ?? {}) }));
      route(['GET'], '/status/config', () => ({ data: structJSON({ yaml: configYAML(opts.config?.()) }) }));
      route(['GET'], '/status/tsdb', (p) => {
        const limit = tsdbStatusLimit(p.get('limit'));
        const src = opts.tsdbStatus?.();
        if (!src) throw new APIError('unavailable', 'TSDB not ready');
        return { data: tsdbStatusJSON(src, limit) };
      });
      route(['GET'], '/status/runtimeinfo', () => ({
        data: structJSON({
          startTime,
          CWD: process.cwd(),
          hostname: hostname(),
          serverTime: new Date(now()).toISOString(),
          reloadConfigSuccess: true,
          lastConfigTime: startTime,
          corruptionCount: 0,
          goroutineCount: 0,
          GOMAXPROCS: 1,
          GOMEMLIMIT: 0,
          GOGC: '',
          GODEBUG: '',
          storageRetention: '',
          ...(opts.runtimeInfo?.() ?? {}),
        }),
      }));
      if (opts.admin) {
        const admin = opts.admin;
        const gate = (): void => {
          if (!admin.enabled()) throw new APIError('unavailable', 'admin APIs disabled', 500);
        };
        route(['POST', 'PUT'], '/admin/tsdb/delete_series', async (p) => {
          gate();
          const match = p.all('match[]');
          if (match.length === 0) throw new BadDataError('no match[] parameter provided');
          const start = p.time('start', MIN_TIME);
          const end = p.time('end', MAX_TIME);
          for (const ms of matcherSets(match)) await admin.deleteSeries(ms, start, end);
          return { data: null };
        });
        const snapshot = admin.snapshot;
        if (snapshot) {
          route(['POST', 'PUT'], '/admin/tsdb/snapshot', async (p) => {
            gate();
            const v = p.get('skip_head');
            if (v !== '' && !/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(v)) throw invalidParam('skip_head', `strconv.ParseBool: parsing ${goQuote(v)}: invalid syntax`);
            const name = await snapshot(/^(1|t|T|TRUE|true|True)$/.test(v));
            return { data: structJSON({ name }) };
          });
        }
        // Deletes rewrite the data at once; there are no tombstones left to clean.
        route(['POST', 'PUT'], '/admin/tsdb/clean_tombstones', () => {
          gate();
          return { data: null };
        });
      }
      if (opts.format) {
        const format = opts.format;
        route(['GET', 'POST'], '/format_query', (p) => {
          try {
            return { data: jsonString(format(p.get('query'))) };
          } catch (e) {
            throw invalidParam('query', parseErrorText(e));
          }
        });
      }
      if (opts.parse) {
        const parse = opts.parse;
        route(['GET', 'POST'], '/parse_query', (p) => {
          let ast: unknown;
          try {
            ast = parse(p.get('query'));
          } catch (e) {
            throw invalidParam('query', parseErrorText(e));
          }
          return { data: JSON.stringify(ast) };
        });
      }
    },
    { prefix },
  );

  /** Runs a query with the request's timeout, cancelled when the client goes away. */
  async function runQuery(p: Params, reply: FastifyReply, run: (o: { signal: AbortSignal; lookbackDelta?: number }) => Promise<QueryResult>): Promise<Handled> {
    let timeoutMs: number | undefined;
    const to = p.get('timeout');
    if (to !== '') {
      try {
        timeoutMs = parseDurationParam(to);
      } catch (e) {
        throw invalidParam('timeout', (e as Error).message);
      }
    }
    let lookbackDelta = opts.lookbackDelta;
    const lb = p.get('lookback_delta');
    if (lb !== '') {
      try {
        lookbackDelta = parseDurationParam(lb);
      } catch (e) {
        throw invalidParam('lookback_delta', (e as Error).message);
      }
    }
    const wantStats = p.get('stats') !== '';
    const limit = p.limit();

    const gone = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableEnded) gone.abort(new QueryError('canceled', 'query was canceled: client closed the connection'));
    };
    reply.raw.on('close', onClose);
    const signals = [gone.signal];
    // A timer of our own rather than AbortSignal.timeout, whose timer is unref'd.
    let timer: AbortController | undefined;
    let timerHandle: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) {
      const ac = new AbortController();
      timer = ac;
      // setTimeout takes at most 2^31-1 ms (and fires at once beyond it).
      const ms = Math.min(2 ** 31 - 1, Math.max(0, Math.ceil(timeoutMs)));
      timerHandle = setTimeout(() => ac.abort(new QueryError('timeout', 'query timed out in expression evaluation')), ms);
      signals.push(ac.signal);
    }
    const signal = signals.length === 1 ? gone.signal : AbortSignal.any(signals);
    const t0 = performance.now();
    try {
      const r = await run({ signal, lookbackDelta });
      const total = performance.now() - t0;
      const stats = wantStats ? statsJSON(r.stats, total, Math.max(0, total - r.stats.evalMs)) : undefined;
      let value = r.value;
      let warnings = r.warnings;
      // Prometheus 3's limit on /query and /query_range: at most that many series, with a warning.
      if (limit > 0 && value.type === 'vector' && value.samples.length > limit) {
        value = { type: 'vector', samples: value.samples.slice(0, limit) };
        warnings = [...warnings, 'results truncated due to limit'];
      } else if (limit > 0 && value.type === 'matrix' && value.series.length > limit) {
        value = { type: 'matrix', series: value.series.slice(0, limit) };
        warnings = [...warnings, 'results truncated due to limit'];
      }
      return { data: queryDataParts(value, stats), warnings, infos: r.infos };
    } catch (e) {
      if (timer?.signal.aborted && !gone.signal.aborted) throw new APIError('timeout', 'query timed out in expression evaluation');
      if (gone.signal.aborted) throw new APIError('canceled', 'query was canceled in expression evaluation');
      if (e instanceof QueryError && e.type === 'bad_data') throw invalidParam('query', parseErrorText(e));
      throw e;
    } finally {
      clearTimeout(timerHandle);
      reply.raw.off('close', onClose);
    }
  }

  async function instantQuery(p: Params, _req: FastifyRequest, reply: FastifyReply): Promise<Handled> {
    const t = p.time('time', now());
    const expr = p.get('query');
    return runQuery(p, reply, (o) => opts.engine.instantQuery(opts.queryable, expr, t, o));
  }

  async function rangeQuery(p: Params, _req: FastifyRequest, reply: FastifyReply): Promise<Handled> {
    const start = requiredTime(p, 'start');
    const end = requiredTime(p, 'end');
    if (end < start) throw invalidParam('end', 'end timestamp must not be before start time');
    let step: number;
    try {
      step = parseDurationParam(p.get('step'));
    } catch (e) {
      throw invalidParam('step', (e as Error).message);
    }
    if (step <= 0) throw invalidParam('step', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
    // Prometheus divides durations as integers (nanoseconds).
    if (Math.floor((end - start) / step) > MAX_POINTS_PER_SERIES) {
      throw new BadDataError('exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
    }
    const stepMs = Math.trunc(step);
    if (stepMs < 1) throw invalidParam('step', 'zero or negative query resolution step widths are not accepted. Try a positive integer');
    const expr = p.get('query');
    return runQuery(p, reply, (o) => opts.engine.rangeQuery(opts.queryable, expr, start, end, stepMs, o));
  }

  function series(p: Params): Handled {
    const match = p.all('match[]');
    if (match.length === 0) throw new BadDataError('no match[] parameter provided');
    const start = p.time('start', MIN_TIME);
    const end = p.time('end', MAX_TIME);
    const limit = p.limit();
    const sets = matcherSets(match);
    const q = opts.queryable.querier(start, end);
    try {
      const seen = new Map<string, Labels>();
      const warnings: string[] = [];
      for (const ms of sets) {
        const set = q.select({ start, end, labelsOnly: true }, ms);
        while (set.next()) {
          const ls = set.at().labels;
          const k = labelsKey(ls);
          if (!seen.has(k)) seen.set(k, ls);
        }
        const err = set.err();
        if (err) throw new APIError('execution', err.message);
        warnings.push(...set.warnings());
      }
      let all = [...seen.values()];
      if (sets.length > 1) all.sort(compareLabels);
      if (limit > 0 && all.length > limit) {
        all = all.slice(0, limit);
        warnings.push('results truncated due to limit');
      }
      return { data: '[' + all.map(labelsJSON).join(',') + ']', warnings };
    } finally {
      q.close();
    }
  }

  function labelNames(p: Params): Handled {
    const start = p.time('start', MIN_TIME);
    const end = p.time('end', MAX_TIME);
    const limit = p.limit();
    const sets = matcherSets(p.all('match[]'));
    const q = opts.queryable.querier(start, end);
    try {
      let names: string[];
      if (sets.length === 0) names = q.labelNames();
      else {
        const all = new Set<string>();
        for (const ms of sets) for (const n of q.labelNames(ms)) all.add(n);
        names = [...all].sort();
      }
      return truncated(names, limit);
    } finally {
      q.close();
    }
  }

  function labelValues(p: Params, rawName: string): Handled {
    let name = rawName;
    // Prometheus 3 accepts UTF-8 names, U__-escaped in the path for clients that need it.
    if (name.startsWith('U__')) name = unescapeName(name);
    if (name === '' || !isWellFormed(name)) throw new BadDataError(`invalid label name: ${goQuote(name)}`);
    const start = p.time('start', MIN_TIME);
    const end = p.time('end', MAX_TIME);
    const limit = p.limit();
    const sets = matcherSets(p.all('match[]'));
    const q = opts.queryable.querier(start, end);
    try {
      let values: string[];
      if (sets.length === 0) values = q.labelValues(name);
      else {
        const all = new Set<string>();
        for (const ms of sets) for (const v of q.labelValues(name, ms)) all.add(v);
        values = [...all].sort();
      }
      return truncated(values, limit);
    } finally {
      q.close();
    }
  }

  function metadata(p: Params): Handled {
    const num = (name: string) => {
      const s = p.get(name);
      if (s === '') return -1;
      if (!/^[+-]?\d+$/.test(s)) throw new BadDataError(`${name} must be a number`);
      return Number(s);
    };
    const limit = num('limit');
    const perMetric = num('limit_per_metric');
    const metric = p.get('metric');
    const all = opts.metadata?.() ?? new Map<string, MetricMetadata[]>();
    const names = [...all.keys()].filter((n) => metric === '' || n === metric).sort();
    const out: string[] = [];
    for (const n of names) {
      if (limit >= 0 && out.length >= limit) break;
      const seen = new Set<string>();
      const entries: string[] = [];
      for (const m of all.get(n) ?? []) {
        if (perMetric > 0 && entries.length >= perMetric) break;
        const j = structJSON({ type: m.type, help: m.help, unit: m.unit });
        if (seen.has(j)) continue;
        seen.add(j);
        entries.push(j);
      }
      out.push(`${jsonString(n)}:[${entries.join(',')}]`);
    }
    return { data: `{${out.join(',')}}` };
  }
}

// The fastest level: query JSON is repetitive enough to shrink tens of times even so, and the
// compression time is latency every client waits for.
const ZLIB_OPTS = { level: 1 };
const gzipAsync = promisify(gzip) as (buf: string, opts: typeof ZLIB_OPTS) => Promise<Buffer>;
const deflateAsync = promisify(deflate) as (buf: string, opts: typeof ZLIB_OPTS) => Promise<Buffer>;

/**
 * The response encoding Prometheus's compression handler picks: the first of `gzip` or `deflate`
 * listed in Accept-Encoding, as exact tokens.
 */
function chooseEncoding(accept: string | string[] | undefined): 'gzip' | 'deflate' | null {
  const header = Array.isArray(accept) ? accept.join(',') : (accept ?? '');
  for (const token of header.split(',')) {
    const t = token.trim();
    if (t === 'gzip' || t === 'deflate') return t;
  }
  return null;
}

/** Joins pieces into chunks of about 64 KiB for a streamed body. */
function* bodyChunks(parts: readonly string[]): Generator<Buffer> {
  let buf = '';
  for (const p of parts) {
    buf += p;
    if (buf.length >= 1 << 16) {
      yield Buffer.from(buf);
      buf = '';
    }
  }
  if (buf !== '') yield Buffer.from(buf);
}

function requiredTime(p: Params, name: string): number {
  try {
    return parseTime(p.get(name));
  } catch (e) {
    throw invalidParam(name, (e as Error).message);
  }
}

function truncated(list: string[], limit: number): Handled {
  if (limit > 0 && list.length > limit) return { data: goJSON(list.slice(0, limit)), warnings: ['results truncated due to limit'] };
  return { data: goJSON(list) };
}

/**
 * Parses match[] values. Series need at least one; every set must have a matcher that does not
 * match the empty string (Prometheus refuses to select every series). All the values of one
 * request compile their regexes under one budget, as a query does (model/regex.ts
 * withRegexBudget): thousands of distinct patterns in match[] would otherwise spend seconds
 * compiling.
 */
function matcherSets(values: string[]): Matcher[][] {
  const sets: Matcher[][] = [];
  withRegexBudget(() => {
    for (const v of values) {
      try {
        sets.push(parseSelector(v));
      } catch (e) {
        throw invalidParam('match[]', (e as Error).message);
      }
    }
  });
  for (const ms of sets) {
    if (!ms.some((m) => !m.matchesEmpty())) throw invalidParam('match[]', 'match[] must contain at least one non-empty matcher');
  }
  return sets;
}

function parseQueryParam(expr: string): void {
  if (expr.trim() === '') throw invalidParam('query', '1:1: parse error: no expression found in input');
}

/** A parse error's text as Prometheus prints it: `1:15: parse error: …`. */
function parseErrorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/^\d+:\d+: /.test(msg)) return msg;
  if (e instanceof QueryError && e.position) {
    const body = msg.startsWith('parse error') ? msg : `parse error: ${msg}`;
    return `${e.position.line}:${e.position.column}: ${body}`;
  }
  return msg;
}

function toAPIError(e: unknown): APIError {
  if (e instanceof APIError) return e;
  if (e instanceof BadDataError) return new APIError('bad_data', e.message);
  if (e instanceof QueryError) return new APIError(e.type, e.message);
  if (e instanceof StorageError) return new APIError('internal', e.message);
  if (e instanceof Error && e.name === 'AbortError') return new APIError('canceled', 'query was canceled in expression evaluation');
  return new APIError('execution', e instanceof Error ? e.message : String(e));
}

function configYAML(cfg: unknown): string {
  if (cfg === undefined || cfg === null) return '';
  if (typeof cfg === 'string') return cfg;
  // maskSecrets' JSON round trip masks Secret fields and turns matchers into their text; it also
  // masks secret-named keys of pass-through receivers and every URL's password.
  return yamlStringify(maskSecrets(cfg));
}

/** Prometheus's U__ escaping: `_` is `__`, other characters `_<hex>_`. */
function unescapeName(name: string): string {
  const s = name.slice(3);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '_') {
      out += c;
      continue;
    }
    if (s[i + 1] === '_') {
      out += '_';
      i++;
      continue;
    }
    const end = s.indexOf('_', i + 1);
    const hex = end < 0 ? '' : s.slice(i + 1, end);
    if (!/^[0-9a-fA-F]+$/.test(hex)) return name;
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw new BadDataError(
        `invalid label name ${goQuote(truncate(name, 200))}: the escape _${truncate(hex, 20)}_ is not a Unicode character (U__ names escape each character as _<hex code point>_, at most 10FFFF and not a surrogate; a literal _ is written __)`,
      );
    }
    out += String.fromCodePoint(cp);
    i = end;
  }
  return out;
}

function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
