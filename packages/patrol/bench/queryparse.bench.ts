// PromQL parser on malformed input: a parse error must come back in time linear in the query's
// length (a regex over the text before the error once backtracked quadratically: 100 KB took
// 37 s). Prints the time per input size; the test in src/promql/parser.test.ts asserts the error.
//
//   npm run bench -- queryparse

import { parseExpr } from '../src/promql/parser.js';

const SHAPES: [string, (n: number) => string][] = [
  ['identifier then stray character', (n) => 'a'.repeat(n) + '-)'],
  ['inside a call, trailing spaces', (n) => 'sum(' + 'a'.repeat(n) + ' '.repeat(100) + '-)'],
  ['many stray parentheses', (n) => 'a)'.repeat(n / 2)],
  ['unknown function after spaces', (n) => 'nosuch' + ' '.repeat(n) + '(x)'],
  ['valid long selector', (n) => `foo{a="${'x'.repeat(n)}"}`],
];

for (const [title, make] of SHAPES) {
  const cells: string[] = [];
  for (const n of [10_000, 100_000, 1_000_000]) {
    const q = make(n);
    const t = performance.now();
    let outcome = 'ok';
    try {
      parseExpr(q);
    } catch (e) {
      outcome = (e as Error).message.slice(0, 40);
    }
    cells.push(`${(n / 1000).toFixed(0).padStart(5)} k: ${(performance.now() - t).toFixed(1).padStart(7)} ms`);
    if (n === 1_000_000) cells.push(`(${outcome})`);
  }
  console.log(`${title.padEnd(34)} ${cells.join('  ')}`);
}
