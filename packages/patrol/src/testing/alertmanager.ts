// Debian's Alertmanager for the side-by-side tests: started on a free loopback port with its own
// storage and no clustering, awaited until /-/ready, and stopped with SIGTERM. The tests that
// use it skip visibly when the binary is missing (needBinary in shared.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './net.js';
import { killed, until } from './patrolproc.js';
import { binaryPath } from './shared.js';

export const ALERTMANAGER = 'prometheus-alertmanager';

export interface Alertmanager {
  proc: ChildProcess;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The last 4,000 characters it wrote to stderr. */
  log: () => string;
  stop: () => Promise<void>;
}

/** Writes `yaml` to `<dir>/alertmanager.yml`, starts Alertmanager on it (data in `<dir>/am-data`)
 * and resolves once it answers /-/ready; throws with its log if it exits first. */
export async function startAlertmanager(dir: string, yaml: string): Promise<Alertmanager> {
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, yaml);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(binaryPath(ALERTMANAGER), [`--config.file=${file}`, `--storage.path=${join(dir, 'am-data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log = (log + String(d)).slice(-4000)));
  // until() counts a throw as "not yet", so an early exit is a value, checked after.
  const ready = await until('Alertmanager ready', async () => (proc.exitCode !== null ? 'exited' : (await fetch(`${url}/-/ready`)).ok ? 'ready' : undefined), 60_000).catch(
    (e: Error) => e.message,
  );
  if (ready !== 'ready') {
    await killed(proc);
    throw new Error(`${ready === 'exited' ? `Alertmanager exited ${proc.exitCode}` : ready} (log: ${log})`);
  }
  return { proc, url, log: () => log, stop: () => killed(proc, 'SIGTERM') };
}
