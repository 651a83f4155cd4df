// The rule packs (packs/<name>.rules.yml): every pack's unit-test files pass under Debian's
// promtool and under `patrol test rules`, both tools accept the rule files, and every alert
// carries a severity and the English and Chinese annotations, with a test that sees it fire and
// one that sees it stay quiet.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { binaryPath, needBinary, REPO_ROOT } from '../testing/shared.js';
import { PACK_NAMES, PACKS_DIR, packFile } from './packs.js';

const CLI = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const noPromtool = needBinary('promtool');

interface Run {
  code: number | null;
  out: string;
}

function run(cmd: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 280_000 });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', (e) => (out += String(e)));
    child.on('close', (code) => resolve({ code, out }));
  });
}
// Patrol runs from the repository root with paths as a user types them
// (`npx patrol test rules packages/patrol/packs/http.test.yml`); promtool inside the folder.
const patrol = (...args: string[]): Promise<Run> => run(process.execPath, ['--import', TSX, CLI, ...args], REPO_ROOT);
const promtool = (...args: string[]): Promise<Run> => run(binaryPath('promtool'), args, PACKS_DIR);
const fromRoot = (f: string): string => relative(REPO_ROOT, join(PACKS_DIR, f));

/** The report of one file in the output of `check rules` / `test rules` over several files. */
function section(out: string, heading: RegExp, file: string): string {
  const parts = out.split(heading);
  const i = parts.findIndex((p) => p.startsWith(file) || p.startsWith(fromRoot(file)));
  return i < 0 ? `(no report for ${file} in:\n${out})` : parts[i];
}

/** A pack's unit-test files: <name>.test.yml and any <name>.<part>.test.yml. */
function testFiles(name: string): string[] {
  return readdirSync(PACKS_DIR)
    .filter((f) => f === `${name}.test.yml` || (f.startsWith(`${name}.`) && f.endsWith('.test.yml')))
    .sort();
}

interface Rule {
  alert?: string;
  record?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface AlertTest {
  alertname: string;
  exp_alerts?: unknown[] | null;
}

const ANNOTATIONS = ['summary', 'description', 'runbook_url', 'summary_zh', 'description_zh'];

describe('rule packs', () => {
  // One run of each tool over every pack (each start of the CLI costs seconds), both tools at once.
  const ruleFiles = PACK_NAMES.map((n) => `${n}.rules.yml`);
  const allTests = PACK_NAMES.flatMap(testFiles);
  let checks: { patrol: Promise<Run>; promtool: Promise<Run> };
  let tests: { patrol: Promise<Run>; promtool: Promise<Run> };
  before(() => {
    checks = { patrol: patrol('check', 'rules', ...ruleFiles.map(fromRoot)), promtool: noPromtool ? Promise.resolve({ code: null, out: '' }) : promtool('check', 'rules', ...ruleFiles) };
    tests = { patrol: patrol('test', 'rules', ...allTests.map(fromRoot)), promtool: noPromtool ? Promise.resolve({ code: null, out: '' }) : promtool('test', 'rules', ...allTests) };
  });

  it('both tools exit 0 over all packs', async () => {
    for (const [what, r] of [['patrol check rules', await checks.patrol], ['patrol test rules', await tests.patrol]] as const) assert.equal(r.code, 0, `${what}:\n${r.out}`);
    if (noPromtool) return;
    for (const [what, r] of [['promtool check rules', await checks.promtool], ['promtool test rules', await tests.promtool]] as const) assert.equal(r.code, 0, `${what}:\n${r.out}`);
  });

  it('every pack named in the code is shipped, and nothing else', () => {
    const shipped = readdirSync(PACKS_DIR).filter((f) => f.endsWith('.rules.yml')).map((f) => f.slice(0, -'.rules.yml'.length));
    assert.deepEqual(shipped.sort(), [...PACK_NAMES].sort());
  });

  for (const name of PACK_NAMES) {
    describe(name, () => {
      const rulesFile = packFile(name);
      const files = testFiles(name);

      it('has unit tests', () => assert.ok(files.includes(`${name}.test.yml`), `${name}.test.yml missing from ${PACKS_DIR}`));

      it('every alert has a severity, the annotations in English and Chinese, and tests that see it fire and stay quiet', () => {
        const doc = parse(readFileSync(rulesFile, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
        const alerts = doc.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
        assert.ok(alerts.length > 0);
        const tests = files.flatMap((f) => ((parse(readFileSync(join(PACKS_DIR, f), 'utf8')) as { tests: { alert_rule_test?: AlertTest[] }[] }).tests ?? []).flatMap((t) => t.alert_rule_test ?? []));
        const problems: string[] = [];
        for (const a of alerts) {
          // A fixed level, or the series' own severity label with a fixed level as the default.
          const severity = a.labels?.severity ?? '';
          const level = /^\{\{ if \$labels\.severity \}\}\{\{ \$labels\.severity \}\}\{\{ else \}\}(\w+)\{\{ end \}\}$/.exec(severity)?.[1] ?? severity;
          if (!['critical', 'warning', 'info'].includes(level)) problems.push(`${a.alert}: severity ${JSON.stringify(severity)}`);
          for (const k of ANNOTATIONS) if (!a.annotations?.[k]) problems.push(`${a.alert}: no ${k} annotation`);
          const mine = tests.filter((t) => t.alertname === a.alert);
          if (!mine.some((t) => (t.exp_alerts ?? []).length > 0)) problems.push(`${a.alert}: no test sees it fire`);
          if (!mine.some((t) => (t.exp_alerts ?? []).length === 0)) problems.push(`${a.alert}: no test sees it stay quiet`);
        }
        assert.deepEqual(problems, []);
      });

      it('patrol check rules accepts the rule file', async () => {
        const r = await checks.patrol;
        assert.match(section(r.out, /^Checking /m, `${name}.rules.yml`), /SUCCESS: \d+ rules found/, r.out);
      });

      it('promtool check rules accepts the rule file', { skip: noPromtool }, async () => {
        const r = await checks.promtool;
        assert.match(section(r.out, /^Checking /m, `${name}.rules.yml`), /SUCCESS: \d+ rules found/, r.out);
      });

      it('patrol test rules passes the unit tests', async () => {
        const r = await tests.patrol;
        for (const f of files) assert.match(section(r.out, /^Unit Testing: {2}/m, f), /^\S+\n {2}SUCCESS\n/, r.out);
      });

      it('promtool test rules passes the unit tests', { skip: noPromtool }, async () => {
        const r = await tests.promtool;
        for (const f of files) assert.match(section(r.out, /^Unit Testing: {2}/m, f), /^\S+\n {2}SUCCESS\n/, r.out);
      });
    });
  }
});
