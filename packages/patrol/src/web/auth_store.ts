// Durable state of authentication: API tokens (stored as SHA-256 of the token, shown once at
// creation), dashboard sessions (stored as SHA-256 of the cookie value) and the audit log of
// writes, in <data>/auth.db.

import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Role } from './roles.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s per hash). */
const LN = 15;

function scrypt(password: string, salt: Buffer, ln: number, r: number, p: number): Promise<Buffer> {
  return new Promise((ok, fail) =>
    scryptCb(password, salt, 32, { N: 2 ** ln, r, p, maxmem: 2 ** ln * r * 128 * 2 }, (e, key) => (e ? fail(e) : ok(key))),
  );
}

/** A PHC-style scrypt hash of a password: `$scrypt$ln=15,r=8,p=1$SALT$HASH` (base64). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, LN, 8, 1);
  return `$scrypt$ln=${LN},r=8,p=1$${salt.toString('base64')}$${key.toString('base64')}`;
}

const DUMMY_SALT = randomBytes(16);
let running = 0;
const waiting: (() => void)[] = [];

/**
 * Whether the password matches the hash. At most two hashes run at once (each holds 32 MiB), so
 * a flood of logins queues instead of exhausting memory; a missing hash still costs one scrypt.
 */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  if (running >= 2) await new Promise<void>((ok) => waiting.push(ok));
  running++;
  try {
    const m = hash ? /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([^$]+)\$([^$]+)$/.exec(hash) : null;
    if (!m) {
      await scrypt(password, DUMMY_SALT, LN, 8, 1);
      return false;
    }
    const want = Buffer.from(m[5], 'base64');
    const got = await scrypt(password, Buffer.from(m[4], 'base64'), Number(m[1]), Number(m[2]), Number(m[3]));
    return want.length === got.length && timingSafeEqual(want, got);
  } catch {
    return false;
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  /** Per-team scoping; null: every team. */
  team: string | null;
  created_by: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface Identity {
  name: string;
  role: Role | 'prometheus';
  via: 'session' | 'token' | 'basic';
  csrf?: string;
  /** The team a scoped caller sees (per-team scoping); absent: every team. */
  team?: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  who: string;
  via: string;
  remote: string;
  method: string;
  path: string;
  status: number;
  what: unknown;
  /** The changed thing before and after the write (secrets masked); null when not recorded or absent. */
  before: unknown;
  after: unknown;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class AuthStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER);
      CREATE TABLE IF NOT EXISTS sessions (hash TEXT PRIMARY KEY, user TEXT NOT NULL, role TEXT NOT NULL, csrf TEXT NOT NULL, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, who TEXT NOT NULL, via TEXT NOT NULL, remote TEXT NOT NULL,
        method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, what TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS audit_at ON audit (at)`);
    // Databases made before the audit log kept before/after values get the two columns.
    const cols = (this.db.prepare('PRAGMA table_info(audit)').all() as { name: string }[]).map((c) => c.name);
    if (!cols.includes('before')) this.db.exec('ALTER TABLE audit ADD COLUMN before TEXT');
    if (!cols.includes('after')) this.db.exec('ALTER TABLE audit ADD COLUMN after TEXT');
    // Columns added after the first release: a session's team and where it came from (local or oidc).
    const have = new Set((this.db.pragma('table_info(sessions)') as { name: string }[]).map((c) => c.name));
    if (!have.has('team')) this.db.exec('ALTER TABLE sessions ADD COLUMN team TEXT');
    if (!have.has('source')) this.db.exec("ALTER TABLE sessions ADD COLUMN source TEXT NOT NULL DEFAULT 'local'");
    if (!(this.db.pragma('table_info(tokens)') as { name: string }[]).some((c) => c.name === 'team')) this.db.exec('ALTER TABLE tokens ADD COLUMN team TEXT');
  }

  /** A new token; the returned secret is shown once and never stored. */
  createToken(name: string, role: Role, createdBy: string, expiresAt: number | null, now = Date.now(), team: string | null = null): { token: string; info: TokenInfo } {
    const id = randomBytes(6).toString('hex');
    const token = `ptk_${id}_${randomBytes(24).toString('base64url')}`;
    this.db
      .prepare('INSERT INTO tokens (id, name, role, hash, created_by, created_at, expires_at, team) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, name, role, sha256(token), createdBy, now, expiresAt, team);
    return { token, info: this.tokenInfo(id)! };
  }

  private tokenInfo(id: string): TokenInfo | null {
    const r = this.db.prepare('SELECT * FROM tokens WHERE id = ?').get(id) as Record<string, never> | undefined;
    return r ? this.rowToInfo(r) : null;
  }

  private rowToInfo(r: Record<string, never>): TokenInfo {
    return { id: r.id, name: r.name, role: r.role, team: r.team, created_by: r.created_by, created_at: iso(r.created_at)!, expires_at: iso(r.expires_at), revoked_at: iso(r.revoked_at) };
  }

  listTokens(): TokenInfo[] {
    return (this.db.prepare('SELECT * FROM tokens ORDER BY created_at').all() as Record<string, never>[]).map((r) => this.rowToInfo(r));
  }

  /** Revokes a token; false when there is none with that id. */
  revokeToken(id: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?').run(now, id).changes > 0;
  }

  /** The token's identity, or why it is refused. */
  checkToken(token: string, now = Date.now()): Identity | { refused: string } {
    const r = this.db.prepare('SELECT * FROM tokens WHERE hash = ?').get(sha256(token)) as Record<string, never> | undefined;
    if (!r) return { refused: 'unknown token' };
    if (r.revoked_at !== null) return { refused: 'token revoked' };
    if (r.expires_at !== null && r.expires_at <= now) return { refused: 'token expired' };
    const id: Identity = { name: `token:${r.name as string}`, role: r.role, via: 'token' };
    if (r.team !== null) id.team = r.team;
    return id;
  }

  createSession(user: string, role: Role, ttlMs: number, now = Date.now(), opts: { team?: string; source?: 'local' | 'oidc' } = {}): { id: string; csrf: string } {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now);
    this.db
      .prepare('INSERT INTO sessions (hash, user, role, csrf, expires_at, team, source) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(sha256(id), user, role, csrf, now + ttlMs, opts.team ?? null, opts.source ?? 'local');
    return { id, csrf };
  }

  session(id: string, now = Date.now()): Identity | null {
    const r = this.db.prepare('SELECT * FROM sessions WHERE hash = ? AND expires_at > ?').get(sha256(id), now) as Record<string, never> | undefined;
    if (!r) return null;
    const id_: Identity = { name: r.user, role: r.role, via: 'session', csrf: r.csrf };
    if (r.team !== null) id_.team = r.team;
    return id_;
  }

  endSession(id: string): void {
    this.db.prepare('DELETE FROM sessions WHERE hash = ?').run(sha256(id));
  }

  /**
   * Ends the sessions of local users no longer configured or whose role or team changed (after a reload),
   * and every OIDC session when OIDC login is no longer configured.
   */
  pruneSessions(users: Record<string, { role: Role; team?: string }>, oidc = false): void {
    for (const r of this.db.prepare('SELECT hash, user, role, source, team FROM sessions').all() as { hash: string; user: string; role: string; source: string; team: string | null }[]) {
      const keep = r.source === 'oidc' ? oidc : Object.hasOwn(users, r.user) && users[r.user].role === r.role && (users[r.user].team ?? null) === r.team;
      if (!keep) this.db.prepare('DELETE FROM sessions WHERE hash = ?').run(r.hash);
    }
  }

  audit(e: Omit<AuditEntry, 'id' | 'at' | 'before' | 'after'> & { before?: unknown; after?: unknown }, now = Date.now()): void {
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    this.db
      .prepare('INSERT INTO audit (at, who, via, remote, method, path, status, what, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(now, e.who, e.via, e.remote, e.method, e.path, e.status, JSON.stringify(e.what ?? null), json(e.before), json(e.after));
  }

  /** Newest first. */
  auditLog(q: { limit: number; who?: string; since?: number; path?: string; method?: string; beforeId?: number }): AuditEntry[] {
    const rows = this.db
      .prepare("SELECT * FROM audit WHERE at >= ? AND id < ? AND (? IS NULL OR who = ?) AND (? IS NULL OR substr(path, 1, length(?)) = ?) AND (? IS NULL OR method = ?) ORDER BY id DESC LIMIT ?")
      .all(q.since ?? 0, q.beforeId ?? Number.MAX_SAFE_INTEGER, q.who ?? null, q.who ?? null, q.path ?? null, q.path ?? null, q.path ?? null, q.method ?? null, q.method ?? null, q.limit) as Record<string, never>[];
    const parse = (v: string | null) => (v === null ? null : (JSON.parse(v) as unknown));
    return rows.map((r) => ({
      id: r.id,
      at: iso(r.at)!,
      who: r.who,
      via: r.via,
      remote: r.remote,
      method: r.method,
      path: r.path,
      status: r.status,
      what: JSON.parse(r.what) as unknown,
      before: parse(r.before),
      after: parse(r.after),
    }));
  }

  /** A consistent copy of the database at `file` while it is in use (SQLite's online backup). */
  async backup(file: string): Promise<void> {
    await this.db.backup(file);
  }

  close(): void {
    this.db.close();
  }
}
