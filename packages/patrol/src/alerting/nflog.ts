// The notification log (Alertmanager's nflog): per receiver integration and aggregation group,
// which alerts were last notified firing and resolved, and when. The dedup stage reads it to
// decide whether a flush needs sending (new alerts, resolved ones, or repeat_interval passed).

export interface NflogEntry {
  readonly groupKey: string;
  /** `<receiver>/<integration>/<index>`, as Alertmanager names a receiver integration. */
  readonly receiver: string;
  /** Fingerprints notified firing / resolved. */
  readonly firing: ReadonlySet<string>;
  readonly resolved: ReadonlySet<string>;
  /** ms. */
  readonly timestamp: number;
  /** ms; the entry is dropped after this. */
  readonly expiresAt: number;
}

/**
 * Where notifications are recorded. `log` resolves once the entry is as durable as the
 * implementation promises; `query` answers from what was logged.
 */
export interface NotificationLog {
  query(receiver: string, groupKey: string): NflogEntry | undefined;
  log(receiver: string, groupKey: string, firing: readonly string[], resolved: readonly string[], now: number): void | Promise<void>;
  /** Drops expired entries; returns how many. */
  gc(now: number): number;
  close?(): void | Promise<void>;
}

/** Alertmanager's --data.retention default (120h) for log entries. */
export const DEFAULT_NFLOG_RETENTION = 120 * 3600_000;

/** The notification log in memory (lost on restart). */
export class MemoryNotificationLog implements NotificationLog {
  private readonly entries = new Map<string, NflogEntry>();

  constructor(private readonly retention = DEFAULT_NFLOG_RETENTION) {}

  query(receiver: string, groupKey: string): NflogEntry | undefined {
    return this.entries.get(receiver + '\x00' + groupKey);
  }

  log(receiver: string, groupKey: string, firing: readonly string[], resolved: readonly string[], now: number): void {
    this.entries.set(receiver + '\x00' + groupKey, { groupKey, receiver, firing: new Set(firing), resolved: new Set(resolved), timestamp: now, expiresAt: now + this.retention });
  }

  gc(now: number): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.expiresAt <= now) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.entries.size;
  }
}
