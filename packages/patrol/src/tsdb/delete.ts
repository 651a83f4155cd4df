// Removing data: a whole series from memory and the store (retention, empty series after a
// replay, deletes that leave nothing), and a time range of a series (the admin API's deletes and
// their tombstones replayed from the WAL), which rewrites what remains into persisted chunks.

import type { Matcher } from '../model/matchers.js';
import { StorageError } from '../storage/interface.js';
import { encodeBestChunk, MAX_CHUNK_SAMPLES } from './chunk.js';
import { F_ALIVE, F_LOGGED, F_STORED, type Head } from './head.js';
import { mergeSamples, oooChunks, type ReadPath } from './querier.js';
import type { RecentChunks } from './recent.js';
import type { Slicer } from './slicer.js';
import type { ChunkStore } from './store.js';
import type { Wal } from './wal.js';

/** The parts of an open store that removing data touches. */
export interface SeriesParts {
  head: Head;
  recent: RecentChunks;
  store: ChunkStore;
  wal: Wal;
  read: ReadPath;
  /** The store was opened read-only: nothing may be written to it. */
  readOnly: boolean;
}

/**
 * Drops a series. `store`: 'chunks' also deletes its stored chunks and row, 'row' only its row
 * (retention: its chunks sit in blocks that age out on their own, and refs are never reused, so
 * they are never read again).
 */
export function dropSeries(p: SeriesParts, ref: number, store: 'chunks' | 'row'): void {
  if (!p.head.isAlive(ref)) return;
  if (p.head.removeSeries(ref) && !p.readOnly) {
    if (store === 'chunks') p.store.deleteSeriesChunks(ref);
    p.store.deleteSeriesRow(ref);
  }
  p.recent.drop(ref);
}

/**
 * Removes a series' samples in [mint, maxt]: what remains is rewritten into persisted chunks
 * and (with `log`) a tombstone in the WAL makes replay drop the same range from samples it re-adds.
 */
export function deleteRange(p: SeriesParts, r: number, mint: number, maxt: number, log: boolean): void {
  const { ts, vs, error } = mergeSamples(p.read.allChunks(r), -Infinity, Infinity);
  if (error) throw error;
  if (log) p.wal.appendTombstone(r, mint, maxt);
  const keepT: number[] = [];
  const keepV: number[] = [];
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] >= mint && ts[i] <= maxt) continue;
    keepT.push(ts[i]);
    keepV.push(vs[i]);
  }
  if (keepT.length === 0) {
    dropSeries(p, r, 'chunks');
    return;
  }
  const h = p.head;
  const key = h.keys[r]!;
  p.store.transaction(() => {
    p.store.deleteSeriesChunks(r);
    p.store.insertSeries(r, key, keepT[0], keepT[keepT.length - 1]);
    for (let i = 0; i < keepT.length; i += MAX_CHUNK_SAMPLES) {
      const j = Math.min(keepT.length, i + MAX_CHUNK_SAMPLES);
      p.store.writeChunk({ ref: r, mint: keepT[i], maxt: keepT[j - 1], data: encodeBestChunk(keepT, keepV, i, j) }, false);
    }
  });
  h.flags[r] |= F_STORED | F_LOGGED;
  h.dropUnpersisted(r);
  p.recent.drop(r);
  const last = keepT[keepT.length - 1];
  h.lastT[r] = last;
  h.lastV[r] = keepV[keepV.length - 1];
  h.lastVKnown[r] = 1;
  h.minT[r] = keepT[0];
  h.persistedMaxT[r] = last;
}

/**
 * deleteRange during a read-only start's replay: the store cannot change, and needs not (the
 * delete rewrote it before its tombstone was replayed), so only the samples in memory (open and
 * cut chunks, out-of-order samples, all replayed from the WAL) lose the range.
 */
export function deleteRangeInMemory(p: SeriesParts, r: number, mint: number, maxt: number): void {
  const h = p.head;
  const mem: Uint8Array[] = [];
  const cut = h.unpersisted.get(r);
  const seg = Math.min(h.hCount[r] > 0 ? h.hFirstSeg[r] : Infinity, ...(cut ?? []).map((c) => c.seg));
  for (const c of cut ?? []) mem.push(c.data);
  const open = h.openChunk(r, -Infinity, Infinity);
  if (open) mem.push(open.data);
  const ooo = h.ooo.get(r);
  if (ooo) mem.push(...oooChunks(ooo));
  if (mem.length === 0) return;
  const { ts, vs, error } = mergeSamples(mem, -Infinity, Infinity);
  if (error) throw error;
  const keepT: number[] = [];
  const keepV: number[] = [];
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] >= mint && ts[i] <= maxt) continue;
    keepT.push(ts[i]);
    keepV.push(vs[i]);
  }
  h.dropUnpersisted(r);
  // What remains waits as cut chunks (a read-only store never persists them).
  const kept = [];
  for (let i = 0; i < keepT.length; i += MAX_CHUNK_SAMPLES) {
    const j = Math.min(keepT.length, i + MAX_CHUNK_SAMPLES);
    kept.push({ ref: r, mint: keepT[i], maxt: keepT[j - 1], data: encodeBestChunk(keepT, keepV, i, j), seg: Number.isFinite(seg) ? seg : 0, dropped: false });
  }
  if (kept.length > 0) h.unpersisted.set(r, kept);
  const last = keepT.length > 0 ? keepT[keepT.length - 1] : -Infinity;
  h.lastT[r] = Math.max(last, h.persistedMaxT[r]);
  if (last >= h.persistedMaxT[r] && last > -Infinity) h.lastV[r] = keepV[keepV.length - 1];
}

/** deleteRange for every series the matchers select, at once. */
export function deleteMatching(p: SeriesParts, matchers: readonly Matcher[], mint: number, maxt: number): void {
  for (const r of p.head.matching(matchers, -Infinity, Infinity)) deleteRange(p, r, mint, maxt, true);
}

/**
 * deleteMatching for large deletes (the admin API): series by series, yielding to the event loop
 * between slices so scrapes and queries go on meanwhile; throws `closed` when the store closes
 * meanwhile. Resolves to the number of series.
 */
export async function deleteMatchingInSlices(p: SeriesParts, slicer: Slicer, matchers: readonly Matcher[], mint: number, maxt: number, closed: () => boolean): Promise<number> {
  const refs = [...p.head.matching(matchers, -Infinity, Infinity)];
  slicer.begin();
  let n = 0;
  for (const r of refs) {
    if (closed()) throw new StorageError('closed', 'storage is closed');
    if (!(p.head.flags[r] & F_ALIVE)) continue;
    deleteRange(p, r, mint, maxt, true);
    n++;
    await slicer.pause();
  }
  slicer.end();
  return n;
}
