// Plain-text summary of test-script runs: one line per file with passed / failed / skipped,
// split into evals with and without native histograms, then the skip reasons (and, when asked,
// every failure).

import type { Counts, FileReport } from './run.js';

export interface FormatOptions {
  /** List every failed eval with its reason. */
  failures?: boolean;
}

function fmtCounts(c: Counts): string {
  return `passed ${c.pass}, failed ${c.fail}, skipped ${c.skip}`;
}

function pct(c: Counts): string {
  const run = c.pass + c.fail + c.skip;
  return run === 0 ? '-' : `${((100 * c.pass) / run).toFixed(1)}%`;
}

export function sumCounts(reports: readonly FileReport[]): { nativeHistogram: Counts; other: Counts; total: Counts } {
  const out = { nativeHistogram: { pass: 0, fail: 0, skip: 0 }, other: { pass: 0, fail: 0, skip: 0 }, total: { pass: 0, fail: 0, skip: 0 } };
  for (const r of reports) {
    for (const k of ['nativeHistogram', 'other', 'total'] as const) {
      out[k].pass += r.counts[k].pass;
      out[k].fail += r.counts[k].fail;
      out[k].skip += r.counts[k].skip;
    }
  }
  return out;
}

export function formatReport(reports: readonly FileReport[], opts: FormatOptions = {}): string {
  const lines: string[] = [];
  const width = Math.max(10, ...reports.map((r) => r.file.length));
  for (const r of reports) {
    lines.push(`${r.file.padEnd(width)}  ${fmtCounts(r.counts.other)} (${pct(r.counts.other)})  | native histograms: ${fmtCounts(r.counts.nativeHistogram)}`);
  }
  const sum = sumCounts(reports);
  lines.push(`${'TOTAL'.padEnd(width)}  ${fmtCounts(sum.other)} (${pct(sum.other)} of evals without native histograms)  | native histograms: ${fmtCounts(sum.nativeHistogram)}`);

  const skips = new Map<string, string[]>();
  for (const r of reports) {
    for (const e of r.evals) {
      if (e.status !== 'skip') continue;
      const reason = e.reason ?? 'no reason given';
      let list = skips.get(reason);
      if (!list) skips.set(reason, (list = []));
      list.push(`${r.file}:${e.line}`);
    }
  }
  if (skips.size > 0) {
    lines.push('', 'Skipped:');
    for (const [reason, where] of skips) {
      const shown = where.length > 12 ? [...where.slice(0, 12), `… ${where.length - 12} more`] : where;
      lines.push(`  ${where.length} × ${reason}: ${shown.join(', ')}`);
    }
  }
  const errors = reports.flatMap((r) => r.errors.map((e) => `  ${r.file}:${e.line}: ${e.message}`));
  if (errors.length > 0) lines.push('', 'Script errors:', ...errors);
  if (opts.failures) {
    const fails = reports.flatMap((r) => r.evals.filter((e) => e.status === 'fail').map((e) => `  ${r.file}:${e.line}: ${e.nativeHistogram ? '[native histograms] ' : ''}${e.expr}\n      ${e.reason ?? ''}`));
    if (fails.length > 0) lines.push('', 'Failed:', ...fails);
  }
  return lines.join('\n');
}
