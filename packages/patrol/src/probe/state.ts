// Consecutive-failure state of one probe: DOWN after failure_threshold failures in a row, UP
// after success_threshold successes in a row, UNKNOWN until either happens.

import type { ProbeState, StateChange } from '../model/probestate.js';

export class ProbeStateMachine {
  consecutiveFailures = 0;
  consecutiveSuccesses = 0;

  constructor(
    public failureThreshold: number,
    public successThreshold: number,
    public state: ProbeState = 'unknown',
    /** When the state was entered (ms since the epoch); 0 when unknown. */
    public since = 0,
  ) {}

  /** Records one result; returns the change it caused, if any. */
  observe(success: boolean, time: number, reason: string): StateChange | null {
    if (success) {
      this.consecutiveSuccesses++;
      this.consecutiveFailures = 0;
      if (this.state !== 'up' && this.consecutiveSuccesses >= this.successThreshold) {
        const n = this.consecutiveSuccesses;
        return this.change('up', time, n === 1 ? 'probe succeeded' : `${n} consecutive successes`);
      }
    } else {
      this.consecutiveFailures++;
      this.consecutiveSuccesses = 0;
      if (this.state !== 'down' && this.consecutiveFailures >= this.failureThreshold) {
        const n = this.consecutiveFailures;
        return this.change('down', time, n === 1 ? reason : `${n} consecutive failures, last: ${reason}`);
      }
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
