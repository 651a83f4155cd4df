// parseExprSliced: the same trees and errors as parseExpr, with the event loop served while a
// long text is parsed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExpr, parseExprSliced } from './parser.js';
import { formatExpr } from './format.js';
import { turnsDuring } from '../testing/loop.js';

const manyMatchers = (n: number, value: (i: number) => string) => `victim{${Array.from({ length: n }, (_, i) => `l${i}!~"${value(i)}"`).join(',')}}`;

async function outcome(f: () => Promise<unknown> | unknown): Promise<string> {
  try {
    return `ok ${formatExpr((await f()) as Parameters<typeof formatExpr>[0])}`;
  } catch (e) {
    return `error ${(e as Error).message}`;
  }
}

describe('parseExprSliced', () => {
  test('gives what parseExpr gives: trees, syntax and type errors, the regex budget', async () => {
    const texts = [
      'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / 2.',
      'foo[step()]',
      'sum((',
      'rate(foo)',
      '',
      `x${'+(1'.repeat(100)}`,
      manyMatchers(300, (i) => `b${i}`),
      manyMatchers(300, (i) => `(a+)+b${i}`),
      `count(victim{v=~"${Array.from({ length: 5000 }, (_, i) => `value-${i}`).join('|')}"})`,
      `victim{${'l="x",'.repeat(2000)} oops}`,
    ];
    for (const t of texts) {
      assert.equal(await outcome(() => parseExprSliced(t, 0)), await outcome(() => parseExpr(t)), t.slice(0, 80));
    }
  });

  test('serves the event loop between slices of a long parse', async () => {
    const { value: e, turns } = await turnsDuring(() => parseExprSliced(manyMatchers(2000, (i) => `b${i}`), 0));
    assert.equal(e.type, 'vectorSelector');
    // Without yields the parse would finish before the first setImmediate ran.
    assert.ok(turns > 10, `the event loop turned ${turns} times during the parse`);
  });

  test('a text parsed twice at once is parsed right both times', async () => {
    const t = manyMatchers(500, (i) => `b${i}`);
    const [a, b] = await Promise.all([parseExprSliced(t, 0), parseExprSliced(t, 0)]);
    assert.equal(formatExpr(a), formatExpr(parseExpr(t)));
    assert.equal(formatExpr(b), formatExpr(a));
  });
});
