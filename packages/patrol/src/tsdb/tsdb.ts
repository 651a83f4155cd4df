// The embedded time-series engine: an in-memory head (series, label postings, one open XOR chunk
// per series in a shared arena), a write-ahead log of committed samples, and persisted chunks in
// SQLite (store.ts). See README.md in this folder for the design and the measured figures.
//
// Life of a sample: Appender.append validates it (order, duplicates, retention bound) against the
// head and the batch; commit writes the batch to the WAL with one synchronous write, then adds the
// samples to the series' open head chunks. A head chunk is cut when it holds 120 samples or its
// slot is full; cut chunks wait in memory until the next compaction writes them to SQLite, after
// which WAL segments that only hold persisted samples are deleted. Compaction runs in slices of
// at most ~20 ms between which the event loop serves appends and queries.

import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Label, Labels } from '../model/labels.js';
import type { Matcher } from '../model/matchers.js';
import { matchLabels } from '../model/matchers.js';
import type { Appender, Querier, SampleIterator, Storage } from '../storage/interface.js';
import { StorageError } from '../storage/interface.js';
import { ArrayIterator, sameValue, validateLabels } from '../storage/memory.js';
import { AppendBuffers, TSDBAppender } from './appender.js';
import { encodeBestChunk, MAX_CHUNK_SAMPLES, MAX_SAMPLE_BITS, recodeChunk, XorEncoder } from './chunk.js';
import { ensureWritableDir, MIN_FREE_BYTES, mib, statfsFreeBytes } from './disk.js';
import { DirLock } from './lock.js';
import { ChainIterator, ErrIterator, mergeSamples, oooChunks, TSDBQuerier, type OooBuffer } from './querier.js';
import { ChunkStore, type ChunkLists, type ChunkToWrite, type StoredChunk } from './store.js';
import { Wal, type WalPosition } from './wal.js';

export { MIN_FREE_BYTES, statfsFreeBytes };

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

/** storage.max_future's default: how far ahead of the wall clock a sample may be. */
export const DEFAULT_MAX_FUTURE = 10 * 60_000;

/** Room kept free besides what a compaction's writes are estimated at (SQLite pages, WAL records). */
const PERSIST_RESERVE = 8 * 1024 * 1024;

/** Bytes a recent chunk costs besides its data (object, Buffer and list slot), for the budget. */
const RECENT_OVERHEAD = 96;

/** Bytes of arena per series for its open head chunk. */
const SLOT = 256;
const SLOT_BITS = SLOT * 8;
const ARENA_SHIFT = 12;
const ARENA_MASK = (1 << ARENA_SHIFT) - 1;
/** Longest stretch of compaction work between two yields to the event loop. */
const SLICE_MS = 10;

const F_ALIVE = 1;
const F_LOGGED = 2; // a WAL record names the series
const F_STORED = 4; // the series table has a row

interface CutChunk extends ChunkToWrite {
  /** WAL segment of its first sample. */
  seg: number;
  dropped: boolean;
}

interface PostingEntry {
  label: Label;
  refs: number[];
}

function posLess(a: WalPosition, b: WalPosition): boolean {
  return a.seg < b.seg || (a.seg === b.seg && a.off < b.off);
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
  private retention: number;
  private retentionSize: number;
  private oooWindow: number;
  private maxFuture: number;
  private readonly now: () => number;
  /** Oldest and newest timestamps appends accept, from the clock when the appender was made. */
  private lowBound = -Infinity;
  private highBound = Infinity;
  private readonly headMaxAge: number;
  private store!: ChunkStore;
  private wal!: Wal;

  // Series state, indexed by ref (refs start at 1 and are never reused).
  private cap = 0;
  nextRef = 1;
  private numSeries = 0;
  private labels: (Labels | undefined)[] = [];
  /** The series' key in byKey (same string instance), as written to the WAL and series table. */
  private keys: (string | undefined)[] = [];
  private readonly byKey = new Map<string, number>();
  private flags = new Uint8Array(0);
  private lastT = new Float64Array(0);
  private lastV = new Float64Array(0);
  private lastVKnown = new Uint8Array(0);
  private minT = new Float64Array(0);
  private persistedMaxT = new Float64Array(0);
  /**
   * Recent persisted chunks kept in memory, per series in ascending mint. Invariant: every
   * persisted chunk of series r with mint ≥ recentFrom[r] is in recent.get(r) (Infinity
   * promises nothing), so reads take those from memory and only older ones from the store.
   */
  private readonly recent = new Map<number, StoredChunk[]>();
  private recentFrom = new Float64Array(0);
  private recentBytes = 0;
  private recentWindow = 0;
  /** Recent chunks must start after this (the newest persisted time at open). */
  private recentMinMint = Infinity;
  // Open head chunk state.
  private hCount = new Uint8Array(0);
  private hPos = new Uint16Array(0);
  private hT = new Float64Array(0);
  private hDelta = new Float64Array(0);
  private hVhi = new Uint32Array(0);
  private hVlo = new Uint32Array(0);
  private hLead = new Uint8Array(0);
  private hTrail = new Uint8Array(0);
  private hMinT = new Float64Array(0);
  private hFirstSeg = new Int32Array(0);
  private readonly arena: Uint8Array[] = [];
  // Per-batch validation: the newest pending sample of a series in the appender that owns it.
  private pendOwner = new Int32Array(0);
  private pendT = new Float64Array(0);
  private pendV = new Float64Array(0);
  private appenderIds = 0;
  private readonly pool: AppendBuffers[] = [];
  private readonly enc = new XorEncoder();

  private readonly postings = new Map<string, Map<string, PostingEntry>>();
  private cutList: CutChunk[] = [];
  private readonly unpersisted = new Map<number, CutChunk[]>();
  private ooo = new Map<number, OooBuffer>();
  private oooMinSeg = Infinity;
  private oooCheckpoint: WalPosition = { seg: 0, off: 0 };
  private toPersist: number[] = [];
  /** Newest sample timestamp in the store. */
  maxT = -Infinity;
  /** Samples older than this were dropped by size retention. */
  private sizeFloor = -Infinity;

  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private compacting: Promise<void> | null = null;
  private sliceStart = 0;
  /** Longest event-loop block of compaction work so far, in ms. */
  maxSliceMs = 0;

  /** Opened read-only (too little free space at open): appends and writes are refused. */
  readOnly = false;
  private readOnlyWhy = '';
  private readonly freeBytes: (dir: string) => number;

  private readonly mSamples: Counter;
  private readonly mOoo: Counter;
  private readonly mCompaction: Histogram;

  constructor(private readonly opts: TSDBOptions) {
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.retention = opts.retention > 0 ? opts.retention : Infinity;
    this.retentionSize = opts.retentionSize ?? 0;
    this.oooWindow = opts.outOfOrderWindow ?? 0;
    this.maxFuture = opts.maxFuture ?? DEFAULT_MAX_FUTURE;
    this.now = opts.now ?? Date.now;
    this.freeBytes = opts.freeBytes ?? statfsFreeBytes;
    // Bounds the WAL (and a replay after a crash) to about this much data; short chunks it
    // causes are merged again when their block is sealed.
    this.headMaxAge = opts.headMaxAge ?? 15 * 60 * 1000;
    const registers = opts.registry ? [opts.registry] : [];
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: 'patrol_tsdb_head_series',
      help: 'Series in the head.',
      registers,
      collect() {
        this.set(self.numSeries);
      },
    });
    this.mSamples = new Counter({ name: 'patrol_tsdb_samples_appended_total', help: 'Samples committed.', registers });
    new Gauge({
      name: 'patrol_tsdb_chunks',
      help: 'Chunks persisted or waiting to be persisted.',
      registers,
      collect() {
        if (!self.closed) this.set(self.store.totalChunks() + self.cutList.length);
      },
    });
    new Gauge({
      name: 'patrol_tsdb_wal_size_bytes',
      help: 'Bytes in write-ahead log segments.',
      registers,
      collect() {
        this.set(self.wal.size);
      },
    });
    this.mOoo = new Counter({ name: 'patrol_tsdb_out_of_order_rejections_total', help: 'Samples rejected for being out of order.', registers });
    this.mCompaction = new Histogram({
      name: 'patrol_tsdb_compaction_duration_seconds',
      help: 'Wall time of head compactions (persist chunks, retention, WAL truncation).',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    });
    new Gauge({
      name: 'patrol_tsdb_recent_chunk_bytes',
      help: 'Memory taken by recent persisted chunks kept for fast reads (about).',
      registers,
      collect() {
        this.set(self.recentBytes);
      },
    });
    new Gauge({
      name: 'patrol_tsdb_retention_limit_seconds',
      help: 'How long samples are kept (storage.retention); 0 when unlimited.',
      registers,
      collect() {
        this.set(Number.isFinite(self.retention) ? self.retention / 1000 : 0);
      },
    });
    new Gauge({
      name: 'patrol_tsdb_retention_limit_bytes',
      help: 'The most bytes the store may use (storage.retention_size); 0 when unlimited.',
      registers,
      collect() {
        this.set(self.retentionSize);
      },
    });
    new Gauge({
      name: 'patrol_tsdb_read_only',
      help: '1 when storage was opened read-only because the data directory had too little free space; new samples are refused until a restart with more room.',
      registers,
      collect() {
        this.set(self.readOnly ? 1 : 0);
      },
    });
    new Gauge({
      name: 'patrol_tsdb_disk_bytes',
      help: 'Bytes on disk: chunk database and WAL.',
      registers,
      collect() {
        if (!self.closed) this.set(self.store.diskBytes() + self.wal.size);
      },
    });
  }

  private dirLock: DirLock | null = null;

  /** @internal Releases whatever a failed init opened. */
  release(): void {
    if (this.timer) clearInterval(this.timer);
    this.closed = true;
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
    ensureWritableDir(this.opts.dir);
    this.dirLock = DirLock.acquire(this.opts.dir);
    const minFree = this.opts.minFreeBytes ?? MIN_FREE_BYTES;
    const free = this.freeBytes(this.opts.dir);
    if (free < minFree) {
      this.readOnly = true;
      this.readOnlyWhy = `storage is read-only: the data directory ${this.opts.dir} had ${mib(free)} free at start, less than the ${mib(minFree)} Patrol needs to write; free some space and restart Patrol`;
      this.log.error({ dir: this.opts.dir, freeBytes: free, minFreeBytes: minFree }, `${this.readOnlyWhy}. Starting read-only: stored data can be queried, new samples are refused`);
    }
    const blockLen = Math.max(1000, Math.min(86_400_000, Math.floor(Math.min(this.retention, 80 * 86_400_000) / 8)));
    this.store = new ChunkStore(join(this.opts.dir, 'chunks.db'), blockLen, this.readOnly);
    const t0 = performance.now();
    this.store.eachSeries((id, key, mint, maxt) => {
      this.createSeries(id, key, null);
      this.flags[id] |= F_LOGGED | F_STORED;
      // The newest sample's value is in its chunk: check() reads it when it needs it.
      this.lastVKnown[id] = 0;
      this.minT[id] = mint;
      this.lastT[id] = maxt;
      this.persistedMaxT[id] = maxt;
      if (maxt > this.maxT) this.maxT = maxt;
    });
    const cp = this.store.getMeta('ooo_checkpoint');
    if (cp) {
      const [seg, off] = cp.split(':').map(Number);
      this.oooCheckpoint = { seg, off };
    }
    const floor = this.store.getMeta('size_floor');
    if (floor) this.sizeFloor = Number(floor);
    const loaded = performance.now();
    this.wal = new Wal(join(this.opts.dir, 'wal'), this.opts.walSegmentSize, !this.readOnly);
    let replayed = 0;
    const warnings = this.wal.replay((rec, pos) => {
      if (rec.type === 'tombstone') {
        if (rec.ref < this.cap && this.flags[rec.ref] & F_ALIVE) this.deleteOne(rec.ref, rec.mint, rec.maxt, false);
        return;
      }
      for (const s of rec.series) {
        if (s.ref >= this.cap || !(this.flags[s.ref] & F_ALIVE)) this.createSeries(s.ref, s.key, null);
        this.flags[s.ref] |= F_LOGGED;
        if (!(this.flags[s.ref] & F_STORED)) this.toPersist.push(s.ref);
      }
      const { refs, ts, vs, n } = rec;
      for (let i = 0; i < n; i++) {
        const r = refs[i];
        if (r >= this.cap || !(this.flags[r] & F_ALIVE)) continue;
        this.ingest(r, ts[i], vs[i], pos.seg, pos);
      }
      replayed += n;
    });
    for (const w of warnings) this.log.warn(w);
    // Series whose every sample was deleted before the crash.
    for (let r = 1; r < this.nextRef; r++) {
      if (this.flags[r] & F_ALIVE && this.lastT[r] === -Infinity && this.hCount[r] === 0 && !this.ooo.has(r)) this.removeSeries(r, 'chunks');
    }
    // Chunks persisted before this open (out-of-order ones included) are no newer than this;
    // only chunks that start later are kept as recent chunks.
    let newest = this.maxT;
    for (let r = 1; r < this.nextRef; r++) if (this.persistedMaxT[r] > newest) newest = this.persistedMaxT[r];
    this.recentMinMint = newest;
    if (this.readOnly) return;
    this.wal.rotate();
    this.log.info(
      { series: this.numSeries, replayedSamples: replayed, loadMs: Math.round(loaded - t0), replayMs: Math.round(performance.now() - loaded) },
      'TSDB opened',
    );
    const every = this.opts.compactInterval ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => {
        this.compact().catch((e: unknown) => this.log.error({ err: e }, 'TSDB compaction failed'));
      }, every);
      this.timer.unref();
    }
  }

  // ---------------------------------------------------------------- series and index

  private grow(min: number): void {
    let cap = Math.max(1024, this.cap);
    while (cap <= min) cap *= 2;
    const g8 = (a: Uint8Array): Uint8Array<ArrayBuffer> => {
      const b = new Uint8Array(cap);
      b.set(a);
      return b;
    };
    const g16 = (a: Uint16Array): Uint16Array<ArrayBuffer> => {
      const b = new Uint16Array(cap);
      b.set(a);
      return b;
    };
    const g32 = (a: Uint32Array): Uint32Array<ArrayBuffer> => {
      const b = new Uint32Array(cap);
      b.set(a);
      return b;
    };
    const gi32 = (a: Int32Array): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    const gf = (a: Float64Array, fill: number): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(cap);
      b.fill(fill, a.length);
      b.set(a);
      return b;
    };
    this.flags = g8(this.flags);
    this.lastT = gf(this.lastT, -Infinity);
    this.lastV = gf(this.lastV, 0);
    this.lastVKnown = g8(this.lastVKnown);
    this.minT = gf(this.minT, Infinity);
    this.persistedMaxT = gf(this.persistedMaxT, -Infinity);
    this.recentFrom = gf(this.recentFrom, Infinity);
    this.hCount = g8(this.hCount);
    this.hPos = g16(this.hPos);
    this.hT = gf(this.hT, 0);
    this.hDelta = gf(this.hDelta, 0);
    this.hVhi = g32(this.hVhi);
    this.hVlo = g32(this.hVlo);
    this.hLead = g8(this.hLead);
    this.hTrail = g8(this.hTrail);
    this.hMinT = gf(this.hMinT, 0);
    this.hFirstSeg = gi32(this.hFirstSeg);
    this.pendOwner = gi32(this.pendOwner);
    this.pendT = gf(this.pendT, 0);
    this.pendV = gf(this.pendV, 0);
    this.cap = cap;
  }

  /** Adds a series; its labels come from `ls` or, when loading, are parsed from the key. */
  private createSeries(ref: number, key: string, ls: Labels | null): void {
    if (ref >= this.cap) this.grow(ref);
    while (this.arena.length <= ref >>> ARENA_SHIFT) this.arena.push(new Uint8Array(SLOT << ARENA_SHIFT));
    let count = 0;
    if (ls) count = ls.length;
    else for (let i = key.indexOf('\xfe'); i >= 0; i = key.indexOf('\xfe', i + 1)) count++;
    // Exact-size arrays: a pushed-to array keeps spare capacity, which adds up over 1M series.
    const shared = new Array<Label>(count);
    let at = 0;
    for (let li = 0; li < count; li++) {
      let name: string;
      let value: string;
      if (ls) {
        name = ls[li].name;
        value = ls[li].value;
      } else {
        const a = key.indexOf('\xff', at);
        const b = key.indexOf('\xfe', a + 1);
        name = key.slice(at, a);
        value = key.slice(a + 1, b);
        at = b + 1;
      }
      let byValue = this.postings.get(name);
      if (!byValue) {
        byValue = new Map();
        this.postings.set(name, byValue);
      }
      const e = byValue.get(value);
      if (e) {
        // Postings stay ascending (preload relies on it): a start loads stored series, then
        // those only the WAL names, which can be older refs (created, first committed later).
        const refs = e.refs;
        if (refs.length === 0 || refs[refs.length - 1] < ref) refs.push(ref);
        else refs.splice(lowerBound(refs, ref), 0, ref);
        shared[li] = e.label;
      } else {
        const label = { name, value };
        byValue.set(value, { label, refs: [ref] });
        shared[li] = label;
      }
    }
    this.labels[ref] = shared;
    this.keys[ref] = key;
    this.byKey.set(key, ref);
    this.flags[ref] = F_ALIVE;
    this.lastT[ref] = -Infinity;
    this.minT[ref] = Infinity;
    this.persistedMaxT[ref] = -Infinity;
    this.recentFrom[ref] = Infinity;
    this.lastVKnown[ref] = 1;
    this.hCount[ref] = 0;
    if (ref >= this.nextRef) this.nextRef = ref + 1;
    this.numSeries++;
  }

  /** @internal Resolves a ref or labels to a live series, creating it when new. */
  seriesRef(ref: number, ls: Labels): number {
    if (ref > 0 && ref < this.nextRef && this.flags[ref] & F_ALIVE) return ref;
    const key = seriesKey(ls);
    const found = this.byKey.get(key);
    if (found !== undefined) return found;
    validateLabels(ls);
    const r = this.nextRef;
    this.createSeries(r, key, ls);
    return r;
  }

  /**
   * Drops a series from the head. `store`: 'chunks' also deletes its stored chunks and row,
   * 'row' only its row (retention: its chunks sit in blocks that age out on their own, and refs
   * are never reused, so they are never read again).
   */
  private removeSeries(ref: number, store: 'chunks' | 'row'): void {
    const ls = this.labels[ref];
    if (!(this.flags[ref] & F_ALIVE) || !ls) return;
    const key = this.keys[ref]!;
    if (this.byKey.get(key) === ref) this.byKey.delete(key);
    for (const l of ls) {
      const byValue = this.postings.get(l.name);
      const e = byValue?.get(l.value);
      if (!byValue || !e) continue;
      const i = e.refs.indexOf(ref);
      if (i >= 0) e.refs.splice(i, 1);
      if (e.refs.length === 0) {
        byValue.delete(l.value);
        if (byValue.size === 0) this.postings.delete(l.name);
      }
    }
    if (this.flags[ref] & F_STORED) {
      if (store === 'chunks') this.store.deleteSeriesChunks(ref);
      this.store.deleteSeriesRow(ref);
    }
    this.labels[ref] = undefined;
    this.keys[ref] = undefined;
    this.flags[ref] = 0;
    this.hCount[ref] = 0;
    const cut = this.unpersisted.get(ref);
    if (cut) for (const c of cut) c.dropped = true;
    this.unpersisted.delete(ref);
    this.dropRecent(ref);
    this.ooo.delete(ref);
    this.numSeries--;
  }

  /** Refs of live series that match all matchers and have data in [mint, maxt], ascending. */
  private matching(matchers: readonly Matcher[] | undefined, mint: number, maxt: number): number[] {
    let cand: number[] | null = null;
    for (const m of matchers ?? []) {
      if (m.matchesEmpty()) continue;
      const byValue = this.postings.get(m.name);
      if (!byValue) return [];
      let list: number[];
      if (m.type === '=') list = byValue.get(m.value)?.refs ?? [];
      else {
        list = [];
        for (const [v, e] of byValue) if (m.matches(v)) for (const r of e.refs) list.push(r);
        list.sort((a, b) => a - b);
      }
      if (cand === null || list.length < cand.length) cand = list;
      if (cand.length === 0) return [];
    }
    const out: number[] = [];
    const check = (r: number): void => {
      if (!(this.flags[r] & F_ALIVE)) return;
      if (!this.overlaps(r, mint, maxt)) return;
      if (matchers && matchers.length && !matchLabels(matchers, this.labels[r]!)) return;
      out.push(r);
    };
    if (cand) for (const r of cand) check(r);
    else for (let r = 1; r < this.nextRef; r++) check(r);
    return out;
  }

  private overlaps(r: number, mint: number, maxt: number): boolean {
    return this.minT[r] <= maxt && this.lastT[r] >= mint && this.lastT[r] >= this.sizeFloor;
  }

  /**
   * New retention and out-of-order settings (a configuration reload). They apply to the next
   * append and the next compaction; the block length chosen at open stays.
   */
  setRetention(o: Pick<TSDBOptions, 'retention' | 'retentionSize' | 'outOfOrderWindow' | 'maxFuture'>): void {
    this.retention = o.retention > 0 ? o.retention : Infinity;
    if (o.maxFuture !== undefined) this.maxFuture = o.maxFuture;
    this.retentionSize = o.retentionSize ?? 0;
    const hadWindow = this.oooWindow > 0;
    this.oooWindow = o.outOfOrderWindow ?? 0;
    if (this.oooWindow > 0) for (const r of [...this.recent.keys()]) this.dropRecent(r);
    // Out-of-order chunks written so far are no newer than maxT: recent chunks start after it.
    else if (hadWindow) this.recentMinMint = Math.max(this.recentMinMint, this.maxT);
  }

  // ---------------------------------------------------------------- appending

  appender(): Appender {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    if (this.readOnly) throw new StorageError('read_only', this.readOnlyWhy);
    this.appenderIds = (this.appenderIds + 1) | 0 || 1;
    // Read the clock once per batch, not per sample.
    const now = this.now();
    this.lowBound = now - this.retention;
    this.highBound = now + this.maxFuture;
    return new TSDBAppender(this, this.appenderIds);
  }

  /** @internal */
  takeBuffers(): AppendBuffers {
    return this.pool.pop() ?? new AppendBuffers(1024);
  }

  /** @internal */
  releaseBuffers(b: AppendBuffers): void {
    b.n = 0;
    if (this.pool.length < 16) this.pool.push(b);
  }

  /** @internal Validates one sample for an appender; returns false for a no-op duplicate. */
  check(id: number, r: number, t: number, v: number): boolean {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    if (!Number.isSafeInteger(t)) throw new StorageError('out_of_bounds', `timestamp ${t} is not a whole number of milliseconds within ±2^53`);
    if (t > this.highBound) throw new StorageError('out_of_bounds', `sample at ${t} (${isoTime(t)}) is more than storage.max_future (${this.maxFuture / 1000}s) ahead of the wall clock (${isoTime(this.highBound - this.maxFuture)})`);
    if (t < this.lowBound) throw new StorageError('out_of_bounds', `sample at ${t} (${isoTime(t)}) is older than the retention (${this.retention / 1000}s before ${isoTime(this.lowBound + this.retention)})`);
    let lastT: number;
    let lastV: number;
    if (this.pendOwner[r] === id) {
      lastT = this.pendT[r];
      lastV = this.pendV[r];
    } else {
      lastT = this.lastT[r];
      lastV = this.lastV[r];
      if (t === lastT && !this.lastVKnown[r]) {
        lastV = this.valueAt(r, t);
        this.lastV[r] = lastV;
        this.lastVKnown[r] = 1;
      }
    }
    if (t > lastT) {
      this.pendOwner[r] = id;
      this.pendT[r] = t;
      this.pendV[r] = v;
      return true;
    }
    if (t === lastT) {
      if (!sameValue(v, lastV)) throw new StorageError('duplicate_sample', `duplicate sample for timestamp ${t} with a different value`);
      return false;
    }
    if (this.oooWindow > 0 && t >= this.maxT - this.oooWindow) {
      // Rare, so look the timestamp up everywhere: head, cut and persisted chunks, OOO buffer.
      const it = this.iteratorFor(this.gather(r, t, t), t, t);
      if (it.next() && it.atT() === t) {
        if (!sameValue(v, it.atV())) throw new StorageError('duplicate_sample', `duplicate sample for timestamp ${t} with a different value`);
        return false;
      }
      return true;
    }
    this.mOoo.inc();
    throw new StorageError('out_of_order', `out of order sample: ${t} is older than ${lastT}${this.oooWindow > 0 ? ' and outside the out-of-order window' : ''}`);
  }

  /** @internal Makes a batch durable, then visible. */
  commitBatch(b: AppendBuffers): void {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    const n = b.n;
    if (n === 0) return;
    const refs = b.refs;
    const newSeries: { ref: number; key: string }[] = [];
    for (let i = 0; i < n; i++) {
      const r = refs[i];
      if (!(this.flags[r] & F_LOGGED) && this.flags[r] & F_ALIVE) {
        this.flags[r] |= F_LOGGED;
        newSeries.push({ ref: r, key: this.keys[r]! });
      }
    }
    let seg: number;
    try {
      seg = this.wal.appendBatch(newSeries, refs, b.ts, b.vs, n);
    } catch (e) {
      for (const s of newSeries) this.flags[s.ref] &= ~F_LOGGED;
      throw e;
    }
    for (const s of newSeries) if (!(this.flags[s.ref] & F_STORED)) this.toPersist.push(s.ref);
    const ts = b.ts;
    const vs = b.vs;
    for (let i = 0; i < n; i++) {
      const r = refs[i];
      if (this.flags[r] & F_ALIVE) this.ingest(r, ts[i], vs[i], seg, null);
    }
    this.mSamples.inc(n);
  }

  /**
   * Adds a committed sample to the head. The same rules run at commit and at WAL replay, so a
   * replay rebuilds the head exactly. `replayPos` is set during replay: out-of-order samples
   * before the checkpoint are already persisted.
   */
  private ingest(r: number, t: number, v: number, seg: number, replayPos: WalPosition | null): void {
    const last = this.lastT[r];
    if (t > last) {
      this.headAppend(r, t, v, seg);
      this.lastT[r] = t;
      this.lastV[r] = v;
      this.lastVKnown[r] = 1;
      if (t < this.minT[r]) this.minT[r] = t;
      if (t > this.maxT) this.maxT = t;
      return;
    }
    if (t === last || this.oooWindow <= 0 || t < this.maxT - this.oooWindow) return;
    if (replayPos && posLess(replayPos, this.oooCheckpoint)) return;
    let b = this.ooo.get(r);
    if (!b) {
      b = { ts: [], vs: [] };
      this.ooo.set(r, b);
    }
    const i = lowerBound(b.ts, t);
    if (i < b.ts.length && b.ts[i] === t) return;
    b.ts.splice(i, 0, t);
    b.vs.splice(i, 0, v);
    if (seg < this.oooMinSeg) this.oooMinSeg = seg;
    if (t < this.minT[r]) this.minT[r] = t;
  }

  private headAppend(r: number, t: number, v: number, seg: number): void {
    const enc = this.enc;
    const buf = this.arena[r >>> ARENA_SHIFT];
    const base = (r & ARENA_MASK) * SLOT;
    let count = this.hCount[r];
    if (count > 0 && (count >= MAX_CHUNK_SAMPLES || this.hPos[r] + MAX_SAMPLE_BITS > SLOT_BITS)) {
      this.cutHead(r);
      count = 0;
    }
    if (count === 0) {
      enc.reset(buf, base, SLOT);
      this.hMinT[r] = t;
      this.hFirstSeg[r] = seg;
    } else {
      enc.buf = buf;
      enc.base = base;
      enc.pos = this.hPos[r];
      enc.count = count;
      enc.t = this.hT[r];
      enc.delta = this.hDelta[r];
      enc.vhi = this.hVhi[r];
      enc.vlo = this.hVlo[r];
      enc.lead = this.hLead[r];
      enc.trail = this.hTrail[r];
    }
    enc.append(t, v);
    this.hCount[r] = enc.count;
    this.hPos[r] = enc.pos;
    this.hT[r] = t;
    this.hDelta[r] = enc.delta;
    this.hVhi[r] = enc.vhi;
    this.hVlo[r] = enc.vlo;
    this.hLead[r] = enc.lead;
    this.hTrail[r] = enc.trail;
  }

  private headBytes(r: number): Uint8Array {
    const base = (r & ARENA_MASK) * SLOT;
    return this.arena[r >>> ARENA_SHIFT].slice(base, base + ((this.hPos[r] + 7) >>> 3));
  }

  private cutHead(r: number): void {
    if (this.hCount[r] === 0) return;
    const c: CutChunk = { ref: r, mint: this.hMinT[r], maxt: this.hT[r], data: this.headBytes(r), seg: this.hFirstSeg[r], dropped: false };
    this.hCount[r] = 0;
    this.cutList.push(c);
    const l = this.unpersisted.get(r);
    if (l) l.push(c);
    else this.unpersisted.set(r, [c]);
  }

  // ---------------------------------------------------------------- reading

  querier(mint: number, maxt: number): Querier {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    return new TSDBQuerier(this, mint, maxt);
  }

  /** @internal Every chunk of a series that may hold samples in [start, end], plus out-of-order samples. */
  gather(r: number, start: number, end: number, stored?: ChunkLists | null): { chunks: StoredChunk[]; ooo: OooBuffer | undefined } {
    // A preloaded list belongs to this one select and series: it is extended in place. Chunks
    // from recentFrom on come from memory; the store is asked only for older ones.
    const from = this.recentFrom[r];
    let chunks: StoredChunk[];
    if (stored) {
      chunks = stored.get(r) ?? [];
      if (from !== Infinity && chunks.length > 0 && chunks[chunks.length - 1].mint >= from) chunks = chunks.filter((c) => c.mint < from);
    } else chunks = start < from ? this.store.chunks(r, start, Math.min(end, from - 1)) : [];
    const recent = this.recent.get(r);
    if (recent) for (const c of recent) if (c.maxt >= start && c.mint <= end) chunks.push(c);
    const cut = this.unpersisted.get(r);
    if (cut) for (const c of cut) if (c.maxt >= start && c.mint <= end) chunks.push(c);
    if (this.hCount[r] > 0 && this.hT[r] >= start && this.hMinT[r] <= end) {
      // A copy (the open chunk keeps growing), from Node's buffer pool rather than an
      // ArrayBuffer of its own per series.
      const base = (r & ARENA_MASK) * SLOT;
      const len = (this.hPos[r] + 7) >>> 3;
      const data = Buffer.allocUnsafe(len);
      data.set(this.arena[r >>> ARENA_SHIFT].subarray(base, base + len));
      chunks.push({ mint: this.hMinT[r], maxt: this.hT[r], data });
    }
    let ooo = this.ooo.get(r);
    if (ooo && (ooo.ts[0] > end || ooo.ts[ooo.ts.length - 1] < start)) ooo = undefined;
    if (ooo) ooo = { ts: ooo.ts.slice(), vs: ooo.vs.slice() };
    return { chunks, ooo };
  }

  /** @internal */
  iteratorFor(g: { chunks: StoredChunk[]; ooo: OooBuffer | undefined }, start: number, end: number): SampleIterator {
    const { chunks, ooo } = g;
    for (let i = 1; i < chunks.length; i++) {
      if (chunks[i].mint < chunks[i - 1].mint) {
        chunks.sort((a, b) => a.mint - b.mint);
        break;
      }
    }
    let disjoint = !ooo;
    for (let i = 1; disjoint && i < chunks.length; i++) if (chunks[i].mint <= chunks[i - 1].maxt) disjoint = false;
    if (disjoint) return new ChainIterator(chunks, start, end);
    const all = chunks.map((c) => c.data);
    if (ooo) all.push(...oooChunks(ooo));
    const { ts, vs, error } = mergeSamples(all, start, end);
    return error ? new ErrIterator(error) : new ArrayIterator(ts, vs);
  }

  /** @internal Persisted chunks of many series in one pass, or null (see ChunkStore.chunksMany). */
  preload(refs: number[], start: number, end: number): ChunkLists | null {
    // Rows from the newest recentFrom of these series on are all in memory.
    let from = -Infinity;
    for (const r of refs) if (this.recentFrom[r] > from) from = this.recentFrom[r];
    return this.store.chunksMany(refs, start, Math.min(end, from - 1));
  }

  private addRecent(r: number, c: StoredChunk): void {
    // Out-of-order chunks are written beside in-order ones, so with a window nothing is kept.
    if (this.oooWindow > 0 || c.mint <= this.recentMinMint) return;
    let l = this.recent.get(r);
    if (!l) {
      // Only a series with nothing persisted at or after this chunk can start a list.
      if (this.recentFrom[r] !== Infinity) return;
      l = [];
      this.recent.set(r, l);
      this.recentFrom[r] = c.mint;
    }
    l.push(c);
    this.recentBytes += c.data.length + RECENT_OVERHEAD;
  }

  private dropRecent(r: number): void {
    const l = this.recent.get(r);
    if (l) for (const c of l) this.recentBytes -= c.data.length + RECENT_OVERHEAD;
    this.recent.delete(r);
    if (r < this.recentFrom.length) this.recentFrom[r] = Infinity;
  }

  /**
   * Forgets recent chunks older than the window; when they take more than their budget, the
   * window halves until they fit (and grows back towards the configured one when there is room).
   */
  private async evictRecent(): Promise<void> {
    const configured = this.opts.recentChunkWindow ?? 2 * 3600_000;
    const budget = this.opts.recentChunkBytes ?? 256 * 1024 * 1024;
    if (this.recentWindow === 0 || this.recentBytes < budget / 4) this.recentWindow = configured;
    for (let round = 0; round < 32; round++) {
      // Nothing retention has dropped from the store stays visible here.
      const thr = Math.max(this.newest() - this.recentWindow, this.now() - this.retention, this.sizeFloor);
      let n = 0;
      for (const [r, l] of this.recent) {
        if ((++n & 1023) === 0) await this.pause();
        if (this.recent.get(r) !== l) continue;
        let k = 0;
        while (k < l.length && l[k].maxt < thr) this.recentBytes -= l[k++].data.length + RECENT_OVERHEAD;
        if (k === 0) continue;
        if (k === l.length) {
          this.recent.delete(r);
          this.recentFrom[r] = Infinity;
        } else {
          l.splice(0, k);
          this.recentFrom[r] = l[0].mint;
        }
      }
      if (this.recentBytes <= budget || this.recentWindow <= 0) break;
      this.recentWindow = Math.floor(this.recentWindow / 2);
    }
  }

  /** @internal */
  labelsOf(r: number): Labels {
    return this.labels[r]!;
  }

  /** @internal */
  match(matchers: readonly Matcher[] | undefined, mint: number, maxt: number): number[] {
    return this.matching(matchers, mint, maxt);
  }

  /** @internal Label names (or values of one name) over live series with data in the range. */
  labelIndex(name: string | null, matchers: readonly Matcher[] | undefined, mint: number, maxt: number): string[] {
    const out = new Set<string>();
    if (!matchers || matchers.length === 0) {
      const scan = (n: string, byValue: Map<string, PostingEntry>): void => {
        for (const [v, e] of byValue) {
          if (e.refs.some((r) => this.flags[r] & F_ALIVE && this.overlaps(r, mint, maxt))) {
            out.add(name === null ? n : v);
            if (name === null) return;
          }
        }
      };
      if (name === null) for (const [n, byValue] of this.postings) scan(n, byValue);
      else {
        const byValue = this.postings.get(name);
        if (byValue) scan(name, byValue);
      }
    } else {
      for (const r of this.matching(matchers, mint, maxt)) {
        for (const l of this.labels[r]!) {
          if (name === null) out.add(l.name);
          else if (l.name === name) out.add(l.value);
        }
      }
    }
    return [...out].sort();
  }

  private valueAt(r: number, t: number): number {
    const it = this.iteratorFor(this.gather(r, t, t), t, t);
    return it.next() ? it.atV() : NaN;
  }

  // ---------------------------------------------------------------- deletion

  deleteSeries(matchers: readonly Matcher[], mint: number, maxt: number): void {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    if (this.readOnly) throw new StorageError('read_only', this.readOnlyWhy);
    for (const r of this.matching(matchers, -Infinity, Infinity)) this.deleteOne(r, mint, maxt, true);
  }

  /**
   * deleteSeries for large deletes (the admin API): series by series, yielding to the event loop
   * every SLICE_MS so scrapes and queries go on meanwhile. Resolves to the number of series.
   */
  async deleteSeriesInSlices(matchers: readonly Matcher[], mint: number, maxt: number): Promise<number> {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    if (this.readOnly) throw new StorageError('read_only', this.readOnlyWhy);
    const refs = [...this.matching(matchers, -Infinity, Infinity)];
    this.sliceStart = performance.now();
    let n = 0;
    for (const r of refs) {
      if (this.closed) throw new StorageError('closed', 'storage is closed');
      if (!(this.flags[r] & F_ALIVE)) continue;
      this.deleteOne(r, mint, maxt, true);
      n++;
      await this.pause();
    }
    this.endSlice();
    return n;
  }

  /**
   * Removes a series' samples in [mint, maxt]: what remains is rewritten into persisted chunks
   * and a tombstone in the WAL makes replay drop the same range from samples it re-adds.
   */
  private deleteOne(r: number, mint: number, maxt: number, log: boolean): void {
    const { ts, vs, error } = mergeSamples(this.allChunks(r), -Infinity, Infinity);
    if (error) throw error;
    if (log) this.wal.appendTombstone(r, mint, maxt);
    const keepT: number[] = [];
    const keepV: number[] = [];
    for (let i = 0; i < ts.length; i++) {
      if (ts[i] >= mint && ts[i] <= maxt) continue;
      keepT.push(ts[i]);
      keepV.push(vs[i]);
    }
    if (keepT.length === 0) {
      this.removeSeries(r, 'chunks');
      return;
    }
    const key = this.keys[r]!;
    this.store.transaction(() => {
      this.store.deleteSeriesChunks(r);
      this.store.insertSeries(r, key, keepT[0], keepT[keepT.length - 1]);
      for (let i = 0; i < keepT.length; i += MAX_CHUNK_SAMPLES) {
        const j = Math.min(keepT.length, i + MAX_CHUNK_SAMPLES);
        this.store.writeChunk({ ref: r, mint: keepT[i], maxt: keepT[j - 1], data: encodeBestChunk(keepT, keepV, i, j) }, false);
      }
    });
    this.flags[r] |= F_STORED | F_LOGGED;
    this.hCount[r] = 0;
    const cut = this.unpersisted.get(r);
    if (cut) for (const c of cut) c.dropped = true;
    this.unpersisted.delete(r);
    this.dropRecent(r);
    this.ooo.delete(r);
    const last = keepT[keepT.length - 1];
    this.lastT[r] = last;
    this.lastV[r] = keepV[keepV.length - 1];
    this.lastVKnown[r] = 1;
    this.minT[r] = keepT[0];
    this.persistedMaxT[r] = last;
  }

  private allChunks(r: number): Uint8Array[] {
    const g = this.gather(r, -Infinity, Infinity);
    const all = g.chunks.map((c) => c.data);
    if (g.ooo) all.push(...oooChunks(g.ooo));
    return all;
  }

  // ---------------------------------------------------------------- compaction

  /**
   * Persists cut head chunks (and cuts head chunks that have been open longer than headMaxAge),
   * applies retention and truncates the WAL. Runs in slices; concurrent calls share one run.
   */
  compact(): Promise<void> {
    if (this.closed || this.readOnly) return Promise.resolve();
    if (!this.compacting) {
      this.compacting = this.runCompaction(false).finally(() => {
        this.compacting = null;
      });
    }
    return this.compacting;
  }

  private async pause(): Promise<void> {
    const now = performance.now();
    const took = now - this.sliceStart;
    if (took < SLICE_MS) return;
    if (took > this.maxSliceMs) this.maxSliceMs = took;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }

  private endSlice(): void {
    const took = performance.now() - this.sliceStart;
    if (took > this.maxSliceMs) this.maxSliceMs = took;
  }

  /**
   * Whether the file system has room for what a compaction writes now: the cut and open head
   * chunks, out-of-order samples and new series rows, twice (SQLite's WAL, then the checkpoint
   * into the database), plus a reserve. Without it the compaction is skipped: the WAL keeps every
   * committed sample, so nothing is lost, and a restart with more room replays it.
   */
  private roomToPersist(final: boolean): boolean {
    let bytes = 0;
    let rows = 0;
    for (let r = 1; r < this.nextRef; r++) {
      if (this.hCount[r] > 0) {
        bytes += (this.hPos[r] + 7) >>> 3;
        rows++;
      }
    }
    for (const c of this.cutList) bytes += c.data.length;
    rows += this.cutList.length;
    for (const b of this.ooo.values()) bytes += b.ts.length * 16;
    rows += this.ooo.size;
    for (const r of this.toPersist) bytes += this.keys[r]?.length ?? 0;
    rows += this.toPersist.length;
    // SQLite's own WAL is copied into the database at the next checkpoint (at the latest on close).
    let sqliteWal = 0;
    try {
      sqliteWal = statSync(join(this.opts.dir, 'chunks.db-wal')).size;
    } catch {
      // none
    }
    const need = 2 * (bytes + rows * 64) + sqliteWal + PERSIST_RESERVE;
    let free: number;
    try {
      free = this.freeBytes(this.opts.dir);
    } catch (e) {
      this.log.warn({ err: e }, 'cannot read the free space of the data directory');
      return true;
    }
    if (free >= need) return true;
    this.log.warn(
      { dir: this.opts.dir, freeBytes: free, needBytes: need },
      `not enough free space to persist the head ${final ? 'at shutdown' : 'now'} (${mib(free)} free, about ${mib(need)} needed): skipped; the write-ahead log keeps every sample and the next start replays it`,
    );
    return false;
  }

  private async runCompaction(final: boolean): Promise<void> {
    if (!this.roomToPersist(final)) return;
    const start = performance.now();
    this.sliceStart = start;
    if (this.wal.off > 0) this.wal.rotate();
    const cutSeg = final || this.headMaxAge <= 0 ? Infinity : this.wal.firstSegmentSince(Date.now() - this.headMaxAge);
    // Retention runs on the wall clock: samples from the future (older data dirs may hold some)
    // never push old data out.
    const cutoff = Math.max(this.now() - this.retention, this.sizeFloor);
    const gone: number[] = [];
    const end = this.nextRef;
    for (let r = 1; r < end; r++) {
      if ((r & 1023) === 0) await this.pause();
      if (!(this.flags[r] & F_ALIVE)) continue;
      if (this.lastT[r] < cutoff) gone.push(r);
      else if (this.hCount[r] > 0 && this.hFirstSeg[r] < cutSeg) this.cutHead(r);
    }
    for (let i = 0; i < gone.length; ) {
      const j = Math.min(gone.length, i + 1000);
      this.store.transaction(() => {
        for (; i < j; i++) if (this.flags[gone[i]] & F_ALIVE && this.lastT[gone[i]] < cutoff) this.removeSeries(gone[i], 'row');
      });
      await this.pause();
    }
    await this.persistCut();
    await this.persistOoo();
    await this.applyRetention(cutoff);
    await this.evictRecent();
    // Seal blocks no in-order chunk will be added to any more (late ones still may; they fit in).
    const sealDelay = Math.max(this.headMaxAge, 0) + 2 * (this.opts.compactInterval ?? 60_000) + 600_000;
    for (const id of this.store.sealable(this.newest() - sealDelay)) await this.store.seal(id, () => this.pause());
    this.truncateWal();
    this.endSlice();
    this.mCompaction.observe((performance.now() - start) / 1000);
  }

  /** The newest sample time, but never later than the clock allows (a future sample moves nothing). */
  private newest(): number {
    return Math.min(this.maxT, this.now() + this.maxFuture);
  }

  private async persistCut(): Promise<void> {
    const list = this.cutList;
    this.cutList = [];
    let i = 0;
    let s = 0;
    while (i < list.length || s < this.toPersist.length) {
      this.store.transaction(() => {
        const stop = performance.now() + SLICE_MS / 2;
        while (s < this.toPersist.length && performance.now() < stop) {
          const r = this.toPersist[s++];
          if (!(this.flags[r] & F_ALIVE) || this.flags[r] & F_STORED) continue;
          this.store.insertSeries(r, this.keys[r]!, this.minT[r], this.persistedMaxT[r]);
          this.flags[r] |= F_STORED;
        }
        for (let k = 0; i < list.length; i++, k++) {
          if ((k & 63) === 0 && performance.now() > stop) break;
          const c = list[i];
          if (c.dropped || !(this.flags[c.ref] & F_ALIVE)) continue;
          const data = recodeChunk(c.data);
          this.store.writeChunk({ ref: c.ref, mint: c.mint, maxt: c.maxt, data }, true);
          if (c.maxt > this.persistedMaxT[c.ref]) this.persistedMaxT[c.ref] = c.maxt;
          this.addRecent(c.ref, { mint: c.mint, maxt: c.maxt, data });
          const l = this.unpersisted.get(c.ref);
          if (l) {
            const at = l.indexOf(c);
            if (at >= 0) l.splice(at, 1);
            if (l.length === 0) this.unpersisted.delete(c.ref);
          }
        }
      });
      if (s >= this.toPersist.length) {
        this.toPersist = [];
        s = 0;
      }
      await this.pause();
    }
  }

  private async persistOoo(): Promise<void> {
    if (this.ooo.size === 0) return;
    const bufs = this.ooo;
    this.ooo = new Map();
    this.oooMinSeg = Infinity;
    const pos = { seg: this.wal.seg, off: this.wal.off };
    this.store.transaction(() => {
      for (const [r, b] of bufs) {
        if (!(this.flags[r] & F_ALIVE)) continue;
        // These chunks go to the store only: the series' recent chunks no longer cover it all.
        this.dropRecent(r);
        if (!(this.flags[r] & F_STORED)) {
          this.store.insertSeries(r, this.keys[r]!, this.minT[r], this.persistedMaxT[r]);
          this.flags[r] |= F_STORED;
        }
        for (let i = 0; i < b.ts.length; i += MAX_CHUNK_SAMPLES) {
          const j = Math.min(b.ts.length, i + MAX_CHUNK_SAMPLES);
          this.store.writeChunk({ ref: r, mint: b.ts[i], maxt: b.ts[j - 1], data: encodeBestChunk(b.ts, b.vs, i, j) }, true);
        }
      }
      this.store.setMeta('ooo_checkpoint', `${pos.seg}:${pos.off}`);
    });
    this.oooCheckpoint = pos;
    await this.pause();
  }

  private async applyRetention(cutoff: number): Promise<void> {
    for (const b of this.store.blockList()) {
      if (b.maxt >= cutoff) break;
      while (!this.store.dropBlockSlice(b.id, 5000)) await this.pause();
      await this.pause();
    }
    if (this.retentionSize > 0) {
      let blocks = this.store.blockList();
      while (blocks.length > 1 && this.store.usedBytes() + this.wal.size > this.retentionSize) {
        const b = blocks[0];
        while (!this.store.dropBlockSlice(b.id, 5000)) await this.pause();
        if (b.maxt >= this.sizeFloor) {
          this.sizeFloor = b.maxt + 1;
          this.store.setMeta('size_floor', String(this.sizeFloor));
        }
        blocks = this.store.blockList();
        await this.pause();
      }
    }
  }

  private truncateWal(): void {
    let need = this.wal.seg;
    const hc = this.hCount;
    const hs = this.hFirstSeg;
    for (let r = 1; r < this.nextRef; r++) if (hc[r] > 0 && hs[r] < need) need = hs[r];
    for (const c of this.cutList) if (c.seg < need) need = c.seg;
    if (this.oooMinSeg < need) need = this.oooMinSeg;
    this.wal.truncateBefore(need);
  }

  /** Statistics for benchmarks and the README. */
  stats(): { series: number; chunks: number; sealedBlocks: number; walBytes: number; diskBytes: number; maxSliceMs: number } {
    return {
      series: this.numSeries,
      chunks: this.store.totalChunks(),
      sealedBlocks: this.store.sealedBlocks(),
      walBytes: this.wal.size,
      diskBytes: this.store.diskBytes() + this.wal.size,
      maxSliceMs: this.maxSliceMs,
    };
  }

  /**
   * Read-only view of the index (for /api/v1/status/tsdb): calls `each` for every label pair with
   * its number of live series; returns the series count and their time range.
   */
  indexStats(each: (name: string, value: string, series: number) => void): { series: number; minTime: number; maxTime: number } {
    for (const [name, byValue] of this.postings) for (const [value, e] of byValue) each(name, value, e.refs.length);
    let minTime = Infinity;
    for (let r = 0; r < this.cap; r++) if (this.flags[r] & F_ALIVE && this.minT[r] < minTime) minTime = this.minT[r];
    return { series: this.numSeries, minTime, maxTime: this.maxT };
  }

  /** Tests only: releases the files without persisting anything, as a kill -9 would. */
  abandon(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.closed = true;
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
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    if (this.readOnly) throw new StorageError('read_only', this.readOnlyWhy);
    while (this.compacting) await this.compacting;
    if (!opts.skipHead) {
      this.compacting = this.runCompaction(true).finally(() => {
        this.compacting = null;
      });
      await this.compacting;
    }
    mkdirSync(dir, { recursive: true });
    await this.store.db.backup(join(dir, 'chunks.db'));
  }

  /** Persists everything and releases the files; a graceful close leaves an empty WAL. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.compacting) await this.compacting;
    if (!this.readOnly) {
      this.compacting = this.runCompaction(true);
      await this.compacting;
    }
    this.closed = true;
    this.wal.close();
    this.store.close();
    this.unlock();
  }
}

function lowerBound(a: readonly number[], t: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The same text as model/labels' labelsKey, built flat: a key grown with += is a tree of
 * concatenation nodes that V8 keeps as a Map key (~350 bytes more per series).
 */
function seriesKey(ls: Labels): string {
  const parts = new Array<string>(ls.length * 4);
  for (let i = 0; i < ls.length; i++) {
    parts[4 * i] = ls[i].name;
    parts[4 * i + 1] = '\xff';
    parts[4 * i + 2] = ls[i].value;
    parts[4 * i + 3] = '\xfe';
  }
  return parts.join('');
}



function isoTime(t: number): string {
  return Math.abs(t) <= 8.64e15 ? new Date(t).toISOString() : 'out of range';
}
