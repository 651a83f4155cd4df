// The alert store (Alertmanager's provider/mem): one alert per fingerprint, merged on update,
// listeners told of every stored alert, resolved alerts removed by gc().

import { resolvedAt, type Alert } from '../model/alert.js';

/** Told of a stored alert and of the one it replaced (undefined when its fingerprint was new). */
export type AlertListener = (alert: Alert, previous: Alert | undefined) => void;

/** Where stored alerts are kept across restarts (the dispatcher's alerting.db). */
export interface AlertPersistence {
  saveAlerts(alerts: readonly Alert[]): void;
  deleteAlerts(fingerprints: readonly string[]): void;
}

/**
 * Alertmanager's types.Alert.Merge: `b` is the younger alert (later updatedAt); the earliest
 * start wins; an explicit end time that is later wins over a younger timeout.
 */
export function mergeAlerts(a: Alert, b: Alert, now: number): Alert {
  if (b.updatedAt < a.updatedAt) return mergeAlerts(b, a, now);
  let startsAt = b.startsAt;
  let endsAt = b.endsAt;
  if (a.startsAt < b.startsAt) startsAt = a.startsAt;
  if (resolvedAt(b, now)) {
    if (resolvedAt(a, now) && a.endsAt > b.endsAt) endsAt = a.endsAt;
  } else if (a.endsAt > b.endsAt && !a.timeout) {
    endsAt = a.endsAt;
  }
  if (startsAt === b.startsAt && endsAt === b.endsAt) return b;
  return { ...b, startsAt, endsAt };
}

export class AlertStore {
  private readonly alerts = new Map<string, Alert>();
  private readonly listeners = new Set<AlertListener>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly persistence?: AlertPersistence,
  ) {}

  /** Puts back alerts kept before a restart, without telling listeners (there are none yet). */
  restore(alerts: Iterable<Alert>): void {
    for (const a of alerts) this.alerts.set(a.fingerprint, a);
  }

  /**
   * Stores alerts, merging each with the stored one of its fingerprint when their activity
   * ranges overlap (as Alertmanager does), and tells every listener, synchronously.
   */
  put(alerts: Iterable<Alert>): void {
    const now = this.now();
    const stored: Alert[] = [];
    const replaced: (Alert | undefined)[] = [];
    for (let a of alerts) {
      const old = this.alerts.get(a.fingerprint);
      if (old && ((a.endsAt > old.startsAt && a.endsAt < old.endsAt) || (a.startsAt > old.startsAt && a.startsAt < old.endsAt))) {
        a = mergeAlerts(old, a, now);
      }
      this.alerts.set(a.fingerprint, a);
      stored.push(a);
      replaced.push(old);
    }
    // Kept before anyone acts on them: a notification never precedes the alert's row.
    this.persistence?.saveAlerts(stored);
    for (let i = 0; i < stored.length; i++) for (const l of this.listeners) l(stored[i], replaced[i]);
  }

  get(fingerprint: string): Alert | undefined {
    return this.alerts.get(fingerprint);
  }

  list(): IterableIterator<Alert> {
    return this.alerts.values();
  }

  get size(): number {
    return this.alerts.size;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(l: AlertListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Removes resolved alerts; returns them. */
  gc(): Alert[] {
    const now = this.now();
    const removed: Alert[] = [];
    for (const [fp, a] of this.alerts) {
      if (resolvedAt(a, now)) {
        this.alerts.delete(fp);
        removed.push(a);
      }
    }
    this.persistence?.deleteAlerts(removed.map((a) => a.fingerprint));
    return removed;
  }
}
