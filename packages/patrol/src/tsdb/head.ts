// The head: every live series in memory. Owns series identity (refs, labels, keys, the label
// index in postings.ts), per-series time state in typed arrays indexed by ref (struct of arrays),
// the open XOR chunk of each series in a 256-byte slot of a shared arena, chunks cut from it that
// wait to be persisted, and out-of-order samples waiting in memory. Nothing here touches a file:
// the WAL, the chunk store and retention belong to the modules that call in.

import type { Label, Labels } from '../model/labels.js';
import type { Matcher } from '../model/matchers.js';
import { matchLabels } from '../model/matchers.js';
import { validateLabels } from '../storage/memory.js';
import { MAX_CHUNK_SAMPLES, MAX_SAMPLE_BITS, XorEncoder } from './chunk.js';
import { lowerBound, Postings } from './postings.js';
import type { ChunkToWrite, StoredChunk } from './store.js';
import type { WalPosition } from './wal.js';

/** Bytes of arena per series for its open head chunk. */
const SLOT = 256;
const SLOT_BITS = SLOT * 8;
const ARENA_SHIFT = 12;
const ARENA_MASK = (1 << ARENA_SHIFT) - 1;

export const F_ALIVE = 1;
export const F_LOGGED = 2; // a WAL record names the series
export const F_STORED = 4; // the series table has a row

/** Out-of-order samples of a series waiting in memory, sorted by timestamp. */
export interface OooBuffer {
  ts: number[];
  vs: number[];
}

/** A head chunk that is full or old enough, waiting for the next compaction to persist it. */
export interface CutChunk extends ChunkToWrite {
  /** WAL segment of its first sample. */
  seg: number;
  dropped: boolean;
}

export class Head {
  // Series state, indexed by ref (refs start at 1 and are never reused).
  cap = 0;
  nextRef = 1;
  numSeries = 0;
  labels: (Labels | undefined)[] = [];
  /** The series' key in byKey (same string instance), as written to the WAL and series table. */
  keys: (string | undefined)[] = [];
  private readonly byKey = new Map<string, number>();
  readonly postings = new Postings();
  flags = new Uint8Array(0);
  lastT = new Float64Array(0);
  lastV = new Float64Array(0);
  /** 0 when lastV is not known (loaded from the series table): look it up in the chunks. */
  lastVKnown = new Uint8Array(0);
  minT = new Float64Array(0);
  persistedMaxT = new Float64Array(0);
  /** Newest sample timestamp in the store. */
  maxT = -Infinity;
  // Open head chunk state.
  hCount = new Uint8Array(0);
  hPos = new Uint16Array(0);
  hT = new Float64Array(0);
  private hDelta = new Float64Array(0);
  private hVhi = new Uint32Array(0);
  private hVlo = new Uint32Array(0);
  private hLead = new Uint8Array(0);
  private hTrail = new Uint8Array(0);
  hMinT = new Float64Array(0);
  hFirstSeg = new Int32Array(0);
  private readonly arena: Uint8Array[] = [];
  private readonly enc = new XorEncoder();
  /** Cut chunks in the order they were cut, and by series. */
  cutList: CutChunk[] = [];
  readonly unpersisted = new Map<number, CutChunk[]>();
  /** Series that need a row in the series table. */
  toPersist: number[] = [];
  // Out-of-order samples.
  ooo = new Map<number, OooBuffer>();
  oooMinSeg = Infinity;
  /** WAL position of the last out-of-order persist: a replay skips out-of-order samples before it. */
  oooCheckpoint: WalPosition = { seg: 0, off: 0 };
  /** Accept samples up to this many ms older than maxT (0: reject). */
  oooWindow = 0;

  constructor(
    /** Series whose newest sample is older than its sizeFloor are hidden (size retention dropped them). */
    private readonly limits: { readonly sizeFloor: number },
  ) {}

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
    this.cap = cap;
  }

  /** Adds a series; its labels come from `ls` or, when loading, are parsed from the key. */
  createSeries(ref: number, key: string, ls: Labels | null): void {
    if (ref >= this.cap) this.grow(ref);
    while (this.arena.length <= ref >>> ARENA_SHIFT) this.arena.push(new Uint8Array(SLOT << ARENA_SHIFT));
    let count = 0;
    if (ls) count = ls.length;
    else for (let i = key.indexOf('\xfe'); i >= 0; i = key.indexOf('\xfe', i + 1)) count++;
    // Exact-size arrays: a pushed-to array keeps spare capacity, which adds up over 1M series.
    const shared = new Array<Label>(count);
    let at = 0;
    for (let li = 0; li < count; li++) {
      if (ls) shared[li] = this.postings.add(ref, ls[li].name, ls[li].value);
      else {
        const a = key.indexOf('\xff', at);
        const b = key.indexOf('\xfe', a + 1);
        shared[li] = this.postings.add(ref, key.slice(at, a), key.slice(a + 1, b));
        at = b + 1;
      }
    }
    this.labels[ref] = shared;
    this.keys[ref] = key;
    this.byKey.set(key, ref);
    this.flags[ref] = F_ALIVE;
    this.lastT[ref] = -Infinity;
    this.minT[ref] = Infinity;
    this.persistedMaxT[ref] = -Infinity;
    this.lastVKnown[ref] = 1;
    this.hCount[ref] = 0;
    if (ref >= this.nextRef) this.nextRef = ref + 1;
    this.numSeries++;
  }

  /** Resolves a ref or labels to a live series, creating it when new. */
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

  isAlive(r: number): boolean {
    return (this.flags[r] & F_ALIVE) !== 0;
  }

  /**
   * Drops a series from memory: its index entries, open and cut chunks and out-of-order
   * samples. Returns whether the series table has a row for it (the caller deletes it).
   */
  removeSeries(ref: number): boolean {
    const ls = this.labels[ref];
    if (!(this.flags[ref] & F_ALIVE) || !ls) return false;
    const stored = (this.flags[ref] & F_STORED) !== 0;
    const key = this.keys[ref]!;
    if (this.byKey.get(key) === ref) this.byKey.delete(key);
    this.postings.remove(ref, ls);
    this.labels[ref] = undefined;
    this.keys[ref] = undefined;
    this.flags[ref] = 0;
    this.dropUnpersisted(ref);
    this.numSeries--;
    return stored;
  }

  /** Forgets the series' open and cut chunks and out-of-order samples (removed or rewritten). */
  dropUnpersisted(ref: number): void {
    this.hCount[ref] = 0;
    const cut = this.unpersisted.get(ref);
    if (cut) for (const c of cut) c.dropped = true;
    this.unpersisted.delete(ref);
    this.ooo.delete(ref);
  }

  /**
   * Adds a committed sample. The same rules run at commit and at WAL replay, so a replay rebuilds
   * the head exactly. `replayPos` is set during replay: out-of-order samples before the
   * checkpoint are already persisted.
   */
  ingest(r: number, t: number, v: number, seg: number, replayPos: WalPosition | null): void {
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

  /** Closes the series' open chunk and queues it for persisting. */
  cutHead(r: number): void {
    if (this.hCount[r] === 0) return;
    const base = (r & ARENA_MASK) * SLOT;
    const data = this.arena[r >>> ARENA_SHIFT].slice(base, base + ((this.hPos[r] + 7) >>> 3));
    const c: CutChunk = { ref: r, mint: this.hMinT[r], maxt: this.hT[r], data, seg: this.hFirstSeg[r], dropped: false };
    this.hCount[r] = 0;
    this.cutList.push(c);
    const l = this.unpersisted.get(r);
    if (l) l.push(c);
    else this.unpersisted.set(r, [c]);
  }

  /** A persisted cut chunk no longer waits. */
  persisted(c: CutChunk): void {
    if (c.maxt > this.persistedMaxT[c.ref]) this.persistedMaxT[c.ref] = c.maxt;
    const l = this.unpersisted.get(c.ref);
    if (!l) return;
    const at = l.indexOf(c);
    if (at >= 0) l.splice(at, 1);
    if (l.length === 0) this.unpersisted.delete(c.ref);
  }

  /** A copy of the open chunk when it overlaps [start, end] (it keeps growing), else null. */
  openChunk(r: number, start: number, end: number): StoredChunk | null {
    if (this.hCount[r] === 0 || this.hT[r] < start || this.hMinT[r] > end) return null;
    // From Node's buffer pool rather than an ArrayBuffer of its own per series.
    const base = (r & ARENA_MASK) * SLOT;
    const len = (this.hPos[r] + 7) >>> 3;
    const data = Buffer.allocUnsafe(len);
    data.set(this.arena[r >>> ARENA_SHIFT].subarray(base, base + len));
    return { mint: this.hMinT[r], maxt: this.hT[r], data };
  }

  /** Bytes and rows a persist of everything in memory would write (open and cut chunks, OOO, series). */
  unpersistedSize(): { bytes: number; rows: number } {
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
    return { bytes, rows };
  }

  /** The oldest WAL segment holding a sample that is only in memory (at most `current`). */
  oldestNeededSegment(current: number): number {
    let need = current;
    const hc = this.hCount;
    const hs = this.hFirstSeg;
    for (let r = 1; r < this.nextRef; r++) if (hc[r] > 0 && hs[r] < need) need = hs[r];
    for (const c of this.cutList) if (c.seg < need) need = c.seg;
    if (this.oooMinSeg < need) need = this.oooMinSeg;
    return need;
  }

  overlaps(r: number, mint: number, maxt: number): boolean {
    return this.minT[r] <= maxt && this.lastT[r] >= mint && this.lastT[r] >= this.limits.sizeFloor;
  }

  /** Refs of live series that match all matchers and have data in [mint, maxt], ascending. */
  matching(matchers: readonly Matcher[] | undefined, mint: number, maxt: number): number[] {
    const cand = this.postings.candidates(matchers);
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

  /** Label names (or values of one name) over live series with data in the range, sorted. */
  labelIndex(name: string | null, matchers: readonly Matcher[] | undefined, mint: number, maxt: number): string[] {
    const out = new Set<string>();
    if (!matchers || matchers.length === 0) {
      this.postings.namesOrValues(name, (r) => (this.flags[r] & F_ALIVE) !== 0 && this.overlaps(r, mint, maxt), out);
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

  /** Calls `each` for every label pair with its number of live series; the series count and time range. */
  indexStats(each: (name: string, value: string, series: number) => void): { series: number; minTime: number; maxTime: number } {
    this.postings.each(each);
    let minTime = Infinity;
    for (let r = 0; r < this.cap; r++) if (this.flags[r] & F_ALIVE && this.minT[r] < minTime) minTime = this.minT[r];
    return { series: this.numSeries, minTime, maxTime: this.maxT };
  }
}

export function posLess(a: WalPosition, b: WalPosition): boolean {
  return a.seg < b.seg || (a.seg === b.seg && a.off < b.off);
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
