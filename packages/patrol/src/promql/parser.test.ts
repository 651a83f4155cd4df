import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExpr } from './parser.js';
import { formatExpr } from './format.js';
import { QueryError } from './types.js';

function err(q: string): QueryError {
  try {
    parseExpr(q);
  } catch (e) {
    assert.ok(e instanceof QueryError);
    return e;
  }
  assert.fail(`expected ${q} to fail`);
}

describe('parser', () => {
  test('type errors carry Prometheus messages and positions', () => {
    const e = err('sum(rate(foo)) + rate(bar)');
    assert.equal(e.message, '1:10: parse error: expected type range vector in call to function "rate", got instant vector');
    assert.deepEqual(e.position, { line: 1, column: 10 });
    assert.equal(e.type, 'bad_data');
    assert.match(err('rate(foo[5m], 1)').message, /expected 1 argument\(s\) in call to "rate", got 2/);
    assert.match(err('1 > 2').message, /comparisons between scalars must use BOOL modifier/);
    assert.match(err('foo and 1').message, /set operator "and" not allowed in binary scalar expression/);
    assert.match(err('nosuch(foo)').message, /unknown function with name "nosuch"/);
    assert.match(err('{x=""}').message, /at least one non-empty matcher/);
    assert.match(err('sum(foo[5m])').message, /expected type instant vector in aggregation expression, got range vector/);
    assert.match(err('foo{').message, /parse error/);
  });

  test('a 1 MB malformed query gets a parse error naming the position (no backtracking, no error recovery)', () => {
    const mb = 1 << 20;
    // An identifier run that ends in a stray character: an unanchored regex over the text
    // before the error backtracked quadratically on it.
    const e1 = err('a'.repeat(mb) + '-)');
    assert.equal(e1.message, `1:${mb + 3}: parse error: unexpected right parenthesis ')'`);
    const e2 = err('sum(' + 'a'.repeat(mb) + ' ' .repeat(1000) + '-)');
    assert.match(e2.message, /parse error/);
    // Many malformed tokens: lezer's error recovery is superlinear on them.
    const e3 = err('a)'.repeat(mb / 2));
    assert.equal(e3.message, "1:3: parse error: unexpected right parenthesis ')'");
    const e4 = err('nosuch' + ' '.repeat(mb) + '(x)');
    assert.match(e4.message, /^1:1: parse error: unknown function with name "nosuch"/);
  });

  test('builds selectors with offset, @ and ranges', () => {
    const e = parseExpr('rate(http_requests_total{code=~"5.."}[5m] offset 1m @ 100)');
    assert.equal(e.type, 'call');
    if (e.type !== 'call') return;
    const m = e.args[0];
    assert.equal(m.type, 'matrixSelector');
    if (m.type !== 'matrixSelector') return;
    assert.equal(m.selector.name, 'http_requests_total');
    assert.deepEqual(m.selector.at, { kind: 'time', ms: 100000 });
    assert.equal(m.selector.matchers.length, 2);
  });

  test('formats canonically', () => {
    assert.equal(formatExpr(parseExpr('sum  by(a,b)(rate(x{y="z"}[300s]))')), 'sum by (a, b) (rate(x{y="z"}[5m]))');
    assert.equal(formatExpr(parseExpr('a+on(b)group_left(c)d')), 'a + on (b) group_left (c) d');
    assert.equal(formatExpr(parseExpr('foo[1h:5m] offset 2m')), 'foo[1h:5m] offset 2m');
    assert.equal(formatExpr(parseExpr('-1 + 0x10')), '-1 + 16');
  });
});
