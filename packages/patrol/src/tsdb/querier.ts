// The read path: a querier selects series from the index (Head.matching), gathers each one's
// chunks (persisted, recent, cut, open head, out-of-order; ReadPath) and iterates them in time
// order, merging chunks that overlap. Owns no state of its own beyond one select.

import type { Labels } from '../model/labels.js';
import { compareLabels } from '../model/labels.js';
import type { Matcher } from '../model/matchers.js';
import type { Querier, SampleBuffer, SampleIterator, SelectHints, Series, SeriesSet } from '../storage/interface.js';
import { ArrayIterator } from '../storage/memory.js';
import { chunkCount, chunkIterator, decodeChunkInto, encodeChunk, type XorIterator } from './chunk.js';
import type { Head, OooBuffer } from './head.js';
import type { RecentChunks } from './recent.js';
import type { ChunkLists, ChunkStore, StoredChunk } from './store.js';

/** A series' chunks for one select: stored, recent, cut and head chunks, and out-of-order samples. */
export interface Gathered {
  chunks: StoredChunk[];
  ooo: OooBuffer | undefined;
}

/** What a querier needs of the store (ReadPath implements it). */
export interface QueryTarget {
  match(matchers: readonly Matcher[] | undefined, mint: number, maxt: number): number[];
  labelsOf(r: number): Labels;
  preload(refs: number[], start: number, end: number): ChunkLists | null;
  gather(r: number, start: number, end: number, stored?: ChunkLists | null): Gathered;
  iteratorFor(g: Gathered, start: number, end: number): SampleIterator;
  labelIndex(name: string | null, matchers: readonly Matcher[] | undefined, mint: number, maxt: number): string[];
}

/** Where a series' chunks are: the store, the recent-chunk cache and the head. */
export class ReadPath implements QueryTarget {
  constructor(
    private readonly head: Head,
    private readonly recent: RecentChunks,
    private readonly store: ChunkStore,
  ) {}

  match(matchers: readonly Matcher[] | undefined, mint: number, maxt: number): number[] {
    return this.head.matching(matchers, mint, maxt);
  }

  labelsOf(r: number): Labels {
    return this.head.labels[r]!;
  }

  labelIndex(name: string | null, matchers: readonly Matcher[] | undefined, mint: number, maxt: number): string[] {
    return this.head.labelIndex(name, matchers, mint, maxt);
  }

  /** Every chunk of a series that may hold samples in [start, end], plus out-of-order samples. */
  gather(r: number, start: number, end: number, stored?: ChunkLists | null): Gathered {
    // A preloaded list belongs to this one select and series: it is extended in place. Chunks
    // from the recent cache's mark on come from memory; the store is asked only for older ones.
    const from = this.recent.fromOf(r);
    let chunks: StoredChunk[];
    if (stored) {
      chunks = stored.get(r) ?? [];
      if (from !== Infinity && chunks.length > 0 && chunks[chunks.length - 1].mint >= from) chunks = chunks.filter((c) => c.mint < from);
    } else chunks = start < from ? this.store.chunks(r, start, Math.min(end, from - 1)) : [];
    const recent = this.recent.list(r);
    if (recent) for (const c of recent) if (c.maxt >= start && c.mint <= end) chunks.push(c);
    const head = this.head;
    const cut = head.unpersisted.get(r);
    if (cut) for (const c of cut) if (c.maxt >= start && c.mint <= end) chunks.push(c);
    const open = head.openChunk(r, start, end);
    if (open) chunks.push(open);
    let ooo = head.ooo.get(r);
    if (ooo && (ooo.ts[0] > end || ooo.ts[ooo.ts.length - 1] < start)) ooo = undefined;
    if (ooo) ooo = { ts: ooo.ts.slice(), vs: ooo.vs.slice() };
    return { chunks, ooo };
  }

  iteratorFor(g: Gathered, start: number, end: number): SampleIterator {
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

  /** Persisted chunks of many series in one pass, or null (see ChunkStore.chunksMany). */
  preload(refs: number[], start: number, end: number): ChunkLists | null {
    // Rows from the newest cache mark of these series on are all in memory.
    let from = -Infinity;
    for (const r of refs) {
      const f = this.recent.fromOf(r);
      if (f > from) from = f;
    }
    return this.store.chunksMany(refs, start, Math.min(end, from - 1));
  }

  /** The sample of series `r` at `t`, if any (every chunk looked at: for rare checks). */
  sampleAt(r: number, t: number): { found: boolean; v: number } {
    const it = this.iteratorFor(this.gather(r, t, t), t, t);
    if (it.next() && it.atT() === t) return { found: true, v: it.atV() };
    return { found: false, v: NaN };
  }

  /** Every chunk of the series, out-of-order samples as chunks too. */
  allChunks(r: number): Uint8Array[] {
    const g = this.gather(r, -Infinity, Infinity);
    const all = g.chunks.map((c) => c.data);
    if (g.ooo) all.push(...oooChunks(g.ooo));
    return all;
  }
}

const u32v = new Uint32Array(2);
const f64v = new Float64Array(u32v.buffer);

export class TSDBQuerier implements Querier {
  constructor(
    private readonly db: QueryTarget,
    private readonly mint: number,
    private readonly maxt: number,
  ) {}

  select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
    const start = Math.max(hints.start, this.mint);
    const end = Math.min(hints.end, this.maxt);
    const refs = start > end ? [] : this.db.match(matchers, start, end);
    const sorted = refs.map((r) => ({ r, ls: this.db.labelsOf(r) })).sort((a, b) => compareLabels(a.ls, b.ls));
    const stored = this.db.preload(refs, start, end);
    return new TSDBSeriesSet(this.db, sorted, start, end, hints.labelsOnly === true, stored);
  }

  labelNames(matchers?: readonly Matcher[]): string[] {
    return this.db.labelIndex(null, matchers, this.mint, this.maxt);
  }

  labelValues(name: string, matchers?: readonly Matcher[]): string[] {
    return this.db.labelIndex(name, matchers, this.mint, this.maxt);
  }

  close(): void {}
}

class TSDBSeriesSet implements SeriesSet {
  private i = -1;
  private cur: Series | null = null;
  private error: Error | null = null;

  constructor(
    private readonly db: QueryTarget,
    private readonly list: { r: number; ls: Labels }[],
    private readonly start: number,
    private readonly end: number,
    private readonly labelsOnly: boolean,
    private readonly stored: ChunkLists | null,
  ) {}

  next(): boolean {
    while (++this.i < this.list.length) {
      const { r, ls } = this.list[this.i];
      try {
        const g = this.db.gather(r, this.start, this.end, this.stored);
        if (g.chunks.length === 0 && !g.ooo) continue;
        const { start, end } = this;
        // A chunk lying wholly inside the range has samples in it; otherwise decode to find out.
        if (!this.labelsOnly && !g.chunks.some((c) => c.mint >= start && c.maxt <= end)) {
          const probe = this.db.iteratorFor(g, start, end);
          if (!probe.next()) {
            const e = probe.err();
            if (e) {
              this.error = e;
              return false;
            }
            continue;
          }
        }
        // iteratorFor only sorts the list in place (idempotent) and reads it: no copy per call.
        this.cur = { labels: ls, iterator: () => this.db.iteratorFor(g, start, end) };
        return true;
      } catch (e) {
        this.error = e instanceof Error ? e : new Error(String(e));
        return false;
      }
    }
    return false;
  }

  at(): Series {
    return this.cur!;
  }

  err(): Error | null {
    return this.error;
  }

  warnings(): string[] {
    return [];
  }
}

/** Samples of time-ordered, non-overlapping chunks, restricted to [start, end]. */
export class ChainIterator implements SampleIterator {
  private ci = -1;
  private cur: XorIterator | null = null;
  private done = false;
  private started = false;
  private error: Error | null = null;

  constructor(
    private readonly chunks: StoredChunk[],
    private readonly start: number,
    private readonly end: number,
  ) {}

  next(): boolean {
    return this.advance(this.start);
  }

  private advance(min: number): boolean {
    if (this.done) return false;
    for (;;) {
      const cur = this.cur;
      if (cur && cur.next()) {
        const t = cur.atT();
        if (t < min) continue;
        if (t > this.end) break;
        this.started = true;
        return true;
      }
      if (cur && cur.err()) {
        this.error = cur.err();
        break;
      }
      this.ci++;
      while (this.ci < this.chunks.length && this.chunks[this.ci].maxt < min) this.ci++;
      if (this.ci >= this.chunks.length || this.chunks[this.ci].mint > this.end) break;
      this.cur = chunkIterator(this.chunks[this.ci].data);
    }
    this.done = true;
    return false;
  }

  seek(t: number): boolean {
    if (this.done) return false;
    if (this.started && this.cur!.atT() >= t) return true;
    return this.advance(Math.max(t, this.start));
  }

  /** Decodes whole chunks straight into the buffer (the query engine's path). */
  readInto(mint: number, maxt: number, into: SampleBuffer): void {
    if (this.done || this.started) {
      // Not fresh: the sample-by-sample path keeps the position semantics.
      for (let ok = this.started ? this.seek(mint) : this.next(); ok; ok = this.next()) {
        const t = this.atT();
        if (t > maxt) break;
        into.reserve(1);
        into.t[into.n] = t;
        into.v[into.n++] = this.atV();
      }
      return;
    }
    this.done = true;
    const lo = Math.max(mint, this.start);
    const hi = Math.min(maxt, this.end);
    for (const c of this.chunks) {
      if (c.maxt < lo) continue;
      if (c.mint > hi) break;
      into.reserve(chunkCount(c.data));
      const w = decodeChunkInto(c.data, lo, hi, into.t, into.v, into.bits, into.n);
      if (w < 0) {
        into.n += -1 - w;
        this.error = new Error(`corrupt chunk of ${chunkCount(c.data)} samples at ${c.mint}..${c.maxt}: truncated or invalid encoding`);
        return;
      }
      into.n += w;
    }
  }

  atT(): number {
    return this.cur!.atT();
  }

  atV(): number {
    return this.cur!.atV();
  }

  err(): Error | null {
    return this.error;
  }
}

export class ErrIterator implements SampleIterator {
  constructor(private readonly e: Error) {}
  next(): boolean {
    return false;
  }
  seek(): boolean {
    return false;
  }
  atT(): number {
    return NaN;
  }
  atV(): number {
    return NaN;
  }
  err(): Error | null {
    return this.e;
  }
}

/** Out-of-order samples as chunks (a buffer can exceed one chunk's 255 samples). */
export function oooChunks(b: OooBuffer): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < b.ts.length; i += 255) parts.push(encodeChunk(b.ts, b.vs, i, Math.min(b.ts.length, i + 255)));
  return parts;
}

/** Decodes chunks into one sorted stream in [start, end]; the first chunk listed wins a tie. */
export function mergeSamples(chunks: readonly Uint8Array[], start: number, end: number): { ts: Float64Array; vs: Float64Array; error: Error | null } {
  let total = 0;
  for (const c of chunks) total += chunkCount(c);
  const ts = new Float64Array(total);
  const vs = new Float64Array(total);
  const order: number[] = [];
  let n = 0;
  let error: Error | null = null;
  for (const c of chunks) {
    const it = chunkIterator(c);
    while (it.next()) {
      const t = it.atT();
      if (t < start || t > end) continue;
      ts[n] = t;
      const [hi, lo] = it.atBits();
      u32v[1] = hi;
      u32v[0] = lo;
      vs[n] = f64v[0];
      order.push(n++);
    }
    if (it.err()) error = it.err();
  }
  order.sort((a, b) => ts[a] - ts[b] || a - b);
  const ots = new Float64Array(n);
  const ovs = new Float64Array(n);
  const obits = new Uint32Array(ovs.buffer);
  const ibits = new Uint32Array(vs.buffer);
  let m = 0;
  for (const i of order) {
    if (m > 0 && ots[m - 1] === ts[i]) continue;
    ots[m] = ts[i];
    obits[2 * m] = ibits[2 * i];
    obits[2 * m + 1] = ibits[2 * i + 1];
    m++;
  }
  return { ts: ots.subarray(0, m), vs: ovs.subarray(0, m), error };
}
