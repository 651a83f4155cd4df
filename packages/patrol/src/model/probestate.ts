// What the rest of Patrol sees of probes: their states and the state changes, and where to
// subscribe to the changes (rules, dashboard). The probe package (probe/) produces them; this
// module has no dependencies, so the component runtime and any consumer can name them without
// depending on the probe package.

export type ProbeState = 'unknown' | 'up' | 'degraded' | 'down';

export interface StateChange {
  time: number;
  from: ProbeState;
  to: ProbeState;
  reason: string;
}

export interface ProbeEvent extends StateChange {
  probe: string;
}

/** Called with each probe state change (up→down, down→up, unknown→…) once it is recorded. */
export type ProbeStateListener = (e: ProbeEvent) => void;

/**
 * Where components subscribe to probe state changes (rules, dashboard). A listener that throws
 * does not stop the others; its error goes to `onError`.
 */
export class ProbeStateChanges {
  private readonly listeners = new Set<ProbeStateListener>();

  constructor(private readonly onError: (err: unknown) => void = () => undefined) {}

  /** Returns the function that unsubscribes. */
  subscribe(fn: ProbeStateListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(e: ProbeEvent): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(e);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
