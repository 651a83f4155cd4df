// Retention and the bounds of time: what the store accepts and keeps, always measured against the
// wall clock (never against the newest sample, so one wrong timestamp moves no boundary). Owns
// storage.retention, storage.retention_size, storage.max_future, the floor that size retention
// leaves behind, and dropping whole blocks by time and by size.

import { StorageError } from '../storage/interface.js';
import type { ChunkStore } from './store.js';

/** storage.max_future's default: how far ahead of the wall clock a sample may be. */
export const DEFAULT_MAX_FUTURE = 10 * 60_000;

export interface RetentionSettings {
  /** Keep samples newer than the wall clock minus this many ms; 0 or less: forever. */
  retention: number;
  /** Drop the oldest blocks while the store uses more bytes than this; 0 means no limit. */
  retentionSize?: number;
  /** Samples more than this many ms ahead of the wall clock are out_of_bounds. */
  maxFuture?: number;
}

export class Retention {
  /** ms; Infinity when unlimited. */
  retention: number;
  retentionSize: number;
  maxFuture: number;
  /** Oldest and newest timestamps appends accept, from the clock when the last appender was made. */
  lowBound = -Infinity;
  highBound = Infinity;
  /** Samples older than this were dropped by size retention (kept in the store's meta table). */
  sizeFloor = -Infinity;

  constructor(
    o: RetentionSettings,
    /** The wall clock in ms. */
    readonly now: () => number,
  ) {
    this.retention = o.retention > 0 ? o.retention : Infinity;
    this.retentionSize = o.retentionSize ?? 0;
    this.maxFuture = o.maxFuture ?? DEFAULT_MAX_FUTURE;
  }

  /** New settings (a reload); max_future stays when not given. */
  set(o: RetentionSettings): void {
    this.retention = o.retention > 0 ? o.retention : Infinity;
    if (o.maxFuture !== undefined) this.maxFuture = o.maxFuture;
    this.retentionSize = o.retentionSize ?? 0;
  }

  load(store: ChunkStore): void {
    const floor = store.getMeta('size_floor');
    if (floor) this.sizeFloor = Number(floor);
  }

  /** Reads the clock for a new batch (once per batch, not per sample). */
  startBatch(): void {
    const now = this.now();
    this.lowBound = now - this.retention;
    this.highBound = now + this.maxFuture;
  }

  /** Throws out_of_bounds for a timestamp the current batch may not hold. */
  checkBounds(t: number): void {
    if (!Number.isSafeInteger(t)) throw new StorageError('out_of_bounds', `timestamp ${t} is not a whole number of milliseconds within ±2^53`);
    if (t > this.highBound) throw new StorageError('out_of_bounds', `sample at ${t} (${isoTime(t)}) is more than storage.max_future (${this.maxFuture / 1000}s) ahead of the wall clock (${isoTime(this.highBound - this.maxFuture)})`);
    if (t < this.lowBound) throw new StorageError('out_of_bounds', `sample at ${t} (${isoTime(t)}) is older than the retention (${this.retention / 1000}s before ${isoTime(this.lowBound + this.retention)})`);
  }

  /** Samples older than this are past the retention now (by time or by size). */
  cutoff(): number {
    return Math.max(this.now() - this.retention, this.sizeFloor);
  }

  /** The newest sample time, but never later than the clock allows (a future sample moves nothing). */
  newest(maxT: number): number {
    return Math.min(maxT, this.now() + this.maxFuture);
  }

  /**
   * Drops whole blocks older than `cutoff`, then the oldest blocks while the store and the WAL
   * use more than retentionSize (raising the size floor), in slices.
   */
  async apply(store: ChunkStore, walBytes: () => number, cutoff: number, pause: () => Promise<void>): Promise<void> {
    for (const b of store.blockList()) {
      if (b.maxt >= cutoff) break;
      while (!store.dropBlockSlice(b.id, 5000)) await pause();
      await pause();
    }
    if (this.retentionSize > 0) {
      let blocks = store.blockList();
      while (blocks.length > 1 && store.usedBytes() + walBytes() > this.retentionSize) {
        const b = blocks[0];
        while (!store.dropBlockSlice(b.id, 5000)) await pause();
        if (b.maxt >= this.sizeFloor) {
          this.sizeFloor = b.maxt + 1;
          store.setMeta('size_floor', String(this.sizeFloor));
        }
        blocks = store.blockList();
        await pause();
      }
    }
  }
}

export function isoTime(t: number): string {
  return Math.abs(t) <= 8.64e15 ? new Date(t).toISOString() : 'out of range';
}
