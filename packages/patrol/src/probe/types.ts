// The contract between the probe engine and each probe type. A type is an entry in a registry
// (registry.ts), never a branch in a switch: it prepares a probe from its config once, then runs
// it many times. A run reports what it observed and, when the transport failed, why; it never
// throws for an expected failure (refused, timeout, bad certificate...).

import type { Condition, Observation } from '../model/conditions.js';
import type { ProbeConfig } from '../config/probes.js';

/**
 * One gauge written with the run's results. `labelName`/`labelValue` add one label
 * (probe_http_duration_seconds's phase); `labels` adds several (probe_ssl_last_chain_info).
 */
export interface ProbeSample {
  name: string;
  value: number;
  labelName?: string;
  labelValue?: string;
  labels?: Record<string, string>;
}

/**
 * A cancellation flag with callbacks. Lighter than AbortController (which builds a DOMException
 * and dispatches DOM events), and a run makes one of these every time.
 */
export class Abort {
  aborted = false;
  // A run has one or two listeners; the manager's shutdown handle has one per run in flight.
  private fns: (() => void)[] = [];

  /** Calls `fn` once on abort (at once if already aborted). */
  on(fn: () => void): void {
    if (this.aborted) fn();
    else this.fns.push(fn);
  }

  off(fn: () => void): void {
    const i = this.fns.lastIndexOf(fn);
    if (i < 0) return;
    const last = this.fns.pop()!;
    if (i < this.fns.length) this.fns[i] = last;
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const fns = this.fns;
    this.fns = [];
    for (const fn of fns) fn();
  }
}

/** Handed to a run. The run must stop all I/O when `abort` fires (the timeout fired). */
export interface RunContext {
  readonly abort: Abort;
  /** What the run is doing; the timeout reason names it ("timeout after 2s during TLS handshake"). */
  phase: string;
  /** Extra metrics of the type (phases, status code...). */
  readonly samples: ProbeSample[];
  /** Wall-clock start of the run, ms since the epoch. */
  readonly startedAt: number;
}

export interface RunOutcome {
  obs: Observation;
  /** The transport failure, or null when there is something for conditions to judge. */
  error: string | null;
}

export interface PreparedProbe {
  /** Key for the per-host concurrency limit. */
  readonly host: string;
  /** Whether the body text must be kept (conditions read it). */
  run(ctx: RunContext): Promise<RunOutcome>;
}

export interface ProbeType<C extends ProbeConfig = ProbeConfig> {
  readonly type: C['type'];
  /** Writes probe_failed_due_to_regex on every run, as blackbox_exporter's prober does (http). */
  readonly reportsRegexFailure?: boolean;
  /** Conditions used when the probe lists none. */
  readonly defaultConditions: readonly string[];
  /**
   * Builds the runnable probe: parses the target, reads certificate files relative to `dir`.
   * Throws an Error naming the problem (a missing ca_file) — a configuration error.
   */
  prepare(cfg: C, conditions: readonly Condition[], dir: string): PreparedProbe;
}
