// Latency of the Prometheus HTTP API: the same requests over HTTP to Patrol (MemoryStorage + the
// PromQL engine when src/promql/engine.ts exists) and to Debian's Prometheus on the same data,
// in the same run, alternating. Prints median and p90 per request and the Patrol/Prometheus ratio.
//
//   npm run bench -- api            (API_BENCH_INSTANCES=50 API_BENCH_HOURS=6 API_BENCH_RUNS=10)

import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import Fastify from 'fastify';
import { registerPrometheusAPI } from '../src/api/prometheus.js';
import { QueryError, type QueryEngine } from '../src/promql/types.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { freePort, loadInto, referenceMissing, serviceDataSet, startReferencePrometheus } from '../test/prometheus-reference.js';

const INSTANCES = Number(process.env.API_BENCH_INSTANCES ?? 50);
const HOURS = Number(process.env.API_BENCH_HOURS ?? 6);
const RUNS = Number(process.env.API_BENCH_RUNS ?? 10);
const INTERVAL = 15_000;

const missing = referenceMissing();
if (missing) {
  console.log(`skipped: ${missing}`);
  process.exit(0);
}

const ENGINE_PATH = new URL('../src/promql/engine.ts', import.meta.url);
const haveEngine = existsSync(ENGINE_PATH);

const points = Math.round((HOURS * 3_600_000) / INTERVAL) + 1;
const end = Math.floor((Date.now() - 600_000) / 60_000) * 60_000;
const start = end - (points - 1) * INTERVAL;
const ds = serviceDataSet({ start, intervalMs: INTERVAL, points, instances: INSTANCES });
const seriesCount = ds.families.reduce((n, f) => n + f.series.length, 0);

console.log(`load before: ${execSync('uptime').toString().trim()}`);
console.log(`data: ${seriesCount} series x ${points} samples (${HOURS} h at 15 s) = ${(seriesCount * points).toLocaleString('en')} samples`);

let t = performance.now();
const storage = new MemoryStorage();
loadInto(() => storage.appender(), ds);
console.log(`patrol: loaded MemoryStorage in ${((performance.now() - t) / 1000).toFixed(1)} s`);

let engine: QueryEngine;
if (haveEngine) {
  const mod = (await import(ENGINE_PATH.href)) as { Engine: new (opts?: object) => QueryEngine };
  engine = new mod.Engine({});
} else {
  const none = async (): Promise<never> => {
    throw new QueryError('unavailable', 'no engine');
  };
  engine = { instantQuery: none, rangeQuery: none };
}
const app = Fastify();
registerPrometheusAPI(app, { queryable: storage, engine });
const port = await freePort();
await app.listen({ host: '127.0.0.1', port });
const patrol = `http://127.0.0.1:${port}`;

t = performance.now();
const prom = await startReferencePrometheus(ds, 300_000);
console.log(`prometheus ${prom.version}: backfilled and ready in ${((performance.now() - t) / 1000).toFixed(1)} s`);

// Off the sample grid by 7 s: range windows are left-open in Prometheus 3 and left-closed in the
// 2.x reference, which only matters when a sample sits exactly on a window's edge.
const s = (end - 3_600_000 - 7000) / 1000;
const e = (end - 7000) / 1000;
const range = (q: string) => `/api/v1/query_range?${new URLSearchParams({ query: q, start: String(s), end: String(e), step: '15' })}`;
const requests: { name: string; url: string; engine: boolean }[] = [
  { name: 'sum by (code) (rate)', url: range('sum by (code) (rate(http_requests_total[5m]))'), engine: true },
  {
    name: '5xx ratio by job',
    url: range('sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))'),
    engine: true,
  },
  { name: 'histogram_quantile(0.99)', url: range('histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))'), engine: true },
  { name: 'topk(5, by instance)', url: range('topk(5, sum by (instance) (rate(http_requests_total[5m])))'), engine: true },
  { name: 'avg_over_time(subquery)', url: range('avg_over_time(sum(rate(http_requests_total[5m]))[30m:1m])'), engine: true },
  { name: 'raw matrix (all up)', url: range('up'), engine: true },
  { name: 'series up', url: '/api/v1/series?match[]=up', engine: false },
  { name: 'series requests 5xx', url: `/api/v1/series?${new URLSearchParams({ 'match[]': 'http_requests_total{code="500"}' })}`, engine: false },
  { name: 'labels', url: '/api/v1/labels', engine: false },
  { name: 'label instance values', url: '/api/v1/label/instance/values', engine: false },
];

async function timed(url: string): Promise<{ ms: number; status: number; body: string }> {
  const t0 = performance.now();
  const r = await fetch(url);
  const body = await r.text();
  return { ms: performance.now() - t0, status: r.status, body };
}

function pct(xs: number[], p: number): number {
  const a = [...xs].sort((x, y) => x - y);
  return a[Math.min(a.length - 1, Math.floor(p * a.length))];
}

/** Patrol's own evaluation time of a query (stats=all), to show what the HTTP layer adds. */
function evalMs(body: string): number | null {
  const m = /"evalTotalTime":([0-9.e+-]+)/.exec(body);
  return m ? Number(m[1]) * 1000 : null;
}

/** 'yes' when equal, '~1e-9' when only float rounding differs, 'no' otherwise (stats ignored). */
function sameResult(a: string, b: string): string {
  const parse = (x: string) => {
    const j = JSON.parse(x) as { data?: { stats?: unknown } };
    if (j.data && typeof j.data === 'object') delete j.data.stats;
    return j;
  };
  const ja = parse(a);
  const jb = parse(b);
  if (JSON.stringify(ja) === JSON.stringify(jb)) return 'yes';
  const close = (x: unknown, y: unknown): boolean => {
    if (typeof x === 'string' && typeof y === 'string') {
      if (x === y) return true;
      const nx = Number(x);
      const ny = Number(y);
      return Number.isFinite(nx) && Number.isFinite(ny) && Math.abs(nx - ny) <= 1e-9 * Math.max(Math.abs(nx), Math.abs(ny));
    }
    if (Array.isArray(x) && Array.isArray(y)) return x.length === y.length && x.every((v, i) => close(v, y[i]));
    if (x && y && typeof x === 'object' && typeof y === 'object') {
      const kx = Object.keys(x);
      return kx.length === Object.keys(y).length && kx.every((k) => close((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]));
    }
    return x === y;
  };
  return close(ja, jb) ? '~1e-9' : 'no';
}

const rows: string[][] = [['request', 'patrol p50 ms', 'patrol p90', 'of which eval p50', 'prom p50 ms', 'prom p90', 'ratio p50', 'same result']];
for (const req of requests) {
  if (req.engine && !haveEngine) {
    rows.push([req.name, '-', '-', '-', '-', '-', 'skipped: no src/promql/engine.ts', '']);
    continue;
  }
  const pa: number[] = [];
  const pr: number[] = [];
  const pe: number[] = [];
  let same = '';
  for (let i = 0; i < RUNS + 2; i++) {
    const a = await timed(patrol + req.url + (req.engine ? '&stats=all' : ''));
    const b = await timed(prom.url + req.url);
    if (a.status !== 200 || b.status !== 200) {
      const why = a.status !== 200 ? `patrol ${a.status}: ${a.body.slice(0, 120)}` : `prometheus ${b.status}: ${b.body.slice(0, 120)}`;
      pa.length = 0;
      rows.push([req.name, '-', '-', '-', '-', '-', `failed: ${why}`, '']);
      break;
    }
    if (i === 0) same = sameResult(a.body, b.body);
    if (i >= 2) {
      pa.push(a.ms);
      pr.push(b.ms);
      const ev = evalMs(a.body);
      if (ev !== null) pe.push(ev);
    }
  }
  if (pa.length === 0) continue;
  const ratio = pct(pa, 0.5) / pct(pr, 0.5);
  rows.push([req.name, pct(pa, 0.5).toFixed(1), pct(pa, 0.9).toFixed(1), pe.length ? pct(pe, 0.5).toFixed(1) : '-', pct(pr, 0.5).toFixed(1), pct(pr, 0.9).toFixed(1), `${ratio.toFixed(2)}x`, same]);
}

const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
console.log(`load after: ${execSync('uptime').toString().trim()}`);

await app.close();
await prom.stop();
