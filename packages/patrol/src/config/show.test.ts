import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultConfigText } from '../defaults.js';
import { parseConfig } from './load.js';
import { formatByteSize, showConfig } from './show.js';
import type { Config } from './schema.js';

const examples = new URL('../../../../examples/', import.meta.url);
const cli = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

function load(text: string, file = 'patrol.yml'): Config {
  const r = parseConfig(text, file);
  assert.ok(r.ok, r.ok ? '' : r.errors.map(String).join('\n'));
  return r.config;
}

/** The effective configuration as data: compares parsed conditions, matchers and secrets by their text. */
function effective(c: Config): unknown {
  return JSON.parse(JSON.stringify(c, (_k, v: unknown) => (v instanceof RegExp ? `/${v.source}/${v.flags}` : v)));
}

/** --show's text parses back to the same effective configuration, and showing that gives the same text. */
function roundTrip(text: string): string {
  const first = load(text);
  const shown = showConfig(first);
  const again = load(shown, 'shown.yml');
  assert.deepEqual(effective(again), effective(first), `--show output did not read back the same:\n${shown}`);
  assert.equal(showConfig(again), shown);
  return shown;
}

const representative = `
global:
  scrape_interval: 15s
  scrape_timeout: 5s
  external_labels: {region: eu}
  body_size_limit: 10MB
scrape_configs:
  - job_name: api
    scrape_interval: 1m30s
    static_configs: [{targets: ["127.0.0.1:9100"], labels: {env: prod}}]
    relabel_configs:
      - {source_labels: [__address__], regex: "(.*):.*", target_label: host, action: replace}
    metric_relabel_configs:
      - {action: drop, source_labels: [__name__], regex: "go_.*"}
    basic_auth: {username: u, password: secret-pass}
storage:
  retention: 30d
  retention_size: 512MB
  out_of_order_time_window: 10m
server:
  remote_write_receiver: {max_decoded_bytes: 64MB}
query:
  lookback_delta: 2m
probes:
  - name: web
    type: http
    target: https://example.com/health
    interval: 15s
    timeout: 2s500ms
    conditions:
      - "[STATUS] == 2xx"
      - "[RESPONSE_TIME] < 500ms"
      - "$.status == ok"
      - "[CERTIFICATE_EXPIRATION] > 30d"
    body_size_limit: 1MB
  - {name: db, type: tcp, target: "db:5432", interval: 1m}
  - {name: dns, type: dns, target: example.com, query_type: aaaa}
collectors:
  expvar:
    - {name: app, url: "http://127.0.0.1:6060/debug/vars", interval: 20s}
alerting:
  route:
    receiver: ops
    group_wait: 30s
    repeat_interval: 4h
    routes:
      - {receiver: pager, matchers: ['severity=~"crit|page"'], group_interval: 5m}
  receivers:
    - name: ops
      webhook_configs: [{url_file: /etc/patrol/hook-url, max_alerts: 5}]
    - name: pager
  inhibit_rules:
    - {source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: [service]}
`;

describe('check config --show prints YAML that reads back the same', () => {
  it('a representative configuration round-trips, with durations and sizes as written', () => {
    const shown = roundTrip(representative);
    for (const line of ['scrape_interval: 15s', 'scrape_interval: 1m30s', 'retention: 30d', 'retention_size: 512MB', 'max_decoded_bytes: 64MB', 'timeout: 2s500ms', 'lookback_delta: 2m', 'repeat_interval: 4h', 'body_size_limit: 1MB', 'interval: 20s', '- "[STATUS] == 2xx"', '- "[CERTIFICATE_EXPIRATION] > 30d"', '- severity=~"crit|page"']) {
      assert.ok(shown.includes(line), `missing ${JSON.stringify(line)} in:\n${shown}`);
    }
    // No milliseconds and no parsed objects.
    assert.doesNotMatch(shown, /(interval|timeout|retention|retention_size|_window|_delta|_bytes|body_size_limit): [1-9]\d*\n/, 'a duration or size printed as a bare number');
    assert.doesNotMatch(shown, /klass|statuses|operand/);
    assert.doesNotMatch(shown, /secret-pass/, 'a secret was printed');
    assert.match(shown, /password: <secret>/);
  });

  it('the shipped example round-trips', () => {
    const shown = roundTrip(readFileSync(new URL('patrol.yml', examples), 'utf8'));
    assert.match(shown, /scrape_interval: 15s/);
  });

  it('the built-in default configuration round-trips', () => {
    const shown = roundTrip(defaultConfigText('127.0.0.1:9310'));
    assert.match(shown, /interval: 15s/);
    assert.match(shown, /retention: 30d/);
  });

  it('jobs from scrape_config_files are inlined once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-show-'));
    try {
      writeFileSync(join(dir, 'jobs.yml'), 'scrape_configs:\n  - job_name: extra\n    static_configs: [{targets: ["a:1"]}]\n');
      const main = join(dir, 'patrol.yml');
      const r = parseConfig('scrape_config_files: [jobs.yml]\nscrape_configs:\n  - job_name: main\n', main);
      assert.ok(r.ok);
      const shown = showConfig(r.config);
      const back = parseConfig(shown, main);
      assert.ok(back.ok, back.ok ? '' : back.errors.map(String).join('\n'));
      assert.deepEqual(back.config.scrape_configs.map((s) => s.job_name), ['main', 'extra']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('secrets are masked (a masked webhook URL has to be filled in again to read back)', () => {
    const shown = showConfig(load('alerting:\n  route: {receiver: r}\n  receivers:\n    - name: r\n      webhook_configs: [{url: "https://hooks.example.com/T0KEN"}]\n'));
    assert.doesNotMatch(shown, /T0KEN|hooks\.example\.com/);
    assert.match(shown, /url: <secret>/);
  });

  it('sizes are printed in the largest unit that divides them', () => {
    assert.equal(formatByteSize(0), '0');
    assert.equal(formatByteSize(1536), '1536');
    assert.equal(formatByteSize(32 * 1024 * 1024), '32MB');
    assert.equal(formatByteSize(3 * 1024 ** 3), '3GB');
  });

  it('patrol check config --show prints it after the summary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-show-'));
    try {
      const file = join(dir, 'patrol.yml');
      writeFileSync(file, representative);
      const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', cli, 'check', 'config', file, '--show'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.on('close', (code) => {
          clearTimeout(kill);
          resolve({ code, stdout });
        });
      });
      assert.equal(out.code, 0);
      const yaml = out.stdout.split('\n---\n')[1];
      assert.ok(yaml, out.stdout);
      assert.match(out.stdout, /storage: retention 30d/);
      assert.deepEqual(effective(load(yaml)), effective(load(representative)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
