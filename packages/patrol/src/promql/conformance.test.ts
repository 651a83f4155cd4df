// Runs Prometheus's PromQL test scripts (../shared/conformance/promql) against the engine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { MemoryStorage } from '../storage/memory.js';
import { Engine } from './engine.js';
import { pinToTime } from './rewrite.js';
import { formatReport, runConformanceDir, sumCounts } from './testscript/index.js';

const DIR = process.env.PROMQL_CONFORMANCE_DIR ?? '/work/shared/conformance/promql';

/** The best pass rate reached so far on evals without native histograms; raise it as it improves. */
const MIN_PASS_RATE = 0.97;

test('PromQL conformance scripts', { skip: existsSync(DIR) ? false : `conformance scripts not found at ${DIR}`, timeout: 600_000 }, async () => {
  const reports = await runConformanceDir(DIR, () => ({ engine: new Engine({ maxSamples: 50_000_000 }), storage: new MemoryStorage() }), {
    atModifierRewrite: pinToTime,
  });
  console.log(formatReport(reports, { failures: process.env.PROMQL_SHOW_FAILURES === '1' }));
  const sum = sumCounts(reports).other;
  const rate = sum.pass / (sum.pass + sum.fail + sum.skip);
  console.log(`pass rate without native histograms: ${(100 * rate).toFixed(1)}%`);
  assert.ok(rate >= MIN_PASS_RATE, `pass rate ${(100 * rate).toFixed(1)}% fell below ${(100 * MIN_PASS_RATE).toFixed(1)}%`);
});
