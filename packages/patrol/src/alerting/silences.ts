// Silences (Alertmanager's silence package): matchers with a time range, pending → active →
// expired, kept for a retention after they end. Updating a silence in place is allowed only
// as Alertmanager allows it (same matchers, and no rewriting of the past); otherwise the old one
// is expired and a new one created. Every change is written to the silence store first, so
// silences survive a restart and kill -9.

import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { isValidLabelName } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import type { Alert } from '../model/alert.js';
import { matchesAll } from './route.js';
import type { StoreTimings } from './metrics.js';
import { sqliteFileSize } from './state_sqlite.js';

/** A silence matcher as the API carries it. */
export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  /** False for != and !~. */
  isEqual: boolean;
}

export interface Silence {
  id: string;
  matchers: SilenceMatcher[];
  /** ms. */
  startsAt: number;
  endsAt: number;
  updatedAt: number;
  createdBy: string;
  comment: string;
}

export type SilenceState = 'active' | 'pending' | 'expired';

export function silenceState(s: Pick<Silence, 'startsAt' | 'endsAt'>, now: number): SilenceState {
  if (now < s.startsAt) return 'pending';
  if (now < s.endsAt) return 'active';
  return 'expired';
}

/** A failure with the HTTP status Alertmanager answers it with. */
export class SilenceError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function toMatcher(m: SilenceMatcher): Matcher {
  const type = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  return new Matcher(type, m.name, m.value);
}

/** Alertmanager's validateSilence (after an id is assigned); throws a SilenceError (400). */
function validate(s: Silence): Matcher[] {
  if (s.matchers.length === 0) throw new SilenceError(400, 'silence invalid: at least one matcher required');
  const ms: Matcher[] = [];
  s.matchers.forEach((m, i) => {
    if (!isValidLabelName(m.name)) throw new SilenceError(400, `silence invalid: invalid label matcher ${i}: invalid label name ${JSON.stringify(m.name)}`);
    try {
      ms.push(toMatcher(m));
    } catch (e) {
      throw new SilenceError(400, `silence invalid: invalid label matcher ${i}: invalid regular expression ${JSON.stringify(m.value)}: ${(e as Error).message}`);
    }
  });
  // Alertmanager 0.25 rejects this (400 "at least one matcher must not match the empty string");
  // Patrol allows it, as the issue decides, and says so: see broadSilenceWarning.
  if (s.startsAt === 0) throw new SilenceError(400, 'silence invalid: invalid zero start timestamp');
  if (s.endsAt === 0) throw new SilenceError(400, 'silence invalid: invalid zero end timestamp');
  if (s.endsAt < s.startsAt) throw new SilenceError(400, 'silence invalid: end time must not be before start time');
  return ms;
}

/**
 * The warning for a silence whose every matcher matches the empty string: it matches every alert
 * that lacks those labels (with `=~".*"`, every alert at all). Alertmanager rejects such a
 * silence; Patrol keeps it, logs the warning and returns it with the silence id.
 */
export function broadSilenceWarning(matchers: readonly SilenceMatcher[]): string | undefined {
  if (matchers.length === 0) return undefined;
  try {
    if (!matchers.map(toMatcher).every((m) => m.matches(''))) return undefined;
  } catch {
    return undefined;
  }
  return 'every matcher of this silence matches the empty string, so it silences every alert that lacks these labels (with =~".*", every alert); Alertmanager would reject it';
}

function sameMatchers(a: SilenceMatcher[], b: SilenceMatcher[]): boolean {
  return a.length === b.length && a.every((m, i) => m.name === b[i].name && m.value === b[i].value && m.isRegex === b[i].isRegex && m.isEqual === b[i].isEqual);
}

/** Alertmanager's canUpdate: may `b` replace `a` in place at `now`? */
function canUpdate(a: Silence, b: Silence, now: number): boolean {
  if (!sameMatchers(a.matchers, b.matchers)) return false;
  switch (silenceState(a, now)) {
    case 'active':
      return b.startsAt === a.startsAt && b.endsAt >= now;
    case 'pending':
      return b.startsAt >= now;
    case 'expired':
      return false;
  }
}

/** Where silences are kept: every change is written before it takes effect. */
export interface SilenceStore {
  load(): Silence[];
  save(s: Silence, expiresAt: number): void;
  delete(ids: string[]): void;
  close(): void;
  /** Bytes on disk (0 in memory). */
  fileSize?(): number;
}

export class MemorySilenceStore implements SilenceStore {
  load(): Silence[] {
    return [];
  }
  save(): void {}
  delete(): void {}
  close(): void {}
}

/** Silences in an SQLite file (WAL): a committed change survives kill -9. */
export class SqliteSilenceStore implements SilenceStore {
  private readonly db: Database.Database;
  private readonly put: Database.Statement;
  private readonly del: Database.Statement;

  constructor(private readonly file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, silence TEXT NOT NULL)');
    this.put = this.db.prepare('INSERT OR REPLACE INTO silences (id, expires_at, silence) VALUES (?, ?, ?)');
    this.del = this.db.prepare('DELETE FROM silences WHERE id = ?');
  }

  load(): Silence[] {
    const rows = this.db.prepare('SELECT silence FROM silences').all() as { silence: string }[];
    return rows.map((r) => JSON.parse(r.silence) as Silence);
  }

  save(s: Silence, expiresAt: number): void {
    this.put.run(s.id, expiresAt, JSON.stringify(s));
  }

  delete(ids: string[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.del.run(id);
    })();
  }

  close(): void {
    this.db.close();
  }

  fileSize(): number {
    return sqliteFileSize(this.file);
  }
}

/** Alertmanager's --data.retention default. */
export const DEFAULT_SILENCE_RETENTION = 120 * 3600_000;

interface Entry {
  s: Silence;
  matchers: Matcher[];
}

export class Silences {
  private readonly byId = new Map<string, Entry>();
  /** Queries by the notification pipeline (mutes), for alertmanager_silences_queries_total. */
  queries = 0;
  /** Set by the metrics (metrics.ts silencesMetrics). */
  readonly timings: StoreTimings = {};

  constructor(
    private readonly store: SilenceStore = new MemorySilenceStore(),
    private readonly retention = DEFAULT_SILENCE_RETENTION,
    private readonly now: () => number = Date.now,
  ) {
    for (const s of store.load()) {
      try {
        this.byId.set(s.id, { s, matchers: s.matchers.map(toMatcher) });
      } catch {
        // A stored silence whose regex no longer compiles cannot silence anything; skip it.
      }
    }
  }

  get(id: string): Silence | undefined {
    return this.byId.get(id)?.s;
  }

  list(): Silence[] {
    return [...this.byId.values()].map((e) => e.s);
  }

  /**
   * Creates or updates a silence (Alertmanager's Silences.Set); returns its id. An id that is
   * not known is a SilenceError 404; invalid silences are 400.
   */
  set(input: Omit<Silence, 'id' | 'updatedAt'> & { id?: string }): string {
    const now = this.now();
    const sil: Silence = { ...input, id: input.id ?? '', updatedAt: now };
    const prev = sil.id ? this.byId.get(sil.id)?.s : undefined;
    if (sil.id && !prev) throw new SilenceError(404, 'silence not found');
    // Checked before anything changes, so that a bad update leaves the old silence in place.
    const matchers = validate(sil);
    if (prev) {
      if (canUpdate(prev, sil, now)) {
        this.write(sil, matchers);
        return sil.id;
      }
    }
    const fresh = { ...sil, id: randomUUID(), startsAt: Math.max(sil.startsAt, now) };
    validate(fresh);
    if (prev && silenceState(prev, now) !== 'expired') this.expire(prev.id);
    this.write(fresh, matchers);
    return fresh.id;
  }

  /** Ends a silence now (a pending one starts and ends now). */
  expire(id: string): void {
    const e = this.byId.get(id);
    if (!e) throw new SilenceError(404, 'silence not found');
    const now = this.now();
    const s = { ...e.s, updatedAt: now };
    switch (silenceState(s, now)) {
      case 'expired':
        throw new SilenceError(500, `silence ${id} already expired`);
      case 'active':
        s.endsAt = now;
        break;
      case 'pending':
        s.startsAt = now;
        s.endsAt = now;
        break;
    }
    this.write(s, e.matchers);
  }

  private write(s: Silence, matchers: Matcher[]): void {
    const start = performance.now();
    this.store.save(s, s.endsAt + this.retention);
    this.timings.write?.((performance.now() - start) / 1000);
    this.byId.set(s.id, { s, matchers });
  }

  /** The active silences that match an alert's labels. */
  silencedBy(a: Pick<Alert, 'labels'>, now = this.now()): string[] {
    const out: string[] = [];
    for (const { s, matchers } of this.byId.values()) {
      if (silenceState(s, now) === 'active' && matchesAll(matchers, a.labels)) out.push(s.id);
    }
    return out;
  }

  /** Whether an active silence matches (Alertmanager's Silencer.Mutes: one counted, timed query). */
  mutes(a: Pick<Alert, 'labels'>, now = this.now()): boolean {
    this.queries++;
    const start = performance.now();
    const muted = this.silencedBy(a, now).length > 0;
    this.timings.query?.((performance.now() - start) / 1000);
    return muted;
  }

  fileSize(): number {
    return this.store.fileSize?.() ?? 0;
  }

  /** Silences by state, for metrics. */
  counts(now = this.now()): Record<SilenceState, number> {
    const c = { active: 0, pending: 0, expired: 0 };
    for (const { s } of this.byId.values()) c[silenceState(s, now)]++;
    return c;
  }

  /** Drops silences that ended more than the retention ago; returns how many. */
  gc(now = this.now()): number {
    const gone: string[] = [];
    for (const [id, { s }] of this.byId) if (s.endsAt + this.retention <= now) gone.push(id);
    if (gone.length === 0) return 0;
    this.store.delete(gone);
    for (const id of gone) this.byId.delete(id);
    return gone.length;
  }

  close(): void {
    this.store.close();
  }
}
