// One process per data directory. The lock is SQLite's own file lock (a POSIX advisory lock on
// `<dir>/lock.db`, held by an exclusive transaction that is never committed), so it belongs to
// an open file descriptor: it dies with the process, whatever its PID, and a restart after
// kill -9 — also as PID 1 in a container, where the PID is always the same — always works.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export class DirLock {
  private constructor(private db: Database.Database | null) {}

  /** Takes the lock of `dir` or throws, naming the directory, when another Patrol holds it. */
  static acquire(dir: string): DirLock {
    const path = join(dir, 'lock.db');
    // timeout 0: a held lock fails at once instead of waiting for it (SQLITE_BUSY).
    const db = new Database(path, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // Takes SQLite's exclusive lock without writing a page, so it needs no free space.
      db.exec('BEGIN EXCLUSIVE');
    } catch (e) {
      db.close();
      if ((e as { code?: string }).code === 'SQLITE_BUSY' || (e as { code?: string }).code === 'SQLITE_LOCKED') {
        throw new Error(`data directory ${dir} is in use by another Patrol (it holds ${path}); stop that one or choose another data directory`);
      }
      throw e;
    }
    // The pid lock file of earlier versions means nothing any more.
    rmSync(join(dir, 'lock'), { force: true });
    return new DirLock(db);
  }

  release(): void {
    if (!this.db) return;
    try {
      this.db.exec('ROLLBACK');
    } catch {
      // nothing to roll back
    }
    this.db.close();
    this.db = null;
  }
}
