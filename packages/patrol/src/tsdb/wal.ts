// Write-ahead log of committed samples that are not yet in persisted chunks. One append-only
// segment file at a time (wal/00000001, ...); every commit is one record written with a single
// synchronous write before commit returns, so a committed batch survives kill -9 (the data sits
// in the kernel's page cache). A record is [u32 payload length][u32 crc32 of payload][payload],
// 8-byte aligned so replay can view columns as typed arrays. A torn or corrupt record ends the
// segment: it belongs to a commit that never returned.
//
// Payloads:
//   batch     [u32 1][u32 nSeries][u32 nSamples][u32 seriesBytes]
//             series section: per new series [u32 ref][u32 byteLen][utf8 labels key], padded to 8
//             refs (i32 × n, padded to 8), timestamps (f64 × n), values (f64 × n)
//   tombstone [u32 2][u32 ref][u32 0][u32 0][f64 mint][f64 maxt]

import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export const REC_BATCH = 1;
export const REC_TOMBSTONE = 2;

export type WalRecord =
  | { type: 'batch'; series: { ref: number; key: string }[]; n: number; refs: Int32Array; ts: Float64Array; vs: Float64Array }
  | { type: 'tombstone'; ref: number; mint: number; maxt: number };

/** Position of a record: segment number and byte offset inside it. */
export interface WalPosition {
  seg: number;
  off: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function pad8(n: number): number {
  return (n + 7) & ~7;
}

function segName(n: number): string {
  return String(n).padStart(8, '0');
}

export class Wal {
  private fd = -1;
  /** Current segment number. */
  seg = 0;
  /** Bytes written to the current segment. */
  off = 0;
  /** Bytes in all segments. */
  size = 0;
  private readonly sizes = new Map<number, number>();
  /** Wall-clock creation time of each segment (mtime for segments found at open). */
  readonly created = new Map<number, number>();
  private buf = new Uint8Array(1 << 16);

  constructor(
    readonly dir: string,
    private readonly segmentSize = 128 * 1024 * 1024,
    /** False when opened read-only: a missing folder is then an empty log. */
    create = true,
  ) {
    if (create) mkdirSync(dir, { recursive: true });
  }

  /** Segment numbers on disk, ascending. */
  segments(): number[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => /^\d{8}$/.test(f))
      .map(Number)
      .sort((a, b) => a - b);
  }

  /**
   * Reads every record in order. A bad record ends its segment; in the last segment the file is
   * cut there so the torn tail of an unfinished commit disappears. Returns warnings to log.
   */
  replay(fn: (rec: WalRecord, pos: WalPosition) => void): string[] {
    const warnings: string[] = [];
    const segs = this.segments();
    for (let si = 0; si < segs.length; si++) {
      const seg = segs[si];
      const path = join(this.dir, segName(seg));
      const fd = openSync(path, 'r+');
      try {
        const size = fstatSync(fd).size;
        const data = new Uint8Array(size);
        let got = 0;
        while (got < size) {
          const r = readSync(fd, data, got, size - got, got);
          if (r === 0) break;
          got += r;
        }
        const dv = new DataView(data.buffer);
        let o = 0;
        let bad = '';
        while (o < got) {
          if (o + 8 > got) {
            bad = 'truncated record header';
            break;
          }
          const len = dv.getUint32(o, true);
          const crc = dv.getUint32(o + 4, true);
          if (len % 8 !== 0 || o + 8 + len > got) {
            bad = 'truncated record';
            break;
          }
          const p = o + 8;
          if (crc32(data.subarray(p, p + len)) !== crc) {
            bad = 'checksum mismatch';
            break;
          }
          const rec = parseRecord(data, dv, p, len);
          if (!rec) {
            bad = 'unknown record type';
            break;
          }
          fn(rec, { seg, off: o });
          o = p + len;
        }
        if (bad) {
          warnings.push(`WAL segment ${segName(seg)}: ${bad} at byte ${o} of ${got}; dropped the rest (an unfinished commit)`);
          if (si === segs.length - 1) ftruncateSync(fd, o);
        }
        this.sizes.set(seg, bad ? o : got);
        if (!this.created.has(seg)) this.created.set(seg, statSync(path).mtimeMs);
      } finally {
        closeSync(fd);
      }
    }
    this.size = [...this.sizes.values()].reduce((a, b) => a + b, 0);
    return warnings;
  }

  /** Starts a new segment after the newest one on disk; the writer always appends to it. */
  rotate(): number {
    if (this.fd >= 0) closeSync(this.fd);
    const segs = this.segments();
    const next = Math.max(this.seg, segs.length ? segs[segs.length - 1] : 0) + 1;
    this.fd = openSync(join(this.dir, segName(next)), 'a');
    this.seg = next;
    this.off = 0;
    this.sizes.set(next, 0);
    this.created.set(next, Date.now());
    return next;
  }

  private reserve(n: number): Uint8Array {
    if (this.buf.length < n) this.buf = new Uint8Array(Math.max(n, this.buf.length * 2));
    return this.buf;
  }

  private write(payloadLen: number): void {
    const buf = this.buf;
    const dv = new DataView(buf.buffer, buf.byteOffset);
    dv.setUint32(0, payloadLen, true);
    dv.setUint32(4, crc32(buf.subarray(8, 8 + payloadLen)), true);
    const total = 8 + payloadLen;
    let done = 0;
    while (done < total) done += writeSync(this.fd, buf, done, total - done);
    this.off += total;
    this.size += total;
    this.sizes.set(this.seg, this.off);
    if (this.off >= this.segmentSize) this.rotate();
  }

  /** Writes one commit. Returns the segment the samples went to. */
  appendBatch(series: readonly { ref: number; key: string }[], refs: Int32Array, ts: Float64Array, vs: Float64Array, n: number): number {
    const keys = series.map((s) => enc.encode(s.key));
    let seriesBytes = 0;
    for (const k of keys) seriesBytes += 8 + k.length;
    seriesBytes = pad8(seriesBytes);
    const refsBytes = pad8(n * 4);
    const payload = 16 + seriesBytes + refsBytes + n * 16;
    const buf = this.reserve(8 + payload);
    buf.fill(0, 8, 8 + 16 + seriesBytes + refsBytes);
    const dv = new DataView(buf.buffer, buf.byteOffset);
    let o = 8;
    dv.setUint32(o, REC_BATCH, true);
    dv.setUint32(o + 4, series.length, true);
    dv.setUint32(o + 8, n, true);
    dv.setUint32(o + 12, seriesBytes, true);
    o += 16;
    const start = o;
    for (let i = 0; i < keys.length; i++) {
      dv.setUint32(o, series[i].ref, true);
      dv.setUint32(o + 4, keys[i].length, true);
      buf.set(keys[i], o + 8);
      o += 8 + keys[i].length;
    }
    o = start + seriesBytes;
    buf.set(new Uint8Array(refs.buffer, refs.byteOffset, n * 4), o);
    o += refsBytes;
    buf.set(new Uint8Array(ts.buffer, ts.byteOffset, n * 8), o);
    o += n * 8;
    buf.set(new Uint8Array(vs.buffer, vs.byteOffset, n * 8), o);
    const seg = this.seg;
    this.write(payload);
    return seg;
  }

  appendTombstone(ref: number, mint: number, maxt: number): void {
    const buf = this.reserve(8 + 32);
    const dv = new DataView(buf.buffer, buf.byteOffset);
    dv.setUint32(8, REC_TOMBSTONE, true);
    dv.setUint32(12, ref, true);
    dv.setUint32(16, 0, true);
    dv.setUint32(20, 0, true);
    dv.setFloat64(24, mint, true);
    dv.setFloat64(32, maxt, true);
    this.write(32);
  }

  /** Deletes segments numbered below `seg` (never the current one). */
  truncateBefore(seg: number): number {
    let removed = 0;
    for (const s of this.segments()) {
      if (s >= seg || s >= this.seg) break;
      unlinkSync(join(this.dir, segName(s)));
      this.size -= this.sizes.get(s) ?? 0;
      this.sizes.delete(s);
      this.created.delete(s);
      removed++;
    }
    return removed;
  }

  /** The oldest segment created at or after `time` (the current one if none). */
  firstSegmentSince(time: number): number {
    let best = this.seg;
    for (const [s, c] of this.created) if (c >= time && s < best) best = s;
    return best;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  static exists(dir: string): boolean {
    return existsSync(dir);
  }
}

function parseRecord(data: Uint8Array, dv: DataView, p: number, len: number): WalRecord | null {
  if (len < 16) return null;
  const type = dv.getUint32(p, true);
  if (type === REC_TOMBSTONE && len >= 32) {
    return { type: 'tombstone', ref: dv.getUint32(p + 4, true), mint: dv.getFloat64(p + 16, true), maxt: dv.getFloat64(p + 24, true) };
  }
  if (type !== REC_BATCH) return null;
  const ns = dv.getUint32(p + 4, true);
  const n = dv.getUint32(p + 8, true);
  const seriesBytes = dv.getUint32(p + 12, true);
  if (16 + seriesBytes + pad8(n * 4) + n * 16 !== len) return null;
  const series: { ref: number; key: string }[] = [];
  let o = p + 16;
  for (let i = 0; i < ns; i++) {
    const ref = dv.getUint32(o, true);
    const kl = dv.getUint32(o + 4, true);
    series.push({ ref, key: dec.decode(data.subarray(o + 8, o + 8 + kl)) });
    o += 8 + kl;
  }
  o = p + 16 + seriesBytes;
  const refs = new Int32Array(data.buffer, data.byteOffset + o, n);
  o += pad8(n * 4);
  const ts = new Float64Array(data.buffer, data.byteOffset + o, n);
  o += n * 8;
  const vs = new Float64Array(data.buffer, data.byteOffset + o, n);
  return { type: 'batch', series, n, refs, ts, vs };
}
