import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { binaryPath, needBinary } from '../testing/shared.js';
import { parseRuleFile } from './parse.js';

const CLI = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('rule file parsing', () => {
  it('reads recording and alerting rules with their fields', () => {
    const r = parseRuleFile(
      [
        'groups:',
        '  - name: g',
        '    interval: 30s',
        '    rules:',
        '      - record: job:up:sum',
        '        expr: sum by (job) (up)',
        '        labels: {team: a}',
        '      - alert: Down',
        '        expr: up == 0',
        '        for: 5m',
        '        keep_firing_for: 1m',
        '        annotations: {summary: "{{ $labels.instance }} down"}',
      ].join('\n'),
      'r.yml',
    );
    assert.deepEqual(r.errors, []);
    assert.equal(r.groups.length, 1);
    const g = r.groups[0];
    assert.deepEqual([g.name, g.interval, g.rules.length], ['g', 30_000, 2]);
    assert.deepEqual([g.rules[0].record, g.rules[0].labels, g.rules[0].line], ['job:up:sum', { team: 'a' }, 5]);
    assert.deepEqual([g.rules[1].alert, g.rules[1].for, g.rules[1].keepFiringFor, g.rules[1].annotations.summary], ['Down', 300_000, 60_000, '{{ $labels.instance }} down']);
  });

  it('reports a bad expression at its file, line and column', () => {
    const text = 'groups:\n  - name: g\n    rules:\n      - record: a\n        expr: "sum(("\n';
    const r = parseRuleFile(text, 'r.yml');
    assert.equal(r.errors.length, 1);
    const e = r.errors[0];
    assert.equal(e.line, 5);
    assert.ok(e.column >= 15, `column ${e.column}`);
    assert.match(e.toString(), /^r\.yml:5:\d+: group "g", rule 1, "a": could not parse expression: 1:\d+: parse error: /);
  });

  it('reports a label or annotation template that does not parse, at its line', () => {
    const text = 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        labels: {sev: "{{ if }}"}\n        annotations:\n          summary: "{{ nosuch $value }}"\n          ok: "{{ humanize $value }}"\n';
    const msgs = parseRuleFile(text, 'r.yml').errors.map(String);
    assert.equal(msgs.length, 2, msgs.join('\n'));
    assert.match(msgs[0], /^r\.yml:6:\d+: group "g", rule 1, "A": label "sev": template: __alert_A:1: missing value for if$/);
    assert.match(msgs[1], /^r\.yml:8:\d+: group "g", rule 1, "A": annotation "summary": template: __alert_A:1: function "nosuch" not defined$/);
  });

  it('places errors inside block expressions on their own line', () => {
    const text = 'groups:\n  - name: g\n    rules:\n      - record: a\n        expr: |\n          sum(up)\n          + rate(x[5m]))\n';
    const [e] = parseRuleFile(text, 'r.yml').errors;
    assert.equal(e.line, 7, e.toString());
  });

  it('rejects unknown keys, duplicate groups, mixed and incomplete rules', () => {
    const text = [
      'groups:',
      '  - name: g',
      '    rulez: []',
      '  - name: g',
      '    rules:',
      '      - record: a',
      '        alert: b',
      '        expr: up',
      '      - expr: up',
      '      - record: c',
      '        expr: up',
      '        for: 1m',
      '        annotations: {a: b}',
      '      - alert: d',
      '        expr: up',
      '        for: often',
      '        severity: page',
      '      - alert: e',
    ].join('\n');
    const msgs = parseRuleFile(text, 'r.yml').errors.map(String);
    const expect = [
      /^r\.yml:3:5: field rulez not found in type rulefmt\.RuleGroup$/,
      /^r\.yml:4:5: groupname: "g" is repeated in the same file$/,
      /^r\.yml:6:\d+: group "g", rule 1, "a": only one of 'record' and 'alert' must be set$/,
      /^r\.yml:9:\d+: group "g", rule 2, "": one of 'record' or 'alert' must be set$/,
      /^r\.yml:12:\d+: group "g", rule 3, "c": invalid field 'for' in recording rule$/,
      /^r\.yml:13:\d+: group "g", rule 3, "c": invalid field 'annotations' in recording rule$/,
      /^r\.yml:16:\d+: for: not a valid duration string: "often"$/,
      /^r\.yml:17:\d+: field severity not found in type rulefmt\.RuleNode$/,
      /^r\.yml:18:\d+: group "g", rule 5, "e": field 'expr' must be set in rule$/,
    ];
    for (const re of expect) assert.ok(msgs.some((m) => re.test(m)), `no error like ${re} in:\n${msgs.join('\n')}`);
  });

  it('takes YAML anchors, aliases and merge keys as Prometheus does; bounds what aliases may expand to', () => {
    const text = [
      'groups:',
      '  - name: g',
      '    rules:',
      '      - alert: A',
      '        expr: up == 0',
      '        labels: &sev {severity: warning}',
      '        annotations: &ann {summary: down, runbook_url: /r}',
      '      - alert: B',
      '        expr: up == 1',
      '        labels: *sev',
      '        annotations:',
      '          <<: *ann',
      '          summary: up',
      '      - alert: C',
      '        expr: up == 2',
      '        annotations:',
      '          <<: [*ann, {description: d, summary: never}]',
    ].join('\n');
    const r = parseRuleFile(text, 'a.yml');
    assert.deepEqual(r.errors, []);
    const [a, b, c] = r.groups[0].rules;
    assert.deepEqual(a.labels, { severity: 'warning' });
    assert.deepEqual(b.labels, { severity: 'warning' });
    assert.deepEqual(b.annotations, { summary: 'up', runbook_url: '/r' });
    assert.deepEqual(c.annotations, { summary: 'down', runbook_url: '/r', description: 'd' });
    // Nine levels of nine aliases each would copy 9^9 nodes: refused, not expanded.
    const lines = ['x0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]'];
    for (let i = 1; i <= 9; i++) lines.push(`x${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
    const bomb = parseRuleFile(lines.join('\n') + '\ngroups: []\n', 'bomb.yml');
    assert.deepEqual(bomb.errors.map(String), ['bomb.yml:1:1: the YAML aliases expand to too many nodes']);
    assert.deepEqual(parseRuleFile('groups:\n  - name: g\n    labels: {<<: 1}\n    rules: []\n', 'm.yml').errors.map(String), ['m.yml:1:1: map merge requires map or sequence of maps as the value']);
  });

  it('takes an empty file and reports YAML errors with positions', () => {
    assert.deepEqual(parseRuleFile('', 'r.yml'), { groups: [], errors: [] });
    const [e] = parseRuleFile('groups:\n  - name: [\n', 'r.yml').errors;
    assert.match(e.toString(), /^r\.yml:\d+:\d+: /);
  });
});

describe('patrol check config with rule files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-rules-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('passes good rule files and counts them', async () => {
    writeFileSync(join(dir, 'good.rules.yml'), 'groups:\n  - name: g\n    rules:\n      - record: a\n        expr: sum(up)\n');
    writeFileSync(join(dir, 'ok.yml'), 'rule_files: ["*.rules.yml"]\n');
    const r = await runCli(['check', 'config', join(dir, 'ok.yml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rule files: 1 \(1 groups, 1 rules\)/);
  });

  it('fails with file:line for a bad expression', async () => {
    writeFileSync(join(dir, 'bad.yml'), 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: "sum(("\n');
    writeFileSync(join(dir, 'expr.yml'), 'rule_files: [bad.yml]\n');
    const r = await runCli(['check', 'config', join(dir, 'expr.yml')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${join(dir, 'bad.yml').replace(/[.]/g, '\\.')}:5:\\d+: group "g", rule 1, "A": could not parse expression`));
  });

  it('fails with file:line for a malformed glob', async () => {
    writeFileSync(join(dir, 'glob.yml'), 'global: {}\nrule_files:\n  - ok.rules.yml\n  - "[unclosed"\n');
    const r = await runCli(['check', 'config', join(dir, 'glob.yml')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /glob\.yml:4:5: rule_files: "\[unclosed" is not a valid file name pattern/);
  });
});

describe('patrol check rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-checkrules-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports like promtool check rules: Checking, SUCCESS with the rule count, FAILED with file:line, exit 1', { skip: needBinary('promtool') }, async () => {
    const good = join(dir, 'good.yml');
    const bad = join(dir, 'bad.yml');
    writeFileSync(good, 'groups:\n  - name: g\n    rules:\n      - record: a\n        expr: sum(up)\n      - alert: B\n        expr: up == 0\n        annotations: {s: "{{ $labels.job }}"}\n');
    writeFileSync(bad, 'groups:\n  - name: bad\n    rules:\n      - record: x\n        expr: sum(\n      - alert: A\n        expr: up\n        annotations: {s: "{{ nosuch }}"}\n');
    for (const files of [[good], [good, bad]]) {
      const p = await runCli(['check', 'rules', ...files]);
      const q = spawnSync(binaryPath('promtool'), ['check', 'rules', ...files], { encoding: 'utf8' });
      assert.equal(p.code, q.status, `${p.stdout}${p.stderr}`);
      assert.equal(p.stdout, q.stdout);
    }
    const p = await runCli(['check', 'rules', bad]);
    assert.match(p.stderr, /bad\.yml:5:\d+: group "bad", rule 1, "x": could not parse expression/);
    assert.match(p.stderr, /bad\.yml:8:\d+: group "bad", rule 2, "A": annotation "s": template: __alert_A:1: function "nosuch" not defined/);
  });

  it('names file:line and the problem for each kind of mistake, in promtool\'s words', { skip: needBinary('promtool') }, async () => {
    // [file, text, line Patrol names, the problem as promtool words it (null: YAML parser wording differs)]
    const cases: [string, string, number, string | null][] = [
      ['yamlerr.yml', 'groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n       labels: {a: b}\n', 6, null],
      ['expr.yml', 'groups:\n  - name: a\n    rules:\n      - record: job:up:sum\n        expr: sum(up\n', 5, 'group "a", rule 1, "job:up:sum": could not parse expression: 1:7: parse error: unclosed left parenthesis'],
      ['recname.yml', 'groups:\n  - name: a\n    rules:\n      - record: "job up"\n        expr: up\n', 4, 'group "a", rule 1, "job up": invalid recording rule name: job up'],
      ['dupgroup.yml', 'groups:\n  - name: a\n    rules: [{record: x, expr: up}]\n  - name: a\n    rules: [{record: y, expr: up}]\n', 4, 'groupname: "a" is repeated in the same file'],
      ['template.yml', 'groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up == 0\n        annotations:\n          summary: "{{ $labels.instance "\n', 7, 'group "a", rule 1, "X": annotation "summary": template: __alert_X:1: unclosed action'],
      ['unknown.yml', 'groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n        colour: blue\n', 6, 'field colour not found in type rulefmt.RuleNode'],
      ['label.yml', 'groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up == 0\n        labels: {"bad-name": x}\n', 6, 'group "a", rule 1, "X": invalid label name: bad-name'],
    ];
    const files = cases.map(([f, text]) => {
      writeFileSync(join(dir, f), text);
      return join(dir, f);
    });
    const p = await runCli(['check', 'rules', ...files]);
    const q = spawnSync(binaryPath('promtool'), ['check', 'rules', ...files], { encoding: 'utf8' });
    assert.equal(p.code, 1);
    assert.equal(q.status, 1);
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const [[f, , line, problem], full] of cases.map((c, i) => [c, files[i]] as const)) {
      const ours = p.stderr.split('\n').filter((l) => l.startsWith(`${full}:`));
      assert.ok(ours.length > 0, `${f}: no error named ${full}:\n${p.stderr}`);
      assert.match(ours[0], new RegExp(`^${esc(full)}:${line}:\\d+: `), `${f}: line ${line}`);
      if (problem === null) continue;
      assert.ok(ours.some((l) => l.endsWith(`: ${problem}`)), `${f}: Patrol says\n${ours.join('\n')}\nnot: ${problem}`);
      assert.ok(q.stdout.includes(problem) || q.stderr.includes(problem), `${f}: promtool words it differently:\n${q.stdout}${q.stderr}`);
    }
  });
});
