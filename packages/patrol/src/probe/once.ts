// One-shot mode for CI/CD gates: run each probe until its state is decided, the way the
// scheduler would: it passes after success_threshold successes in a row and fails after
// failure_threshold failures in a row (retries spaced by retryDelayMs).

import type { ProbeConfig } from '../config/probes.js';
import { runProbe, type CompiledProbe, type ProbeResult } from './run.js';
import { ProbeStateMachine } from './state.js';

export interface OnceOutcome {
  cfg: ProbeConfig;
  passed: boolean;
  /** The reason of the last failed attempt when failed; "" when passed (see gateOutcome). */
  reason: string;
  attempts: ProbeResult[];
  /** Wall time from the first attempt to the decision, ms. */
  elapsedMs: number;
}

export interface OnceOptions {
  retryDelayMs: number;
  /** Probes run in parallel up to this many. */
  concurrency: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runProbeUntilDecided(p: CompiledProbe, retryDelayMs: number): Promise<OnceOutcome> {
  const { failure_threshold: f, success_threshold: s } = p.cfg;
  const machine = new ProbeStateMachine(f, s);
  const attempts: ProbeResult[] = [];
  const t0 = Date.now();
  // Alternating results can postpone a decision forever; past this many it counts as failed.
  const maxAttempts = 2 * (f + s);
  while (attempts.length < maxAttempts) {
    if (attempts.length > 0) await sleep(retryDelayMs);
    const r = await runProbe(p);
    attempts.push(r);
    machine.observe(r.success, r.time, r.reason, r.degraded);
    if (machine.state !== 'unknown') break;
  }
  // A DEGRADED probe works (slowly, say): the gate passes it.
  const passed = machine.state === 'up' || machine.state === 'degraded';
  const lastFailure = [...attempts].reverse().find((a) => !a.success);
  let reason = '';
  if (!passed) reason = machine.state === 'down' ? lastFailure!.reason : `undecided after ${attempts.length} attempts (flapping), last failure: ${lastFailure?.reason ?? 'none'}`;
  return { cfg: p.cfg, passed, reason, attempts, elapsedMs: Date.now() - t0 };
}

/**
 * The failed attempts of an outcome in one line, identical reasons grouped:
 * `attempts 1, 2: status 503 not in [200]; attempt 3: timeout after 5s`. "" when none failed.
 */
export function failedAttempts(o: OnceOutcome): string {
  const byReason = new Map<string, number[]>();
  o.attempts.forEach((a, i) => {
    if (a.success) return;
    const list = byReason.get(a.reason) ?? [];
    list.push(i + 1);
    byReason.set(a.reason, list);
  });
  return [...byReason].map(([reason, ns]) => `${ns.length === 1 ? 'attempt' : 'attempts'} ${ns.join(', ')}: ${reason}`).join('; ');
}

/**
 * What the gate reports for an outcome: a probe that passed after failed attempts names them;
 * with `strict`, any failed attempt fails the gate.
 */
export function gateOutcome(o: OnceOutcome, strict: boolean): OnceOutcome {
  if (!o.passed) return o;
  const failed = failedAttempts(o);
  if (failed === '') return o;
  if (strict) return { ...o, passed: false, reason: `strict: failed ${failed} (passed on attempt ${o.attempts.length})` };
  return { ...o, reason: `passed on attempt ${o.attempts.length}; failed ${failed}` };
}

/** Runs every probe until decided; results keep the order of `probes`. */
export async function runAllOnce(probes: readonly CompiledProbe[], opts: OnceOptions): Promise<OnceOutcome[]> {
  const out: OnceOutcome[] = new Array(probes.length);
  let next = 0;
  const worker = async () => {
    while (next < probes.length) {
      const i = next++;
      out[i] = await runProbeUntilDecided(probes[i], opts.retryDelayMs);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, probes.length)) }, worker));
  return out;
}
