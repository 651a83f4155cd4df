// Consecutive-result state of one probe: DOWN after failure_threshold failed runs in a row,
// DEGRADED after failure_threshold degraded runs in a row (the run passed its conditions but
// failed one of its degrading_conditions), UP after success_threshold clean runs in a row,
// UNKNOWN until one of these happens. A degraded run is not a failure: it resets the failure
// count and counts towards leaving DOWN (into DEGRADED when the run that ends DOWN is degraded).

import type { ProbeState, StateChange } from '../model/probestate.js';

export class ProbeStateMachine {
  consecutiveFailures = 0;
  /** Runs in a row that did not fail (clean or degraded). */
  consecutiveSuccesses = 0;
  consecutiveDegraded = 0;
  /** Runs in a row that passed every condition, degrading ones included. */
  consecutiveClean = 0;

  constructor(
    public failureThreshold: number,
    public successThreshold: number,
    public state: ProbeState = 'unknown',
    /** When the state was entered (ms since the epoch); 0 when unknown. */
    public since = 0,
  ) {}

  /**
   * Records one result; returns the change it caused, if any. `degraded` is meaningful for a
   * successful run only; `reason` is the failure's or the degradation's.
   */
  observe(success: boolean, time: number, reason: string, degraded = false): StateChange | null {
    if (!success) {
      this.consecutiveFailures++;
      this.consecutiveSuccesses = 0;
      this.consecutiveDegraded = 0;
      this.consecutiveClean = 0;
      if (this.state !== 'down' && this.consecutiveFailures >= this.failureThreshold) {
        const n = this.consecutiveFailures;
        return this.change('down', time, n === 1 ? reason : `${n} consecutive failures, last: ${reason}`);
      }
      return null;
    }
    this.consecutiveFailures = 0;
    this.consecutiveSuccesses++;
    if (degraded) {
      this.consecutiveDegraded++;
      this.consecutiveClean = 0;
    } else {
      this.consecutiveClean++;
      this.consecutiveDegraded = 0;
    }
    if (this.state === 'down' || this.state === 'unknown') {
      if (this.consecutiveSuccesses < this.successThreshold) return null;
      const n = this.consecutiveSuccesses;
      if (degraded) return this.change('degraded', time, n === 1 ? `probe passed, degraded: ${reason}` : `${n} consecutive successes, last degraded: ${reason}`);
      return this.change('up', time, n === 1 ? 'probe succeeded' : `${n} consecutive successes`);
    }
    if (this.state === 'up' && degraded && this.consecutiveDegraded >= this.failureThreshold) {
      const n = this.consecutiveDegraded;
      return this.change('degraded', time, n === 1 ? reason : `${n} consecutive degraded runs, last: ${reason}`);
    }
    if (this.state === 'degraded' && !degraded && this.consecutiveClean >= this.successThreshold) {
      const n = this.consecutiveClean;
      return this.change('up', time, n === 1 ? 'probe succeeded without degradation' : `${n} consecutive runs without degradation`);
    }
    return null;
  }

  private change(to: ProbeState, time: number, reason: string): StateChange {
    const c: StateChange = { time, from: this.state, to, reason };
    this.state = to;
    this.since = time;
    return c;
  }
}
