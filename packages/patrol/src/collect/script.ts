// Script collectors: run a command, read its stdout as the text exposition format. The command
// runs in its own process group so a timeout kills it and everything it started.

import { spawn } from 'node:child_process';
import type { Labels } from '../model/labels.js';
import { parseExposition } from '../textparse/parser.js';

/** Largest stdout accepted; a script printing more is killed. */
export const SCRIPT_MAX_OUTPUT = 16 * 1024 * 1024;
const STDERR_KEEP = 512;

export type ScriptRun = { ok: true; stdout: Buffer } | { ok: false; error: string };

export function runScript(command: string, args: readonly string[], timeoutMs: number, cwd?: string): Promise<ScriptRun> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: ScriptRun) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (e) {
      resolve({ ok: false, error: `cannot start ${JSON.stringify(command)}: ${(e as Error).message}` });
      return;
    }
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      killGroup();
      finish({ ok: false, error: `timed out after ${timeoutMs / 1000}s; killed` });
    }, timeoutMs);
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => {
      size += b.length;
      if (size > SCRIPT_MAX_OUTPUT) {
        killGroup();
        finish({ ok: false, error: `output exceeds ${SCRIPT_MAX_OUTPUT} bytes; killed` });
        return;
      }
      chunks.push(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString('utf8')).slice(-STDERR_KEEP);
    });
    child.on('error', (e) => finish({ ok: false, error: `cannot run ${JSON.stringify(command)}: ${e.message}` }));
    child.on('close', (code, signal) => {
      const tail = stderr.trim() ? `: ${stderr.trim()}` : '';
      if (signal) finish({ ok: false, error: `killed by ${signal}${tail}` });
      else if (code !== 0) finish({ ok: false, error: `exited with status ${code}${tail}` });
      else finish({ ok: true, stdout: Buffer.concat(chunks) });
    });
  });
}

/** Parses a script's output; client-side timestamps are ignored (samples take the run's time). */
export function parseScriptOutput(stdout: Buffer): { labels: Labels; value: number }[] {
  return parseExposition(stdout).samples.map((s) => ({ labels: s.labels, value: s.value }));
}
