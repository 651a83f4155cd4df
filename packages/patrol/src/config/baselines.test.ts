import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from './load.js';

function errors(text: string): string[] {
  const r = parseConfig(text, 'patrol.yml');
  assert.ok(!r.ok, 'expected the configuration to be rejected');
  return r.errors.map(String);
}

describe('baselines: section', () => {
  it('fills in the defaults', () => {
    const r = parseConfig('baselines:\n  - name: qps\n    expr: sum by (service) (rate(http_requests_total[5m]))\n', 'patrol.yml');
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    const [b] = r.config.baselines;
    assert.deepEqual(
      { ...b },
      { name: 'qps', expr: 'sum by (service) (rate(http_requests_total[5m]))', window: 3600_000, seasonality: 'daily', band: 3, min_deviation: 0, direction: 'both', for: 300_000, severity: 'warning', labels: {}, alert: 'BaselineAnomaly', format: 'number' },
    );
    assert.deepEqual(parseConfig('{}', 'patrol.yml').ok && parseConfig('{}').ok, true);
  });

  it('takes every key', () => {
    const r = parseConfig(
      `baselines:
  - {name: p99, expr: 'histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))', window: 30m, seasonality: weekly, seasons: 4, band: 2.5,
     min_deviation: 0.05, direction: above, for: 15m, interval: 30s, severity: critical, labels: {team: pay}, alert: SlowCheckout, format: seconds}
`,
      'patrol.yml',
    );
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    const b = r.config.baselines[0];
    assert.equal(b.seasons, 4);
    assert.equal(b.window, 30 * 60_000);
    assert.equal(b.interval, 30_000);
    assert.equal(b.direction, 'above');
  });

  it('takes the expression as text (rules/baseline.ts parses it)', () => {
    assert.match(errors('baselines:\n  - name: a\n    expr: ""\n')[0], /^patrol\.yml:3:11: baselines\[0\]\.expr: must not be empty$/);
    assert.match(errors('baselines:\n  - name: a\n')[0], /^patrol\.yml:2:5: baselines\[0\]\.expr: missing required key `expr`$/);
  });

  it('rejects bad values with messages that quote them', () => {
    const errs = errors(`baselines:
  - name: api
    expr: up
    seasonality: hourly
    band: 0
    direction: sideways
    for: soon
  - name: api
    expr: up
  - name: 9lives
    expr: up
    seasonality: none
    seasons: 3
    labels: {baseline: x, severity: page}
  - name: w
    expr: up
    window: 1d
    interval: 1m
  - name: tiny
    expr: up
    window: 1m
    interval: 1m
    min_deviation: -1
    ttl: 3
`);
    const want = [
      /^patrol\.yml:4:18: baselines\[0\]\.seasonality: "hourly" is not one of "none", "daily", "weekly"$/,
      /^patrol\.yml:5:11: baselines\[0\]\.band: band must be a number greater than 0, got 0/,
      /^patrol\.yml:6:16: baselines\[0\]\.direction: "sideways" is not one of "above", "below", "both"$/,
      /^patrol\.yml:7:10: baselines\[0\]\.for: "soon" is not a duration/,
      /^patrol\.yml:8:11: baselines\[1\]\.name: baseline name "api" is used twice \(first at patrol\.yml:2:11\)$/,
      /^patrol\.yml:10:11: baselines\[2\]\.name: "9lives" is not a baseline name/,
      /^patrol\.yml:13:14: baselines\[2\]\.seasons: seasons has no meaning with seasonality none/,
      /^patrol\.yml:14:24: baselines\[2\]\.labels\.baseline: the label "baseline" is set by Patrol/,
      /^patrol\.yml:14:37: baselines\[2\]\.labels\.severity: set the severity with the `severity` key/,
      /^patrol\.yml:17:13: baselines\[3\]\.window: window 1d must be shorter than the day of seasonality daily$/,
      /^patrol\.yml:21:13: baselines\[4\]\.window: window 1m must hold at least two evaluations \(interval 1m\)$/,
      /^patrol\.yml:23:20: baselines\[4\]\.min_deviation: -1 is too small \(must be at least 0\)$/,
      /^patrol\.yml:24:5: baselines\[4\]\.ttl: unknown key "ttl"/,
    ];
    assert.equal(errs.length, want.length, errs.join('\n'));
    want.forEach((re, i) => assert.match(errs[i], re));
  });
});
