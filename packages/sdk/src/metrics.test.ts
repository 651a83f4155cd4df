import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { HttpMetrics, httpMetrics } from './metrics.js';

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
});
