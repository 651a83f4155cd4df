// How the benchmarks that start Patrol as its own process run it: as installed (dist/patrol.js,
// built by `npm run build`, with the environment and Node flags on bin/patrol.js's `#!` line), so
// that what they measure is what users run: from src/ through tsx, the first request to reach a
// module pays for its transpilation on the main thread (hundreds of ms), and V8 runs with other
// heap settings. PATROL_BENCH_TSX=1 (or no dist/) runs src/ through tsx instead; NODE_FLAGS
// (space-separated) replaces the line's Node flags, to try others without editing bin/patrol.js;
// PATROL_BENCH_NODE_ARGS adds Node flags (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof
// --trace-gc`) to find what holds the loop.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, entryLine } from '../src/testing/entryline.js';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '../dist/patrol.js');
const installed = entryLine();
export { BIN };

/** The Node flags the installed `patrol` command runs with (NODE_FLAGS replaces them). */
export const nodeFlags = process.env.NODE_FLAGS !== undefined ? process.env.NODE_FLAGS.split(/\s+/).filter(Boolean) : installed.flags;

/** The environment the installed command runs with: the caller's and the `#!` line's variables. */
export const patrolEnv: NodeJS.ProcessEnv = { ...process.env, ...installed.env };

/** Extra Node flags for the server from PATROL_BENCH_NODE_ARGS. */
export const extraNodeArgs = (process.env.PATROL_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

export const useTsx = process.env.PATROL_BENCH_TSX === '1' || !existsSync(dist);

/** The arguments to give process.execPath before the CLI's own (`start`, …); spawn with patrolEnv. */
export function patrolArgs(): string[] {
  const entry = useTsx ? ['--import', 'tsx', join(here, '../src/cli/main.ts')] : [dist];
  return [...nodeFlags, ...extraNodeArgs, ...entry];
}

/** One line saying what runs, for the benchmark's output. */
export function describePatrol(): string {
  const env = Object.entries(installed.env).map(([k, v]) => `${k}=${v}`);
  return `Patrol from ${useTsx ? 'src/ via tsx' : 'dist/patrol.js (npm run build after changes)'}, ${[...env, ...nodeFlags, ...extraNodeArgs].join(' ') || '(no flags)'}`;
}

/** Stops the benchmark's child processes in reverse start order: SIGTERM, SIGKILL after 10 s. */
export async function stopChildren(children: ChildProcess[]): Promise<void> {
  for (const c of [...children].reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}
