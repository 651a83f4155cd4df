// Side-by-side with Debian's promtool (Prometheus 2.42): the kernels must give the numbers the
// reference engine gives on the same series. Windows are chosen so that no sample sits on a
// window start, where 2.42 (closed) and 3.x (open) range selectors differ.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseSequence } from '../testscript/series.js';
import { almostEqual } from './almost.js';
import type { FnContext } from './index.js';
import { RANGE_KERNELS, bucketQuantile } from './index.js';
import { binaryPath, needBinary } from '../../testing/shared.js';

const PROMTOOL = binaryPath('promtool');
const STEP = 60_000;

const SERIES: Record<string, string> = {
  c: '0+7x5 3+2x5 _ _ 40+1x3 2 9',
  g: '5 3 8 -2 4 4 9 1 0 6 2 7 3 11 -4 5',
  s: '1 1 1 2 2 3 3 3 3 1 1 1 4 4 4 4',
};

const BUCKETS: Record<string, string> = { '0.1': '0+1x15', '0.5': '0+4x15', '1': '0+9x15', '5': '0+10x15', '+Inf': '0+12x15' };

interface Case {
  expr: string;
  evalMs: number;
  mine: () => number | null;
}

function samples(name: string): { t: number[]; v: number[] } {
  const t: number[] = [];
  const v: number[] = [];
  parseSequence(SERIES[name]).forEach((sv, i) => {
    if (sv.kind === 'float') {
      t.push(i * STEP);
      v.push(sv.value);
    }
  });
  return { t, v };
}

const noCtx: FnContext = { warn: () => {}, info: () => {} };

function kernelCase(fn: string, series: string, rangeMs: number, evalMs: number, params: number[] = [], promFn = fn, paramText = ''): Case {
  const rangeText = `${rangeMs / 1000}s`;
  const expr = paramText === '' ? `${promFn}(${series}[${rangeText}])` : promFn === 'quantile_over_time' ? `${promFn}(${paramText}, ${series}[${rangeText}])` : `${promFn}(${series}[${rangeText}], ${paramText})`;
  return {
    expr,
    evalMs,
    mine: () => {
      const { t, v } = samples(series);
      const idx = t.map((x, i) => [x, i]).filter(([x]) => x > evalMs - rangeMs && x <= evalMs);
      if (idx.length === 0) return null;
      const w = { t: Float64Array.from(idx.map(([x]) => x)), v: Float64Array.from(idx.map(([, i]) => v[i])), start: evalMs - rangeMs, end: evalMs, evalTime: evalMs };
      return RANGE_KERNELS[fn](w, params, noCtx);
    },
  };
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  const evals = [4.5, 7.5, 10.5, 13.5, 15.5].map((m) => m * 60_000);
  const fns = ['rate', 'increase', 'delta', 'irate', 'idelta', 'deriv', 'resets', 'changes', 'sum_over_time', 'avg_over_time', 'min_over_time', 'max_over_time', 'count_over_time', 'stddev_over_time', 'stdvar_over_time', 'last_over_time', 'present_over_time'];
  for (const series of ['c', 'g', 's']) {
    for (const evalMs of evals) {
      for (const rangeMs of [180_000, 300_000]) {
        for (const fn of fns) cases.push(kernelCase(fn, series, rangeMs, evalMs));
        cases.push(kernelCase('quantile_over_time', series, rangeMs, evalMs, [0.3], 'quantile_over_time', '0.3'));
        cases.push(kernelCase('predict_linear', series, rangeMs, evalMs, [300], 'predict_linear', '300'));
        cases.push(kernelCase('double_exponential_smoothing', series, rangeMs, evalMs, [0.3, 0.6], 'holt_winters', '0.3, 0.6'));
      }
    }
  }
  for (const evalMs of evals) {
    for (const q of [0, 0.25, 0.5, 0.9, 0.99, 1]) {
      cases.push({
        expr: `histogram_quantile(${q}, h_bucket)`,
        evalMs,
        mine: () => {
          const i = Math.floor(evalMs / STEP);
          const buckets = Object.entries(BUCKETS).map(([le, seq]) => {
            const sv = parseSequence(seq)[i];
            return { upper: le === '+Inf' ? Infinity : Number(le), count: sv.kind === 'float' ? sv.value : NaN };
          });
          return bucketQuantile(q, buckets);
        },
      });
    }
  }
  return cases;
}

function yamlFor(cases: Case[]): string {
  const lines = ['rule_files: []', 'evaluation_interval: 1m', 'tests:', '  - interval: 1m', '    input_series:'];
  for (const [name, values] of Object.entries(SERIES)) lines.push(`      - series: '${name}'`, `        values: '${values}'`);
  for (const [le, values] of Object.entries(BUCKETS)) lines.push(`      - series: 'h_bucket{le="${le}"}'`, `        values: '${values}'`);
  lines.push('    promql_expr_test:');
  for (const c of cases) lines.push(`      - expr: '${c.expr}'`, `        eval_time: ${c.evalMs / 1000}s`, '        exp_samples: []');
  return lines.join('\n') + '\n';
}

/** promtool prints, for each failing expression, `got: {labels} value[, …]` or `got: nil`. */
function parseGot(output: string): Map<string, number | null> {
  const out = new Map<string, number | null>();
  const re = /expr: "((?:[^"\\]|\\.)*)", time: ([^,]+),\s*\n\s*exp: [^\n]*\n\s*got: ([^\n]*)/g;
  for (const m of output.matchAll(re)) {
    const expr = JSON.parse(`"${m[1]}"`) as string;
    const got = m[3].trim();
    let v: number | null = null;
    if (got !== 'nil') {
      const num = /\}\s+(\S+)$/.exec(got);
      if (num) v = num[1] === 'NaN' ? NaN : num[1] === '+Inf' ? Infinity : num[1] === '-Inf' ? -Infinity : Number(num[1]);
    }
    out.set(`${expr}@${m[2]}`, v);
  }
  return out;
}

function goDuration(ms: number): string {
  const s = ms / 1000;
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return m > 0 ? `${m}m${rest}s` : `${rest}s`;
}

test('kernels match promtool on the same series', { skip: needBinary('promtool') }, async () => {
  const cases = buildCases();
  const dir = mkdtempSync(join(tmpdir(), 'patrol-promtool-'));
  try {
    const file = join(dir, 'cases.yml');
    writeFileSync(file, yamlFor(cases));
    let output = '';
    try {
      await promisify(execFile)(PROMTOOL, ['test', 'rules', file], { timeout: 60_000, maxBuffer: 64 << 20 });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      output = `${err.stdout ?? ''}\n${err.stderr ?? ''}`;
    }
    const got = parseGot(output);
    assert.ok(got.size > cases.length / 2, `could not read promtool's answers:\n${output.slice(0, 2000)}`);
    const mismatches: string[] = [];
    let compared = 0;
    for (const c of cases) {
      const key = `${c.expr}@${goDuration(c.evalMs)}`;
      // promtool lists only failing expectations: an expression it does not list returned nothing.
      const theirs = got.has(key) ? got.get(key)! : null;
      compared++;
      const mine = c.mine();
      const same = theirs === null ? mine === null : mine !== null && almostEqual(mine, theirs, 1e-9);
      if (!same) mismatches.push(`${key}: promtool ${theirs}, patrol ${mine}`);
    }
    assert.equal(compared, cases.length);
    assert.deepEqual(mismatches, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
