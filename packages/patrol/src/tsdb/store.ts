// Persisted chunks in SQLite. Chunks are grouped into time blocks, one table per block (named by
// the block's start), so retention drops whole tables' rows in slices instead of searching an
// index, and a query touches only the blocks that overlap its range. The series table maps refs
// to label keys and keeps the newest persisted timestamp per series (replay skips samples up to it).

import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { statSync } from 'node:fs';
import { chunkCount, chunkIterator, encodeBestChunk } from './chunk.js';

export interface StoredChunk {
  mint: number;
  maxt: number;
  data: Uint8Array;
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
}

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
  ) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, labels TEXT NOT NULL, mint INTEGER NOT NULL, maxt INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS blocks (id INTEGER PRIMARY KEY, mint INTEGER NOT NULL, maxt INTEGER NOT NULL, chunks INTEGER NOT NULL);
    `);
    this.stSetMeta = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.stGetMeta = this.db.prepare('SELECT value FROM meta WHERE key = ?');
    const bl = this.getMeta('block_len');
    this.blockLen = bl ? Number(bl) : defaultBlockLen;
    if (!bl) this.setMeta('block_len', String(this.blockLen));
    this.stInsertSeries = this.db.prepare('INSERT OR REPLACE INTO series (id, labels, mint, maxt) VALUES (?, ?, ?, ?)');
    this.stSeriesMaxt = this.db.prepare('UPDATE series SET maxt = max(maxt, ?), mint = min(mint, ?) WHERE id = ?');
    this.stDeleteSeries = this.db.prepare('DELETE FROM series WHERE id = ?');
    this.stBlockUpsert = this.db.prepare(
      'INSERT INTO blocks (id, mint, maxt, chunks) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET mint = min(mint, excluded.mint), maxt = max(maxt, excluded.maxt), chunks = chunks + excluded.chunks',
    );
    for (const r of this.db.prepare('SELECT id, mint, maxt, chunks FROM blocks').all() as { id: number; mint: number; maxt: number; chunks: number }[]) {
      this.blocks.set(r.id, { id: r.id, table: tableName(r.id), mint: r.mint, maxt: r.maxt, chunks: r.chunks, select: null, insert: null });
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
    const st = this.db.prepare('SELECT id, labels, mint, maxt FROM series ORDER BY id').raw(true);
    for (const row of st.iterate() as IterableIterator<[number, string, number, number]>) fn(row[0], row[1], row[2], row[3]);
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
      this.db.exec(`CREATE TABLE IF NOT EXISTS ${table} (series INTEGER NOT NULL, mint INTEGER NOT NULL, maxt INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (series, mint, maxt)) WITHOUT ROWID`);
      b = { id, table, mint: Infinity, maxt: -Infinity, chunks: 0, select: null, insert: null };
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
    if (!b.insert) b.insert = this.db.prepare(`INSERT OR IGNORE INTO ${b.table} (series, mint, maxt, data) VALUES (?, ?, ?, ?)`);
    const r = b.insert.run(c.ref, c.mint, c.maxt, c.data);
    if (r.changes === 0) {
      const old = this.db.prepare(`SELECT data FROM ${b.table} WHERE series = ? AND mint = ? AND maxt = ?`).get(c.ref, c.mint, c.maxt) as { data: Buffer };
      const merged = mergeChunks([old.data, c.data]);
      this.db.prepare(`UPDATE ${b.table} SET data = ? WHERE series = ? AND mint = ? AND maxt = ?`).run(merged, c.ref, c.mint, c.maxt);
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
      if (b.mint > end || b.maxt < start || b.chunks === 0) continue;
      if (!b.select) b.select = this.db.prepare(`SELECT mint, maxt, data FROM ${b.table} WHERE series = ? AND mint <= ? AND maxt >= ?`);
      for (const r of b.select.all(ref, toInt(end), toInt(start))) out.push({ mint: r.mint, maxt: r.maxt, data: r.data });
    }
    if (out.length > 1) out.sort((a, b) => a.mint - b.mint);
    return out;
  }

  /** Removes every stored chunk of a series. */
  deleteSeriesChunks(ref: number): void {
    for (const b of this.blocks.values()) {
      const r = this.db.prepare(`DELETE FROM ${b.table} WHERE series = ?`).run(ref);
      b.chunks -= r.changes;
      if (r.changes) this.db.prepare('UPDATE blocks SET chunks = ? WHERE id = ?').run(b.chunks, b.id);
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
    const r = this.db.prepare(`DELETE FROM ${b.table} WHERE (series, mint, maxt) IN (SELECT series, mint, maxt FROM ${b.table} LIMIT ?)`).run(limit);
    if (r.changes < limit) {
      this.db.exec(`DROP TABLE IF EXISTS ${b.table}`);
      this.db.prepare('DELETE FROM blocks WHERE id = ?').run(id);
      this.blocks.delete(id);
      return true;
    }
    b.chunks -= r.changes;
    return false;
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

function tableName(id: number): string {
  return id < 0 ? `chunks_m${-id}` : `chunks_${id}`;
}

/** SQLite integers: ±Infinity clamp to the 64-bit range. */
function toInt(x: number): number {
  if (x === Infinity) return Number.MAX_SAFE_INTEGER;
  if (x === -Infinity) return Number.MIN_SAFE_INTEGER;
  return x;
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
