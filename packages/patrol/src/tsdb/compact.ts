// Compaction: every `compactInterval` (and at close or before a snapshot) cuts head chunks that
// have been open longer than headMaxAge, writes cut chunks, new series rows and out-of-order
// samples to the chunk store, applies retention (retention.ts), evicts old recent chunks, seals
// blocks no in-order chunk will join any more, and deletes WAL segments that only hold persisted
// samples. Owns the timer, the one run in progress and the free-space check before writing.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { encodeBestChunk, MAX_CHUNK_SAMPLES, recodeChunk } from './chunk.js';
import { dropSeries, type SeriesParts } from './delete.js';
import { F_ALIVE, F_STORED } from './head.js';
import { mib } from './disk.js';
import type { Retention } from './retention.js';
import { SLICE_MS, type Slicer } from './slicer.js';

/** Room kept free besides what a compaction's writes are estimated at (SQLite pages, WAL records). */
const PERSIST_RESERVE = 8 * 1024 * 1024;

export interface CompactorOptions {
  dir: string;
  /** Open head chunks whose first sample went to a WAL segment older than this are cut (ms). */
  headMaxAge: number;
  /** Milliseconds between background compactions; 0: no timer. */
  compactInterval: number;
  freeBytes: (dir: string) => number;
  log: Logger;
  /** Observes each run's wall time in seconds. */
  observe: (seconds: number) => void;
  /** Whether an open appender holds a sample of the series (AppendPath.pending). */
  pending: (ref: number) => boolean;
}

export class Compactor {
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly p: SeriesParts & { limits: Retention; slicer: Slicer },
    private readonly o: CompactorOptions,
  ) {}

  /** Starts the background timer (when compactInterval > 0). */
  start(): void {
    if (this.o.compactInterval <= 0) return;
    this.timer = setInterval(() => {
      this.compact().catch((e: unknown) => this.o.log.error({ err: e }, 'TSDB compaction failed'));
    }, this.o.compactInterval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One run; concurrent calls share it. */
  compact(): Promise<void> {
    if (!this.running) {
      this.running = this.run(false).finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  /** Waits until no run is in progress. */
  async settle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** After the run in progress, persists everything in memory (close, snapshot). */
  async persistAll(): Promise<void> {
    await this.settle();
    this.running = this.run(true).finally(() => {
      this.running = null;
    });
    await this.running;
  }

  /**
   * Whether the file system has room for what a compaction writes now: the cut and open head
   * chunks, out-of-order samples and new series rows, twice (SQLite's WAL, then the checkpoint
   * into the database), plus a reserve. Without it the compaction is skipped: the WAL keeps every
   * committed sample, so nothing is lost, and a restart with more room replays it.
   */
  private roomToPersist(final: boolean): boolean {
    const { bytes, rows } = this.p.head.unpersistedSize();
    // SQLite's own WAL is copied into the database at the next checkpoint (at the latest on close).
    let sqliteWal = 0;
    try {
      sqliteWal = statSync(join(this.o.dir, 'chunks.db-wal')).size;
    } catch {
      // none
    }
    const need = 2 * (bytes + rows * 64) + sqliteWal + PERSIST_RESERVE;
    let free: number;
    try {
      free = this.o.freeBytes(this.o.dir);
    } catch (e) {
      this.o.log.warn({ err: e }, 'cannot read the free space of the data directory');
      return true;
    }
    if (free >= need) return true;
    this.o.log.warn(
      { dir: this.o.dir, freeBytes: free, needBytes: need },
      `not enough free space to persist the head ${final ? 'at shutdown' : 'now'} (${mib(free)} free, about ${mib(need)} needed): skipped; the write-ahead log keeps every sample and the next start replays it`,
    );
    return false;
  }

  private async run(final: boolean): Promise<void> {
    if (!this.roomToPersist(final)) return;
    const { head, wal, store, limits, slicer } = this.p;
    const pause = () => slicer.pause();
    const start = performance.now();
    slicer.begin();
    if (wal.off > 0) wal.rotate();
    const cutSeg = final || this.o.headMaxAge <= 0 ? Infinity : wal.firstSegmentSince(Date.now() - this.o.headMaxAge);
    // Retention runs on the wall clock: samples from the future (older data dirs may hold some)
    // never push old data out.
    const cutoff = limits.cutoff();
    const gone: number[] = [];
    const end = head.nextRef;
    for (let r = 1; r < end; r++) {
      if ((r & 1023) === 0) await pause();
      if (!(head.flags[r] & F_ALIVE)) continue;
      if (head.lastT[r] < cutoff) {
        // A series an open appender writes to stays (its batch may span this run).
        if (!this.o.pending(r)) gone.push(r);
      }
      else if (head.hCount[r] > 0 && head.hFirstSeg[r] < cutSeg) head.cutHead(r);
    }
    for (let i = 0; i < gone.length; ) {
      const j = Math.min(gone.length, i + 1000);
      store.transaction(() => {
        for (; i < j; i++) if (head.flags[gone[i]] & F_ALIVE && head.lastT[gone[i]] < cutoff && !this.o.pending(gone[i])) dropSeries(this.p, gone[i], 'row');
      });
      await pause();
    }
    await this.persistCut();
    await this.persistOoo();
    await limits.apply(store, () => wal.size, cutoff, pause);
    await this.p.recent.evict(limits.newest(head.maxT), limits.cutoff(), pause);
    // Seal blocks no in-order chunk will be added to any more (late ones still may; they fit in).
    const sealDelay = Math.max(this.o.headMaxAge, 0) + 2 * this.o.compactInterval + 600_000;
    for (const id of store.sealable(limits.newest(head.maxT) - sealDelay)) await store.seal(id, pause);
    wal.truncateBefore(head.oldestNeededSegment(wal.seg));
    slicer.end();
    this.o.observe((performance.now() - start) / 1000);
  }

  /** Writes new series rows and cut chunks, a transaction per slice. */
  private async persistCut(): Promise<void> {
    const { head, store, recent, slicer } = this.p;
    const list = head.cutList;
    head.cutList = [];
    let i = 0;
    let s = 0;
    while (i < list.length || s < head.toPersist.length) {
      store.transaction(() => {
        const stop = performance.now() + SLICE_MS / 2;
        while (s < head.toPersist.length && performance.now() < stop) {
          const r = head.toPersist[s++];
          if (!(head.flags[r] & F_ALIVE) || head.flags[r] & F_STORED) continue;
          store.insertSeries(r, head.keys[r]!, head.minT[r], head.persistedMaxT[r]);
          head.flags[r] |= F_STORED;
        }
        for (let k = 0; i < list.length; i++, k++) {
          if ((k & 63) === 0 && performance.now() > stop) break;
          const c = list[i];
          if (c.dropped || !(head.flags[c.ref] & F_ALIVE)) continue;
          const data = recodeChunk(c.data);
          store.writeChunk({ ref: c.ref, mint: c.mint, maxt: c.maxt, data }, true);
          head.persisted(c);
          recent.add(c.ref, { mint: c.mint, maxt: c.maxt, data });
        }
      });
      if (s >= head.toPersist.length) {
        head.toPersist = [];
        s = 0;
      }
      await slicer.pause();
    }
  }

  /** Writes the out-of-order buffers and records the WAL position they cover (the checkpoint). */
  private async persistOoo(): Promise<void> {
    const { head, store, wal, recent, slicer } = this.p;
    if (head.ooo.size === 0) return;
    const bufs = head.ooo;
    head.ooo = new Map();
    head.oooMinSeg = Infinity;
    const pos = { seg: wal.seg, off: wal.off };
    store.transaction(() => {
      for (const [r, b] of bufs) {
        if (!(head.flags[r] & F_ALIVE)) continue;
        // These chunks go to the store only: the series' recent chunks no longer cover it all.
        recent.drop(r);
        if (!(head.flags[r] & F_STORED)) {
          store.insertSeries(r, head.keys[r]!, head.minT[r], head.persistedMaxT[r]);
          head.flags[r] |= F_STORED;
        }
        for (let i = 0; i < b.ts.length; i += MAX_CHUNK_SAMPLES) {
          const j = Math.min(b.ts.length, i + MAX_CHUNK_SAMPLES);
          store.writeChunk({ ref: r, mint: b.ts[i], maxt: b.ts[j - 1], data: encodeBestChunk(b.ts, b.vs, i, j) }, true);
        }
      }
      store.setMeta('ooo_checkpoint', `${pos.seg}:${pos.off}`);
    });
    head.oooCheckpoint = pos;
    await slicer.pause();
  }
}
