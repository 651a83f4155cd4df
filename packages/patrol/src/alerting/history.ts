// Patrol's alerting database (SQLite in the data directory, WAL): the history of alert state
// changes and notification attempts, and the small durable state of acknowledgement,
// escalation and digests. History rows are queued and written in batches of `batchSize` (one
// transaction each): after `flushInterval`, or at once by the call that fills a batch, so a burst
// (100 groups flushing together, 13,000 alerts inhibited in one tick) is written as it comes
// instead of piling up. Only while writes fail (a full disk) does the queue grow, to 10 batches,
// beyond which rows are dropped and counted. Acknowledgements and escalation steps are written at
// once, so they survive kill -9.

import Database from 'better-sqlite3';
import type { Matcher } from '../model/matchers.js';
import { matchesAll } from './route.js';

export type AlertEventKind = 'firing' | 'resolved' | 'silenced' | 'inhibited' | 'held' | 'acknowledged' | 'unacknowledged' | 'escalated';

export interface AlertEvent {
  ts: number;
  fingerprint: string;
  event: AlertEventKind;
  labels: Readonly<Record<string, string>>;
  /** Why/who: silence ids, inhibiting fingerprints, acknowledger, escalation step and receiver. */
  detail?: Record<string, unknown>;
}

export interface NotificationAlert {
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Readonly<Record<string, string>>;
}

export interface NotificationEvent {
  ts: number;
  receiver: string;
  integration: string;
  groupKey: string;
  /** `group` (the routing tree), `escalation` or `digest`. */
  kind: 'group' | 'escalation' | 'digest';
  alerts: NotificationAlert[];
  outcome: 'success' | 'failure';
  error?: string;
  durationMs: number;
}

export interface Ack {
  fingerprint: string;
  /** The alert's startsAt: an acknowledgement is for one firing of the alert. */
  startsAt: number;
  by: string;
  comment: string;
  at: number;
  /** 0: until the alert resolves. */
  expiresAt: number;
}

export interface EscalationState {
  fingerprint: string;
  startsAt: number;
  policy: number;
  /** Steps taken so far. */
  step: number;
  nextAt: number;
}

export interface HistoryQuery {
  matchers: Matcher[][];
  start: number;
  end: number;
  limit: number;
}

export interface DBOptions {
  /** Rows written per transaction; a full batch is written at once (while writes fail, up to 10× this wait, the rest are dropped and counted). */
  batchSize?: number;
  /** How long rows wait in the queue at most (ms). */
  flushInterval?: number;
}

/** Rows read at most per history query before giving up with `truncated` (keeps queries bounded). */
const MAX_SCAN = 200_000;

export class AlertingDB {
  private readonly db: Database.Database;
  private readonly alertQueue: AlertEvent[] = [];
  private readonly notifQueue: NotificationEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly batchSize: number;
  private readonly flushInterval: number;
  /** History rows dropped because writes kept failing and the queue was full. */
  dropped = 0;
  /** History rows written. */
  written = 0;
  /** Batches whose write failed (their rows stay queued and are tried again). */
  writeErrors = 0;
  /** No write is tried before this time (ms) after one failed. */
  private retryAt = 0;
  enabled = true;
  private closed = false;
  private readonly st: ReturnType<AlertingDB['prepare']>;

  constructor(path: string, o: DBOptions = {}) {
    this.batchSize = o.batchSize ?? 1000;
    this.flushInterval = o.flushInterval ?? 250;
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // 512 KiB of page cache instead of SQLite's 2 MiB: writes are appends, and reads are rare.
    this.db.pragma('cache_size = -512');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS alert_events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, fingerprint TEXT NOT NULL, event TEXT NOT NULL, labels TEXT NOT NULL, detail TEXT);
      CREATE INDEX IF NOT EXISTS alert_events_ts ON alert_events (ts);
      CREATE TABLE IF NOT EXISTS notifications (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, receiver TEXT NOT NULL, integration TEXT NOT NULL, group_key TEXT NOT NULL, kind TEXT NOT NULL, alerts TEXT NOT NULL, outcome TEXT NOT NULL, error TEXT, duration_ms REAL NOT NULL);
      CREATE INDEX IF NOT EXISTS notifications_ts ON notifications (ts);
      CREATE TABLE IF NOT EXISTS acks (fingerprint TEXT PRIMARY KEY, starts_at INTEGER NOT NULL, by TEXT NOT NULL, comment TEXT NOT NULL, at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS escalations (fingerprint TEXT PRIMARY KEY, starts_at INTEGER NOT NULL, policy INTEGER NOT NULL, step INTEGER NOT NULL, next_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS digest_items (name TEXT NOT NULL, fingerprint TEXT NOT NULL, alert TEXT NOT NULL, PRIMARY KEY (name, fingerprint));
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.st = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      insAlert: db.prepare('INSERT INTO alert_events (ts, fingerprint, event, labels, detail) VALUES (?, ?, ?, ?, ?)'),
      insNotif: db.prepare('INSERT INTO notifications (ts, receiver, integration, group_key, kind, alerts, outcome, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      putAck: db.prepare('INSERT OR REPLACE INTO acks (fingerprint, starts_at, by, comment, at, expires_at) VALUES (?, ?, ?, ?, ?, ?)'),
      delAck: db.prepare('DELETE FROM acks WHERE fingerprint = ?'),
      putEsc: db.prepare('INSERT OR REPLACE INTO escalations (fingerprint, starts_at, policy, step, next_at) VALUES (?, ?, ?, ?, ?)'),
      delEsc: db.prepare('DELETE FROM escalations WHERE fingerprint = ?'),
      putDigest: db.prepare('INSERT OR REPLACE INTO digest_items (name, fingerprint, alert) VALUES (?, ?, ?)'),
      delDigest: db.prepare('DELETE FROM digest_items WHERE name = ? AND fingerprint = ?'),
      getDigest: db.prepare('SELECT fingerprint, alert FROM digest_items WHERE name = ? ORDER BY fingerprint'),
      getKV: db.prepare('SELECT value FROM kv WHERE key = ?'),
      putKV: db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)'),
    };
  }

  // --- history (batched) ---

  recordAlert(e: AlertEvent): void {
    this.enqueue(this.alertQueue, e);
  }

  recordNotification(e: NotificationEvent): void {
    this.enqueue(this.notifQueue, e);
  }

  private enqueue<T>(queue: T[], row: T): void {
    if (!this.enabled || this.closed) return;
    if (this.queued() >= this.batchSize * 10) {
      this.dropped++;
      return;
    }
    queue.push(row);
    this.schedule();
  }

  private queued(): number {
    return this.alertQueue.length + this.notifQueue.length;
  }

  private schedule(): void {
    if (this.queued() >= this.batchSize && Date.now() >= this.retryAt) {
      this.flush();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), Math.max(this.flushInterval, this.retryAt - Date.now()));
    this.timer.unref();
  }

  /**
   * Writes queued history rows (at most one batch per call; reschedules the rest). False when the
   * write failed: the rows stay queued.
   */
  flush(): boolean {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return true;
    const alerts = this.alertQueue.splice(0, this.batchSize);
    const notifs = this.notifQueue.splice(0, Math.max(0, this.batchSize - alerts.length));
    if (alerts.length + notifs.length === 0) return true;
    let ok = true;
    try {
      this.db.transaction(() => {
        for (const e of alerts) this.st.insAlert.run(e.ts, e.fingerprint, e.event, JSON.stringify(e.labels), e.detail ? JSON.stringify(e.detail) : null);
        for (const n of notifs) {
          this.st.insNotif.run(n.ts, n.receiver, n.integration, n.groupKey, n.kind, JSON.stringify(n.alerts), n.outcome, n.error ?? null, n.durationMs);
        }
      })();
      this.written += alerts.length + notifs.length;
      this.retryAt = 0;
    } catch {
      // Kept for the next try (a full disk frees up); counted, and nothing waits on it meanwhile.
      ok = false;
      this.writeErrors++;
      this.retryAt = Date.now() + 4 * this.flushInterval;
      this.alertQueue.unshift(...alerts);
      this.notifQueue.unshift(...notifs);
    }
    if (this.queued() > 0) this.schedule();
    return ok;
  }

  /** Writes everything queued (tests, shutdown). */
  flushAll(): void {
    this.retryAt = 0;
    while (!this.closed && this.queued() > 0 && this.flush());
  }

  /** Deletes history older than `before`, at most `max` rows per table (call again while it returns true). */
  prune(before: number, max = 10_000): boolean {
    let more = false;
    for (const t of ['alert_events', 'notifications']) {
      const r = this.db.prepare(`DELETE FROM ${t} WHERE id IN (SELECT id FROM ${t} WHERE ts < ? ORDER BY ts LIMIT ?)`).run(before, max);
      if (r.changes >= max) more = true;
    }
    return more;
  }

  alertHistory(q: HistoryQuery): { events: AlertEvent[]; truncated: boolean } {
    this.flushAll();
    const out: AlertEvent[] = [];
    let scanned = 0;
    const rows = this.db.prepare('SELECT ts, fingerprint, event, labels, detail FROM alert_events WHERE ts >= ? AND ts <= ? ORDER BY ts DESC, id DESC').iterate(q.start, q.end) as IterableIterator<{
      ts: number;
      fingerprint: string;
      event: AlertEventKind;
      labels: string;
      detail: string | null;
    }>;
    for (const r of rows) {
      if (++scanned > MAX_SCAN || out.length >= q.limit) {
        rows.return?.();
        return { events: out, truncated: true };
      }
      const labels = JSON.parse(r.labels) as Record<string, string>;
      if (!anySetMatches(q.matchers, labels)) continue;
      out.push({ ts: r.ts, fingerprint: r.fingerprint, event: r.event, labels, ...(r.detail ? { detail: JSON.parse(r.detail) as Record<string, unknown> } : {}) });
    }
    return { events: out, truncated: false };
  }

  notifications(q: HistoryQuery): { notifications: NotificationEvent[]; truncated: boolean } {
    this.flushAll();
    const out: NotificationEvent[] = [];
    let scanned = 0;
    const rows = this.db
      .prepare('SELECT ts, receiver, integration, group_key, kind, alerts, outcome, error, duration_ms FROM notifications WHERE ts >= ? AND ts <= ? ORDER BY ts DESC, id DESC')
      .iterate(q.start, q.end) as IterableIterator<{
      ts: number;
      receiver: string;
      integration: string;
      group_key: string;
      kind: NotificationEvent['kind'];
      alerts: string;
      outcome: NotificationEvent['outcome'];
      error: string | null;
      duration_ms: number;
    }>;
    for (const r of rows) {
      if (++scanned > MAX_SCAN || out.length >= q.limit) {
        rows.return?.();
        return { notifications: out, truncated: true };
      }
      const alerts = JSON.parse(r.alerts) as NotificationAlert[];
      if (q.matchers.length > 0 && !alerts.some((a) => anySetMatches(q.matchers, a.labels))) continue;
      out.push({
        ts: r.ts,
        receiver: r.receiver,
        integration: r.integration,
        groupKey: r.group_key,
        kind: r.kind,
        alerts,
        outcome: r.outcome,
        ...(r.error !== null ? { error: r.error } : {}),
        durationMs: r.duration_ms,
      });
    }
    return { notifications: out, truncated: false };
  }

  // --- acknowledgements and escalation (written at once) ---

  putAck(a: Ack): void {
    this.st.putAck.run(a.fingerprint, a.startsAt, a.by, a.comment, a.at, a.expiresAt);
  }

  deleteAck(fp: string): void {
    this.st.delAck.run(fp);
  }

  acks(): Ack[] {
    return (this.db.prepare('SELECT fingerprint, starts_at, by, comment, at, expires_at FROM acks').all() as { fingerprint: string; starts_at: number; by: string; comment: string; at: number; expires_at: number }[]).map((r) => ({
      fingerprint: r.fingerprint,
      startsAt: r.starts_at,
      by: r.by,
      comment: r.comment,
      at: r.at,
      expiresAt: r.expires_at,
    }));
  }

  putEscalation(e: EscalationState): void {
    this.st.putEsc.run(e.fingerprint, e.startsAt, e.policy, e.step, e.nextAt);
  }

  deleteEscalation(fp: string): void {
    this.st.delEsc.run(fp);
  }

  escalations(): EscalationState[] {
    return (this.db.prepare('SELECT fingerprint, starts_at, policy, step, next_at FROM escalations').all() as { fingerprint: string; starts_at: number; policy: number; step: number; next_at: number }[]).map((r) => ({
      fingerprint: r.fingerprint,
      startsAt: r.starts_at,
      policy: r.policy,
      step: r.step,
      nextAt: r.next_at,
    }));
  }

  // --- digests ---

  putDigestItem(name: string, fp: string, alert: unknown): void {
    this.st.putDigest.run(name, fp, JSON.stringify(alert));
  }

  deleteDigestItem(name: string, fp: string): void {
    this.st.delDigest.run(name, fp);
  }

  digestItems(name: string): { fingerprint: string; alert: unknown }[] {
    return (this.st.getDigest.all(name) as { fingerprint: string; alert: string }[]).map((r) => ({ fingerprint: r.fingerprint, alert: JSON.parse(r.alert) as unknown }));
  }

  get(key: string): string | undefined {
    return (this.st.getKV.get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string): void {
    this.st.putKV.run(key, value);
  }

  close(): void {
    if (this.closed) return;
    this.flushAll();
    if (this.timer) clearTimeout(this.timer);
    this.closed = true;
    this.db.close();
  }
}

/** No sets: everything matches; otherwise any one set whose matchers all match (as `match[]`). */
export function anySetMatches(sets: Matcher[][], labels: Readonly<Record<string, string>>): boolean {
  return sets.length === 0 || sets.some((ms) => matchesAll(ms, labels));
}
