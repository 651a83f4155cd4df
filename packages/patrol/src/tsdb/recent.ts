// The recent-chunk cache: persisted chunks whose newest sample is at most `window` old stay in
// memory as well, so queries over recent data (dashboards, rules) read no rows. Owns the cached
// lists, their byte budget and the per-series `from` mark that tells reads which chunks they must
// still take from the store.
//
// Invariant: every persisted chunk of series r with mint ≥ fromOf(r) is in list(r) (Infinity
// promises nothing). Out-of-order chunks are written beside in-order ones, so while an
// out-of-order window is set the cache stays empty (`off`).

import type { StoredChunk } from './store.js';

/** Bytes a recent chunk costs besides its data (object, Buffer and list slot), for the budget. */
const RECENT_OVERHEAD = 96;

export class RecentChunks {
  private readonly lists = new Map<number, StoredChunk[]>();
  private from = new Float64Array(0);
  /** Memory the cached chunks take (about). */
  bytes = 0;
  private window = 0;
  /** Cached chunks must start after this (the newest persisted time at open). */
  minMint = Infinity;
  /** Keep nothing (an out-of-order window is set). */
  off = false;

  constructor(
    /** The window asked for (ms, relative to the newest sample). */
    private readonly configuredWindow: number,
    /** Bytes the cache may take; the window halves until it fits. */
    private readonly budget: number,
  ) {}

  /** Persisted chunks of `r` from this time on are all in list(r). */
  fromOf(r: number): number {
    return r < this.from.length ? this.from[r] : Infinity;
  }

  list(r: number): StoredChunk[] | undefined {
    return this.lists.get(r);
  }

  /** Keeps a chunk just persisted for `r` (ascending mint per series). */
  add(r: number, c: StoredChunk): void {
    if (this.off || c.mint <= this.minMint) return;
    let l = this.lists.get(r);
    if (!l) {
      // Only a series with nothing persisted at or after this chunk can start a list.
      if (this.fromOf(r) !== Infinity) return;
      if (r >= this.from.length) this.growFrom(r);
      l = [];
      this.lists.set(r, l);
      this.from[r] = c.mint;
    }
    l.push(c);
    this.bytes += c.data.length + RECENT_OVERHEAD;
  }

  private growFrom(r: number): void {
    let cap = Math.max(1024, this.from.length);
    while (cap <= r) cap *= 2;
    const b = new Float64Array(cap);
    b.fill(Infinity, this.from.length);
    b.set(this.from);
    this.from = b;
  }

  /** Forgets the series' cached chunks (they were rewritten, or the series is gone). */
  drop(r: number): void {
    const l = this.lists.get(r);
    if (l) for (const c of l) this.bytes -= c.data.length + RECENT_OVERHEAD;
    this.lists.delete(r);
    if (r < this.from.length) this.from[r] = Infinity;
  }

  dropAll(): void {
    for (const r of [...this.lists.keys()]) this.drop(r);
  }

  /**
   * Forgets cached chunks older than the window (from `newest`) or than `floor` (nothing
   * retention dropped stays visible here); when they take more than the budget, the window halves
   * until they fit (and grows back to the configured one when there is room).
   */
  async evict(newest: number, floor: number, pause: () => Promise<void>): Promise<void> {
    if (this.window === 0 || this.bytes < this.budget / 4) this.window = this.configuredWindow;
    for (let round = 0; round < 32; round++) {
      const thr = Math.max(newest - this.window, floor);
      let n = 0;
      for (const [r, l] of this.lists) {
        if ((++n & 1023) === 0) await pause();
        if (this.lists.get(r) !== l) continue;
        let k = 0;
        while (k < l.length && l[k].maxt < thr) this.bytes -= l[k++].data.length + RECENT_OVERHEAD;
        if (k === 0) continue;
        if (k === l.length) {
          this.lists.delete(r);
          this.from[r] = Infinity;
        } else {
          l.splice(0, k);
          this.from[r] = l[0].mint;
        }
      }
      if (this.bytes <= this.budget || this.window <= 0) break;
      this.window = Math.floor(this.window / 2);
    }
  }
}
