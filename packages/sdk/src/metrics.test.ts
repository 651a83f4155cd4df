import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { HttpMetrics, MAX_SERIES, httpMetrics } from './metrics.js';

describe('HttpMetrics', () => {
  it('registers the runtime metrics of prom-client once per registry', async () => {
    const registry = new Registry();
    const a = httpMetrics({ registry });
    assert.equal(httpMetrics({ registry }), a, 'a second middleware shares the metrics');
    const text = await registry.metrics();
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds', 'process_cpu_seconds_total']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
    }
  });

  it('folds unknown methods into OTHER and empty routes into the unmatched label', async () => {
    const registry = new Registry();
    const m = new HttpMetrics({ registry, defaultMetrics: false, unmatchedRoute: '(none)' });
    m.start('BREW', 0).end('/pot', 418, 0);
    m.start('GET', 0).end(undefined, 404, 9);
    const t = m.start('GET', 0);
    t.end('/x', 200, 1);
    t.end('/x', 200, 1);
    const text = await registry.metrics();
    assert.match(text, /^http_requests_total\{method="OTHER",route="\/pot",code="418"\} 1$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="\(none\)",code="404"\} 1$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="\/x",code="200"\} 1$/m, 'a timer records once');
    assert.match(text, /^http_requests_in_flight 0$/m);
  });

  it("uses the names and labels Patrol's http rule pack reads", async () => {
    const pack = readFileSync(new URL('../../patrol/packs/http.rules.yml', import.meta.url), 'utf8');
    const registry = new Registry();
    const m = new HttpMetrics({ registry, defaultMetrics: false });
    m.start('GET', 0).end('/a', 503, 0);
    const text = await registry.metrics();
    // The pack's canonical spelling: http_requests_total{code} and the seconds histogram.
    assert.match(pack, /rate\(http_requests_total\{code!=""\}\[5m\]\)/);
    assert.match(pack, /rate\(http_request_duration_seconds_bucket\[5m\]\)/);
    assert.match(text, /^http_requests_total\{[^}]*code="503"[^}]*\} 1$/m);
    assert.match(text, /^http_request_duration_seconds_bucket\{le="0\.5",/m, 'a bucket at the pack\'s default P99 threshold');
  });

  it('exposes its series through the registry like prom-client metrics: text, JSON, reset, OpenMetrics', async () => {
    const registry = new Registry();
    const m = new HttpMetrics({ registry, defaultMetrics: false, durationBuckets: [0.1, 1] });
    for (let i = 0; i < 4; i++) m.begin();
    m.finish('GET', '/a', 200, 0.05, 10, 300);
    m.finish('GET', '/a', '200', 0.5, 0, undefined);
    m.finish('GET', '/a', ' 200', 2, 0, 5);
    const text = await registry.metrics();
    assert.match(text, /^# TYPE http_requests_total counter$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="\/a",code="200"\} 2$/m, 'a number and its string are one series');
    assert.match(text, /^http_requests_total\{method="GET",route="\/a",code=" 200"\} 1$/m);
    assert.match(text, /^# TYPE http_request_duration_seconds histogram$/m);
    assert.match(text, /^http_request_duration_seconds_bucket\{le="0\.1",method="GET",route="\/a"\} 1$/m);
    assert.match(text, /^http_request_duration_seconds_bucket\{le="1",method="GET",route="\/a"\} 2$/m);
    assert.match(text, /^http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/a"\} 3$/m);
    assert.match(text, /^http_request_duration_seconds_sum\{method="GET",route="\/a"\} 2\.55$/m);
    assert.match(text, /^http_request_size_bytes_count\{method="GET",route="\/a"\} 3$/m);
    assert.match(text, /^http_response_size_bytes_count\{method="GET",route="\/a"\} 2$/m, 'a response of unknown size is not observed');
    assert.match(text, /^http_response_size_bytes_sum\{method="GET",route="\/a"\} 305$/m);
    assert.match(text, /^http_requests_in_flight 1$/m);
    const json = await registry.getMetricsAsJSON();
    const total = json.find((x) => x.name === 'http_requests_total');
    assert.equal(total?.values.length, 2);
    registry.resetMetrics();
    const after = await registry.metrics();
    assert.doesNotMatch(after, /^http_requests_total\{/m);
    assert.doesNotMatch(after, /^http_request_duration_seconds_count\{/m);
    const om = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
    om.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    new HttpMetrics({ registry: om as unknown as Registry, defaultMetrics: false }).finish('GET', '/b', 200, 0.01, 0, 0);
    assert.match(await om.metrics(), /^http_requests_total\{method="GET",route="\/b",code="200"\} 1$/m);
  });

  it(`keeps at most ${MAX_SERIES} method/route pairs, counting further routes as unmatched`, async () => {
    const registry = new Registry();
    const m = new HttpMetrics({ registry, defaultMetrics: false });
    for (let i = 0; i < MAX_SERIES + 500; i++) m.start('GET', 0).end(`/raw/${i}`, 200, 0);
    const counter = registry.getSingleMetric('http_requests_total');
    assert.ok(counter);
    const values = (await counter.get()).values;
    assert.equal(values.length, MAX_SERIES + 1);
    assert.equal(values.find((v) => v.labels.route === 'unmatched')?.value, 500);
    assert.match(await registry.metrics(), /^http_requests_in_flight 0$/m);
  });
});
