// Syntax error messages and positions against Prometheus's own: each malformed query goes to
// promtool (Debian's Prometheus 2.42) in a rule file, and Patrol must report the same text.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { binaryPath, needBinary } from '../testing/shared.js';
import { parseExpr } from './parser.js';

const QUERIES = [
  'sum(',
  'foo[5m)',
  'rate(foo[5m)',
  'sum(rate(x[5m)))',
  'foo[5m:1m',
  'rate(foo[5m]',
  'foo{a="b"',
  'foo{a="b',
  'foo{a}',
  'foo{a=}',
  'foo{=b}',
  'foo{a=~"b"}}',
  'foo)',
  '(foo',
  'sum by (a',
  'sum by a (foo)',
  'sum(foo) by',
  'foo +',
  'foo + )',
  '1 +* 2',
  'foo[5m:1m:1m]',
  'foo offset',
  'foo @',
  'rate(foo[5m],)',
  'sum(foo,)',
  'rate(,foo)',
  'foo bar',
  'foo 1',
  '"abc',
  'foo{a="b"} {c="d"}',
  'topk(5 foo)',
  'sum foo',
  'sum by (a) foo',
  'foo[5m] offset 1m [1m]',
  'foo ! bar',
  'histogram_quantile(0.9 foo)',
  '{',
  '}',
  ']',
  '[5m]',
  'foo == bool',
  'on(a) foo',
  'foo + on a bar',
  'foo + ignoring(a) group_left(b bar',
  'foo{a!}',
  'foo{a="b" c="d"}',
  'foo @ bar',
  'foo offset bar',
  'foo[1x]',
  'foo[5m:1x]',
  'max_over_time(foo[5m:1m)',
  'foo[5m 1m]',
  'foo[5m,1m]',
  'foo[5m]]',
  'foo[5m:1m] [1m]',
  'foo{a="b")',
  'sum(foo]',
  'rate(foo[5m] 1)',
  'foo{a="\\z"}',
  'foo{a="\\x1"}',
  '"abcdefghijklmnop" "x"',
  'nosuch(foo)',
];

function ours(q: string): string {
  try {
    parseExpr(q);
    return 'OK';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('PromQL syntax errors', () => {
  test('read as Prometheus words them, at its positions', () => {
    assert.equal(ours('sum('), '1:5: parse error: unclosed left parenthesis');
    assert.equal(ours('rate(foo[5m)'), '1:12: parse error: unexpected ")" in subquery or range, expected ":" or "]"');
    assert.equal(ours('foo)'), "1:5: parse error: unexpected right parenthesis ')'");
    assert.equal(ours('foo{a}'), '1:6: parse error: unexpected "}" in label matching, expected label matching operator');
    assert.equal(ours('sum(foo) by'), '1:12: parse error: unexpected end of input in grouping opts, expected "("');
    assert.equal(ours('topk(5 foo)'), '1:8: parse error: unexpected identifier "foo" in aggregation');
    assert.equal(ours('rate(foo[5m],)'), '1:13: parse error: trailing commas not allowed in function call args');
    assert.equal(ours('foo offset bar'), '1:12: parse error: unexpected identifier "bar" in offset, expected duration');
    assert.equal(ours('1 +\n  * 2'), '2:3: parse error: unexpected <op:*>');
  });

  test('a long run of digits is read once (fuzz found 18 KB of digits stalling the number pattern)', () => {
    // 200,000 digits and a letter: the old pattern tried every split of the run between its two
    // stars (about 10^10 steps); read once, it is the plain error below.
    const digits = '1'.repeat(200_000);
    assert.equal(ours(`${digits}x`), `1:1: parse error: bad number or duration syntax: "${digits}"`);
    assert.equal(ours(`up + ${digits}_.5e`), `1:6: parse error: bad number or duration syntax: "${digits}_.5"`);
    assert.equal(ours(`up > ${digits}.${digits}e+5`), 'OK');
    assert.equal(ours(`foo[${digits}x]`), `1:5: parse error: bad duration syntax: "${digits}"`);
  });

  test('match promtool (Prometheus 2.42) for common mistakes', { skip: needBinary('promtool') }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-syntax-'));
    try {
      const diffs: string[] = [];
      for (const q of QUERIES) {
        const f = join(dir, 'rules.yml');
        writeFileSync(f, `groups:\n- name: g\n  rules:\n  - record: r\n    expr: ${JSON.stringify(q)}\n`);
        const r = spawnSync(binaryPath('promtool'), ['check', 'rules', f], { encoding: 'utf8' });
        const m = /could not parse expression: (.*)/.exec(r.stdout + r.stderr);
        const theirs = m ? m[1].trim() : 'OK';
        const mine = ours(q);
        if (theirs !== mine) diffs.push(`${q}\n  prometheus: ${theirs}\n  patrol:     ${mine}`);
      }
      assert.deepEqual(diffs, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
