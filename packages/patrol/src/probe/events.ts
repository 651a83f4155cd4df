// State-change events of probes, kept in <dataDir>/probe_events.db (SQLite), so that history
// and the current state survive restarts; with them the reason of each failed run (the samples
// in storage carry no text). Both are pruned past the retention, except each probe's last state
// change, which the state after a restart comes from.

import Database from 'better-sqlite3';
import type { ProbeEvent, ProbeState } from '../model/probestate.js';

export class ProbeEventStore {
  private readonly db: Database.Database;
  private readonly insertReason: Database.Statement;
  private readonly selectReasons: Database.Statement;
  private readonly pruneEvents: Database.Statement;
  private readonly pruneReasons: Database.Statement;
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;
  private readonly latest: Database.Statement;

  /** Opens (creating if needed) the database file; `:memory:` for tests. */
  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS probe_events (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      probe TEXT NOT NULL,
      time_ms INTEGER NOT NULL,
      from_state TEXT NOT NULL,
      to_state TEXT NOT NULL,
      reason TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS probe_events_probe_time ON probe_events (probe, time_ms);
    CREATE TABLE IF NOT EXISTS probe_failure_reasons (
      probe TEXT NOT NULL,
      time_ms INTEGER NOT NULL,
      reason TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS probe_failure_reasons_probe_time ON probe_failure_reasons (probe, time_ms);
    CREATE INDEX IF NOT EXISTS probe_failure_reasons_time ON probe_failure_reasons (time_ms);`);
    this.insertReason = this.db.prepare('INSERT INTO probe_failure_reasons (probe, time_ms, reason) VALUES (?, ?, ?)');
    this.selectReasons = this.db.prepare('SELECT time_ms, reason FROM probe_failure_reasons WHERE probe = ? AND time_ms >= ? AND time_ms <= ?');
    this.pruneEvents = this.db.prepare('DELETE FROM probe_events WHERE time_ms < ? AND id NOT IN (SELECT MAX(id) FROM probe_events GROUP BY probe)');
    this.pruneReasons = this.db.prepare('DELETE FROM probe_failure_reasons WHERE time_ms < ?');
    this.insert = this.db.prepare('INSERT INTO probe_events (probe, time_ms, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?)');
    this.select = this.db.prepare('SELECT probe, time_ms, from_state, to_state, reason FROM probe_events WHERE probe = ? AND time_ms >= ? AND time_ms <= ? ORDER BY time_ms DESC, id DESC LIMIT ?');
    this.latest = this.db.prepare(
      'SELECT e.probe, e.time_ms, e.to_state FROM probe_events e JOIN (SELECT probe, MAX(id) AS id FROM probe_events GROUP BY probe) m ON e.id = m.id',
    );
  }

  append(e: ProbeEvent): void {
    this.insert.run(e.probe, Math.round(e.time), e.from, e.to, e.reason);
  }

  /** Keeps the reason of one failed run (`time` is the run's timestamp in storage). */
  appendReason(probe: string, time: number, reason: string): void {
    this.insertReason.run(probe, Math.round(time), reason);
  }

  /** Reasons of failed runs of one probe in [start, end] (ms), by run time. */
  reasons(probe: string, start: number, end: number): Map<number, string> {
    const rows = this.selectReasons.all(probe, Math.floor(start), Math.ceil(end)) as { time_ms: number; reason: string }[];
    return new Map(rows.map((r) => [r.time_ms, r.reason]));
  }

  /** Deletes events and reasons older than `before` (ms), keeping each probe's last event. Returns rows deleted. */
  prune(before: number): number {
    const t = Math.floor(before);
    return this.db.transaction(() => this.pruneEvents.run(t).changes + this.pruneReasons.run(t).changes)();
  }

  /** Events of one probe in [start, end] (ms), newest first, at most `limit`. */
  list(probe: string, start: number, end: number, limit = 1000): ProbeEvent[] {
    const rows = this.select.all(probe, Math.floor(start), Math.ceil(end), limit) as { probe: string; time_ms: number; from_state: string; to_state: string; reason: string }[];
    return rows.map((r) => ({ probe: r.probe, time: r.time_ms, from: r.from_state as ProbeState, to: r.to_state as ProbeState, reason: r.reason }));
  }

  /** The last state each probe entered, to resume after a restart. */
  lastStates(): Map<string, { state: ProbeState; since: number }> {
    const out = new Map<string, { state: ProbeState; since: number }>();
    for (const r of this.latest.all() as { probe: string; time_ms: number; to_state: string }[]) out.set(r.probe, { state: r.to_state as ProbeState, since: r.time_ms });
    return out;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
