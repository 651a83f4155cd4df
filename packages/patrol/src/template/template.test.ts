// The template engine: Go text/template behaviour, Prometheus's functions, and a side-by-side
// check where promtool (Prometheus 2.42) must agree with every annotation Patrol expands.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { binaryPath, needBinary } from '../testing/shared.js';
import { formatFloat, sprintf } from './gofmt.js';
import { AlertTemplateExpander, humanize, humanizeDuration } from './prometheus.js';
import { Template, TemplateError } from './template.js';

const run = (text: string, data: unknown = {}) => new Template('main', text).execute(data);

describe('Go formatting', () => {
  it('prints floats as Go does', () => {
    const cases: [number, string][] = [[1, '1'], [0.1, '0.1'], [100000, '100000'], [1e6, '1e+06'], [1234567.891, '1.234567891e+06'], [0.0001, '0.0001'], [0.00001, '1e-05'], [-2.5, '-2.5'], [NaN, 'NaN'], [Infinity, '+Inf'], [-Infinity, '-Inf']];
    for (const [v, s] of cases) assert.equal(formatFloat(v), s, String(v));
  });
  it('printf verbs', () => {
    assert.equal(sprintf('%.2f|%5.1f|%-4s|%d|%q|%x|%v|%t', [3.14159, 2.25, 'ab', 42n, 'a"b', 255n, 1.5, true]), '3.14|  2.2|ab  |42|"a\\"b"|ff|1.5|true');
    assert.equal(sprintf('%d %s', [1.5]), '%!d(float64=1.5) %!s(MISSING)');
    assert.equal(sprintf('%.4g|%.4g|%.4g|%e', [1234567, 100, 0.5, 123456.789]), '1.235e+06|100|0.5|1.234568e+05');
  });
});

describe('text/template', () => {
  it('actions, variables, control flow, trim markers and comments', async () => {
    assert.equal(await run('{{ $x := 1 }}{{ $x = 2 }}{{ $x }}'), '2');
    assert.equal(await run('a {{- /* c */ -}} b {{- " c " -}} d'), 'ab c d');
    assert.equal(await run('{{ if gt .V 1.0 }}big{{ else if gt .V 0.5 }}mid{{ else }}small{{ end }}', { V: 0.7 }), 'mid');
    assert.equal(await run('{{ range $i, $v := .L }}{{ $i }}={{ $v }};{{ else }}none{{ end }}', { L: ['a', 'b'] }), '0=a;1=b;');
    assert.equal(await run('{{ range .L }}x{{ else }}none{{ end }}', { L: [] }), 'none');
    assert.equal(await run('{{ range $k, $v := .M }}{{ $k }}:{{ $v }} {{ end }}', { M: { b: '2', a: '1' } }), 'a:1 b:2 ');
    assert.equal(await run('{{ with .M.a }}[{{ . }}]{{ end }}{{ with .M.z }}no{{ else }}empty{{ end }}', { M: { a: 'x' } }), '[x]empty');
    assert.equal(await run('{{ .M.missing }}', { M: {} }), '<no value>');
    assert.equal(await run('{{ define "t" }}T{{ . }}{{ end }}{{ template "t" 5 }}'), 'T5');
    assert.equal(await run('{{ range .L }}{{ if eq . 2 }}{{ break }}{{ end }}{{ . }}{{ end }}', { L: [1n, 2n, 3n] }), '1');
    assert.equal(await run('{{ len .L }} {{ index .M "a" }} {{ and 1 0 }} {{ or "" "z" }} {{ not true }} {{ print 1 2 "a" 3 }}', { L: [1, 2], M: { a: 'A' } }), '2 A 0 z false 1 2a3');
    assert.equal(await run('{{ html "<a&b>" }} {{ urlquery "a b&c" }} {{ "x" | printf "%s-%s" "y" }}'), '&lt;a&amp;b&gt; a+b%26c y-x');
  });
  it('reports parse and execution errors with the template name', async () => {
    assert.throws(() => new Template('n', '{{ nosuch 1 }}'), (e: Error) => e instanceof TemplateError && e.message === 'template: n:1: function "nosuch" not defined');
    assert.throws(() => new Template('n', '{{ if 1 }}'), /template: n:1: unexpected EOF/);
    assert.throws(() => new Template('n', 'a\n{{ $x }}'), /template: n:2: undefined variable "\$x"/);
    await assert.rejects(new Template('n', '{{ index .L 5 }}').execute({ L: [] }), /error calling index: index out of range: 5/);
  });
  it('trims before {{- by scanning back once (an unanchored pattern retried every inner run of spaces)', async () => {
    const spaces = ' '.repeat(100_000);
    assert.equal(await run(`a${spaces}b${spaces} \n\t{{- 1 }}`), `a${spaces}b1`);
    assert.equal(await run(`${spaces}{{- 1 }}`), '1');
  });
  it('stops a runaway template instead of stalling', async () => {
    await assert.rejects(new Template('n', '{{ range .L }}{{ range $.L }}{{ range $.L }}xxxxxxxxxx{{ end }}{{ end }}{{ end }}').execute({ L: Array.from({ length: 200 }, () => 1n) }), /too many steps|output longer/);
  });
});

describe('Prometheus functions', () => {
  it('humanize family', () => {
    assert.equal(humanize(1234567), '1.235M');
    assert.equal(humanize(0.000123), '123u');
    assert.equal(humanizeDuration(90061), '1d 1h 1m 1s');
    assert.equal(humanizeDuration(0.0123), '12.3ms');
  });
  it('externalURL and pathPrefix come from the data', async () => {
    const x = new AlertTemplateExpander();
    assert.equal(await x.expand('__alert_A', '{{ externalURL }} {{ pathPrefix }} {{ $externalLabels.dc }}', { labels: {}, externalLabels: { dc: 'eu' }, externalURL: 'https://p.example/patrol/', value: 1 }, 0), 'https://p.example/patrol/ /patrol eu');
  });
});

// Annotation templates expanded by Patrol; promtool must accept Patrol's outputs as expected values.
const TEMPLATES: Record<string, string> = {
  value: '{{ $value }}',
  labels: '{{ $labels.instance }} {{ $labels.missing }} {{ len $labels }} {{ index $labels "job" }}',
  humanize: '{{ humanize $value }} {{ humanize 0.000123 }} {{ humanize 0 }} {{ humanize1024 1048576.0 }} {{ humanize1024 1000.0 }}',
  durations: '{{ humanizeDuration 90061 }}|{{ humanizeDuration 0.0123 }}|{{ humanizeDuration -75.5 }}|{{ humanizeDuration 42.123456 }}',
  pct: '{{ humanizePercentage 0.1234 }} {{ humanizeTimestamp 1700000000.123 }} {{ humanizeTimestamp 1700000000 }}',
  printf: '{{ printf "%.2f" $value }}|{{ printf "%d" 3 }}|{{ printf "%s-%v" "a" 1.5 }}|{{ printf "%5.1f|%-6s|" 3.14159 "ab" }}|{{ printf "%q %x %e %g %v" "a\\"b" 255 123456.789 1e21 true }}|{{ printf "%d" 1.5 }}',
  strings: '{{ title "hello world-foo bar_baz" }} {{ toUpper "abc" }} {{ toLower "ABC" }} {{ safeHtml "<b>" }}',
  regex: '{{ reReplaceAll "(.*):(\\\\d+)" "$1" $labels.instance }} {{ reReplaceAll "(?P<h>[a-z]+)-(\\\\d)" "${h}_$2x${2}" "host-1 web-2" }} {{ match "^host" $labels.instance }} {{ match "^x" "y" }}',
  control: '{{ if gt $value 1000.0 }}big{{ else }}small{{ end }} {{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}',
  query: '{{ with query "m" }}{{ . | first | value | humanize }}{{ end }} {{ range query "sort_desc(m or vector(7))" }}[{{ .Labels.job }} {{ .Value }}]{{ end }} {{ query "m" | first | label "job" }}',
  builtins: '{{ eq $labels.job "api" "x" }} {{ and 1 0 }} {{ or "" "z" }} {{ not true }} {{ print 1 2 "a" 3 }} {{ html "<a&b>" }} {{ js "it\'s <x>" }} {{ urlquery "a b&c" }} {{ 1e6 }} {{ 0x10 }} {{ \'a\' }} {{ args 1 "b" }}',
  trim: 'a {{- /* comment */ -}} b {{- " c " -}} d {{ $x := 1 }}{{ $x = 2 }}{{ $x }} {{ define "t" }}T{{ . }}{{ end }}{{ template "t" 5 }}',
  errors: '{{ query "m" | len }} {{ with query "nothing" }}{{ . | first }}{{ else }}none{{ end }}',
};

describe('templates side by side with promtool (Prometheus 2.42)', { skip: needBinary('promtool') }, () => {
  it('promtool expands every annotation to the text Patrol expands', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-tmpl-'));
    try {
      const labels = { __name__: 'm', instance: 'host-1.example.com:9100', job: 'api', path: '/v1/users' };
      const value = 1234567.891;
      const query = async (expr: string) => {
        if (expr === 'm') return [{ labels, value }];
        if (expr.startsWith('sort_desc')) return [{ labels: {}, value: 7 }, { labels, value }].sort((a, b) => b.value - a.value);
        return [];
      };
      const x = new AlertTemplateExpander(query);
      const expected: Record<string, string> = {};
      for (const [k, t] of Object.entries(TEMPLATES)) expected[k] = await x.expand('__alert_T', t, { labels, externalLabels: {}, externalURL: '', value }, 300_000);
      writeFileSync(join(dir, 'rules.yml'), stringify({ groups: [{ name: 'g', rules: [{ alert: 'T', expr: 'm > 0', annotations: TEMPLATES }] }] }));
      writeFileSync(join(dir, 'test.yml'), stringify({
        rule_files: ['rules.yml'],
        evaluation_interval: '1m',
        tests: [{
          interval: '1m',
          input_series: [{ series: 'm{instance="host-1.example.com:9100",job="api",path="/v1/users"}', values: `${value}x10` }],
          alert_rule_test: [{ eval_time: '5m', alertname: 'T', exp_alerts: [{ exp_labels: { instance: labels.instance, job: 'api', path: '/v1/users' }, exp_annotations: expected }] }],
        }],
      }));
      const r = spawnSync(binaryPath('promtool'), ['test', 'rules', join(dir, 'test.yml')], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `promtool disagrees:\n${r.stdout}\n${r.stderr}\npatrol: ${JSON.stringify(expected, null, 1)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
