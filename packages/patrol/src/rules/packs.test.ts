// The rule packs (packs/<name>.rules.yml): every pack's unit-test files pass under Debian's
// promtool and under `patrol test rules`, both tools accept the rule files, and every alert
// carries a severity and the English and Chinese annotations, with a test that sees it fire and
// one that sees it stay quiet.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
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

function run(cmd: string, args: string[], cwd: string): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}
// Patrol runs from the repository root with paths as a user types them
// (`npx patrol test rules packages/patrol/packs/http.test.yml`); promtool inside the folder.
const patrol = (...args: string[]): Run => run(process.execPath, ['--import', TSX, CLI, ...args], REPO_ROOT);
const promtool = (...args: string[]): Run => run(binaryPath('promtool'), args, PACKS_DIR);
const fromRoot = (f: string): string => relative(REPO_ROOT, join(PACKS_DIR, f));

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
          if (!['critical', 'warning', 'info'].includes(a.labels?.severity ?? '')) problems.push(`${a.alert}: severity ${JSON.stringify(a.labels?.severity)}`);
          for (const k of ANNOTATIONS) if (!a.annotations?.[k]) problems.push(`${a.alert}: no ${k} annotation`);
          const mine = tests.filter((t) => t.alertname === a.alert);
          if (!mine.some((t) => (t.exp_alerts ?? []).length > 0)) problems.push(`${a.alert}: no test sees it fire`);
          if (!mine.some((t) => (t.exp_alerts ?? []).length === 0)) problems.push(`${a.alert}: no test sees it stay quiet`);
        }
        assert.deepEqual(problems, []);
      });

      it('patrol check rules accepts the rule file', () => {
        const r = patrol('check', 'rules', fromRoot(`${name}.rules.yml`));
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /SUCCESS: \d+ rules found/);
      });

      it('promtool check rules accepts the rule file', { skip: noPromtool }, () => {
        const r = promtool('check', 'rules', rulesFile);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /SUCCESS: \d+ rules found/);
      });

      it('patrol test rules passes the unit tests', () => {
        const r = patrol('test', 'rules', ...files.map(fromRoot));
        assert.equal(r.code, 0, r.out);
        assert.equal(r.out.match(/ {2}SUCCESS\n/g)?.length, files.length, r.out);
      });

      it('promtool test rules passes the unit tests', { skip: noPromtool }, () => {
        const r = promtool('test', 'rules', ...files);
        assert.equal(r.code, 0, r.out);
        assert.equal(r.out.match(/ {2}SUCCESS\n/g)?.length, files.length, r.out);
      });
    });
  }
});
