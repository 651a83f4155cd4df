// The named time intervals of an `alerting:` section as the pipeline's time muter (the periods
// themselves: model/timeinterval.ts).

import { parsePeriod, periodContains, type Period, type TimeIntervalConfig } from '../model/timeinterval.js';
import type { TimeMuter } from './pipeline.js';

export { parsePeriod, periodContains, type TimeIntervalConfig };

/** The named intervals of an `alerting:` section, as the pipeline's time muter. */
export class TimeIntervals implements TimeMuter {
  private readonly byName = new Map<string, Period[]>();

  constructor(named: readonly { name: string; time_intervals: TimeIntervalConfig[] }[]) {
    for (const n of named) {
      try {
        this.byName.set(
          n.name,
          n.time_intervals.map((c) => parsePeriod(c)),
        );
      } catch (e) {
        throw new Error(`time interval ${JSON.stringify(n.name)}: ${(e as Error).message}`);
      }
    }
  }

  /** True when the named interval contains the time (an unknown name never does). */
  contains(name: string, ms: number): boolean {
    return (this.byName.get(name) ?? []).some((p) => periodContains(p, ms));
  }

  muted(mute: readonly string[], active: readonly string[], now: number): boolean {
    if (mute.some((n) => this.contains(n, now))) return true;
    return active.length > 0 && !active.some((n) => this.contains(n, now));
  }
}
