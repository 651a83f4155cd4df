// `patrol run --once`: the CI/CD gate. Runs every probe (or the named ones) until decided, prints
// a table (or JSON), optionally writes JUnit XML, and exits 0 when all passed, 1 when one failed,
// 2 when the configuration is bad.

import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { parseDuration } from '../model/duration.js';
import { loadConfigFile } from '../config/load.js';
import { showMs } from '../model/conditions.js';
import { junitXml } from '../probe/junit.js';
import { gateOutcome, runAllOnce, type OnceOutcome } from '../probe/once.js';
import { compileProbe, type CompiledProbe } from '../probe/run.js';

interface RunOptions {
  once?: boolean;
  config?: string;
  probe?: string[];
  junit?: string;
  json?: boolean;
  strict?: boolean;
  retryDelay: string;
  concurrency: string;
}

export const EXIT_PASSED = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_CONFIG = 2;

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run probes once and exit 0 if all pass, 1 if any fails (with --strict: any attempt fails), 2 on a bad config (a CI/CD gate)')
    .option('--once', 'run every probe once (honouring failure_threshold retries) and exit')
    .option('--config <file>', 'configuration file')
    .option('--probe <name...>', 'run only these probes')
    .option('--junit <file>', 'write a JUnit XML report')
    .option('--json', 'print results as JSON instead of a table')
    .option('--strict', 'fail the gate when any attempt failed, even if a retry passed')
    .option('--retry-delay <duration>', 'wait between attempts of a failing probe', '1s')
    .option('--concurrency <n>', 'probes run in parallel', '16')
    .action(async (opts: RunOptions) => {
      process.exitCode = await runCommand(opts);
    });
}

function fail(msg: string): number {
  process.stderr.write(`${msg}\n`);
  return EXIT_BAD_CONFIG;
}

async function runCommand(opts: RunOptions): Promise<number> {
  if (!opts.once) return fail('patrol run needs --once (continuous probing runs under `patrol start`)');
  if (!opts.config) return fail('patrol run needs --config FILE');
  const file = opts.config;
  const retryDelayMs = parseDuration(opts.retryDelay);
  if (retryDelayMs === null) return fail(`--retry-delay: ${JSON.stringify(opts.retryDelay)} is not a duration`);
  const concurrency = Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) return fail(`--concurrency: ${JSON.stringify(opts.concurrency)} is not a positive integer`);
  const loaded = await loadConfigFile(file);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`${e.toString()}\n`);
    return fail(`FAILED: ${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'} in ${file}`);
  }
  let probes = loaded.config.probes;
  if (opts.probe && opts.probe.length > 0) {
    const known = new Set(probes.map((p) => p.name));
    const unknown = opts.probe.filter((n) => !known.has(n));
    if (unknown.length > 0) return fail(`--probe: ${unknown.map((n) => JSON.stringify(n)).join(', ')} not found in ${file} (known: ${[...known].join(', ') || 'none'})`);
    const wanted = new Set(opts.probe);
    probes = probes.filter((p) => wanted.has(p.name));
  }
  if (probes.length === 0) return fail(`no probes in ${file}`);
  const compiled: CompiledProbe[] = [];
  for (const p of probes) {
    try {
      compiled.push(compileProbe(p, loaded.dir));
    } catch (e) {
      return fail(`${file}: ${(e as Error).message}`);
    }
  }
  const startedAt = Date.now();
  const outcomes = (await runAllOnce(compiled, { retryDelayMs, concurrency })).map((o) => gateOutcome(o, opts.strict === true));
  const totalMs = Date.now() - startedAt;
  if (opts.json) process.stdout.write(JSON.stringify(toJson(outcomes), null, 2) + '\n');
  else process.stdout.write(table(outcomes));
  if (opts.junit) {
    try {
      await writeFile(opts.junit, junitXml(outcomes, startedAt, totalMs));
    } catch (e) {
      process.stderr.write(`cannot write JUnit report ${opts.junit}: ${(e as Error).message}\n`);
      return EXIT_FAILED;
    }
  }
  return outcomes.every((o) => o.passed) ? EXIT_PASSED : EXIT_FAILED;
}

function toJson(outcomes: readonly OnceOutcome[]) {
  return {
    passed: outcomes.every((o) => o.passed),
    probes: outcomes.map((o) => ({
      name: o.cfg.name,
      type: o.cfg.type,
      target: o.cfg.target,
      labels: o.cfg.labels,
      passed: o.passed,
      reason: o.reason,
      elapsed_seconds: o.elapsedMs / 1000,
      attempts: o.attempts.map((a) => ({ time: new Date(a.time).toISOString(), success: a.success, duration_seconds: a.durationMs / 1000, reason: a.reason, ...(a.status !== undefined ? { status_code: a.status } : {}) })),
    })),
  };
}

function table(outcomes: readonly OnceOutcome[]): string {
  const rows = outcomes.map((o) => {
    const last = o.attempts[o.attempts.length - 1];
    return [o.passed ? 'PASS' : 'FAIL', o.cfg.name, o.cfg.type, o.cfg.target, showMs(last.durationMs), String(o.attempts.length), o.reason];
  });
  const header = ['RESULT', 'PROBE', 'TYPE', 'TARGET', 'TIME', 'ATTEMPTS', 'REASON'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  const failed = outcomes.filter((o) => !o.passed).length;
  return [fmt(header), ...rows.map(fmt), '', `${outcomes.length - failed} passed, ${failed} failed`, ''].join('\n');
}
