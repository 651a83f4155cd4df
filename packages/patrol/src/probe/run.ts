// One probe run: prepare once (compileProbe), then runProbe as often as the scheduler says. The
// run's timeout always holds: at the deadline the run's I/O is aborted and the result is a
// failure naming the phase it was in, whatever the target keeps doing.

import type { ProbeConfig } from '../config/probes.js';
import { evaluateAll, parseCondition, showMs, type Condition, type Observation } from './conditions.js';
import { probeTypeOf } from './registry.js';
import { Abort, type PreparedProbe, type ProbeSample, type RunContext, type RunOutcome } from './types.js';

export interface CompiledProbe {
  readonly cfg: ProbeConfig;
  readonly conditions: readonly Condition[];
  /** Some condition tests a regex on the body or headers (probe_failed_due_to_regex is written). */
  readonly hasRegex: boolean;
  readonly prepared: PreparedProbe;
}

/** Prepares a probe; throws an Error naming the probe and the problem (unreadable ca_file...). */
export function compileProbe(cfg: ProbeConfig, dir: string): CompiledProbe {
  const type = probeTypeOf(cfg);
  const conditions = cfg.conditions.length > 0 ? cfg.conditions : type.defaultConditions.map(parseCondition);
  let prepared: PreparedProbe;
  try {
    prepared = type.prepare(cfg, conditions, dir);
  } catch (e) {
    throw new Error(`probe ${JSON.stringify(cfg.name)}: ${(e as Error).message}`);
  }
  return { cfg, conditions, hasRegex: conditions.some((c) => c.isRegex), prepared };
}

export type ProbeResult = {
  probe: string;
  /** Wall-clock start, ms since the epoch. */
  time: number;
  durationMs: number;
  /** Empty on success. */
  reason: string;
  failedDueToRegex: boolean;
  status?: number;
  samples: ProbeSample[];
} & ({ success: true } | { success: false });

/**
 * Runs a probe once; never throws, never outlives its timeout. Aborting `stop` (shutdown) ends
 * the run at once as a failure.
 */
export async function runProbe(p: CompiledProbe, stop?: Abort): Promise<ProbeResult> {
  const ac = new Abort();
  const startedAt = Date.now();
  const ctx: RunContext = { abort: ac, phase: 'starting', samples: [], startedAt };
  const t0 = performance.now();
  const timeoutMs = p.cfg.timeout;
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  let cutOff = false;
  const timedOut = new Promise<RunOutcome>((resolve) => {
    timer = setTimeout(() => {
      const phase = ctx.phase;
      cutOff = true;
      ac.abort();
      resolve({ obs: { durationMs: timeoutMs, now: Date.now() }, error: `timeout after ${showMs(timeoutMs)} during ${phase}` });
    }, timeoutMs);
    if (stop) {
      onStop = () => {
        cutOff = true;
        ac.abort();
        resolve({ obs: { durationMs: performance.now() - t0, now: Date.now() }, error: `stopped during ${ctx.phase}: Patrol is shutting down` });
      };
      stop.on(onStop);
    }
  });
  let out: RunOutcome;
  try {
    out = await Promise.race([
      p.prepared.run(ctx).catch((e: unknown): RunOutcome => ({ obs: { durationMs: performance.now() - t0, now: Date.now() }, error: `probe error: ${(e as Error)?.message ?? String(e)}` })),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
    if (onStop) stop!.off(onStop);
  }
  ac.abort(); // releases anything the run left open
  const timedOutRun = cutOff;
  const durationMs = timedOutRun ? Math.min(timeoutMs, performance.now() - t0) : performance.now() - t0;
  let reason = out.error ?? '';
  let regex = false;
  if (!out.error) {
    const obs: Observation = out.obs;
    const v = evaluateAll(p.conditions, obs);
    if (!v.ok) {
      reason = v.reason;
      regex = v.regex;
    }
  }
  const base = { probe: p.cfg.name, time: startedAt, durationMs, reason, failedDueToRegex: regex, status: out.obs.status, samples: timedOutRun ? [] : ctx.samples };
  // After a timeout the run may still push into ctx.samples; its figures are not written.
  return reason === '' ? { ...base, success: true } : { ...base, success: false };
}
