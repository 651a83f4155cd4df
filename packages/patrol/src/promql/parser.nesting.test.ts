// Deep nesting is refused before the grammar runs (issue 11: `2/-2^-2^…` 500 levels deep took
// 0.8 s to parse and 1,000 levels failed with a misleading error); what stays under the bound
// parses to the value Prometheus gives.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_NESTING, parseExpr } from './parser.js';
import { QueryError } from './types.js';

function err(q: string): QueryError {
  try {
    parseExpr(q);
  } catch (e) {
    assert.ok(e instanceof QueryError, String(e));
    return e;
  }
  assert.fail(`expected ${q.slice(0, 60)}… to fail`);
}

describe('parser nesting bound', () => {
  test('refuses the issue 11 expression, naming the bound and where it was passed', () => {
    const q = `2/${'-2^'.repeat(500)}2`;
    const e = err(q);
    assert.match(e.message, new RegExp(`^1:\\d+: parse error: expression nested too deeply: more than ${MAX_NESTING} levels of parentheses, function calls, unary signs and \\^ operators$`));
    // The position is where the bound was passed, not the end of the query.
    assert.ok(e.position!.column < 2 + 3 * MAX_NESTING, `column ${e.position!.column}`);
  });

  test('counts parentheses, calls, brackets and braces, and what closes stops counting', () => {
    const deep = (n: number) => `${'abs('.repeat(n)}up${')'.repeat(n)}`;
    assert.doesNotThrow(() => parseExpr(deep(MAX_NESTING)));
    assert.match(err(deep(MAX_NESTING + 1)).message, /nested too deeply/);
    assert.match(err(`${'('.repeat(MAX_NESTING + 1)}1${')'.repeat(MAX_NESTING + 1)}`).message, /nested too deeply/);
    // Siblings do not add up: many shallow groups are fine.
    assert.doesNotThrow(() => parseExpr(Array.from({ length: 200 }, () => 'abs(abs(-up))').join(' + ')));
    assert.doesNotThrow(() => parseExpr(Array.from({ length: 200 }, (_, i) => `-${i}`).join(' * ')));
    // Strings and comments are not scanned for operators.
    assert.doesNotThrow(() => parseExpr(`up{job="${'(-^'.repeat(200)}"} # ${'((('.repeat(100)}`));
  });

  test('a ^ chain with signs parses up to the bound', () => {
    const n = MAX_NESTING / 2 - 1; // each `-2^` is two levels: the sign and the ^
    const e = parseExpr(`2/${'-2^'.repeat(n)}2`);
    assert.equal(e.type, 'binary');
    let powers = 0;
    const walk = (x: unknown): void => {
      const node = x as { type: string; op?: string; lhs?: unknown; rhs?: unknown; expr?: unknown };
      if (node.type === 'binary') {
        if (node.op === '^') powers++;
        walk(node.lhs);
        walk(node.rhs);
      } else if (node.expr) walk(node.expr);
    };
    walk(e);
    assert.equal(powers, n);
    assert.match(err(`2/${'-2^'.repeat(n + 2)}2`).message, /nested too deeply/);
  });

  test('exponents inside numbers are not signs', () => {
    assert.doesNotThrow(() => parseExpr(`${'1e-1^'.repeat(MAX_NESTING - 1)}1`));
    assert.doesNotThrow(() => parseExpr(`${'abs('.repeat(MAX_NESTING - 1)}up - 1e-3 - 2E+4${')'.repeat(MAX_NESTING - 1)}`));
  });
});
