// Persisted chunks in SQLite. Chunks are grouped into time blocks, one table per block (named by
// the block's start), so retention drops whole tables' rows in slices instead of searching an
// index, and a query touches only the blocks that overlap its range. The series table maps refs
// to label keys and keeps the newest persisted timestamp per series (replay skips samples up to it).

import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { chunkCount, chunkIterator, encodeBestChunk } from './chunk.js';

export interface StoredChunk {
  mint: number;
  maxt: number;
  data: Uint8Array;
}

/** Stored chunks of many series by ref, ordered by mint (ChunkStore.chunksMany). */
export interface ChunkLists {
  get(ref: number): StoredChunk[] | undefined;
}

export interface ChunkToWrite extends StoredChunk {
  ref: number;
}

interface Block {
  id: number;
  table: string;
  mint: number;
  maxt: number;
  chunks: number;
  select: Statement<[number, number, number], { mint: number; maxt: number; data: Buffer }> | null;
  insert: Statement | null;
  /** Sealed blocks: the rowid table holding packed rows (late chunks still go to `table`). */
  packed: string | null;
  selectPacked: Statement<[number, number, number, number], { mint: number; maxt: number; data: Buffer }> | null;
  range: Statement<[number, number, number, number], [number, number, number, Buffer]> | null;
  del: Statement<[number]> | null;
  delPacked: Statement<[number, number]> | null;
  rangePacked: Statement<[number, number, number, number], [number, number, number, Buffer]> | null;
  /** While a block is being sealed: series up to `cursor` are copied; later writes to them. */
  sealing: { cursor: number; late: ChunkToWrite[] } | null;
}

/** Packed rows of series s have rowids s·2^20 + j, so one range scan finds them. */
const ROWID_SHIFT = 2 ** 20;

export class ChunkStore {
  readonly db: Database.Database;
  readonly blockLen: number;
  private readonly blocks = new Map<number, Block>();
  private readonly stInsertSeries: Statement;
  private readonly stSeriesMaxt: Statement;
  private readonly stDeleteSeries: Statement;
  private readonly stSetMeta: Statement;
  private readonly stGetMeta: Statement<[string], { value: string }>;
  private readonly stBlockUpsert: Statement;

  constructor(
    readonly path: string,
    defaultBlockLen: number,
    /** Read only (a full disk): nothing is written; a missing database reads as an empty one. */
    readonly readOnly = false,
  ) {
    if (readOnly) {
      // A read-only connection never checkpoints or writes pages; SQLite may create its 32 KiB
      // shared-memory index (-shm) when missing, the one write such a start makes.
      this.db = existsSync(path) ? new Database(path, { readonly: true }) : new Database(':memory:');
      if (countTables(this.db) < 3) {
        // A database created but never filled: nothing to read.
        this.db.close();
        this.db = new Database(':memory:');
      }
    } else {
      this.db = new Database(path);
      // Only takes effect on a new database; lets retention and sealing give space back to the OS.
      this.db.pragma('auto_vacuum = INCREMENTAL');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, labels TEXT NOT NULL, mint INTEGER NOT NULL, maxt INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS blocks (id INTEGER PRIMARY KEY, mint INTEGER NOT NULL, maxt INTEGER NOT NULL, chunks INTEGER NOT NULL, sealed INTEGER NOT NULL DEFAULT 0);
    `);
    this.stSetMeta = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.stGetMeta = this.db.prepare('SELECT value FROM meta WHERE key = ?');
    const bl = this.getMeta('block_len');
    this.blockLen = bl ? Number(bl) : defaultBlockLen;
    if (!bl && !readOnly) this.setMeta('block_len', String(this.blockLen));
    this.stInsertSeries = this.db.prepare('INSERT OR REPLACE INTO series (id, labels, mint, maxt) VALUES (?, ?, ?, ?)');
    this.stSeriesMaxt = this.db.prepare('UPDATE series SET maxt = max(maxt, ?), mint = min(mint, ?) WHERE id = ?');
    this.stDeleteSeries = this.db.prepare('DELETE FROM series WHERE id = ?');
    this.stBlockUpsert = this.db.prepare(
      'INSERT INTO blocks (id, mint, maxt, chunks) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET mint = min(mint, excluded.mint), maxt = max(maxt, excluded.maxt), chunks = chunks + excluded.chunks',
    );
    for (const r of this.db.prepare('SELECT id, mint, maxt, chunks, sealed FROM blocks').all() as { id: number; mint: number; maxt: number; chunks: number; sealed: number }[]) {
      const table = tableName(r.id);
      // A seal interrupted by a crash left a partial copy (unsealed) or the old table (sealed).
      if (!readOnly) {
        if (r.sealed !== 1) this.db.exec(`DROP TABLE IF EXISTS ${table}_p`);
        this.db.exec(`DROP TABLE IF EXISTS ${table}_old`);
        this.db.exec(openTableSql(table));
      }
      this.blocks.set(r.id, { id: r.id, table, mint: r.mint, maxt: r.maxt, chunks: r.chunks, select: null, insert: null, packed: r.sealed === 1 ? `${table}_p` : null, selectPacked: null, range: null, rangePacked: null, del: null, delPacked: null, sealing: null });
    }
  }

  getMeta(key: string): string | undefined {
    return this.stGetMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.stSetMeta.run(key, value);
  }

  /** Calls fn for every stored series in id order. */
  eachSeries(fn: (id: number, key: string, mint: number, maxt: number) => void): void {
    // Pages of all() are faster than iterate() row by row.
    const st = this.db.prepare('SELECT id, labels, mint, maxt FROM series WHERE id > ? ORDER BY id LIMIT 50000').raw(true);
    let last = -1;
    for (;;) {
      const rows = st.all(last) as [number, string, number, number][];
      for (const row of rows) fn(row[0], row[1], row[2], row[3]);
      if (rows.length < 50000) break;
      last = rows[rows.length - 1][0];
    }
  }

  insertSeries(id: number, key: string, mint: number, maxt: number): void {
    this.stInsertSeries.run(id, key, toInt(mint), toInt(maxt));
  }

  deleteSeriesRow(id: number): void {
    this.stDeleteSeries.run(id);
  }

  private block(mint: number): Block {
    const id = Math.floor(mint / this.blockLen);
    let b = this.blocks.get(id);
    if (!b) {
      const table = tableName(id);
      this.db.exec(openTableSql(table));
      b = { id, table, mint: Infinity, maxt: -Infinity, chunks: 0, select: null, insert: null, packed: null, selectPacked: null, range: null, rangePacked: null, del: null, delPacked: null, sealing: null };
      this.blocks.set(id, b);
    }
    return b;
  }

  /**
   * Writes chunks; call inside a transaction. A chunk with the same series, mint and maxt as a
   * stored one (a replay after a crash, or out-of-order data) is merged sample by sample.
   */
  writeChunk(c: ChunkToWrite, updateSeries: boolean): void {
    const b = this.block(c.mint);
    const table = b.table;
    if (!b.insert) b.insert = this.db.prepare(`INSERT OR IGNORE INTO ${b.table} (series, mint, maxt, data) VALUES (?, ?, ?, ?)`);
    if (b.sealing && c.ref <= b.sealing.cursor) b.sealing.late.push(c);
    const r = b.insert.run(c.ref, c.mint, c.maxt, c.data);
    if (r.changes === 0) {
      const old = this.db.prepare(`SELECT data FROM ${table} WHERE series = ? AND mint = ? AND maxt = ?`).get(c.ref, c.mint, c.maxt) as { data: Buffer };
      const merged = isPacked(old.data) ? packChunks([...unpackChunks(old.data, c.mint), c]) : mergeChunks([old.data, c.data]);
      this.db.prepare(`UPDATE ${table} SET data = ? WHERE series = ? AND mint = ? AND maxt = ?`).run(merged, c.ref, c.mint, c.maxt);
    } else {
      b.chunks++;
      this.stBlockUpsert.run(b.id, c.mint, c.maxt, 1);
    }
    if (c.mint < b.mint) b.mint = c.mint;
    if (c.maxt > b.maxt) b.maxt = c.maxt;
    if (updateSeries) this.stSeriesMaxt.run(c.maxt, c.mint, c.ref);
  }

  /** Stored chunks of a series overlapping [start, end], ordered by mint. */
  chunks(ref: number, start: number, end: number): StoredChunk[] {
    const out: StoredChunk[] = [];
    for (const b of this.blocks.values()) {
      if (b.mint > end || b.maxt < start || b.chunks <= 0) continue;
      if (!b.select) b.select = this.db.prepare(`SELECT mint, maxt, data FROM ${b.table} WHERE series = ? AND mint <= ? AND maxt >= ?`);
      for (const r of b.select.all(ref, toInt(end), toInt(start))) out.push({ mint: r.mint, maxt: r.maxt, data: r.data });
      if (b.packed) {
        if (!b.selectPacked) b.selectPacked = this.db.prepare(`SELECT mint, maxt, data FROM ${b.packed} WHERE id >= ? AND id < ? AND mint <= ? AND maxt >= ?`);
        for (const r of b.selectPacked.all(ref * ROWID_SHIFT, (ref + 1) * ROWID_SHIFT, toInt(end), toInt(start))) {
          if (isPacked(r.data)) {
            for (const c of unpackChunks(r.data, r.mint)) if (c.mint <= end && c.maxt >= start) out.push(c);
          } else out.push({ mint: r.mint, maxt: r.maxt, data: r.data });
        }
      }
    }
    if (out.length > 1) out.sort((a, b) => a.mint - b.mint);
    return out;
  }

  /**
   * Stored chunks of many series at once, for selections that cover most refs in their span:
   * one range scan per block instead of one query per series. Returns null when the refs
   * (ascending) are too sparse for that to pay off.
   */
  chunksMany(refs: readonly number[], start: number, end: number): ChunkLists | null {
    if (refs.length < 64) return null;
    const lo = refs[0];
    const hi = refs[refs.length - 1];
    if (hi - lo + 1 > 4 * refs.length) return null;
    // Arrays indexed by ref - lo: rows arrive in series order, so this beats a Set and a Map.
    const want = new Uint8Array(hi - lo + 1);
    for (const r of refs) want[r - lo] = 1;
    const lists = new Array<StoredChunk[] | undefined>(hi - lo + 1);
    const add = (k: number, c: StoredChunk): void => {
      const l = lists[k];
      if (l) l.push(c);
      else lists[k] = [c];
    };
    const s = toInt(start);
    const e = toInt(end);
    for (const b of this.blocks.values()) {
      if (b.mint > end || b.maxt < start || b.chunks <= 0) continue;
      // Raw rows (arrays) cost less to build than objects with named fields.
      if (!b.range) {
        b.range = this.db
          .prepare<[number, number, number, number], [number, number, number, Buffer]>(`SELECT series, mint, maxt, data FROM ${b.table} WHERE series >= ? AND series <= ? AND mint <= ? AND maxt >= ?`)
          .raw(true) as unknown as Block['range'];
      }
      for (const r of b.range!.all(lo, hi, e, s)) {
        const k = r[0] - lo;
        if (want[k] === 1) add(k, { mint: r[1], maxt: r[2], data: r[3] });
      }
      if (b.packed) {
        if (!b.rangePacked) {
          b.rangePacked = this.db
            .prepare<[number, number, number, number], [number, number, number, Buffer]>(`SELECT id, mint, maxt, data FROM ${b.packed} WHERE id >= ? AND id < ? AND mint <= ? AND maxt >= ?`)
            .raw(true) as unknown as Block['rangePacked'];
        }
        for (const r of b.rangePacked!.all(lo * ROWID_SHIFT, (hi + 1) * ROWID_SHIFT, e, s)) {
          const k = Math.floor(r[0] / ROWID_SHIFT) - lo;
          if (want[k] !== 1) continue;
          if (isPacked(r[3])) {
            for (const c of unpackChunks(r[3], r[1])) if (c.mint <= end && c.maxt >= start) add(k, c);
          } else add(k, { mint: r[1], maxt: r[2], data: r[3] });
        }
      }
    }
    for (const l of lists) {
      if (!l || l.length < 2) continue;
      for (let i = 1; i < l.length; i++) {
        if (l[i].mint < l[i - 1].mint) {
          l.sort((a, b) => a.mint - b.mint);
          break;
        }
      }
    }
    return { get: (ref: number) => (ref >= lo && ref <= hi ? lists[ref - lo] : undefined) };
  }

  /** Unsealed blocks whose every sample is older than `before`, oldest first. */
  sealable(before: number): number[] {
    return [...this.blocks.values()]
      .filter((b) => !b.packed && (b.id + 1) * this.blockLen <= before && b.maxt < before)
      .sort((a, b) => a.id - b.id)
      .map((b) => b.id);
  }

  /**
   * Rewrites a block with one row per series holding all of its chunks, in series order: rows
   * and pages carry far less overhead than one row per chunk inserted in time order. Works in
   * slices; queries and writes in between see a consistent block.
   */
  async seal(id: number, pause: () => Promise<void>): Promise<void> {
    const b = this.blocks.get(id);
    if (!b || b.packed || b.sealing) return;
    // A rowid table filled in rowid order gets full pages (SQLite appends without splitting);
    // the WITHOUT ROWID tables of open blocks, filled in time order, run about 65% full.
    const ptable = `${b.table}_p`;
    this.db.exec(`DROP TABLE IF EXISTS ${ptable}`);
    this.db.exec(`CREATE TABLE ${ptable} (id INTEGER PRIMARY KEY, mint INTEGER NOT NULL, maxt INTEGER NOT NULL, data BLOB NOT NULL)`);
    const sealing = (b.sealing = { cursor: -1, late: [] as ChunkToWrite[] });
    const insert = this.db.prepare(`INSERT INTO ${ptable} (id, mint, maxt, data) VALUES (?, ?, ?, ?)`);
    const next = this.db.prepare(`SELECT series, mint, maxt, data FROM ${b.table} WHERE series > ? ORDER BY series, mint LIMIT ?`);
    const ofSeries = this.db.prepare(`SELECT series, mint, maxt, data FROM ${b.table} WHERE series = ? ORDER BY mint`);
    const LIMIT = 3000;
    for (;;) {
      let rows = next.all(sealing.cursor, LIMIT) as { series: number; mint: number; maxt: number; data: Buffer }[];
      if (rows.length === 0) break;
      if (rows.length === LIMIT) {
        // Keep each series whole: stop before the last series, or take that one series alone.
        const last = rows[rows.length - 1].series;
        const cut = rows.findIndex((r) => r.series === last);
        rows = cut > 0 ? rows.slice(0, cut) : (ofSeries.all(last) as typeof rows);
      }
      this.transaction(() => {
        for (let i = 0; i < rows.length; ) {
          const ref = rows[i].series;
          const list: ChunkToWrite[] = [];
          for (; i < rows.length && rows[i].series === ref; i++) {
            const r = rows[i];
            if (isPacked(r.data)) for (const c of unpackChunks(r.data, r.mint)) list.push({ ref, ...c });
            else list.push({ ref, mint: r.mint, maxt: r.maxt, data: r.data });
          }
          list.sort((x, y) => x.mint - y.mint);
          mergeShortChunks(list);
          // Rows of a few hundred bytes avoid overflow pages and leave little unused space per page.
          let seq = 0;
          for (let j = 0; j < list.length; ) {
            let k = j;
            let bytes = 0;
            while (k < list.length && (k === j || bytes + list[k].data.length <= PACK_BYTES)) bytes += list[k++].data.length;
            const group = list.slice(j, k);
            const maxt = Math.max(...group.map((c) => c.maxt));
            insert.run(ref * ROWID_SHIFT + seq++, group[0].mint, maxt, group.length === 1 ? group[0].data : packChunks(group));
            j = k;
          }
          sealing.cursor = ref;
        }
      });
      await pause();
    }
    // Swap: the packed table replaces the old one; an empty open table takes late chunks,
    // starting with those written to already-copied series while the copy ran.
    this.transaction(() => {
      this.db.exec(`ALTER TABLE ${b.table} RENAME TO ${b.table}_old`);
      this.db.exec(openTableSql(b.table));
      const ins = this.db.prepare(`INSERT OR IGNORE INTO ${b.table} (series, mint, maxt, data) VALUES (?, ?, ?, ?)`);
      for (const c of sealing.late) ins.run(c.ref, c.mint, c.maxt, c.data);
      this.db.prepare('UPDATE blocks SET sealed = 1 WHERE id = ?').run(id);
    });
    b.select = null;
    b.insert = null;
    b.packed = ptable;
    b.selectPacked = null;
    b.range = null;
    b.rangePacked = null;
    b.del = null;
    b.delPacked = null;
    b.sealing = null;
    const del = this.db.prepare(`DELETE FROM ${b.table}_old WHERE (series, mint, maxt) IN (SELECT series, mint, maxt FROM ${b.table}_old LIMIT 5000)`);
    while (del.run().changes > 0) await pause();
    this.db.exec(`DROP TABLE ${b.table}_old`);
    await this.vacuum(pause);
  }

  /** Gives free pages back to the file system, in slices. */
  async vacuum(pause: () => Promise<void>): Promise<void> {
    while ((this.db.pragma('freelist_count', { simple: true }) as number) > 0) {
      this.db.pragma('incremental_vacuum(2000)');
      await pause();
    }
  }

  /** Removes every stored chunk of a series. */
  deleteSeriesChunks(ref: number): void {
    for (const b of this.blocks.values()) {
      if (!b.del) b.del = this.db.prepare(`DELETE FROM ${b.table} WHERE series = ?`);
      let n = b.del.run(ref).changes;
      if (b.packed) {
        if (!b.delPacked) b.delPacked = this.db.prepare(`DELETE FROM ${b.packed} WHERE id >= ? AND id < ?`);
        n += b.delPacked.run(ref * ROWID_SHIFT, (ref + 1) * ROWID_SHIFT).changes;
      } else if (b.sealing) n += this.db.prepare(`DELETE FROM ${b.table}_p WHERE id >= ? AND id < ?`).run(ref * ROWID_SHIFT, (ref + 1) * ROWID_SHIFT).changes;
      if (b.sealing) b.sealing.late = b.sealing.late.filter((c) => c.ref !== ref);
      if (n) {
        b.chunks = Math.max(1, b.chunks - n);
        this.db.prepare('UPDATE blocks SET chunks = ? WHERE id = ?').run(b.chunks, b.id);
      }
    }
  }

  /** Blocks ordered oldest first. */
  blockList(): { id: number; mint: number; maxt: number; chunks: number }[] {
    return [...this.blocks.values()].sort((a, b) => a.id - b.id).map(({ id, mint, maxt, chunks }) => ({ id, mint, maxt, chunks }));
  }

  /** Deletes up to `limit` rows of a block; drops the table once empty. Returns true when gone. */
  dropBlockSlice(id: number, limit: number): boolean {
    const b = this.blocks.get(id);
    if (!b) return true;
    let r = this.db.prepare(`DELETE FROM ${b.table} WHERE (series, mint, maxt) IN (SELECT series, mint, maxt FROM ${b.table} LIMIT ?)`).run(limit);
    if (r.changes < limit && b.packed) r = this.db.prepare(`DELETE FROM ${b.packed} WHERE id IN (SELECT id FROM ${b.packed} LIMIT ?)`).run(limit);
    if (r.changes < limit) {
      this.db.exec(`DROP TABLE IF EXISTS ${b.table}`);
      if (b.packed) this.db.exec(`DROP TABLE IF EXISTS ${b.packed}`);
      this.db.prepare('DELETE FROM blocks WHERE id = ?').run(id);
      this.blocks.delete(id);
      return true;
    }
    b.chunks -= r.changes;
    return false;
  }

  sealedBlocks(): number {
    let n = 0;
    for (const b of this.blocks.values()) if (b.packed) n++;
    return n;
  }

  totalChunks(): number {
    let n = 0;
    for (const b of this.blocks.values()) n += b.chunks;
    return n;
  }

  /** Bytes of the database files on disk (main file plus SQLite's own WAL). */
  diskBytes(): number {
    let n = 0;
    for (const p of [this.path, this.path + '-wal']) {
      try {
        n += statSync(p).size;
      } catch {
        // absent
      }
    }
    return n;
  }

  /** Bytes in use inside the database (excluding free pages). */
  usedBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    const size = this.db.pragma('page_size', { simple: true }) as number;
    return (pages - free) * size;
  }

  transaction(fn: () => void): void {
    this.db.transaction(fn)();
  }

  close(): void {
    this.db.close();
  }
}

function countTables(db: Database.Database): number {
  return (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'series', 'blocks')").get() as { n: number }).n;
}

function tableName(id: number): string {
  return id < 0 ? `chunks_m${-id}` : `chunks_${id}`;
}

/** SQLite integers: ±Infinity clamp to the 64-bit range. */
function toInt(x: number): number {
  if (x === Infinity) return Number.MAX_SAFE_INTEGER;
  if (x === -Infinity) return Number.MIN_SAFE_INTEGER;
  return x;
}

// A packed row (sealed blocks): [0x00][0x02][varint n] then per chunk [varint mint - row mint]
// [varint maxt - mint][varint byte length], then the chunks' bytes one after another.
const PACKED = 2;
const PACK_BYTES = 600;

export function isPacked(data: Uint8Array): boolean {
  return data.length > 1 && data[0] === 0 && data[1] === PACKED;
}

function putVarint(out: number[], x: number): void {
  while (x >= 128) {
    out.push((x % 128) | 128);
    x = Math.floor(x / 128);
  }
  out.push(x);
}

export function packChunks(list: readonly ChunkToWrite[] | readonly StoredChunk[]): Uint8Array {
  const head: number[] = [0, PACKED];
  putVarint(head, list.length);
  const mint = Math.min(...list.map((c) => c.mint));
  let body = 0;
  for (const c of list) {
    putVarint(head, c.mint - mint);
    putVarint(head, c.maxt - c.mint);
    putVarint(head, c.data.length);
    body += c.data.length;
  }
  const out = new Uint8Array(head.length + body);
  out.set(head);
  let o = head.length;
  for (const c of list) {
    out.set(c.data, o);
    o += c.data.length;
  }
  return out;
}

export function unpackChunks(data: Uint8Array, rowMint: number): StoredChunk[] {
  let p = 2;
  const varint = (): number => {
    let x = 0;
    let mul = 1;
    for (;;) {
      const b = data[p++];
      x += (b & 127) * mul;
      if (b < 128) return x;
      mul *= 128;
    }
  };
  const n = varint();
  const meta: [number, number, number][] = [];
  for (let i = 0; i < n; i++) meta.push([varint(), varint(), varint()]);
  const out: StoredChunk[] = [];
  for (const [dm, span, len] of meta) {
    const mint = rowMint + dm;
    out.push({ mint, maxt: mint + span, data: data.subarray(p, p + len) });
    p += len;
  }
  return out;
}

/**
 * Head chunks of noisy series are cut before 120 samples when their slot fills up; each chunk
 * repeats a full first timestamp and value. When sealing, runs of such short, time-ordered
 * chunks are re-encoded into chunks of up to 240 samples (in place).
 */
function mergeShortChunks(list: ChunkToWrite[]): void {
  const out: ChunkToWrite[] = [];
  for (let i = 0; i < list.length; ) {
    let j = i + 1;
    let n = chunkCount(list[i].data);
    let short = n < 100;
    while (j < list.length && list[j].mint > list[j - 1].maxt && n + chunkCount(list[j].data) <= 240) {
      n += chunkCount(list[j].data);
      if (chunkCount(list[j].data) < 100) short = true;
      j++;
    }
    if (j - i < 2 || !short) {
      out.push(list[i]);
      i++;
      continue;
    }
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    let m = 0;
    let ok = true;
    for (let k = i; k < j && ok; k++) {
      const it = chunkIterator(list[k].data);
      while (it.next() && m < n) {
        ts[m] = it.atT();
        vs[m++] = it.atV();
      }
      if (it.err()) ok = false;
    }
    if (!ok || m !== n) {
      for (let k = i; k < j; k++) out.push(list[k]);
    } else out.push({ ref: list[i].ref, mint: ts[0], maxt: ts[n - 1], data: encodeBestChunk(ts, vs) });
    i = j;
  }
  list.length = 0;
  list.push(...out);
}

/** Merges chunks into one sorted chunk; for equal timestamps the later chunk's sample wins. */
export function mergeChunks(chunks: readonly Uint8Array[]): Uint8Array {
  const m = new Map<number, number>();
  const vals = new Float64Array(chunks.reduce((a, c) => a + chunkCount(c), 0));
  let n = 0;
  for (const c of chunks) {
    const it = chunkIterator(c);
    while (it.next()) {
      const t = it.atT();
      let i = m.get(t);
      if (i === undefined) {
        i = n++;
        m.set(t, i);
      }
      vals[i] = it.atV();
    }
  }
  const ts = [...m.keys()].sort((a, b) => a - b);
  const vs = new Float64Array(ts.length);
  for (let i = 0; i < ts.length; i++) vs[i] = vals[m.get(ts[i])!];
  return encodeBestChunk(ts, vs);
}

function openTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (series INTEGER NOT NULL, mint INTEGER NOT NULL, maxt INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (series, mint, maxt)) WITHOUT ROWID`;
}
