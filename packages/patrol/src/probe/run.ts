// One probe run: prepare once (compileProbe), then runProbe as often as the scheduler says. The
// run's timeout always holds: at the deadline the run's I/O is aborted and the result is a
// failure naming the phase it was in, whatever the target keeps doing.

import type { ProbeConfig } from '../config/probes.js';
import { evaluateAll, parseCondition, showMs, type Condition } from '../model/conditions.js';
import { probeTypeOf } from './registry.js';
import { Abort, type PreparedProbe, type ProbeSample, type RunContext, type RunOutcome } from './types.js';

export interface CompiledProbe {
  readonly cfg: ProbeConfig;
  readonly conditions: readonly Condition[];
  /** Checked when `conditions` pass; one failing makes the run degraded instead of failed. */
  readonly degrading: readonly Condition[];
  /** probe_failed_due_to_regex is written: the type always reports it, or some condition tests a regex. */
  readonly hasRegex: boolean;
  readonly prepared: PreparedProbe;
}

/** Prepares a probe; throws an Error naming the probe and the problem (unreadable ca_file...). */
export function compileProbe(cfg: ProbeConfig, dir: string): CompiledProbe {
  const type = probeTypeOf(cfg);
  const conditions = cfg.conditions.length > 0 ? cfg.conditions : type.defaultConditions.map(parseCondition);
  let prepared: PreparedProbe;
  try {
    // The type sees every condition it may have to serve (the body is kept when either reads it).
    prepared = type.prepare(cfg, cfg.degrading_conditions.length > 0 ? [...conditions, ...cfg.degrading_conditions] : conditions, dir);
  } catch (e) {
    throw new Error(`probe ${JSON.stringify(cfg.name)}: ${(e as Error).message}`);
  }
  return { cfg, conditions, degrading: cfg.degrading_conditions, hasRegex: type.reportsRegexFailure === true || conditions.some((c) => c.isRegex), prepared };
}

export type ProbeResult = {
  probe: string;
  /** Wall-clock start, ms since the epoch. */
  time: number;
  durationMs: number;
  /** Empty on a clean success; why the run failed, or why it is degraded. */
  reason: string;
  /** The run passed its conditions but failed a degrading condition (success is true). */
  degraded: boolean;
  failedDueToRegex: boolean;
  status?: number;
  samples: ProbeSample[];
} & ({ success: true } | { success: false });

/**
 * Runs a probe once; never throws, never outlives its timeout. Aborting `stop` (shutdown) ends
 * the run at once as a failure.
 */
export function runProbe(p: CompiledProbe, stop?: Abort): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => new ProbeRun(p, stop, resolve).start());
}

/**
 * One run's bookkeeping. A class rather than closures: a run is the hot path (a thousand a
 * second), and methods cost nothing per run where closures are allocated each time.
 */
class ProbeRun {
  private readonly ac = new Abort();
  private readonly ctx: RunContext;
  private readonly t0 = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private settled = false;
  /** The deadline or shutdown cut the run off; whatever it still does is ignored. */
  private cutOff = false;
  private readonly onStop: (() => void) | undefined;

  constructor(
    private readonly p: CompiledProbe,
    private readonly stop: Abort | undefined,
    private readonly resolve: (r: ProbeResult) => void,
  ) {
    this.ctx = { abort: this.ac, phase: 'starting', samples: [], startedAt: Date.now() };
    if (stop) this.onStop = this.stopped.bind(this);
  }

  start(): void {
    this.timer = setTimeout(() => this.timedOut(), this.p.cfg.timeout);
    if (this.onStop) this.stop!.on(this.onStop);
    let running: Promise<RunOutcome>;
    try {
      running = this.p.prepared.run(this.ctx);
    } catch (e) {
      running = Promise.reject(e);
    }
    running.then(
      (out) => this.settle(out),
      (e: unknown) => this.settle({ obs: { durationMs: performance.now() - this.t0, now: Date.now() }, error: `probe error: ${(e as Error)?.message ?? String(e)}` }),
    );
  }

  private timedOut(): void {
    if (this.settled) return;
    const timeoutMs = this.p.cfg.timeout;
    const phase = this.ctx.phase;
    this.cutOff = true;
    this.settle({ obs: { durationMs: timeoutMs, now: Date.now() }, error: `timeout after ${showMs(timeoutMs)} during ${phase}` });
  }

  private stopped(): void {
    if (this.settled) return;
    const phase = this.ctx.phase;
    this.cutOff = true;
    this.settle({ obs: { durationMs: performance.now() - this.t0, now: Date.now() }, error: `stopped during ${phase}: Patrol is shutting down` });
  }

  private settle(out: RunOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (this.onStop) this.stop!.off(this.onStop);
    // Releases anything the run left open; a run that was cut off fills in what it saw so far
    // (blackbox's values for a failed probe) from its abort listener, here, synchronously.
    this.ac.abort();
    // After a cut-off the run may still touch ctx.samples: what is written is the copy taken now.
    const samples = this.cutOff ? this.ctx.samples.map((s) => ({ ...s })) : this.ctx.samples;
    const p = this.p;
    const elapsed = performance.now() - this.t0;
    const durationMs = this.cutOff ? Math.min(p.cfg.timeout, elapsed) : elapsed;
    let reason = out.error ?? '';
    let regex = false;
    let degraded = false;
    if (!out.error) {
      const v = evaluateAll(p.conditions, out.obs);
      if (!v.ok) {
        reason = v.reason;
        regex = v.regex;
      } else if (p.degrading.length > 0) {
        const d = evaluateAll(p.degrading, out.obs);
        if (!d.ok) {
          reason = `degraded: ${d.reason}`;
          degraded = true;
        }
      }
    }
    const base = { probe: p.cfg.name, time: this.ctx.startedAt, durationMs, reason, degraded, failedDueToRegex: regex, status: out.obs.status, samples };
    this.resolve(reason === '' || degraded ? { ...base, success: true } : { ...base, success: false });
  }
}
