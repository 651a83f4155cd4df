// Dynamic baselines as rules: the generated rule file is valid for Patrol and for promtool (side
// by side), the promtool-format unit test in testdata/baselines fires on an anomaly and stays
// quiet on normal seasonal data under both `patrol test rules` and `promtool test rules`, and a
// running Patrol serves the generated groups in /api/v1/rules.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../config/load.js';
import type { BaselineConfig } from '../config/baselines.js';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { binaryPath, needBinary } from '../testing/shared.js';
import { BASELINE_RULE_FILE, baselineExprErrorsAt, baselineRuleFileText, baselineRuleGroups } from './baseline.js';
import { parseRuleFile } from './parse.js';
import { testRuleFiles } from './unittest.js';

const TESTDATA = fileURLToPath(new URL('./testdata/baselines/', import.meta.url));
const CLI = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const promtool = needBinary('promtool');

function baselines(text: string): { list: BaselineConfig[]; interval: number } {
  const r = parseConfig(text, 'patrol.yml');
  assert.ok(r.ok, r.ok ? '' : r.errors.map(String).join('\n'));
  return { list: r.config.baselines, interval: r.config.global.evaluation_interval };
}

/** One baseline of every seasonality and direction, with and without the optional keys. */
const EVERY_KIND = `global: {evaluation_interval: 30s}
baselines:
  - {name: qps, expr: 'sum by (service) (rate(http_requests_total[5m]))', seasonality: daily, direction: below}
  - {name: p99, expr: 'histogram_quantile(0.99, sum by (le, service) (rate(h_bucket[5m])))', seasonality: weekly, window: 2h, band: 2.5, direction: above,
     min_deviation: 0.02, format: seconds, for: 15m, interval: 1m, severity: critical, labels: {team: "pay \\"core\\""}, alert: SlowService}
  - {name: errors, expr: 'sum by (service) (rate(errors_total[5m])) / sum by (service) (rate(requests_total[5m]))', seasonality: none, window: 30m, format: percent}
  - {name: heap, expr: 'go_memstats_heap_inuse_bytes', seasonality: daily, seasons: 7, format: bytes}
`;

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('baseline rule generation', () => {
  it('makes one group per baseline with the recording rules, the band and the alert', () => {
    const { list, interval } = baselines(EVERY_KIND);
    const groups = baselineRuleGroups(list, interval);
    assert.deepEqual(groups.map((g) => [g.file, g.name, g.interval]), [
      [BASELINE_RULE_FILE, 'baseline:qps', 30_000],
      [BASELINE_RULE_FILE, 'baseline:p99', 60_000],
      [BASELINE_RULE_FILE, 'baseline:errors', 30_000],
      [BASELINE_RULE_FILE, 'baseline:heap', 30_000],
    ]);
    const seasonal = ['value', 'window_avg', 'window_stdvar', 'mean', 'stddev', 'upper', 'lower'].map((s) => `baseline:qps:${s}`);
    assert.deepEqual(groups[0].rules.map((r) => r.record ?? r.alert), [...seasonal, 'BaselineAnomaly']);
    assert.deepEqual(groups[2].rules.map((r) => r.record ?? r.alert), ['value', 'mean', 'stddev', 'upper', 'lower'].map((s) => `baseline:errors:${s}`).concat('BaselineAnomaly'));
    const qpsAlert = groups[0].rules[7];
    assert.equal(qpsAlert.expr, 'baseline:qps:value < baseline:qps:lower');
    assert.deepEqual(qpsAlert.labels, { severity: 'warning', baseline: 'qps' });
    assert.equal(qpsAlert.for, 300_000);
    const p99 = groups[1].rules.at(-1)!;
    assert.equal(p99.alert, 'SlowService');
    assert.equal(p99.expr, 'baseline:p99:value > baseline:p99:upper');
    assert.deepEqual(p99.labels, { team: 'pay "core"', severity: 'critical', baseline: 'p99' });
    assert.deepEqual(Object.keys(p99.annotations).sort(), ['description', 'description_zh', 'summary', 'summary_zh']);
    assert.match(p99.annotations.summary, /humanizeDuration/);
    // Weekly seasons two weeks back, the 2h window centred on the same moment.
    const mean = groups[1].rules.find((r) => r.record === 'baseline:p99:mean')!;
    assert.match(mean.expr, /baseline:p99:window_avg offset 6d23h\b/);
    assert.match(mean.expr, /baseline:p99:window_avg offset 13d23h\b/);
    assert.doesNotMatch(mean.expr, /20d23h/);
    assert.equal(groups[3].rules.find((r) => r.record === 'baseline:heap:mean')!.expr.match(/offset/g)?.length, 7);
    assert.match(groups[0].rules.find((r) => r.record === 'baseline:qps:upper')!.expr, /^baseline:qps:mean \+ clamp_min\(3 \* baseline:qps:stddev, 0\)$/);
  });

  it('points a bad expression at its line and column in the configuration', () => {
    const at = (text: string) => baselineExprErrorsAt(baselines(text).list, text, 'patrol.yml');
    // Plain, quoted and block scalars: the place of the error inside the expression.
    assert.deepEqual(at('baselines:\n  - name: a\n    expr: sum(rate(x[5m])\n'), ['patrol.yml:3:26: baselines[0].expr: could not parse expression: parse error: unclosed left parenthesis']);
    assert.match(at('baselines:\n  - name: a\n    expr: "up{job=}"\n')[0], /^patrol\.yml:3:19: baselines\[0\]\.expr: could not parse expression: parse error: unexpected "}"/);
    assert.match(at('baselines:\n  - name: a\n    expr: |\n      sum by (x) (\n        rate(foo[5m]) +)\n')[0], /^patrol\.yml:5:\d+: baselines\[0\]\.expr: could not parse expression: parse error: unexpected "\)"/);
    assert.deepEqual(at('baselines:\n  - name: a\n    expr: "1"\n'), ['patrol.yml:3:11: baselines[0].expr: expression must return an instant vector, got a scalar (e.g. "sum by (service) (rate(http_requests_total[5m]))")']);
    assert.match(at('baselines:\n  - name: a\n    expr: up\n  - name: b\n    expr: x[5m]\n')[0], /^patrol\.yml:5:11: baselines\[1\]\.expr: .*got a range vector/);
    assert.deepEqual(at('baselines:\n  - name: a\n    expr: up\n'), []);
    // Where the rules are built (load and reload), a bad expression is an error naming the baseline.
    assert.throws(() => baselineRuleGroups(baselines('baselines:\n  - name: a\n    expr: up\n  - name: b\n    expr: sum(\n').list, 60_000), /^Error: baselines\[1\] \(b\)\.expr: could not parse expression: .* at 1:5 of the expression$/);
  });

  it('exports a rule file that Patrol parses back to the same groups', () => {
    const { list, interval } = baselines(EVERY_KIND);
    const text = baselineRuleFileText(list, interval);
    const r = parseRuleFile(text, 'exported.yml');
    assert.deepEqual(r.errors, []);
    assert.equal(r.groups.length, 4);
    assert.equal(baselineRuleFileText([], interval).includes('groups: []'), true);
  });

  it('exports a rule file that promtool check rules accepts', { skip: promtool }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-baseline-'));
    try {
      const { list, interval } = baselines(EVERY_KIND);
      writeFileSync(join(dir, 'rules.yml'), baselineRuleFileText(list, interval));
      const r = run(binaryPath('promtool'), ['check', 'rules', join(dir, 'rules.yml')]);
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /SUCCESS: 30 rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('patrol baselines export prints the rule file, and names the line of a bad configuration', () => {
    const ok = run(process.execPath, ['--import', TSX, CLI, 'baselines', 'export', '--config', join(TESTDATA, 'patrol.yml')]);
    assert.equal(ok.code, 0, ok.err);
    // The committed rule file of the unit test is the export of its configuration.
    assert.equal(ok.out, readFileSync(join(TESTDATA, 'rules.yml'), 'utf8'));
    const dir = mkdtempSync(join(tmpdir(), 'patrol-baseline-'));
    try {
      writeFileSync(join(dir, 'patrol.yml'), 'baselines:\n  - name: a\n    expr: rate(x[5m]\n');
      const bad = run(process.execPath, ['--import', TSX, CLI, 'baselines', 'export', '--config', join(dir, 'patrol.yml')]);
      assert.equal(bad.code, 1);
      assert.equal(bad.out, '');
      assert.match(bad.err, /patrol\.yml:3:21: baselines\[0\]\.expr: could not parse expression: parse error: unclosed left parenthesis\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('baseline unit test (testdata/baselines/rules.test.yml)', () => {
  const file = join(TESTDATA, 'rules.test.yml');

  it('passes under patrol test rules: fires on the 3 a.m. jump, quiet on the daily pattern', async () => {
    let out = '';
    // Given by a relative path: its rule_files resolve against its own folder.
    const code = await testRuleFiles([relative(process.cwd(), file)], { out: (s) => (out += s), err: (s) => (out += s) });
    assert.equal(code, 0, out);
    assert.match(out, /SUCCESS/);
  });

  it('fails under patrol test rules when the expected alert is not there (the test can fail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-baseline-'));
    try {
      writeFileSync(join(dir, 'rules.yml'), readFileSync(join(TESTDATA, 'rules.yml')));
      // Service a without its jump: no alert at 03:15, so the expected one is missing.
      const text = readFileSync(file, 'utf8').replace('100+2x35 350x11 196+2x95', '100+2x143');
      assert.notEqual(text, readFileSync(file, 'utf8'));
      writeFileSync(join(dir, 'rules.test.yml'), text);
      let out = '';
      const code = await testRuleFiles([join(dir, 'rules.test.yml')], { out: (s) => (out += s), err: (s) => (out += s) });
      assert.equal(code, 1);
      assert.match(out, /alertname: BaselineAnomaly, time: 2d3h15m,[\s\S]*got:\[\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes under promtool test rules', { skip: promtool }, () => {
    const r = spawnSync(binaryPath('promtool'), ['test', 'rules', 'rules.test.yml'], { cwd: TESTDATA, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });
});

describe('baselines in a running Patrol', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-baseline-server-'));
  let patrol: Patrol;
  let base = '';
  const config = (names: string[]) =>
    `global:\n  evaluation_interval: 1s\nbaselines:\n${names.map((n) => `  - {name: ${n}, expr: 'vector(5)', seasonality: none, window: 10s}\n`).join('')}`;

  before(async () => {
    writeFileSync(join(dir, 'patrol.yml'), config(['steady']));
    patrol = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('silent') });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });
  after(async () => {
    await patrol?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  type G = { name: string; file: string; interval: number; rules: { name: string; type: string; health: string; lastEvaluation: string; query: string }[] };
  const groups = async (): Promise<G[]> => ((await (await fetch(`${base}/api/v1/rules`)).json()) as { data: { groups: G[] } }).data.groups;

  it('serves the generated groups in /api/v1/rules and evaluates them', async () => {
    let gs: G[] = [];
    // Wait (bounded) until every rule of the group has run once.
    for (let i = 0; i < 300; i++) {
      gs = await groups();
      if (gs.length === 1 && gs[0].rules.every((r) => !r.lastEvaluation.startsWith('0001'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(gs.map((g) => [g.name, g.file, g.interval]), [['baseline:steady', BASELINE_RULE_FILE, 1]]);
    assert.deepEqual(gs[0].rules.map((r) => `${r.type}:${r.name}:${r.health}`), [
      'recording:baseline:steady:value:ok',
      'recording:baseline:steady:mean:ok',
      'recording:baseline:steady:stddev:ok',
      'recording:baseline:steady:upper:ok',
      'recording:baseline:steady:lower:ok',
      'alerting:BaselineAnomaly:ok',
    ]);
    assert.equal(gs[0].rules[0].query, 'vector(5)');
    const q = (await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent('baseline:steady:upper')}`)).json()) as { data: { result: { value: [number, string] }[] } };
    assert.equal(q.data.result[0]?.value[1], '5');
  });

  it('rejects a reload with a bad baseline expression and keeps the running groups', async () => {
    writeFileSync(join(dir, 'patrol.yml'), `${config(['steady'])}  - {name: broken, expr: 'rate(x[5m]'}\n`);
    const r = await patrol.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors.join('\n'), /baselines\[1\] \(broken\)\.expr: could not parse expression/);
    assert.deepEqual((await groups()).map((g) => g.name), ['baseline:steady']);
  });

  it('follows a reload: a new baseline adds its group', async () => {
    writeFileSync(join(dir, 'patrol.yml'), config(['steady', 'second']));
    const r = await patrol.reload();
    assert.deepEqual(r, { ok: true, errors: [] });
    assert.deepEqual((await groups()).map((g) => g.name).sort(), ['baseline:second', 'baseline:steady']);
  });
});
