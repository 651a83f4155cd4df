// A real `patrol start` child process for the kill -9 tests (alerting state, rule restore,
// acknowledgements): started from src/ through tsx on a data directory, killed with SIGKILL.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const repo = new URL('../../../../', import.meta.url).pathname;
const cli = join(repo, 'packages/patrol/src/cli/main.ts');

/** Polls `f` every 100 ms until it returns a value (errors count as not yet), at most `bound` ms. */
export async function until<T>(what: string, f: () => Promise<T | undefined>, bound = 90_000): Promise<T> {
  const deadline = Date.now() + bound;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface PatrolProcess {
  proc: ChildProcess;
  /** http://127.0.0.1:<port> */
  base: string;
  /** Everything the process wrote to stdout and stderr so far (JSON logs). */
  out: () => string;
}

/** Starts `patrol start --config <dir>/patrol.yml --data <dir>/data` on a free port; resolves
 * once it logs that it is ready. */
export async function startPatrol(dir: string): Promise<PatrolProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', cli, 'start', '--config', join(dir, 'patrol.yml'), '--data', join(dir, 'data'), '--listen', '127.0.0.1:0', '--log.format', 'json'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const listen = await until(
      'Patrol is ready',
      async () => {
        // A throw here would count as "not yet": an early exit is a value, checked below.
        if (proc.exitCode !== null) return 'exited';
        return /"listen":"(127\.0\.0\.1:\d+)"[^\n]*"msg":"Patrol is ready"/.exec(out)?.[1];
      },
      180_000,
    );
    if (listen === 'exited') throw new Error(`patrol exited ${proc.exitCode}`);
    return { proc, base: `http://${listen}`, out: () => out };
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n${out}`);
  }
}

/** Signals the process (if still running; SIGKILL unless told) and resolves when it has exited. */
export function killed(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  return new Promise((r) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return r();
    proc.once('exit', () => r());
    proc.kill(signal);
  });
}

/** Runs a `patrol` command to its end (bounded: SIGKILL after `bound` ms); its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}, bound = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), bound);
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}
