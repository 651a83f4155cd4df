// Loops of the function calls whose steps can be long give the evaluation its chance to yield:
// label_replace runs a regex on every series' value (thousands of 16 KiB values held the event
// loop for a quarter of a second in the stall benchmark).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExpr } from '../parser.js';
import type { Call } from '../ast.js';
import { call } from './calls.js';
import type { Evaluator, StepSeries } from './context.js';

describe('label_replace paces itself', () => {
  test('asks the evaluation whether to yield once per series, and awaits the yield', async () => {
    const series: StepSeries[] = Array.from({ length: 300 }, (_, i) => ({
      labels: [
        { name: '__name__', value: 'm' },
        { name: 'v', value: `${'a'.repeat(100)}b${i}` },
      ],
      v: new Float64Array([i]),
      has: new Uint8Array([1]),
      dropName: false,
    }));
    let asked = 0;
    let yielded = 0;
    const ev = {
      vectorArg: async () => series,
      stringArg: (e: { type: string; value?: string }) => e.value!,
      pace: () => {
        asked++;
        if (asked % 50 !== 0) return null;
        return new Promise<void>((r) => setImmediate(() => (yielded++, r())));
      },
    } as unknown as Evaluator;
    const e = parseExpr('label_replace(m, "x", "$2", "v", "(a+)+(b.*)")') as Call;
    const r = await call(ev, e, new Float64Array([0]));
    assert.equal(r.kind, 'vector');
    assert.equal(asked, 300);
    assert.equal(yielded, 6);
    if (r.kind === 'vector') assert.deepEqual(r.series[7].labels.find((l) => l.name === 'x'), { name: 'x', value: 'b7' });
  });
});
