// The data directory's file system: free space (for the read-only start and the room a
// compaction needs) and whether Patrol may write there at all.

import { accessSync, constants as fsConstants, existsSync, mkdirSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';

/** Free space below which the store opens read-only (the WAL and compaction need room to write). */
export const MIN_FREE_BYTES = 64 * 1024 * 1024;

/** Bytes the unprivileged user may still write to the file system holding `dir`. */
export function statfsFreeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/**
 * Creates the data directory when missing and checks that Patrol may write to it, so that a
 * read-only one is named as such (recursive mkdir reports ENOENT on a read-only file system).
 */
export function ensureWritableDir(dir: string): void {
  const writable = (p: string): boolean => {
    try {
      accessSync(p, fsConstants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  const refuse = (at: string): Error => new Error(`data directory ${at} is not writable (read-only): Patrol keeps its samples there; make it writable or choose another data directory`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    let at = dir;
    while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
    if (existsSync(at) && !writable(at)) throw refuse(at);
    throw e;
  }
  if (!writable(dir)) throw refuse(dir);
}
