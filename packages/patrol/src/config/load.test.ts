import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { parseDuration, formatDuration } from '../model/duration.js';
import { parseConfig } from './load.js';
import { Secret } from './secret.js';

const examples = new URL('../../../../examples/', import.meta.url);

/** Parses `text` and returns the error strings, failing the test if it parsed. */
function errorsOf(text: string): string[] {
  const r = parseConfig(text, 'patrol.yml');
  assert.equal(r.ok, false, 'expected the config to be rejected');
  return r.ok ? [] : r.errors.map(String);
}

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : by + l))
    .join('\n');
}

describe('durations', () => {
  it('parses Prometheus durations', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('2w'), 14 * 86_400_000);
    assert.equal(parseDuration('1y'), 365 * 86_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('0'), 0);
  });
  it('rejects what Prometheus rejects', () => {
    for (const bad of ['', '15', '1.5s', '5m1h', 's', '-5m', '1 h', '1hh']) assert.equal(parseDuration(bad), null, bad);
  });
  it('formats like Prometheus', () => {
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(14 * 86_400_000), '2w');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(1500), '1s500ms');
  });
});

describe('bad configuration files name file, line, column and key', () => {
  const cases: [string, string, RegExp][] = [
    ['wrong type', 'global:\n  scrape_interval: 15\n', /^patrol\.yml:2:20: global\.scrape_interval: 15 is not a duration/],
    ['bad duration string', 'scrape_configs:\n  - job_name: a\n    scrape_interval: "15 seconds"\n', /^patrol\.yml:3:22: scrape_configs\[0\]\.scrape_interval: "15 seconds" is not a duration/],
    ['unknown top-level key', 'globals:\n  scrape_interval: 15s\n', /^patrol\.yml:1:1: globals: unknown key "globals"/],
    ['unknown nested key', 'scrape_configs:\n  - job_name: a\n    static_config: []\n', /^patrol\.yml:3:5: scrape_configs\[0\]\.static_config: unknown key "static_config"/],
    ['string where a list is expected', 'rule_files: rules.yml\n', /^patrol\.yml:1:13: rule_files: expected array, got "rules\.yml"/],
    ['bad matcher', 'alerting:\n  route:\n    receiver: r\n    routes:\n      - matchers: ["severity=~[crit"]\n  receivers: [{name: r}]\n', /^patrol\.yml:5:20: alerting\.route\.routes\[0\]\.matchers\[0\]: invalid regular expression "\[crit"/],
    ['matcher without operator', 'alerting:\n  route:\n    receiver: r\n    routes:\n      - matchers: ["severity"]\n  receivers: [{name: r}]\n', /alerting\.route\.routes\[0\]\.matchers\[0\]: bad matcher "severity"/],
    ['duplicate job names', 'scrape_configs:\n  - job_name: api\n  - job_name: web\n  - job_name: api\n', /^patrol\.yml:4:15: scrape_configs\[2\]\.job_name: found multiple scrape configs with job name "api"/],
    ['missing receiver referenced by a route', 'alerting:\n  route:\n    receiver: ops\n    routes:\n      - receiver: pager\n  receivers:\n    - name: ops\n', /^patrol\.yml:5:19: alerting\.route\.routes\[0\]\.receiver: undefined receiver "pager" used in route/],
    ['root route without receiver', 'alerting:\n  route:\n    group_by: [alertname]\n  receivers: [{name: x}]\n', /alerting\.route: root route must specify a default receiver/],
    ['bad relabel action', 'scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: rename\n', /^patrol\.yml:4:17: scrape_configs\[0\]\.relabel_configs\[0\]\.action: "rename" is not one of/],
    ['bad regex in relabel', 'scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - regex: "(unclosed"\n        action: keep\n        source_labels: [x]\n', /relabel_configs\[0\]\.regex: invalid regular expression "\(unclosed"/],
    ['missing required key', 'scrape_configs:\n  - scrape_interval: 5s\n', /^patrol\.yml:2:5: scrape_configs\[0\]\.job_name: missing required key `job_name`$/],
    ['timeout above interval', 'scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n', /scrape_configs\[0\]\.scrape_timeout: scrape_timeout 10s is greater than scrape_interval 5s/],
    ['bad label name', 'global:\n  external_labels:\n    "bad-name": x\n', /^patrol\.yml:3:5: global\.external_labels\.bad-name: invalid key: "bad-name" is not a valid label name/],
    ['YAML syntax error', 'global:\n  scrape_interval: [15s\n', /^patrol\.yml:\d+:\d+: /],
    ['duplicate YAML key', 'global:\n  scrape_interval: 15s\n  scrape_interval: 30s\n', /^patrol\.yml:3:3: Map keys must be unique/],
    ['undefined time interval', 'alerting:\n  route:\n    receiver: r\n    mute_time_intervals: [weekend]\n  receivers: [{name: r}]\n', /alerting\.route\.mute_time_intervals\[0\]: undefined time interval "weekend"/],
    ['duplicate probe names', 'probes:\n  - {name: a, type: http, target: "http://x"}\n  - {name: a, type: tcp, target: "x:1"}\n', /^patrol\.yml:3:12: probes\[1\]\.name: probe name "a" is used twice/],
    ['missing env var in a secret', 'alerting:\n  route: {receiver: r}\n  receivers:\n    - name: r\n      webhook_configs: [{url: "${PATROL_TEST_UNSET_VAR}"}]\n', /webhook_configs\[0\]\.url: environment variable \$\{PATROL_TEST_UNSET_VAR\} is not set/],
    ['missing secret key says which key', 'alerting:\n  route: {receiver: r}\n  receivers:\n    - name: r\n      dingtalk_configs: [{}]\n', /alerting\.receivers\[0\]\.dingtalk_configs\[0\]\.url: exactly one of url or url_file is required$/],
    ['unknown key close to a known one', 'alerting:\n  route: {receiver: r}\n  receivers:\n    - name: r\n      dingtalk_configs: [{webhook_url: "https://oapi.dingtalk.com/robot/send"}]\n', /dingtalk_configs\[0\]\.webhook_url: unknown key "webhook_url" \(did you mean `url`\?\)/],
    ['typo in a key', 'scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n', /scrape_configs\[0\]\.scrape_intervall: unknown key "scrape_intervall" \(did you mean `scrape_interval`\?\)$/],
    ['typo in a probe key', 'probes:\n  - {name: a, type: http, target: "http://x", methd: POST}\n', /probes\[0\]\.methd: unknown key "methd" \(did you mean `method`\?\)$/],
    ['explicit probe timeout above its interval names both values', 'probes:\n  - {name: a, type: http, target: "http://x", interval: 5s, timeout: 10s}\n', /probes\[0\]\.timeout: timeout 10s is greater than interval 5s$/],
    ['explicit expvar timeout above its interval', 'collectors:\n  expvar:\n    - {name: e, url: "http://127.0.0.1:1/debug/vars", interval: 2s, timeout: 3s}\n', /collectors\.expvar\[0\]\.timeout: timeout 3s is greater than interval 2s$/],
    ['http probe target without a scheme', 'probes:\n  - {name: a, type: http, target: "example.com/health"}\n', /^patrol\.yml:2:35: probes\[0\]\.target: "example\.com\/health" has no scheme \(write "http:\/\/example\.com\/health" or "https:\/\/example\.com\/health"\)$/],
    ['host:port as an http probe target', 'probes:\n  - {name: a, type: http, target: "localhost:8080"}\n', /probes\[0\]\.target: "localhost:8080" has no scheme/],
    ['duplicate collector names', 'collectors:\n  scripts:\n    - {name: s, command: /bin/true}\n    - {name: s, command: /bin/true}\n', /^patrol\.yml:4:14: collectors\.scripts\[1\]\.name: collector name "s" is used twice \(first at patrol\.yml:3:14\)$/],
    ['top level is a list', '- a\n- b\n', /^patrol\.yml:1:1: the configuration must be a mapping/],
  ];
  for (const [name, text, want] of cases) {
    it(name, () => {
      const errs = errorsOf(text);
      assert.ok(errs.some((e) => want.test(e)), `no error matched ${want}; got:\n${errs.join('\n')}`);
    });
  }

  it('reports every independent error at once', () => {
    const errs = errorsOf('global:\n  scrape_interval: 1x\n  evaluation_interval: 2y3\nstorage:\n  retention: forever\n  colour: blue\n');
    assert.equal(errs.length, 4, errs.join('\n'));
    assert.deepEqual(
      errs.map((e) => e.split(': ')[0]),
      ['patrol.yml:2:20', 'patrol.yml:3:24', 'patrol.yml:5:14', 'patrol.yml:6:3'],
    );
  });

  it('reports schema and semantic errors together in one pass, ordered by line', () => {
    // Five schema errors, and a duplicate job_name, a duplicate probe name and a probe target
    // without a scheme, each in a part with a schema error of its own or next to one.
    const text = [
      'global:',
      '  scrape_interval: 15',                               // 2 schema: bare number
      'scrape_configs:',
      '  - job_name: api',
      '    scrape_intervall: 5s',                            // 5 schema: unknown key
      '    static_configs: [{targets: ["a:1"]}]',
      '  - job_name: api',                                   // 7 semantic: duplicate job
      '    metrics_path: 5',                                 // 8 schema: not a string
      'probes:',
      '  - {name: web, type: http, target: "example.com", interval: soon}', // 10 schema + semantic (target)
      '  - {name: web, type: tcp, target: "db:5432", failure_threshold: 0}', // 11 schema + semantic (duplicate name)
      'storage:',
      '  retention: forever',                                // 13 schema
      '',
    ].join('\n');
    const errs = errorsOf(text);
    const want: [string, RegExp][] = [
      ['patrol.yml:2:20', /global\.scrape_interval: 15 is not a duration/],
      ['patrol.yml:5:5', /unknown key "scrape_intervall"/],
      ['patrol.yml:7:15', /scrape_configs\[1\]\.job_name: found multiple scrape configs with job name "api" \(first at patrol\.yml:4:15\)/],
      ['patrol.yml:8:19', /scrape_configs\[1\]\.metrics_path: expected string/],
      ['patrol.yml:10:37', /probes\[0\]\.target: "example\.com" has no scheme/],
      ['patrol.yml:10:62', /probes\[0\]\.interval: "soon" is not a duration/],
      ['patrol.yml:11:12', /probes\[1\]\.name: probe name "web" is used twice \(first at patrol\.yml:10:12\)/],
      ['patrol.yml:11:66', /probes\[1\]\.failure_threshold: 0 is too small \(must be at least 1\)/],
      ['patrol.yml:13:14', /storage\.retention: "forever" is not a duration/],
    ];
    assert.equal(errs.length, want.length, errs.join('\n'));
    want.forEach(([at, re], i) => {
      assert.ok(errs[i].startsWith(`${at}: `) && re.test(errs[i]), `error ${i}: expected ${at} ${re}, got ${errs[i]}\nall:\n${errs.join('\n')}`);
    });
  });

  it('a semantic check does not repeat a key that has a schema error', () => {
    const errs = errorsOf('probes:\n  - {name: a, type: http, target: "ftp://x", timeout: 1x}\n  - {name: a, type: http, target: "ftp://x"}\n');
    assert.equal(errs.filter((e) => e.includes('probes[1].target')).length, 1, errs.join('\n'));
    assert.equal(errs.filter((e) => e.includes('probes[0].target')).length, 1, errs.join('\n'));
  });
});

describe('existing Prometheus and Alertmanager files', () => {
  it('accepts an unmodified prometheus.yml', () => {
    const text = readFileSync(new URL('compat/prometheus.yml', examples), 'utf8');
    const r = parseConfig(text, 'prometheus.yml');
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    assert.equal(r.config.scrape_configs.length, 5);
    assert.equal(r.config.scrape_configs[1].scrape_interval, 30_000);
    // A job without its own interval inherits the global one.
    assert.equal(r.config.scrape_configs[0].scrape_interval, 15_000);
    assert.deepEqual(r.config.rule_files, ['rules/*.yml', 'alerts.yml']);
    assert.ok(r.warnings.some((w) => w.includes('kubernetes_sd_configs')));
  });

  it('accepts an unmodified alertmanager.yml placed under alerting:', () => {
    const am = readFileSync(new URL('compat/alertmanager.yml', examples), 'utf8');
    const text = `global:\n  scrape_interval: 15s\nalerting:\n${indent(am, '  ')}`;
    const r = parseConfig(text, 'patrol.yml');
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    const route = r.config.alerting.route!;
    assert.equal(route.receiver, 'team-ops');
    assert.equal(route.routes.length, 3);
    assert.equal(route.routes[1].routes[0].matchers[0].toString(), 'severity=~"warning|info"');
    assert.equal(r.config.alerting.receivers.length, 5);
    assert.equal(r.config.alerting.time_intervals[0].name, 'offhours');
  });

  it('accepts both files merged into one', () => {
    const prom = readFileSync(new URL('compat/prometheus.yml', examples), 'utf8');
    const am = readFileSync(new URL('compat/alertmanager.yml', examples), 'utf8');
    // prometheus.yml already has an `alerting:` section; Alertmanager's keys join it.
    const merged = prom.replace('alerting:\n', `alerting:\n${indent(am, '  ')}\n`);
    const r = parseConfig(merged, 'patrol.yml');
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    assert.equal(r.config.alerting.alertmanagers.length, 1);
    assert.equal(r.config.alerting.route?.receiver, 'team-ops');
  });

  it('accepts the shipped example', () => {
    const r = parseConfig(readFileSync(new URL('patrol.yml', examples), 'utf8'), 'patrol.yml');
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  });
});

describe('secrets', () => {
  it('never show their value, however they are printed', () => {
    const s = new Secret('hunter2');
    assert.equal(String(s), '<secret>');
    assert.equal(`${s}`, '<secret>');
    assert.equal(JSON.stringify({ s }), '{"s":"<secret>"}');
    assert.equal(inspect({ s }), "{ s: '<secret>' }".replace("'<secret>'", '<secret>'));
    assert.equal(s.reveal(), 'hunter2');
  });

  it('are expanded from the environment', () => {
    process.env.PATROL_TEST_TOKEN = 'tok-123';
    const r = parseConfig('alerting:\n  route: {receiver: r}\n  receivers:\n    - name: r\n      webhook_configs: [{url: "https://hook.example/${PATROL_TEST_TOKEN}"}]\n');
    assert.ok(r.ok);
    const url = r.config.alerting.receivers[0].webhook_configs![0].url!;
    assert.equal(url.reveal(), 'https://hook.example/tok-123');
    assert.ok(!JSON.stringify(r.config).includes('tok-123'));
  });

  it('mask passwords in a parsed prometheus.yml', () => {
    const r = parseConfig(readFileSync(new URL('compat/prometheus.yml', examples), 'utf8'));
    assert.ok(r.ok);
    const json = JSON.stringify(r.config);
    assert.ok(!json.includes('s3cr3t-scrape-password'));
    assert.ok(json.includes('<secret>'));
  });
});

describe('a pasted standalone file', () => {
  it('alertmanager.yml gets one hint to nest it under alerting:, not an unknown key per section', () => {
    const am = 'global:\n  resolve_timeout: 5m\nroute:\n  receiver: ops\n  group_by: [alertname]\nreceivers:\n  - name: ops\n    webhook_configs: [{url: "https://hook.example/x"}]\ninhibit_rules: []\n';
    const errors = errorsOf(am);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /^patrol\.yml:1:1: this looks like an alertmanager\.yml \(top-level route, receivers, inhibit_rules\): nest it under `alerting:` in patrol\.yml/);
    // Nested as the hint says, the same text is a valid patrol.yml.
    const nested = 'alerting:\n' + am.replace(/^global:\n {2}resolve_timeout: 5m\n/, '').replace(/^/gm, '  ');
    assert.ok(parseConfig(nested, 'patrol.yml').ok);
  });

  it('a prometheus.yml is accepted as it is', () => {
    const r = parseConfig('global:\n  scrape_interval: 15s\nrule_files: []\nscrape_configs:\n  - job_name: node\n    static_configs: [{targets: ["localhost:9100"]}]\n', 'prometheus.yml');
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  });
});

describe('default timeouts fit the interval they go with', () => {
  it('a probe, an expvar collector and a scrape job with a short interval and no timeout are accepted, the timeout capped at the interval', () => {
    const r = parseConfig(
      'scrape_configs:\n  - job_name: fast\n    scrape_interval: 5s\n    static_configs: [{targets: ["127.0.0.1:1"]}]\n' +
        'probes:\n  - {name: p, type: http, target: "http://127.0.0.1:1/", interval: 5s}\n  - {name: q, type: tcp, target: "127.0.0.1:1", interval: 1m}\n' +
        'collectors:\n  expvar:\n    - {name: e, url: "http://127.0.0.1:1/debug/vars", interval: 2s}\n',
      'patrol.yml',
    );
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    assert.equal(r.config.scrape_configs[0].scrape_timeout, 5_000);
    assert.equal(r.config.probes[0].timeout, 5_000);
    assert.equal(r.config.probes[1].timeout, 10_000);
    assert.equal(r.config.collectors.expvar[0].timeout, 2_000);
  });
});

describe('sections validated but not acted on yet', () => {
  it('are reported as warnings, and absent sections are not', () => {
    const r = parseConfig(
      'rule_files: []\nscrape_configs:\n  - job_name: a\n    static_configs: [{targets: ["127.0.0.1:1"]}]\n',
      'patrol.yml',
    );
    assert.ok(r.ok);
    assert.deepEqual(r.warnings, []);
    const w = parseConfig(
      'rule_files: ["rules/*.yml"]\nremote_write:\n  - url: "http://127.0.0.1:1/api/v1/write"\nalerting:\n  route: {receiver: r}\n  receivers: [{name: r}]\n  templates: [a.tmpl]\n',
      'patrol.yml',
    );
    assert.ok(w.ok, w.ok ? '' : w.errors.join('\n'));
    assert.equal(w.warnings.length, 1, w.warnings.join('\n'));
    assert.doesNotMatch(w.warnings.join('\n'), /rule_files/, 'rule files are evaluated');
    assert.doesNotMatch(w.warnings.join('\n'), /alerting/, 'templates and time intervals drive the dispatcher');
    assert.match(w.warnings.join('\n'), /remote_write: validated but not acted on yet/);
  });
});

describe('everything the README says is not acted on yet gets a warning', () => {
  // A minimal valid configuration using each section the README can name.
  const samples: Record<string, string> = {
    remote_write: 'remote_write: [{url: "http://127.0.0.1:1/api/v1/write"}]\n',
    remote_read: 'remote_read: [{url: "http://127.0.0.1:1/api/v1/read"}]\n',
    tracing: 'tracing: {endpoint: "127.0.0.1:4317"}\n',
    query_log_file: 'global: {query_log_file: q.log}\n',
    native_histogram_bucket_limit: 'scrape_configs:\n  - {job_name: a, native_histogram_bucket_limit: 100}\n',
  };
  const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8');
  // The rows of the configuration table that say "not acted on yet", by their section names.
  const rows = readme.split('\n').filter((l) => l.startsWith('| `') && /not acted on yet/.test(l));
  const named = rows.flatMap((l) => [...l.split(' | ')[0].matchAll(/`([a-z_]+)`/g)].map((m) => m[1]));

  it('the README names sections that are not acted on yet', () => {
    assert.ok(named.includes('remote_write'), `found: ${named.join(', ')}`);
  });
  for (const name of [...new Set([...named, ...Object.keys(samples)])]) {
    it(name, () => {
      const text = samples[name];
      assert.ok(text, `the README says ${name} is not acted on yet: add a sample here and a warning in NOT_ACTED_ON`);
      const r = parseConfig(text, 'patrol.yml');
      assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
      assert.ok(r.warnings.some((w) => w.includes(name)), `no warning names ${name}: ${r.warnings.join('\n')}`);
    });
  }
});
