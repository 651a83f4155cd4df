// The dispatcher's durable state in the data directory (alerting.db, SQLite in WAL mode): the
// notification log and the alerts. Every write is a committed transaction before the call
// returns, so what was written survives kill -9.
//  - nflog: as Alertmanager, an entry is written after the integration's send succeeded (its
//    SetNotifiesStage follows the notify stage). After a restart the dedup stage reads the same
//    entries, so a group already notified is not notified again before repeat_interval (or new
//    alerts). Entries are dropped `retention` after they were written (Alertmanager's
//    --data.retention, 120h).
//  - alerts: every stored alert (one row per fingerprint), written per batch in one transaction,
//    removed when gc drops resolved alerts; loaded back at start so that groups, inhibition and
//    the API see them at once instead of after the senders' next resend.

import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Alert } from '../model/alert.js';
import type { StoreTimings } from './metrics.js';
import { DEFAULT_NFLOG_RETENTION, type NflogEntry, type NotificationLog } from './nflog.js';

export interface NflogStats {
  queries: number;
  queryErrors: number;
  gcRuns: number;
  gcErrors: number;
  gcSeconds: number;
}

export class SqliteAlertingState implements NotificationLog {
  private readonly db: Database.Database;
  private readonly entries = new Map<string, NflogEntry>();
  /** groupKey → latest log timestamp over its receiver integrations. */
  private readonly lastByGroup = new Map<string, number>();
  private readonly putLog: Database.Statement;
  private readonly delLogBefore: Database.Statement;
  private readonly putAlert: Database.Statement;
  private readonly delAlert: Database.Statement;
  readonly stats: NflogStats = { queries: 0, queryErrors: 0, gcRuns: 0, gcErrors: 0, gcSeconds: 0 };
  /** Set by the metrics (metrics.ts nflogMetrics). */
  readonly timings: StoreTimings = {};

  constructor(
    private readonly file: string,
    private readonly retention = DEFAULT_NFLOG_RETENTION,
  ) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    // 512 KiB of page cache instead of SQLite's 2 MiB: writes are appends, and reads are rare.
    this.db.pragma('cache_size = -512');
    this.db.exec(`CREATE TABLE IF NOT EXISTS nflog (receiver TEXT NOT NULL, group_key TEXT NOT NULL, firing TEXT NOT NULL, resolved TEXT NOT NULL,
        ts INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (receiver, group_key));
      CREATE TABLE IF NOT EXISTS alerts (fingerprint TEXT PRIMARY KEY, alert TEXT NOT NULL)`);
    this.putLog = this.db.prepare('INSERT OR REPLACE INTO nflog (receiver, group_key, firing, resolved, ts, expires_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.delLogBefore = this.db.prepare('DELETE FROM nflog WHERE expires_at <= ?');
    this.putAlert = this.db.prepare('INSERT OR REPLACE INTO alerts (fingerprint, alert) VALUES (?, ?)');
    this.delAlert = this.db.prepare('DELETE FROM alerts WHERE fingerprint = ?');
    const now = Date.now();
    const rows = this.db.prepare('SELECT receiver, group_key, firing, resolved, ts, expires_at FROM nflog WHERE expires_at > ?').all(now) as {
      receiver: string;
      group_key: string;
      firing: string;
      resolved: string;
      ts: number;
      expires_at: number;
    }[];
    for (const r of rows) {
      const e: NflogEntry = {
        receiver: r.receiver,
        groupKey: r.group_key,
        firing: new Set(JSON.parse(r.firing) as string[]),
        resolved: new Set(JSON.parse(r.resolved) as string[]),
        timestamp: r.ts,
        expiresAt: r.expires_at,
      };
      this.entries.set(r.receiver + '\x00' + r.group_key, e);
      this.noteGroup(r.group_key, r.ts);
    }
  }

  private noteGroup(groupKey: string, ts: number): void {
    if ((this.lastByGroup.get(groupKey) ?? -Infinity) < ts) this.lastByGroup.set(groupKey, ts);
  }

  // ---------------------------------------------------------------- notification log

  query(receiver: string, groupKey: string): NflogEntry | undefined {
    this.stats.queries++;
    const start = performance.now();
    const e = this.entries.get(receiver + '\x00' + groupKey);
    this.timings.query?.((performance.now() - start) / 1000);
    return e;
  }

  log(receiver: string, groupKey: string, firing: readonly string[], resolved: readonly string[], now: number): void {
    const e: NflogEntry = { receiver, groupKey, firing: new Set(firing), resolved: new Set(resolved), timestamp: now, expiresAt: now + this.retention };
    // Written (and committed) before the entry counts: a kill after this line keeps it.
    const start = performance.now();
    this.putLog.run(receiver, groupKey, JSON.stringify(firing), JSON.stringify(resolved), now, e.expiresAt);
    this.timings.write?.((performance.now() - start) / 1000);
    this.entries.set(receiver + '\x00' + groupKey, e);
    this.noteGroup(groupKey, now);
  }

  /** When any integration of the group was last notified (from the log), for resuming group timers. */
  lastNotified(groupKey: string): number | undefined {
    return this.lastByGroup.get(groupKey);
  }

  gc(now: number): number {
    const start = performance.now();
    this.stats.gcRuns++;
    let n = 0;
    try {
      this.delLogBefore.run(now);
      for (const [k, e] of this.entries) {
        if (e.expiresAt <= now) {
          this.entries.delete(k);
          n++;
        }
      }
      this.lastByGroup.clear();
      for (const e of this.entries.values()) this.noteGroup(e.groupKey, e.timestamp);
    } catch {
      this.stats.gcErrors++;
    }
    this.stats.gcSeconds += (performance.now() - start) / 1000;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Bytes of the database file and its WAL (Alertmanager's nflog snapshot size, roughly). */
  fileSize(): number {
    return sqliteFileSize(this.file);
  }

  // ---------------------------------------------------------------- alerts

  loadAlerts(): Alert[] {
    const rows = this.db.prepare('SELECT alert FROM alerts').all() as { alert: string }[];
    const out: Alert[] = [];
    for (const r of rows) {
      try {
        out.push(JSON.parse(r.alert) as Alert);
      } catch {
        // a row that does not parse cannot be restored; the sender's next resend brings it back
      }
    }
    return out;
  }

  readonly saveAlerts = (alerts: readonly Alert[]): void => {
    if (alerts.length === 0) return;
    this.db.transaction(() => {
      for (const a of alerts) this.putAlert.run(a.fingerprint, JSON.stringify(a));
    })();
  };

  readonly deleteAlerts = (fingerprints: readonly string[]): void => {
    if (fingerprints.length === 0) return;
    this.db.transaction(() => {
      for (const fp of fingerprints) this.delAlert.run(fp);
    })();
  };

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Bytes of an SQLite file and its WAL (0 for what is not there yet). */
export function sqliteFileSize(file: string): number {
  let n = 0;
  for (const f of [file, file + '-wal']) {
    try {
      n += statSync(f).size;
    } catch {
      // not there (yet)
    }
  }
  return n;
}
