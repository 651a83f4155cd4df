import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { formatLabels } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN } from '../model/value.js';
import { MemoryStorage } from '../storage/memory.js';
import { DEFAULT_ACCEPT, ScrapeClient } from './client.js';
import { ScrapeLoop, withTargetLabels } from './loop.js';
import { compileRelabel } from './relabel.js';
import { populateLabels, Target } from './target.js';
import { config, read, serve, type TestServer } from './testutil.js';

function last(storage: MemoryStorage, name: string, ...more: Matcher[]): number | undefined {
  const s = read(storage, name, ...more);
  if (s.length === 0) return undefined;
  return s[0].values[s[0].values.length - 1];
}

/** A loop for one target of a one-job config, driven by hand with scrapeAndReport(). */
function makeLoop(storage: MemoryStorage, url: string, extra = '', address?: string, timeout = '2s'): { loop: ScrapeLoop; target: Target; client: ScrapeClient } {
  const u = new URL(url);
  const cfg = config(`scrape_configs:\n  - job_name: t\n    scrape_interval: 15s\n    scrape_timeout: ${timeout}\n    metrics_path: ${u.pathname}\n    static_configs: [{targets: ['${address ?? u.host}']}]\n${extra}`);
  const sc = cfg.scrape_configs[0];
  const r = populateLabels({ __address__: address ?? u.host, ...(sc.static_configs[0].labels ?? {}) }, sc, compileRelabel(sc.relabel_configs));
  assert.ok(r.labels, r.error);
  const target = new Target(r.discovered, r.labels, sc);
  const client = new ScrapeClient(sc, '/');
  const loop = new ScrapeLoop(target, client, { honorLabels: sc.honor_labels, honorTimestamps: sc.honor_timestamps, trackTimestampsStaleness: sc.track_timestamps_staleness, sampleLimit: sc.sample_limit, labelLimit: sc.label_limit, labelNameLengthLimit: sc.label_name_length_limit, labelValueLengthLimit: sc.label_value_length_limit, metricRelabel: compileRelabel(sc.metric_relabel_configs) }, storage);
  return { loop, target, client };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('scrape loop', () => {
  let server: TestServer;
  let handler: Handler = (_q, r) => r.end();
  let lastReq: IncomingMessage | null = null;

  before(async () => {
    server = await serve((req, res) => {
      lastReq = req;
      handler(req, res);
    });
  });
  after(async () => {
    await server.close();
  });

  const text = (body: string, ct = 'text/plain; version=0.0.4'): Handler => (_q, r) => {
    r.setHeader('content-type', ct);
    r.end(body);
  };

  it('stores samples with target labels, the report series, and metadata', async () => {
    const storage = new MemoryStorage();
    handler = text('# HELP reqs_total Requests.\n# TYPE reqs_total counter\nreqs_total{code="200"} 5\nreqs_total{code="500",job="app"} 1\ntemp 21.5\n');
    const { loop, target, client } = makeLoop(storage, `${server.url}/metrics`);
    const out = await loop.scrapeAndReport(1_000_000);
    assert.equal(out.error, '');
    assert.equal(lastReq?.headers.accept, DEFAULT_ACCEPT);
    assert.equal(lastReq?.headers['accept-encoding'], 'gzip');
    assert.equal(lastReq?.headers['x-prometheus-scrape-timeout-seconds'], '2');
    const reqs = read(storage, 'reqs_total');
    assert.deepEqual(
      reqs.map((s) => s.labels),
      [
        { __name__: 'reqs_total', code: '200', instance: `127.0.0.1:${server.port}`, job: 't' },
        { __name__: 'reqs_total', code: '500', exported_job: 'app', instance: `127.0.0.1:${server.port}`, job: 't' },
      ],
    );
    assert.deepEqual(reqs[0].ts, [1_000_000]);
    assert.equal(last(storage, 'up'), 1);
    assert.equal(last(storage, 'scrape_samples_scraped'), 3);
    assert.equal(last(storage, 'scrape_samples_post_metric_relabeling'), 3);
    assert.equal(last(storage, 'scrape_series_added'), 3);
    assert.ok(last(storage, 'scrape_duration_seconds')! >= 0);
    assert.equal(target.health, 'up');
    assert.deepEqual(loop.metadata.get('reqs_total'), { type: 'counter', help: 'Requests.', unit: '' });
    // Second scrape: same series, nothing added.
    await loop.scrapeAndReport(1_015_000);
    assert.equal(last(storage, 'scrape_series_added'), 0);
    assert.deepEqual(read(storage, 'temp')[0].values, [21.5, 21.5]);
    await client.close();
  });

  it('writes staleness markers for series that disappear, and for all when the scrape fails', async () => {
    const storage = new MemoryStorage();
    handler = text('a 1\nb 2\n');
    const { loop, target, client } = makeLoop(storage, `${server.url}/metrics`);
    await loop.scrapeAndReport(1000);
    handler = text('a 3\n');
    await loop.scrapeAndReport(2000);
    const b = read(storage, 'b')[0];
    assert.deepEqual(b.ts, [1000, 2000]);
    assert.ok(isStaleNaN(b.values[1]), 'b is stale at the second scrape');
    handler = (_q, r) => {
      r.statusCode = 503;
      r.end('down');
    };
    const out = await loop.scrapeAndReport(3000);
    assert.equal(out.error, 'server returned HTTP status 503 Service Unavailable');
    assert.equal(target.lastError, out.error);
    assert.equal(target.health, 'down');
    const a = read(storage, 'a')[0];
    assert.deepEqual(a.ts, [1000, 2000, 3000]);
    assert.ok(isStaleNaN(a.values[2]));
    assert.equal(last(storage, 'up'), 0);
    assert.equal(last(storage, 'scrape_samples_scraped'), 0);
    // Recovery, then the target goes away: everything it wrote goes stale, report series too.
    handler = text('a 4\n');
    await loop.scrapeAndReport(4000);
    assert.equal(last(storage, 'a'), 4);
    await loop.stop(true);
    assert.ok(isStaleNaN(last(storage, 'a')!));
    assert.ok(isStaleNaN(last(storage, 'up')!));
    await client.close();
  });

  it('stores each value under its own series when the exposition order changes between scrapes', async () => {
    const storage = new MemoryStorage();
    handler = text('m{k="a"} 1\nm{k="b"} 2\nm{k="c"} 3\n');
    const { loop, client } = makeLoop(storage, `${server.url}/metrics`);
    await loop.scrapeAndReport(1000);
    handler = text('m{k="c"} 30\nm{k="new"} 40\nm{k="a"} 10\nm{k="b"} 20\n');
    const out = await loop.scrapeAndReport(2000);
    assert.equal(out.seriesAdded, 1);
    handler = text('m{k="b"} 200\nm{k="a"} 100\n');
    await loop.scrapeAndReport(3000);
    const got = Object.fromEntries(read(storage, 'm').map((s) => [s.labels.k, s.values.map((v) => (isStaleNaN(v) ? 'stale' : v))]));
    assert.deepEqual(got, { a: [1, 10, 100], b: [2, 20, 200], c: [3, 30, 'stale'], new: [40, 'stale'] });
    await client.close();
  });

  it('honor_labels keeps the exposed labels; metric_relabel_configs drop and rewrite series', async () => {
    const storage = new MemoryStorage();
    handler = text('x{job="app",instance="i-1"} 1\ndebug_thing 1\ny 2\n');
    const { loop, client } = makeLoop(storage, `${server.url}/metrics`, `    honor_labels: true\n    metric_relabel_configs:\n      - {source_labels: [__name__], regex: 'debug_.*', action: drop}\n      - {source_labels: [__name__], regex: 'y', target_label: __name__, replacement: renamed_y}\n`);
    const out = await loop.scrapeAndReport(1000);
    assert.equal(out.error, '');
    assert.deepEqual(read(storage, 'x')[0].labels, { __name__: 'x', instance: 'i-1', job: 'app' });
    assert.equal(read(storage, 'debug_thing').length, 0);
    assert.equal(last(storage, 'renamed_y'), 2);
    assert.equal(last(storage, 'scrape_samples_scraped'), 3);
    assert.equal(last(storage, 'scrape_samples_post_metric_relabeling'), 2);
    await client.close();
  });

  it('marks series with exposed timestamps stale only with track_timestamps_staleness', async () => {
    for (const track of [false, true]) {
      const storage = new MemoryStorage();
      handler = text('with_ts 1 5000\nplain 2\n');
      const { loop, client } = makeLoop(storage, `${server.url}/metrics`, track ? '    track_timestamps_staleness: true\n' : '');
      await loop.scrapeAndReport(9000);
      handler = text('other 3\n');
      await loop.scrapeAndReport(24000);
      assert.ok(isStaleNaN(last(storage, 'plain')!), 'a series without its own timestamp always goes stale');
      const withTs = read(storage, 'with_ts')[0];
      assert.deepEqual(withTs.ts, track ? [5000, 24000] : [5000], `track_timestamps_staleness: ${track}`);
      await client.close();
    }
  });

  it('honours exposed timestamps unless honor_timestamps is false', async () => {
    const storage = new MemoryStorage();
    handler = text('ts_metric 7 5000\n');
    const a = makeLoop(storage, `${server.url}/metrics`);
    await a.loop.scrapeAndReport(9000);
    assert.deepEqual(read(storage, 'ts_metric')[0].ts, [5000]);
    const storage2 = new MemoryStorage();
    const b = makeLoop(storage2, `${server.url}/metrics`, '    honor_timestamps: false\n');
    await b.loop.scrapeAndReport(9000);
    assert.deepEqual(read(storage2, 'ts_metric')[0].ts, [9000]);
    await a.client.close();
    await b.client.close();
  });

  it('sends params, basic auth, authorization; reads gzip and OpenMetrics', async () => {
    const storage = new MemoryStorage();
    handler = (req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      res.setHeader('content-type', 'application/openmetrics-text; version=1.0.0; charset=utf-8');
      res.setHeader('content-encoding', 'gzip');
      res.end(gzipSync(`# TYPE echo gauge\necho{module="${u.searchParams.get('module')}",auth="${req.headers.authorization}"} 1\n# EOF\n`));
    };
    const a = makeLoop(storage, `${server.url}/probe`, `    params: {module: [http_2xx]}\n    basic_auth: {username: u, password: p}\n`);
    assert.equal(a.target.scrapeUrl, `${server.url}/probe?module=http_2xx`);
    assert.equal((await a.loop.scrapeAndReport(1000)).error, '');
    assert.equal(read(storage, 'echo')[0].labels.auth, 'Basic ' + Buffer.from('u:p').toString('base64'));
    assert.equal(read(storage, 'echo')[0].labels.module, 'http_2xx');
    const storage2 = new MemoryStorage();
    const b = makeLoop(storage2, `${server.url}/probe`, `    authorization: {credentials: s3cret}\n    params: {module: [a]}\n    relabel_configs: [{target_label: __param_module, replacement: b}]\n`);
    assert.equal((await b.loop.scrapeAndReport(1000)).error, '');
    assert.deepEqual(read(storage2, 'echo')[0].labels.auth, 'Bearer s3cret');
    assert.deepEqual(read(storage2, 'echo')[0].labels.module, 'b');
    await a.client.close();
    await b.client.close();
  });
});

describe('bad input fails the scrape with a reason, up=0, previous series stale, nothing half-written', () => {
  let server: TestServer;
  let good: TestServer;
  const routes = new Map<string, Handler>();

  before(async () => {
    server = await serve((req, res) => {
      const h = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
      if (h) h(req, res);
      else {
        res.setHeader('content-type', 'text/plain');
        res.end('prev_a 1\nprev_b{x="1"} 2\n');
      }
    });
    good = await serve((_q, r) => r.end('other_target 1\n'));
  });
  after(async () => {
    await server.close();
    await good.close();
  });

  const plain = (body: string | Buffer): Handler => (_q, r) => {
    r.setHeader('content-type', 'text/plain; version=0.0.4');
    r.end(body);
  };

  // `timeout`: the cases that move megabytes get more than 2 s, so a loaded machine does not turn
  // their reason into a timeout.
  const cases: { name: string; handler: Handler; reason: RegExp; extra?: string; timeout?: string }[] = [
    { name: 'timeout', handler: () => undefined, reason: /scrape timed out after 2s/ },
    {
      name: 'close early',
      handler: (_q, r) => {
        r.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
        r.write('bad_1 1\nbad_2 2\n');
        setTimeout(() => r.socket?.destroy(), 20);
      },
      reason: /Get "http:\/\/127\.0\.0\.1:\d+\/close-early".*(terminated|closed|aborted)/i,
    },
    {
      name: 'html',
      handler: (_q, r) => {
        r.setHeader('content-type', 'text/html; charset=utf-8');
        r.end('<!doctype html>\n<html><body>Login</body></html>\n');
      },
      reason: /received text\/html instead of an exposition format: line 1: expected a metric name or comment, got "<!doctype html>"/,
    },
    {
      name: 'huge body',
      handler: (_q, r) => {
        r.setHeader('content-type', 'text/plain');
        // An endless body: the limit, not the end of the stream, must stop the read.
        const chunk = Buffer.from('bad_series{x="yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"} 1\n'.repeat(1000));
        const pump = (): void => {
          while (!r.destroyed && r.write(chunk));
          if (!r.destroyed) r.once('drain', pump);
        };
        pump();
      },
      reason: /body size limit exceeded: more than 1048576 bytes \(body_size_limit\)/,
      extra: '    body_size_limit: 1MB\n',
      timeout: '10s',
    },
    { name: '10 MB line', handler: plain('bad_ok 1\nbad_long{v="' + 'x'.repeat(10 * 1024 * 1024) + '"} 1\n'), reason: /line 2: line is 10485776 bytes long \(at most 1048576\)/, timeout: '10s' },
    { name: 'invalid utf-8', handler: plain(Buffer.concat([Buffer.from('bad_ok 1\nbad_x{v="'), Buffer.from([0xff, 0xfe]), Buffer.from('"} 1\n')])), reason: /line 2: invalid UTF-8 at byte offset 18/ },
    { name: 'histogram without +Inf', handler: plain('# TYPE bad_h histogram\nbad_h_bucket{le="0.1"} 1\nbad_h_bucket{le="1"} 2\nbad_h_sum 1\nbad_h_count 2\n'), reason: /line 2: histogram bad_h has no bucket with le="\+Inf"/ },
    { name: 'sample_limit exceeded', handler: plain('bad_1 1\nbad_2 1\nbad_3 1\n'), reason: /sample_limit exceeded: more than 2 samples after metric relabelling/, extra: '    sample_limit: 2\n' },
    { name: 'label_limit exceeded', handler: plain('bad_1{a="1",b="2",c="3"} 1\n'), reason: /label_limit exceeded: bad_1\{.*\} has 6 labels, limit 5/, extra: '    label_limit: 5\n' },
    { name: 'status 500', handler: (_q, r) => ((r.statusCode = 500), r.end()), reason: /^server returned HTTP status 500 Internal Server Error$/ },
    { name: 'bad gzip', handler: (_q, r) => (r.setHeader('content-encoding', 'gzip'), r.end('not gzip at all')), reason: /invalid gzip body/ },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const path = '/' + c.name.replace(/\W+/g, '-');
      const storage = new MemoryStorage();
      const { loop, target, client } = makeLoop(storage, `${server.url}${path}`, c.extra ?? '', undefined, c.timeout);
      const other = makeLoop(storage, `${good.url}/metrics`);
      routes.delete(path);
      assert.equal((await loop.scrapeAndReport(1000)).error, '', 'first scrape is good');
      await other.loop.scrapeAndReport(1000);
      routes.set(path, c.handler);
      const out = await loop.scrapeAndReport(2000);
      await other.loop.scrapeAndReport(2000);
      assert.equal(out.ok, false);
      assert.match(out.error, c.reason);
      assert.equal(target.lastError, out.error);
      assert.equal(target.health, 'down');
      const up = read(storage, 'up', new Matcher('=', 'instance', target.url.host));
      assert.deepEqual(up[0].values, [1, 0]);
      for (const n of ['prev_a', 'prev_b']) {
        const s = read(storage, n)[0];
        assert.deepEqual(s.ts, [1000, 2000], `${n} has its sample and a staleness marker`);
        assert.ok(isStaleNaN(s.values[1]), `${n} is stale`);
      }
      const q = storage.querier(-Infinity, Infinity);
      const half = q.labelValues('__name__').filter((n) => n.startsWith('bad_'));
      assert.deepEqual(half, [], 'nothing of the failed scrape was written');
      assert.deepEqual(read(storage, 'other_target')[0].values, [1, 1], 'the other target is unaffected');
      assert.deepEqual(read(storage, 'up', new Matcher('=', 'instance', other.target.url.host))[0].values, [1, 1]);
      await loop.stop(false);
      await client.close();
      await other.client.close();
    });
  }
});

describe('withTargetLabels', () => {
  it('renames clashing labels to exported_*, repeatedly if needed', () => {
    const series = [
      { name: '__name__', value: 'm' },
      { name: 'exported_job', value: 'x' },
      { name: 'job', value: 'app' },
    ];
    const out = withTargetLabels(series, [{ name: 'job', value: 't' }], false);
    assert.equal(formatLabels(out), 'm{exported_exported_job="app", exported_job="x", job="t"}');
    assert.equal(formatLabels(withTargetLabels(series, [{ name: 'job', value: 't' }], true)), 'm{exported_job="x", job="app"}');
  });
});
