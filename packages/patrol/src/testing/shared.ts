// Where tests find what is not in this repository: the shared conformance suites and fixtures,
// and the reference programs (Debian's Prometheus, its exporters, openssl…) Patrol is compared
// with. One place decides, and one place says what is missing:
//  - PATROL_CONFORMANCE_DIR (default ../shared/conformance beside the repository root) holds the
//    suites; the exposition fixtures are its sibling `fixtures` folder.
//  - a missing suite or program makes the tests that need it skip with a visible
//    "skipped: … not found …; see README" line, and FAIL under CI=true (CI must run everything).

import assert from 'node:assert/strict';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is packages/patrol/src/testing/shared.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The conformance suites: PATROL_CONFORMANCE_DIR, or ../shared/conformance from the repository root. */
export function conformanceDir(): string {
  const set = process.env.PATROL_CONFORMANCE_DIR;
  return set ? resolve(REPO_ROOT, set) : resolve(REPO_ROOT, '../shared/conformance');
}

/** One suite inside the conformance folder (promql, openmetrics, promtool). */
export function conformancePath(suite: string): string {
  return join(conformanceDir(), suite);
}

/** Captured exporter output and other fixtures: the `fixtures` folder beside the conformance folder. */
export function fixturesPath(name: string): string {
  return join(dirname(conformanceDir()), 'fixtures', name);
}

/** Full path of a program found on PATH (and /usr/sbin, /sbin, where Debian puts some), or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/sbin'].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

const announced = new Set<string>();

/**
 * The skip reason for a missing requirement, announced once on stderr; under CI=true a failing
 * test is registered instead so the run cannot pass without it.
 */
function missing(what: string): string {
  const reason = `skipped: ${what}; see README (Tests)`;
  if (!announced.has(what)) {
    announced.add(what);
    if (process.env.CI === 'true') {
      test(`required: ${what}`, () => {
        assert.fail(`${what} (CI=true runs every test; run \`npm run setup:reference\` and provide the shared suites, see README)`);
      });
    } else {
      process.stderr.write(`${reason}\n`);
    }
  }
  return reason;
}

/** For `{ skip: needSuite('PromQL conformance suite', dir) }`: false when `path` exists. */
export function needSuite(label: string, path: string): string | false {
  return existsSync(path) ? false : missing(`${label} not found at ${path}`);
}

/** For `{ skip: needBinary('prometheus') }`: false when the program is installed. */
export function needBinary(name: string): string | false {
  return findBinary(name) ? false : missing(`${name} not installed (npm run setup:reference installs it)`);
}

/** The program's path, or its bare name when missing (tests that use it are skipped by needBinary). */
export function binaryPath(name: string): string {
  return findBinary(name) ?? name;
}

/**
 * A helper program of the benchmarks (fake exporter, target server…): PATROL_BENCH_DIR, or
 * ../shared/bench from the repository root. Throws, naming the setting, when it is not there.
 */
export function benchPath(name: string): string {
  const set = process.env.PATROL_BENCH_DIR;
  const p = join(set ? resolve(REPO_ROOT, set) : resolve(REPO_ROOT, '../shared/bench'), name);
  if (!existsSync(p)) throw new Error(`benchmark helper ${p} not found; set PATROL_BENCH_DIR to the folder holding ${name} (see README)`);
  return p;
}
