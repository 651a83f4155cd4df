// Side by side with Debian's Prometheus: the same data in both, the same requests to both, and
// the response bodies and status codes compared. Any difference fails, except the ones listed in
// KNOWN_DIFFERENCES: Debian ships Prometheus 2.42, Patrol follows 3.x semantics, and each listed
// request names the 3.x change that makes the answers differ.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { freePort, loadInto, referenceMissing, serviceDataSet, startReferencePrometheus, type ReferencePrometheus } from '../../test/prometheus-reference.js';
import { formatExpr } from '../promql/format.js';
import { parseExpr } from '../promql/parser.js';
import { Engine } from '../promql/engine.js';
import { MemoryStorage } from '../storage/memory.js';
import { registerPrometheusAPI } from './prometheus.js';

const missing = referenceMissing();

// Data ends a few minutes ago, so that both servers keep all of it and "now" is after it.
const INTERVAL = 15_000;
const POINTS = 241; // 1 h
const END = Math.floor((Date.now() - 600_000) / 60_000) * 60_000;
const START = END - (POINTS - 1) * INTERVAL;
const S = START / 1000;
const E = END / 1000;

/** Requests answered without the engine: label and series lookups, parameter errors. */
const LOOKUPS: string[] = [
  '/api/v1/labels',
  '/api/v1/labels?match[]=up',
  '/api/v1/labels?match[]=up&match[]=odd_values',
  `/api/v1/labels?start=${S}&end=${E}`,
  '/api/v1/label/__name__/values',
  '/api/v1/label/job/values',
  '/api/v1/label/k/values',
  '/api/v1/label/code/values?match[]=http_requests_total{job="job1"}',
  '/api/v1/label/nothing/values',
  '/api/v1/series?match[]=up',
  '/api/v1/series?match[]=odd_values',
  '/api/v1/series?match[]=http_requests_total{code="500"}&match[]=up{instance="host1:9100"}',
  '/api/v1/series?match[]={__name__=~"http_.*",instance="host0:9100",le=~"0.1|\\\\+Inf"}',
  '/api/v1/series?match[]={job!="job0",code=~"4.."}',
  `/api/v1/series?match[]=up&start=${S}&end=${E}`,
  `/api/v1/series?match[]=up&start=2000-01-01T00:00:00Z&end=2000-01-02T00:00:00Z`,
  '/api/v1/series?match[]=nothing_here',
  // Errors decided before any evaluation.
  '/api/v1/series',
  '/api/v1/series?match[]=up{',
  '/api/v1/series?match[]={}',
  '/api/v1/series?match[]={job=~".*"}',
  '/api/v1/series?match[]=up{job=}',
  '/api/v1/series?match[]=up&start=abc',
  '/api/v1/labels?end=yesterday',
  '/api/v1/query?query=1&time=abc',
  '/api/v1/query?query=1&timeout=x',
  '/api/v1/query_range?query=1&end=1&step=1',
  '/api/v1/query_range?query=1&start=1&end=2',
  '/api/v1/query_range?query=1&start=1&end=2&step=abc',
  '/api/v1/query_range?query=1&start=1&end=2&step=0',
  '/api/v1/query_range?query=1&start=10&end=2&step=1',
  '/api/v1/query_range?query=1&start=0&end=100000&step=1',
  '/api/v1/metadata?limit=x',
  '/api/v1/metadata',
  `/api/v1/query_exemplars?query=up&start=${S}&end=${E}`,
  '/api/v1/nonexistent',
  '/api/v1/format_query?query=sum(x)by(y)',
  '/api/v1/format_query?query=rate(http_requests_total{job="a"}[5m] offset 1m)',
];

/** Bad match[] selectors: the API's own selector parser must word its errors as Prometheus does. */
const BAD_SELECTORS = [
  'up{a}',
  'up{a=b}',
  'up{a="b"',
  'up)',
  '{a="b"',
  'up{,}',
  'up{a="b",,}',
  'up{a!"b"}',
  'sum(up)',
  'up[5m]',
  'up offset 5m',
  'up{a="b"} x',
  '1',
  'up{a="\\q"}',
  'up{1a="b"}',
  'up{a.b="c"}',
  'up}',
  'up]',
  'a-b',
  'up{a=~"b" c="d"}',
  'up{a~"b"}',
  '{',
];
LOOKUPS.push(...BAD_SELECTORS.map((m) => `/api/v1/series?match[]=${encodeURIComponent(m)}`));

/** Requests compared on status and error type only: the wording belongs to the parser in src/promql. */
const LOOKUPS_TYPE_ONLY: string[] = ['/api/v1/format_query?query=sum('];

/** Form-encoded POSTs, as Grafana sends them. */
const LOOKUP_FORMS: { url: string; form: string }[] = [
  { url: '/api/v1/series', form: 'match[]=up&match[]=odd_values' },
  { url: '/api/v1/labels', form: 'match[]=odd_values' },
  { url: '/api/v1/series?match[]=up', form: 'match[]=odd_values{k="tiny"}' },
];

/**
 * Requests that need the engine. `api` ones exercise this layer's encoding (result types, number
 * and timestamp formats, escaping, error mapping); `engine` ones exercise PromQL semantics. Both
 * must match Prometheus exactly unless listed in KNOWN_DIFFERENCES.
 */
const QUERIES: { url: string; form?: string; kind: 'api' | 'engine' }[] = [
  { url: '/api/v1/query', form: `query=1%2B1&time=${E}`, kind: 'api' },
  { url: `/api/v1/query?query=up&time=${E}`, kind: 'api' },
  { url: `/api/v1/query?query=odd_values&time=${E}`, kind: 'api' },
  { url: `/api/v1/query?query=http_requests_total{instance="host0:9100"}&time=${E - 0.5}`, kind: 'api' },
  { url: `/api/v1/query?query=1e-7&time=${E}`, kind: 'api' },
  { url: `/api/v1/query?query=-1.5e21&time=${E}`, kind: 'api' },
  { url: `/api/v1/query?query="a<b"&time=${E}`, kind: 'api' },
  // Off the sample grid: Prometheus 3 range selectors are left-open, 2.x ones left-closed, so a
  // sample exactly at t-1m would differ between the versions (not between Patrol and 3.x).
  { url: `/api/v1/query?query=http_requests_total{instance="host1:9100"}[1m]&time=${E - 7}`, kind: 'api' },
  { url: `/api/v1/query_range?query=odd_values&start=${S}&end=${S + 1}&step=0.25`, kind: 'api' },
  { url: `/api/v1/query_range?query=time()&start=${S}&end=${S + 120}&step=1m`, kind: 'api' },
  { url: `/api/v1/query_range?query=up{instance="host2:9100"}&start=${S - 60}&end=${S + 300}&step=45`, kind: 'api' },
  // Range windows off the sample grid too (left-open in 3.x, left-closed in 2.x).
  { url: `/api/v1/query?query=sum by (code) (rate(http_requests_total[5m]))&time=${E - 7}`, kind: 'engine' },
  { url: `/api/v1/query?query=count_values("v", odd_values)&time=${E}`, kind: 'engine' },
  { url: `/api/v1/query?query=rate(up)&time=${E}`, kind: 'engine' },
  { url: `/api/v1/query?query=sum(&time=${E}`, kind: 'engine' },
  { url: `/api/v1/query?query=up + on() group_left up&time=${E}`, kind: 'engine' },
  { url: `/api/v1/query_range?query=sum by (code) (rate(http_requests_total[5m]))&start=${S + 593}&end=${E - 7}&step=60`, kind: 'engine' },
  // Where Prometheus 3.x (Patrol) and 2.42 (Debian) disagree by design; see KNOWN_DIFFERENCES.
  { url: `/api/v1/query?query=-2^2&time=${E}`, kind: 'engine' },
  { url: `/api/v1/query?query={"service.name"="x"}&time=${E}`, kind: 'engine' },
  { url: `/api/v1/series?match[]={"service.name"="x"}`, kind: 'api' },
  {
    url: '/api/v1/query_range',
    form: `query=histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))&start=${S + 593}&end=${E - 7}&step=15`,
    kind: 'engine',
  },
];

/** How a request is named in KNOWN_DIFFERENCES and in failures. */
function requestKey(req: { url: string; form?: string }): string {
  return req.form === undefined ? req.url : `POST ${req.url} ${req.form}`;
}

/**
 * Requests whose answers differ because Debian's Prometheus is 2.42 and Patrol follows 3.x, each
 * with the 3.x change responsible. Anything else that differs fails the test, and so does an
 * entry here whose answers have become equal.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {
  [`/api/v1/query?query=-2^2&time=${E}`]: 'Prometheus 3 applies unary minus before ^, (-2)^2 = 4; 2.42 computes -(2^2) = -4',
  [`/api/v1/query?query={"service.name"="x"}&time=${E}`]: 'Prometheus 3 accepts quoted UTF-8 label names in selectors; 2.42 rejects them with 400',
  ['/api/v1/series?match[]={"service.name"="x"}']: 'Prometheus 3 accepts quoted UTF-8 label names in match[]; 2.42 rejects them with 400',
};

function encodeUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams();
  for (const part of url.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const raw = part.slice(eq + 1);
    // Values written already percent-encoded (BAD_SELECTORS) are decoded first.
    params.append(part.slice(0, eq), /%[0-9A-F]{2}/.test(raw) ? decodeURIComponent(raw) : raw);
  }
  return `${url.slice(0, q)}?${params.toString()}`;
}

async function call(base: string, req: { url: string; form?: string }): Promise<{ status: number; body: unknown }> {
  const init: RequestInit = req.form === undefined ? {} : { method: 'POST', body: new URLSearchParams(req.form), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
  const r = await fetch(base + encodeUrl(req.url), init);
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: r.status, body };
}

/**
 * Only what may differ: Prometheus 2.x has no info annotations, and the order of an instant
 * vector is unspecified (Prometheus answers count_values in hash-map order), so vectors are
 * compared sorted by their labels. No query here sorts (sort, topk), where order would matter.
 */
function normalise(body: unknown): unknown {
  if (!body || typeof body !== 'object') return body;
  const copy = { ...(body as Record<string, unknown>) };
  delete copy.infos;
  const data = copy.data as { resultType?: string; result?: { metric: unknown }[] } | undefined;
  if (data?.resultType === 'vector' && Array.isArray(data.result)) {
    const key = (x: { metric: unknown }) => JSON.stringify(Object.entries(x.metric as object).sort());
    copy.data = { ...data, result: [...data.result].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0)) };
  }
  return copy;
}

describe('side by side with Prometheus', { skip: missing }, () => {
  let prom: ReferencePrometheus;
  const app = Fastify();
  let patrol: string;

  before(async () => {
    const ds = serviceDataSet({ start: START, intervalMs: INTERVAL, points: POINTS, instances: 3 });
    const storage = new MemoryStorage();
    loadInto(() => storage.appender(), ds);
    const engine = new Engine({});
    registerPrometheusAPI(app, { queryable: storage, engine, format: (e) => formatExpr(parseExpr(e)) });
    const port = await freePort();
    await app.listen({ host: '127.0.0.1', port });
    patrol = `http://127.0.0.1:${port}`;
    prom = await startReferencePrometheus(ds);
  });

  after(async () => {
    await app.close();
    await prom?.stop();
  });

  it('answers label, series and parameter-error requests as Prometheus does', async () => {
    const diffs: string[] = [];
    const reqs = [...LOOKUPS.map((url) => ({ url, form: undefined as string | undefined })), ...LOOKUP_FORMS];
    for (const req of reqs) {
      const [a, b] = await Promise.all([call(prom.url, req), call(patrol, req)]);
      try {
        assert.equal(b.status, a.status, 'status');
        assert.deepEqual(normalise(b.body), normalise(a.body));
      } catch (e) {
        diffs.push(`${req.url} ${req.form ?? ''} (prometheus ${prom.version}):\n${(e as Error).message}`);
      }
    }
    for (const url of LOOKUPS_TYPE_ONLY) {
      const [a, b] = await Promise.all([call(prom.url, { url }), call(patrol, { url })]);
      const kind = (r: { status: number; body: unknown }) => [r.status, (r.body as { errorType?: string }).errorType];
      if (JSON.stringify(kind(a)) !== JSON.stringify(kind(b))) diffs.push(`${url}: ${JSON.stringify(kind(b))} instead of ${JSON.stringify(kind(a))}`);
    }
    assert.deepEqual(diffs, []);
  });

  it('answers queries as Prometheus does, except the known version differences', async (t) => {
    const diffs: string[] = [];
    for (const req of QUERIES) {
      const key = requestKey(req);
      const [a, b] = await Promise.all([call(prom.url, req), call(patrol, req)]);
      let differs = '';
      try {
        assert.equal(b.status, a.status, `status (patrol said ${JSON.stringify(b.body)})`);
        assert.deepEqual(normalise(b.body), normalise(a.body));
      } catch (e) {
        differs = `${key} (prometheus ${prom.version}):\n${(e as Error).message}`;
      }
      const known = KNOWN_DIFFERENCES[key];
      if (differs && known) t.diagnostic(`expected difference (${known}): ${key}`);
      else if (differs) diffs.push(differs);
      else if (known) diffs.push(`${key}: listed in KNOWN_DIFFERENCES (${known}) but both answer the same; remove it`);
    }
    // stats=all: the same fields (the timings themselves differ by nature).
    const keysOf = (r: { body: unknown }) => {
      const st = (r.body as { data: { stats: { timings: object; samples: object } } }).data.stats;
      return [Object.keys(st.timings), Object.keys(st.samples)];
    };
    for (const url of [`/api/v1/query?query=up&time=${E}&stats=all`, `/api/v1/query_range?query=up&start=${S}&end=${E}&step=60&stats=all`]) {
      const [a, b] = await Promise.all([call(prom.url, { url }), call(patrol, { url })]);
      try {
        assert.deepEqual(keysOf(b), keysOf(a));
      } catch (e) {
        diffs.push(`${url}: ${(e as Error).message}`);
      }
    }
    assert.deepEqual(diffs, []);
  });
});
