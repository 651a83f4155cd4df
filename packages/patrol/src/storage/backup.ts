// Backup and restore of all of Patrol's state while it runs. A backup is a folder holding the
// TSDB snapshot (tsdb/chunks.db, the snapshot admin API's copy) and a copy of every SQLite store
// of the data directory (auth.db: tokens, sessions, audit; silences.db: silences; alerting.db:
// notification log, alert state, history, acknowledgements; probe_events.db), each made with
// SQLite's online backup API on a connection of its own, so writers go on while it copies. A
// manifest lists the files with their sizes. Restore copies a backup into a new data directory
// (never over an existing one) after checking every database.

import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export const MANIFEST = 'patrol-backup.json';
const FORMAT = 1;

export interface BackupManifest {
  format: number;
  created_at: string;
  /** Paths relative to the backup folder, with sizes in bytes. */
  files: { path: string; bytes: number }[];
}

/** The SQLite stores at the top of a data directory (auth.db, silences.db, alerting.db, ...). */
async function storesIn(dataDir: string): Promise<string[]> {
  const names = await readdir(dataDir);
  return names.filter((n) => n.endsWith('.db')).sort();
}

/** Copies one SQLite database while others write to it (a read transaction per step). */
async function onlineCopy(src: string, dest: string): Promise<void> {
  const db = new Database(src, { readonly: true, fileMustExist: true });
  try {
    await db.backup(dest);
  } finally {
    db.close();
  }
}

/** A fresh name for a backup: UTC time and random hex, like the TSDB's snapshots. */
export function backupName(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(4).toString('hex')}`;
}

/**
 * Writes a backup of the running Patrol's data directory into `dest` (a new folder).
 * `snapshotTsdb` writes the TSDB snapshot into the folder it is given.
 */
export async function writeBackup(dataDir: string, dest: string, snapshotTsdb: (dir: string) => Promise<void>): Promise<BackupManifest> {
  await mkdir(dest, { recursive: false });
  try {
    await snapshotTsdb(join(dest, 'tsdb'));
    for (const n of await storesIn(dataDir)) await onlineCopy(join(dataDir, n), join(dest, n));
    const manifest = await manifestOf(dest);
    await writeFile(join(dest, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  } catch (e) {
    await rm(dest, { recursive: true, force: true });
    throw e;
  }
}

async function manifestOf(dir: string): Promise<BackupManifest> {
  const files: { path: string; bytes: number }[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && e.name !== MANIFEST) files.push({ path: p, bytes: (await stat(join(dir, p))).size });
    }
  };
  await walk('');
  files.sort((a, b) => a.path.localeCompare(b.path));
  return { format: FORMAT, created_at: new Date().toISOString(), files };
}

export class RestoreError extends Error {}

/**
 * Restores the backup in `from` into `dataDir`, which must not exist or be empty. Every file the
 * manifest lists must be there with its size, and every database must pass SQLite's
 * integrity check, before anything is copied.
 */
export async function restoreBackup(from: string, dataDir: string): Promise<BackupManifest> {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(join(from, MANIFEST), 'utf8')) as BackupManifest;
  } catch (e) {
    throw new RestoreError(`${from} is not a Patrol backup (${MANIFEST}: ${(e as Error).message})`);
  }
  if (manifest.format !== FORMAT || !Array.isArray(manifest.files)) throw new RestoreError(`${join(from, MANIFEST)}: unknown backup format ${JSON.stringify(manifest.format)}`);
  for (const f of manifest.files) {
    if (typeof f.path !== 'string' || f.path.split('/').some((s) => s === '..' || s === '') || f.path.startsWith('/')) throw new RestoreError(`${MANIFEST}: bad path ${JSON.stringify(f.path)}`);
    let size: number;
    try {
      size = (await stat(join(from, f.path))).size;
    } catch {
      throw new RestoreError(`${f.path} is missing from the backup`);
    }
    if (size !== f.bytes) throw new RestoreError(`${f.path} has ${size} bytes, the manifest says ${f.bytes}: the backup is damaged`);
    if (f.path.endsWith('.db')) {
      let r: unknown;
      try {
        const db = new Database(join(from, f.path), { readonly: true, fileMustExist: true });
        try {
          r = db.pragma('quick_check', { simple: true });
        } finally {
          db.close();
        }
      } catch (e) {
        r = (e as Error).message;
      }
      if (r !== 'ok') throw new RestoreError(`${f.path} fails SQLite's check: ${String(r)}`);
    }
  }
  if (!manifest.files.some((f) => f.path === 'tsdb/chunks.db')) throw new RestoreError('the backup has no tsdb/chunks.db');
  let existing: string[] = [];
  try {
    existing = await readdir(dataDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (existing.length > 0) throw new RestoreError(`${dataDir} is not empty; restore into a new data directory`);
  for (const f of manifest.files) {
    const dest = join(dataDir, f.path);
    await mkdir(join(dest, '..'), { recursive: true });
    await copyFile(join(from, f.path), dest);
  }
  return manifest;
}
