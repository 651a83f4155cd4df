// Deep nesting is refused before the grammar runs (issue 11: `2/-2^-2^…` 500 levels deep took
// 0.8 s to parse and 1,000 levels failed with a misleading error); what stays under the bound
// parses to the value Prometheus gives.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { labelsFromRecord } from '../model/labels.js';
import { MemoryStorage } from '../storage/memory.js';
import { Engine } from './engine.js';
import { MAX_BINARY_OPERATORS, MAX_NESTING, parseExpr } from './parser.js';
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

describe('long flat chains', () => {
  const chain = (n: number, term: (i: number) => string, op = '+') => Array.from({ length: n }, (_, i) => term(i)).join(` ${op} `);
  const leaves = (x: unknown): number => {
    const node = x as { type: string; lhs?: unknown; rhs?: unknown };
    // Iterative: the tree is as deep as the chain is long.
    let count = 0;
    const stack: unknown[] = [node];
    while (stack.length) {
      const n = stack.pop() as { type: string; lhs?: unknown; rhs?: unknown };
      if (n.type === 'binary') stack.push(n.lhs, n.rhs);
      else count++;
    }
    return count;
  };

  test('a 700-term sum parses (lezer gave up after about 450 with "unexpected identifier")', () => {
    const e = parseExpr(chain(700, (i) => `m${i}`));
    assert.equal(e.type, 'binary');
    assert.equal(leaves(e), 700);
    assert.equal(leaves(parseExpr(chain(700, (i) => `${i}`, '*'))), 700);
  });

  test('up to the bound every shape parses and evaluates; past it a clear error, at once', async () => {
    const st = new MemoryStorage();
    const app = st.appender();
    const T0 = 1_700_000_000_000;
    for (let i = 0; i <= MAX_BINARY_OPERATORS; i++) app.append(0, labelsFromRecord({ __name__: `m${i}`, job: 'a' }), T0, i);
    app.commit();
    const engine = new Engine();
    const n = MAX_BINARY_OPERATORS + 1;
    const r = await engine.instantQuery(st, chain(n, (i) => `m${i}`), T0);
    assert.equal(r.value.type, 'vector');
    assert.equal(r.value.type === 'vector' && r.value.samples[0].v, ((n - 1) * n) / 2);
    // Shapes that add several syntax levels per operand, and matchers and ranges whose
    // operators are not binary operators.
    for (const term of [(i: number) => `max_over_time(m${i}{a!~"x|y",job!="z"}[5m:1m] @ 5)`, (i: number) => `-(m${i} offset 1m @ 5)`, (i: number) => `sum by (job) (rate(m${i}[5m]))`]) {
      await engine.instantQuery(st, chain(n, term), T0);
    }
    for (const q of [chain(n + 1, (i) => `m${i}`), chain(50_000, (i) => `${i}`), chain(n + 1, (i) => `m${i}`, 'or')]) {
      assert.match(err(q).message, new RegExp(`^1:\\d+: parse error: expression too long: more than ${MAX_BINARY_OPERATORS} binary operators$`));
    }
  });
});
