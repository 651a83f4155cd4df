// Start-up: loads the series table into the head, then replays the WAL. In-order samples at or
// before a series' persisted maximum are already in chunks and skipped (Head.ingest); out-of-order
// samples before the checkpoint recorded with the last out-of-order persist are skipped too;
// tombstones drop again the range they deleted. Owns nothing after start.

import { deleteRange, deleteRangeInMemory, dropSeries, type SeriesParts } from './delete.js';
import { F_ALIVE, F_LOGGED, F_STORED } from './head.js';

/** Loads the stored series (refs, keys, persisted time range) and the out-of-order checkpoint. */
export function loadSeries(p: SeriesParts): void {
  const h = p.head;
  p.store.eachSeries((id, key, mint, maxt) => {
    h.createSeries(id, key, null);
    h.flags[id] |= F_LOGGED | F_STORED;
    // The newest sample's value is in its chunk: AppendPath.check reads it when it needs it.
    h.lastVKnown[id] = 0;
    h.minT[id] = mint;
    h.lastT[id] = maxt;
    h.persistedMaxT[id] = maxt;
    if (maxt > h.maxT) h.maxT = maxt;
  });
  const cp = p.store.getMeta('ooo_checkpoint');
  if (cp) {
    const [seg, off] = cp.split(':').map(Number);
    h.oooCheckpoint = { seg, off };
  }
}

/** Replays the WAL into the head; returns the number of samples read and the WAL's warnings. */
export function replayWal(p: SeriesParts): { replayed: number; warnings: string[] } {
  const h = p.head;
  let replayed = 0;
  const warnings = p.wal.replay((rec, pos) => {
    if (rec.type === 'tombstone') {
      if (rec.ref < h.cap && h.flags[rec.ref] & F_ALIVE) {
        if (p.readOnly) deleteRangeInMemory(p, rec.ref, rec.mint, rec.maxt);
        else deleteRange(p, rec.ref, rec.mint, rec.maxt, false);
      }
      return;
    }
    for (const s of rec.series) {
      if (s.ref >= h.cap || !(h.flags[s.ref] & F_ALIVE)) h.createSeries(s.ref, s.key, null);
      h.flags[s.ref] |= F_LOGGED;
      if (!(h.flags[s.ref] & F_STORED)) h.toPersist.push(s.ref);
    }
    const { refs, ts, vs, n } = rec;
    for (let i = 0; i < n; i++) {
      const r = refs[i];
      if (r >= h.cap || !(h.flags[r] & F_ALIVE)) continue;
      h.ingest(r, ts[i], vs[i], pos.seg, pos);
    }
    replayed += n;
  });
  // Series whose every sample was deleted before the crash.
  for (let r = 1; r < h.nextRef; r++) {
    if (h.flags[r] & F_ALIVE && h.lastT[r] === -Infinity && h.hCount[r] === 0 && !h.ooo.has(r)) dropSeries(p, r, 'chunks');
  }
  // Chunks persisted before this open (out-of-order ones included) are no newer than this;
  // only chunks that start later are kept as recent chunks.
  let newest = h.maxT;
  for (let r = 1; r < h.nextRef; r++) if (h.persistedMaxT[r] > newest) newest = h.persistedMaxT[r];
  p.recent.minMint = newest;
  return { replayed, warnings };
}
