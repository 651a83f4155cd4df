// The embedded time-series engine's shell: opens the data directory and wires the parts, which
// own the work (see README.md in this folder for the design and the measured figures):
//
//   head.ts, postings.ts  series in memory, the label index, open and cut chunks, OOO samples
//   appender.ts           validating and committing batches (WAL first, then the head)
//   querier.ts            reads: the store, the recent-chunk cache and the head, merged
//   recent.ts             recently persisted chunks kept in memory for fast reads
//   compact.ts            persisting the head, sealing blocks, truncating the WAL (in slices)
//   retention.ts          wall-clock bounds, max_future, retention by time and size
//   replay.ts             loading the series table and replaying the WAL at start
//   delete.ts             deleting series and ranges; store.ts, wal.ts, chunk.ts the formats
//
// This file owns the lifecycle (open, read-only start, close, snapshot, the directory lock) and
// the public API (the Storage contract of storage/interface.ts and the TSDB's own extras).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Matcher } from '../model/matchers.js';
import type { Appender, Querier, Storage } from '../storage/interface.js';
import { StorageError } from '../storage/interface.js';
import { AppendPath } from './appender.js';
import { Compactor } from './compact.js';
import { deleteMatching, deleteMatchingInSlices, type SeriesParts } from './delete.js';
import { ensureWritableDir, MIN_FREE_BYTES, mib, statfsFreeBytes } from './disk.js';
import { Head } from './head.js';
import { DirLock } from './lock.js';
import { registerMetrics, type TsdbMetrics } from './metrics.js';
import { ReadPath, TSDBQuerier } from './querier.js';
import { RecentChunks } from './recent.js';
import { loadSeries, replayWal } from './replay.js';
import { DEFAULT_MAX_FUTURE, Retention } from './retention.js';
import { Slicer } from './slicer.js';
import { ChunkStore } from './store.js';
import { Wal } from './wal.js';

export { DEFAULT_MAX_FUTURE, MIN_FREE_BYTES, statfsFreeBytes };

export interface TSDBOptions {
  dir: string;
  /** Keep samples newer than the wall clock minus this many milliseconds. */
  retention: number;
  /**
   * Samples more than this many ms ahead of the wall clock are rejected (out_of_bounds), so one
   * wrong timestamp never moves a boundary; default 10 minutes (storage.max_future).
   */
  maxFuture?: number;
  /** The wall clock in ms (tests inject one); default Date.now. */
  now?: () => number;
  /**
   * With less free space than this (bytes) in the data directory's file system at open, the store
   * opens read-only: queries work, appends are refused. Default MIN_FREE_BYTES (64 MiB).
   */
  minFreeBytes?: number;
  /** Free bytes of the file system holding `dir` (tests inject one); default from fs.statfs. */
  freeBytes?: (dir: string) => number;
  /** Drop the oldest blocks while the store uses more bytes than this; 0 means no limit. */
  retentionSize?: number;
  /** Accept samples up to this many ms older than the newest sample of the head (0: reject). */
  outOfOrderWindow?: number;
  registry?: Registry;
  logger?: Logger;
  /** Milliseconds between background compactions; 0 turns the timer off (call compact()). */
  compactInterval?: number;
  /** Open head chunks whose first sample went to a WAL segment older than this are cut (ms). */
  headMaxAge?: number;
  /**
   * Persisted chunks whose newest sample is at most this old (ms, relative to the newest sample)
   * stay in memory too, so queries over recent data read no rows; default 2 h.
   */
  recentChunkWindow?: number;
  /** Memory the recent chunks may take (bytes, default 256 MiB); the window shrinks to fit. */
  recentChunkBytes?: number;
  /** WAL segment size in bytes. */
  walSegmentSize?: number;
}

export async function openTSDB(opts: TSDBOptions): Promise<TSDB> {
  const db = new TSDB(opts);
  try {
    await db.init();
  } catch (e) {
    db.release();
    throw e;
  }
  return db;
}

export class TSDB implements Storage {
  private readonly log: Logger;
  private readonly limits: Retention;
  private readonly head: Head;
  private readonly recent: RecentChunks;
  private readonly slicer = new Slicer();
  private readonly metrics: TsdbMetrics;
  private readonly freeBytes: (dir: string) => number;
  private store!: ChunkStore;
  private wal!: Wal;
  private parts!: SeriesParts;
  private appends!: AppendPath;
  private compactor: Compactor | null = null;
  private dirLock: DirLock | null = null;
  private closed = false;

  /** Opened read-only (too little free space at open): appends and writes are refused. */
  readOnly = false;
  private readOnlyWhy = '';

  constructor(private readonly opts: TSDBOptions) {
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.limits = new Retention(opts, opts.now ?? Date.now);
    this.head = new Head(this.limits);
    this.head.oooWindow = opts.outOfOrderWindow ?? 0;
    this.recent = new RecentChunks(opts.recentChunkWindow ?? 2 * 3600_000, opts.recentChunkBytes ?? 256 * 1024 * 1024);
    this.recent.off = this.head.oooWindow > 0;
    this.freeBytes = opts.freeBytes ?? statfsFreeBytes;
    this.metrics = registerMetrics(opts.registry, {
      headSeries: () => this.head.numSeries,
      chunks: () => (this.closed ? null : this.store.totalChunks() + this.head.cutList.length),
      walBytes: () => this.wal.size,
      recentChunkBytes: () => this.recent.bytes,
      retention: () => this.limits.retention,
      retentionBytes: () => this.limits.retentionSize,
      readOnly: () => this.readOnly,
      diskBytes: () => (this.closed ? null : this.store.diskBytes() + this.wal.size),
    });
  }

  /** Newest sample timestamp in the store. */
  get maxT(): number {
    return this.head.maxT;
  }

  /** Longest event-loop block of compaction work (and sliced deletes) so far, in ms. */
  get maxSliceMs(): number {
    return this.slicer.maxSliceMs;
  }

  set maxSliceMs(ms: number) {
    this.slicer.maxSliceMs = ms;
  }

  /** @internal Releases whatever a failed init opened. */
  release(): void {
    this.compactor?.stop();
    this.closed = true;
    if (this.appends) this.appends.closed = true;
    try {
      this.wal?.close();
      this.store?.close();
    } catch {
      // best effort
    }
    this.unlock();
  }

  private unlock(): void {
    this.dirLock?.release();
    this.dirLock = null;
  }

  /** @internal Opens the files, loads series and replays the WAL. */
  async init(): Promise<void> {
    const { dir } = this.opts;
    ensureWritableDir(dir);
    this.dirLock = DirLock.acquire(dir);
    const minFree = this.opts.minFreeBytes ?? MIN_FREE_BYTES;
    const free = this.freeBytes(dir);
    if (free < minFree) {
      this.readOnly = true;
      this.readOnlyWhy = `storage is read-only: the data directory ${dir} had ${mib(free)} free at start, less than the ${mib(minFree)} Patrol needs to write; free some space and restart Patrol`;
      this.log.error({ dir, freeBytes: free, minFreeBytes: minFree }, `${this.readOnlyWhy}. Starting read-only: stored data can be queried, new samples are refused`);
    }
    const blockLen = Math.max(1000, Math.min(86_400_000, Math.floor(Math.min(this.limits.retention, 80 * 86_400_000) / 8)));
    this.store = new ChunkStore(join(dir, 'chunks.db'), blockLen, this.readOnly);
    this.wal = new Wal(join(dir, 'wal'), this.opts.walSegmentSize, !this.readOnly);
    const read = new ReadPath(this.head, this.recent, this.store);
    this.parts = { head: this.head, recent: this.recent, store: this.store, wal: this.wal, read, readOnly: this.readOnly };
    this.appends = new AppendPath(this.head, this.limits, this.wal, read, this.metrics.samples, this.metrics.outOfOrder);
    const t0 = performance.now();
    loadSeries(this.parts);
    this.limits.load(this.store);
    const loaded = performance.now();
    const { replayed, warnings } = replayWal(this.parts);
    for (const w of warnings) this.log.warn(w);
    if (this.readOnly) return;
    this.wal.rotate();
    this.log.info(
      { series: this.head.numSeries, replayedSamples: replayed, loadMs: Math.round(loaded - t0), replayMs: Math.round(performance.now() - loaded) },
      'TSDB opened',
    );
    this.compactor = new Compactor(
      { ...this.parts, limits: this.limits, slicer: this.slicer },
      {
        dir,
        // Bounds the WAL (and a replay after a crash) to about this much data; short chunks it
        // causes are merged again when their block is sealed.
        headMaxAge: this.opts.headMaxAge ?? 15 * 60 * 1000,
        compactInterval: this.opts.compactInterval ?? 60_000,
        freeBytes: this.freeBytes,
        log: this.log,
        observe: (s) => this.metrics.compaction.observe(s),
        pending: (r) => this.appends.pending(r),
      },
    );
    this.compactor.start();
  }

  private writable(): void {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    if (this.readOnly) throw new StorageError('read_only', this.readOnlyWhy);
  }

  /**
   * New retention and out-of-order settings (a configuration reload). They apply to the next
   * append and the next compaction; the block length chosen at open stays.
   */
  setRetention(o: Pick<TSDBOptions, 'retention' | 'retentionSize' | 'outOfOrderWindow' | 'maxFuture'>): void {
    this.limits.set(o);
    const hadWindow = this.head.oooWindow > 0;
    this.head.oooWindow = o.outOfOrderWindow ?? 0;
    this.recent.off = this.head.oooWindow > 0;
    if (this.head.oooWindow > 0) this.recent.dropAll();
    // Out-of-order chunks written so far are no newer than maxT: recent chunks start after it.
    else if (hadWindow) this.recent.minMint = Math.max(this.recent.minMint, this.head.maxT);
  }

  appender(): Appender {
    this.writable();
    return this.appends.appender();
  }

  querier(mint: number, maxt: number): Querier {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    return new TSDBQuerier(this.parts.read, mint, maxt);
  }

  deleteSeries(matchers: readonly Matcher[], mint: number, maxt: number): void {
    this.writable();
    deleteMatching(this.parts, matchers, mint, maxt);
  }

  /**
   * deleteSeries for large deletes (the admin API): series by series, yielding to the event loop
   * between slices so scrapes and queries go on meanwhile. Resolves to the number of series.
   */
  async deleteSeriesInSlices(matchers: readonly Matcher[], mint: number, maxt: number): Promise<number> {
    this.writable();
    return deleteMatchingInSlices(this.parts, this.slicer, matchers, mint, maxt, () => this.closed);
  }

  /**
   * Persists cut head chunks (and cuts head chunks that have been open longer than headMaxAge),
   * applies retention and truncates the WAL. Runs in slices; concurrent calls share one run.
   */
  compact(): Promise<void> {
    if (this.closed || !this.compactor) return Promise.resolve();
    return this.compactor.compact();
  }

  /** Statistics for benchmarks and the README. */
  stats(): { series: number; chunks: number; sealedBlocks: number; walBytes: number; diskBytes: number; maxSliceMs: number } {
    return {
      series: this.head.numSeries,
      chunks: this.store.totalChunks(),
      sealedBlocks: this.store.sealedBlocks(),
      walBytes: this.wal.size,
      diskBytes: this.store.diskBytes() + this.wal.size,
      maxSliceMs: this.slicer.maxSliceMs,
    };
  }

  /**
   * Read-only view of the index (for /api/v1/status/tsdb): calls `each` for every label pair with
   * its number of live series; returns the series count and their time range.
   */
  indexStats(each: (name: string, value: string, series: number) => void): { series: number; minTime: number; maxTime: number } {
    return this.head.indexStats(each);
  }

  /** Tests only: releases the files without persisting anything, as a kill -9 would. */
  abandon(): void {
    this.compactor?.stop();
    this.closed = true;
    this.appends.closed = true;
    this.wal.close();
    this.store.close();
    this.unlock();
  }

  /**
   * Writes a consistent copy of everything stored so far into `dir` (a new folder), which
   * openTSDB can open: head chunks are persisted first (as at close; not with `skipHead`), then
   * the chunk database is copied with SQLite's online backup while appends and queries go on.
   */
  async snapshot(dir: string, opts: { skipHead?: boolean } = {}): Promise<void> {
    this.writable();
    const compactor = this.compactor!;
    if (opts.skipHead) await compactor.settle();
    else await compactor.persistAll();
    mkdirSync(dir, { recursive: true });
    await this.store.db.backup(join(dir, 'chunks.db'));
  }

  /** Persists everything and releases the files; a graceful close leaves an empty WAL. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.compactor) {
      this.compactor.stop();
      await this.compactor.persistAll();
    }
    this.closed = true;
    this.appends.closed = true;
    this.wal.close();
    this.store.close();
    this.unlock();
  }
}
