// Runs Prometheus's PromQL test scripts (PATROL_CONFORMANCE_DIR/promql, see README) against the engine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from '../storage/memory.js';
import { conformancePath, needSuite } from '../testing/shared.js';
import { Engine } from './engine.js';
import { pinToTime } from './rewrite.js';
import { formatReport, runConformanceDir, sumCounts } from './testscript/index.js';

const DIR = conformancePath('promql');

/**
 * The floor, ratcheted to the count reached (evals without native histograms): no failure is
 * allowed, and at least this many must pass. Raise MIN_PASSED as the engine improves.
 */
const MIN_PASSED = 1253;

test('PromQL conformance scripts', { skip: needSuite('PromQL conformance suite', DIR), timeout: 600_000 }, async () => {
  const reports = await runConformanceDir(DIR, () => ({ engine: new Engine({ maxSamples: 50_000_000 }), storage: new MemoryStorage() }), {
    atModifierRewrite: pinToTime,
  });
  console.log(formatReport(reports, { failures: process.env.PROMQL_SHOW_FAILURES === '1' }));
  const sum = sumCounts(reports).other;
  console.log(`without native histograms: passed ${sum.pass}, failed ${sum.fail}, skipped ${sum.skip}`);
  assert.equal(sum.fail, 0, `${sum.fail} conformance evals failed (PROMQL_SHOW_FAILURES=1 lists them)`);
  assert.ok(sum.pass >= MIN_PASSED, `passed ${sum.pass}, fewer than the ${MIN_PASSED} reached before`);
});
