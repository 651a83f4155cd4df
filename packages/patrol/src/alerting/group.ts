// An aggregation group (Alertmanager's dispatch.aggrGroup): the alerts of one route with the
// same group labels, flushed first after group_wait (at once when an alert is older than
// that), then every group_interval. A flush hands on the alerts in Alertmanager's order (the
// pipeline sends copies of the firing ones with endsAt cleared); after a successful flush, alerts
// resolved at the flush and not updated since are removed.

import { compareAlerts, labelSetString, resolvedAt, type Alert } from '../model/alert.js';
import type { Route } from './route.js';

/** What a flush hands on: the alerts and the group; resolves true when everything was sent. */
export type FlushFunc = (group: AggregationGroup, alerts: Alert[], now: number, signal: AbortSignal) => Promise<boolean>;

/** Alertmanager's notify.MinTimeout: a flush gets at least this long before it is cancelled. */
export const MIN_FLUSH_TIMEOUT = 10_000;

export class AggregationGroup {
  readonly alerts = new Map<string, Alert>();
  /** Alertmanager's group key: `<route key>:<group labels>`. */
  readonly key: string;
  private timer: NodeJS.Timeout | null = null;
  private hasFlushed = false;
  private flushing: Promise<void> | null = null;
  private due = false;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(
    readonly route: Route,
    readonly labels: Readonly<Record<string, string>>,
    private readonly flushFunc: FlushFunc,
    private readonly now: () => number,
    private readonly onError: (e: unknown) => void,
    /** After a restart: when the group flushed last before it (from the notification log); its timer resumes from there. */
    lastFlush?: number,
  ) {
    this.key = `${route.key}:${labelSetString(labels)}`;
    if (lastFlush === undefined) {
      this.reset(route.opts.groupWait);
    } else {
      // The group_interval tick after the last flush; a tick missed while the process was down
      // is taken at once (the notification log still drops what was already sent).
      const gi = Math.max(1, route.opts.groupInterval);
      this.hasFlushed = true;
      this.reset(Math.max(0, lastFlush + gi - now()));
    }
  }

  insert(a: Alert): void {
    this.alerts.set(a.fingerprint, a);
    if (!this.hasFlushed && a.startsAt + this.route.opts.groupWait < this.now()) this.reset(0);
  }

  get empty(): boolean {
    return this.alerts.size === 0;
  }

  /** Stops the timer and cancels a flush in flight. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort(new Error('aggregation group stopped'));
  }

  /** Resolves when no flush is running. */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private reset(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.timer = null;
    if (this.stopped) return;
    if (this.flushing) {
      // As Go's buffered timer channel: the tick is taken as soon as the flush returns.
      this.due = true;
      return;
    }
    this.reset(this.route.opts.groupInterval);
    this.hasFlushed = true;
    this.flushing = this.flush()
      .catch(this.onError)
      .finally(() => {
        this.flushing = null;
        if (this.due) {
          this.due = false;
          this.fire();
        }
      });
  }

  private async flush(): Promise<void> {
    if (this.alerts.size === 0) return;
    const now = this.now();
    const originals = [...this.alerts.values()];
    const sorted = [...originals].sort(compareAlerts);
    const timeout = Math.max(this.route.opts.groupInterval, MIN_FLUSH_TIMEOUT);
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeout)]);
    if (!(await this.flushFunc(this, sorted, now, signal))) return;
    for (const a of originals) {
      // Only delete if the alert has not been updated since it was notified.
      if (resolvedAt(a, now) && this.alerts.get(a.fingerprint) === a) this.alerts.delete(a.fingerprint);
    }
  }
}
