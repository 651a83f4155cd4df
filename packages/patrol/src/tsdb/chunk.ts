// Gorilla-style XOR chunks: delta-of-delta timestamps and XOR-compressed float64 values, the
// encoding Prometheus uses for its head and block chunks (our own implementation and bit layout).
//
// Layout of a chunk: byte 0 holds the sample count (≤ 255), the bit stream starts at byte 1.
//   sample 0: t as sign bit + 6-bit length + magnitude bits; v as 64 raw bits
//   sample n: t as delta-of-delta (first delta against 0) in buckets
//               '0' | '10'+14 bits | '110'+17 bits | '1110'+20 bits | '1111'+64 bits
//             v XOR previous: '0' same | '10' + bits in the previous window
//                             | '11' + 5-bit leading zeros + 6-bit length + bits
// Values travel as two 32-bit halves so that every NaN payload (the stale marker above all)
// survives bit-exactly; the stale marker is always written with its canonical bits.

import type { SampleIterator } from '../storage/interface.js';
import { isStaleNaN } from '../model/value.js';

export const MAX_CHUNK_SAMPLES = 120;
/** Upper bound of bits one sample takes (timestamp 4+64, value 2+5+6+64). */
export const MAX_SAMPLE_BITS = 145;

const TWO32 = 4294967296;
const STALE_HI = 0x7ff00000;
const STALE_LO = 0x00000002;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Splits a float into its bit halves; the stale marker gets canonical bits. */
function bitsOf(v: number): void {
  if (v !== v && isStaleNaN(v)) {
    u32[1] = STALE_HI;
    u32[0] = STALE_LO;
  } else f64[0] = v;
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Writes the low `n` (≤ 32) bits of `x` at bit `pos` of a zeroed buffer; returns the new position. */
export function writeBits(buf: Uint8Array, pos: number, x: number, n: number): number {
  while (n > 0) {
    const byte = pos >>> 3;
    const free = 8 - (pos & 7);
    const take = n < free ? n : free;
    const bits = (x >>> (n - take)) & ((1 << take) - 1);
    buf[byte] |= bits << (free - take);
    pos += take;
    n -= take;
  }
  return pos;
}

/**
 * Appends samples to a chunk in a caller-provided byte region. The head keeps one encoder state
 * per series in typed arrays and loads it into a shared encoder for each append, so the fields
 * are public. `pos` counts bits from the start of the region (byte 0 is the count).
 */
export class XorEncoder {
  buf: Uint8Array = new Uint8Array(0);
  base = 0;
  pos = 8;
  count = 0;
  t = 0;
  delta = 0;
  vhi = 0;
  vlo = 0;
  /** 0xff until the first XOR window is written. */
  lead = 0xff;
  trail = 0;

  /** Starts an empty chunk at byte `base` of `buf`, zeroing `bytes` bytes. */
  reset(buf: Uint8Array, base: number, bytes: number): void {
    buf.fill(0, base, base + bytes);
    this.buf = buf;
    this.base = base;
    this.pos = 8;
    this.count = 0;
    this.t = 0;
    this.delta = 0;
    this.vhi = 0;
    this.vlo = 0;
    this.lead = 0xff;
    this.trail = 0;
  }

  private put(x: number, n: number): void {
    this.pos = writeBits(this.buf, this.base * 8 + this.pos, x, n) - this.base * 8;
  }

  append(t: number, v: number): void {
    bitsOf(v);
    const hi = u32[1];
    const lo = u32[0];
    if (this.count === 0) {
      const mag = Math.abs(t);
      let len = 0;
      while (len < 64 && mag >= 2 ** len) len++;
      this.put(t < 0 ? 1 : 0, 1);
      this.put(len, 6);
      if (len > 32) {
        this.put(Math.floor(mag / TWO32), len - 32);
        this.put(mag >>> 0, 32);
      } else if (len > 0) this.put(mag >>> 0, len);
      this.put(hi, 32);
      this.put(lo, 32);
    } else {
      const delta = t - this.t;
      this.putDod(delta - this.delta);
      this.delta = delta;
      this.putXor(hi ^ this.vhi, (lo ^ this.vlo) >>> 0);
    }
    this.t = t;
    this.vhi = hi;
    this.vlo = lo;
    this.count++;
    this.buf[this.base] = this.count;
  }

  private putDod(d: number): void {
    if (d === 0) this.put(0, 1);
    else if (d >= -8191 && d <= 8192) {
      this.put(0b10, 2);
      this.put(d & 0x3fff, 14);
    } else if (d >= -65535 && d <= 65536) {
      this.put(0b110, 3);
      this.put(d & 0x1ffff, 17);
    } else if (d >= -524287 && d <= 524288) {
      this.put(0b1110, 4);
      this.put(d & 0xfffff, 20);
    } else {
      this.put(0b1111, 4);
      const hi = Math.floor(d / TWO32);
      this.put(hi | 0, 32);
      this.put((d - hi * TWO32) >>> 0, 32);
    }
  }

  private putXor(xhi: number, xlo: number): void {
    if (xhi === 0 && xlo === 0) {
      this.put(0, 1);
      return;
    }
    let lead = xhi !== 0 ? Math.clz32(xhi) : 32 + Math.clz32(xlo);
    const trail = xlo !== 0 ? ctz32(xlo) : 32 + ctz32(xhi);
    if (lead > 31) lead = 31;
    let l: number;
    let tr: number;
    if (this.lead !== 0xff && lead >= this.lead && trail >= this.trail) {
      this.put(0b10, 2);
      l = this.lead;
      tr = this.trail;
    } else {
      this.put(0b11, 2);
      const sig = 64 - lead - trail;
      this.put(lead, 5);
      this.put(sig & 63, 6);
      this.lead = l = lead;
      this.trail = tr = trail;
    }
    const sig = 64 - l - tr;
    // x >>> tr as two halves
    let shi: number;
    let slo: number;
    if (tr === 0) {
      shi = xhi;
      slo = xlo;
    } else if (tr < 32) {
      slo = ((xlo >>> tr) | (xhi << (32 - tr))) >>> 0;
      shi = xhi >>> tr;
    } else {
      slo = xhi >>> (tr - 32);
      shi = 0;
    }
    if (sig > 32) {
      this.put(shi, sig - 32);
      this.put(slo, 32);
    } else this.put(slo, sig);
  }

  /** Bytes used so far, including the count byte. */
  get bytes(): number {
    return (this.pos + 7) >>> 3;
  }
}

/** Encodes samples into a standalone chunk (tests, out-of-order data, rewrites). */
export function encodeChunk(ts: ArrayLike<number>, vs: ArrayLike<number>, from = 0, to = ts.length): Uint8Array {
  const n = to - from;
  if (n > 255) throw new RangeError(`a chunk holds at most 255 samples, got ${n}`);
  const buf = new Uint8Array(1 + Math.ceil((n * MAX_SAMPLE_BITS + 120) / 8));
  const enc = new XorEncoder();
  enc.reset(buf, 0, buf.length);
  for (let i = from; i < to; i++) enc.append(ts[i], vs[i]);
  return buf.slice(0, enc.bytes);
}

/** Reads bits MSB-first from a byte array. */
class BitReader {
  protected pos: number;
  protected readonly limit: number;

  constructor(
    protected readonly buf: Uint8Array,
    startByte: number,
  ) {
    this.pos = startByte * 8;
    this.limit = buf.length * 8;
  }

  protected get(n: number): number {
    let x = 0;
    let pos = this.pos;
    const buf = this.buf;
    while (n > 0) {
      const byte = buf[pos >>> 3];
      const avail = 8 - (pos & 7);
      const take = n < avail ? n : avail;
      x = x * (1 << take) + ((byte >>> (avail - take)) & ((1 << take) - 1));
      pos += take;
      n -= take;
    }
    this.pos = pos;
    return x;
  }

  protected bit(): number {
    const pos = this.pos++;
    return (this.buf[pos >>> 3] >>> (7 - (pos & 7))) & 1;
  }

  /** Sign bit, 6-bit length, magnitude: the first timestamp or integer value. */
  protected getFirst(): number {
    const neg = this.bit();
    const len = this.get(6);
    let mag = 0;
    if (len > 32) {
      mag = this.get(len - 32) * TWO32;
      mag += this.get(32);
    } else if (len > 0) mag = this.get(len);
    return neg ? -mag : mag;
  }

  protected getDod(): number {
    let ones = 0;
    while (ones < 4 && this.bit() === 1) ones++;
    let dod: number;
    switch (ones) {
      case 0:
        return 0;
      case 1:
        dod = this.get(14);
        return dod > 8192 ? dod - 16384 : dod;
      case 2:
        dod = this.get(17);
        return dod > 65536 ? dod - 131072 : dod;
      case 3:
        dod = this.get(20);
        return dod > 524288 ? dod - 1048576 : dod;
      default: {
        const hi = this.get(32) | 0;
        return hi * TWO32 + this.get(32);
      }
    }
  }
}

/** Reads a chunk (XOR or decimal) sample by sample. Reports a truncated or corrupt chunk through err(). */
export class XorIterator extends BitReader implements SampleIterator {
  private i = 0;
  private t = 0;
  private delta = 0;
  private vhi = 0;
  private vlo = 0;
  private lead = 0;
  private trail = 0;
  private error: Error | null = null;
  private readonly n: number;
  /** Decimal chunks: 10^k, or 0 for XOR chunks. One class for both keeps call sites monomorphic. */
  private readonly p: number = 0;
  private m = 0;
  private dm = 0;

  constructor(buf: Uint8Array) {
    super(buf, 1);
    if (buf.length >= 4 && buf[0] === 0 && buf[1] === DECIMAL) {
      this.pos = 32;
      this.n = buf[2];
      this.p = POW10[buf[3]] ?? 0;
      if (this.p === 0) {
        this.n = 0;
        this.error = new Error(`corrupt chunk: decimal scale ${buf[3]}`);
      }
    } else this.n = buf.length > 0 && buf[0] !== 0 ? buf[0] : 0;
  }

  private nextDecimal(): boolean {
    if (this.i === 0) {
      this.t = this.getFirst();
      this.m = this.getFirst();
    } else {
      this.delta += this.getDod();
      this.t += this.delta;
      this.dm += this.getValueDod();
      this.m += this.dm;
    }
    if (this.pos > this.limit) return this.fail('chunk is truncated');
    this.i++;
    return true;
  }

  private getValueDod(): number {
    let ones = 0;
    while (ones < 5 && this.bit() === 1) ones++;
    let d: number;
    switch (ones) {
      case 0:
        return 0;
      case 1:
        d = this.get(7);
        return d >= 64 ? d - 128 : d;
      case 2:
        d = this.get(14);
        return d >= 8192 ? d - 16384 : d;
      case 3:
        d = this.get(21);
        return d >= 1048576 ? d - 2097152 : d;
      case 4:
        return this.get(32) | 0;
      default: {
        const hi = this.get(32) | 0;
        return hi * TWO32 + this.get(32);
      }
    }
  }

  next(): boolean {
    if (this.i >= this.n || this.error) return false;
    if (this.p !== 0) return this.nextDecimal();
    if (this.i === 0) {
      this.t = this.getFirst();
      this.vhi = this.get(32);
      this.vlo = this.get(32);
    } else {
      const dod = this.getDod();
      this.delta += dod;
      this.t += this.delta;
      if (this.bit() === 1) {
        if (this.bit() === 1) {
          this.lead = this.get(5);
          let sig = this.get(6);
          if (sig === 0) sig = 64;
          this.trail = 64 - this.lead - sig;
          if (this.trail < 0) return this.fail('bad XOR window');
        }
        const tr = this.trail;
        const sig = 64 - this.lead - tr;
        let shi = 0;
        let slo: number;
        if (sig > 32) {
          shi = this.get(sig - 32);
          slo = this.get(32);
        } else slo = this.get(sig);
        let xhi: number;
        let xlo: number;
        if (tr === 0) {
          xhi = shi;
          xlo = slo;
        } else if (tr < 32) {
          xhi = ((shi << tr) | (slo >>> (32 - tr))) >>> 0;
          xlo = (slo << tr) >>> 0;
        } else {
          xhi = (slo << (tr - 32)) >>> 0;
          xlo = 0;
        }
        this.vhi = (this.vhi ^ xhi) >>> 0;
        this.vlo = (this.vlo ^ xlo) >>> 0;
      }
    }
    if (this.pos > this.limit) return this.fail('chunk is truncated');
    this.i++;
    return true;
  }

  private fail(msg: string): boolean {
    this.error = new Error(`corrupt chunk after ${this.i} of ${this.n} samples: ${msg}`);
    this.i = this.n;
    return false;
  }

  seek(t: number): boolean {
    if (this.i > 0 && this.t >= t) return true;
    while (this.next()) if (this.t >= t) return true;
    return false;
  }

  atT(): number {
    return this.t;
  }

  atV(): number {
    if (this.p !== 0) return this.m / this.p;
    u32[1] = this.vhi;
    u32[0] = this.vlo;
    return f64[0];
  }

  /** The value's bits as [hi, lo], for exact comparisons in tests and rewrites. */
  atBits(): [number, number] {
    if (this.p !== 0) {
      f64[0] = this.m / this.p;
      return [u32[1], u32[0]];
    }
    return [this.vhi, this.vlo];
  }

  err(): Error | null {
    return this.error;
  }
}

// Decimal chunks: a second encoding chosen when a chunk is persisted, for the common case of
// values that are decimals with few digits (counters, CPU seconds, byte gauges). Each value is
// stored as an integer m with v = m / 10^k for one k per chunk, and m as delta-of-delta, which
// costs far fewer bits than XOR when the low mantissa bits are noisy. Layout:
//   [0x00][0x01][count][k] then per sample: timestamp as in XOR chunks, then m — the first as
//   sign + 6-bit length + magnitude, later ones as delta-of-delta in buckets
//   '0' | '10'+7 | '110'+14 | '1110'+21 | '11110'+32 | '11111'+64 bits.
// A leading 0x00 byte marks the extended header (an XOR chunk never has 0 samples).

const DECIMAL = 1;
const MAX_SCALE = 6;
const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000];
const M_LIMIT = 2 ** 50;

/** Number of samples in a chunk of either encoding. */
export function chunkCount(data: Uint8Array): number {
  if (data.length === 0) return 0;
  return data[0] !== 0 ? data[0] : data.length > 2 ? data[2] : 0;
}

/** An iterator for a chunk of either encoding. */
export function chunkIterator(data: Uint8Array): XorIterator {
  return new XorIterator(data);
}

/** The scale k that stores every value exactly as m / 10^k, or -1. */
function decimalScale(vs: ArrayLike<number>, from: number, to: number): number {
  outer: for (let k = 0; k <= MAX_SCALE; k++) {
    const p = POW10[k];
    for (let i = from; i < to; i++) {
      const v = vs[i];
      if (!Number.isFinite(v) || Object.is(v, -0)) return -1;
      const m = Math.round(v * p);
      if (!(Math.abs(m) < M_LIMIT) || !Object.is(m / p, v)) continue outer;
    }
    return k;
  }
  return -1;
}

class BitWriter {
  buf: Uint8Array;
  pos = 0;

  constructor(bytes: number) {
    this.buf = new Uint8Array(bytes);
  }

  put(x: number, n: number): void {
    if ((this.pos + n + 7) >>> 3 > this.buf.length) {
      const b = new Uint8Array(this.buf.length * 2 + 16);
      b.set(this.buf);
      this.buf = b;
    }
    this.pos = writeBits(this.buf, this.pos, x, n);
  }

  putFirst(x: number): void {
    const mag = Math.abs(x);
    let len = 0;
    while (len < 64 && mag >= 2 ** len) len++;
    this.put(x < 0 ? 1 : 0, 1);
    this.put(len, 6);
    if (len > 32) {
      this.put(Math.floor(mag / TWO32), len - 32);
      this.put(mag >>> 0, 32);
    } else if (len > 0) this.put(mag >>> 0, len);
  }

  putWide(d: number): void {
    const hi = Math.floor(d / TWO32);
    this.put(hi | 0, 32);
    this.put((d - hi * TWO32) >>> 0, 32);
  }

  putTimeDod(d: number): void {
    if (d === 0) this.put(0, 1);
    else if (d >= -8191 && d <= 8192) {
      this.put(0b10, 2);
      this.put(d & 0x3fff, 14);
    } else if (d >= -65535 && d <= 65536) {
      this.put(0b110, 3);
      this.put(d & 0x1ffff, 17);
    } else if (d >= -524287 && d <= 524288) {
      this.put(0b1110, 4);
      this.put(d & 0xfffff, 20);
    } else {
      this.put(0b1111, 4);
      this.putWide(d);
    }
  }

  putValueDod(d: number): void {
    if (d === 0) this.put(0, 1);
    else if (d >= -64 && d < 64) {
      this.put(0b10, 2);
      this.put(d & 0x7f, 7);
    } else if (d >= -8192 && d < 8192) {
      this.put(0b110, 3);
      this.put(d & 0x3fff, 14);
    } else if (d >= -1048576 && d < 1048576) {
      this.put(0b1110, 4);
      this.put(d & 0x1fffff, 21);
    } else if (d >= -2147483648 && d < 2147483648) {
      this.put(0b11110, 5);
      this.put(d | 0, 32);
    } else {
      this.put(0b11111, 5);
      this.putWide(d);
    }
  }
}

/** Encodes samples as a decimal chunk, or returns null when the values do not allow it. */
export function encodeDecimalChunk(ts: ArrayLike<number>, vs: ArrayLike<number>, from = 0, to = ts.length): Uint8Array | null {
  const n = to - from;
  if (n === 0 || n > 255) return null;
  const k = decimalScale(vs, from, to);
  if (k < 0) return null;
  const p = POW10[k];
  const w = new BitWriter(8 + n * 4);
  w.put(0, 8);
  w.put(DECIMAL, 8);
  w.put(n, 8);
  w.put(k, 8);
  let pt = 0;
  let pdt = 0;
  let pm = 0;
  let pdm = 0;
  for (let i = from; i < to; i++) {
    const t = ts[i];
    const m = Math.round(vs[i] * p);
    if (i === from) {
      w.putFirst(t);
      w.putFirst(m);
    } else {
      const dt = t - pt;
      w.putTimeDod(dt - pdt);
      pdt = dt;
      const dm = m - pm;
      w.putValueDod(dm - pdm);
      pdm = dm;
    }
    pt = t;
    pm = m;
  }
  return w.buf.slice(0, (w.pos + 7) >>> 3);
}

/** Re-encodes a chunk in whichever encoding is smaller (used when persisting). */
export function recodeChunk(data: Uint8Array): Uint8Array {
  const n = chunkCount(data);
  if (n < 2 || data[0] === 0) return data;
  const ts = new Float64Array(n);
  const vs = new Float64Array(n);
  const it = new XorIterator(data);
  let i = 0;
  while (it.next() && i < n) {
    ts[i] = it.atT();
    vs[i++] = it.atV();
  }
  if (i !== n || it.err()) return data;
  const dec = encodeDecimalChunk(ts, vs);
  return dec && dec.length < data.length ? dec : data;
}

/** Encodes samples in the smaller of the two encodings. */
export function encodeBestChunk(ts: ArrayLike<number>, vs: ArrayLike<number>, from = 0, to = ts.length): Uint8Array {
  const x = encodeChunk(ts, vs, from, to);
  const d = encodeDecimalChunk(ts, vs, from, to);
  return d && d.length < x.length ? d : x;
}

// ---------------------------------------------------------------- bulk decoding (query path)

/** `n` (0..25) bits at bit `pos`, MSB first; bits past the end read as 0. */
function rd(buf: Uint8Array, pos: number, n: number): number {
  const i = pos >>> 3;
  let w: number;
  if (i + 3 < buf.length) w = (buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3];
  else {
    const len = buf.length;
    w = (i < len ? buf[i] << 24 : 0) | (i + 1 < len ? buf[i + 1] << 16 : 0) | (i + 2 < len ? buf[i + 2] << 8 : 0);
  }
  return n === 0 ? 0 : (w << (pos & 7)) >>> (32 - n);
}

/** `n` (0..32) bits at bit `pos`, as an unsigned number. */
function rdWide(buf: Uint8Array, pos: number, n: number): number {
  return n > 25 ? rd(buf, pos, n - 16) * 65536 + rd(buf, pos + n - 16, 16) : rd(buf, pos, n);
}

/**
 * Decodes the samples of a chunk (XOR or decimal) with timestamps in [mint, maxt] into `ts` and
 * the values into `vs`, from index `at`; XOR values go in as bit halves through `vbits` (a
 * Uint32Array over `vs`'s buffer, little-endian: low half first) so NaN payloads stay exact. The arrays must have room for the chunk's whole count. Returns the
 * number of samples written, or -1 - written when the chunk is corrupt or truncated (the samples
 * before the damage are kept, as the sample iterator yields them). Same results as XorIterator,
 * one tight loop per chunk instead of a call per sample.
 */
export function decodeChunkInto(data: Uint8Array, mint: number, maxt: number, ts: Float64Array, vs: Float64Array, vbits: Uint32Array, at: number): number {
  const len = data.length;
  if (len === 0) return 0;
  const limit = len * 8;
  let k = at;
  let t = 0;
  let delta = 0;
  if (data[0] === 0) {
    if (len < 4 || data[1] !== DECIMAL) return 0;
    const n = data[2];
    const p = POW10[data[3]] ?? 0;
    if (p === 0) return -1;
    let pos = 32;
    let m = 0;
    let dm = 0;
    for (let i = 0; i < n; i++) {
      if (i === 0) {
        let neg = (data[pos >>> 3] >>> (7 - (pos & 7))) & 1;
        pos++;
        let l = rd(data, pos, 6);
        pos += 6;
        t = l > 32 ? rdWide(data, pos, l - 32) * TWO32 + rdWide(data, pos + l - 32, 32) : rdWide(data, pos, l);
        pos += l;
        if (neg) t = -t;
        neg = (data[pos >>> 3] >>> (7 - (pos & 7))) & 1;
        pos++;
        l = rd(data, pos, 6);
        pos += 6;
        m = l > 32 ? rdWide(data, pos, l - 32) * TWO32 + rdWide(data, pos + l - 32, 32) : rdWide(data, pos, l);
        pos += l;
        if (neg) m = -m;
      } else {
        // Fast path: one 25-bit window holds the common cases, a regular or slightly jittered
        // timestamp ('0' or '10'+14) followed by a small value change ('0', '10'+7, '110'+14).
        const w = rd(data, pos, 25);
        let d: number;
        let rest = 0;
        let restBits = 0;
        if (w < 0x1000000) {
          d = 0;
          pos += 1;
          rest = w & 0xffffff;
          restBits = 24;
        } else if (w < 0x1800000) {
          d = (w >>> 9) & 16383;
          if (d > 8192) d -= 16384;
          pos += 16;
          rest = w & 0x1ff;
          restBits = 9;
        } else {
          // Timestamp delta-of-delta: '0' | '10'+14 | '110'+17 | '1110'+20 | '1111'+64.
          let ones = 0;
          while (ones < 4 && ((data[pos >>> 3] >>> (7 - (pos & 7))) & 1) === 1) {
            ones++;
            pos++;
          }
          if (ones < 4) pos++;
          d = 0;
          if (ones === 2) {
            d = rd(data, pos, 17);
            pos += 17;
            if (d > 65536) d -= 131072;
          } else if (ones === 3) {
            d = rd(data, pos, 20);
            pos += 20;
            if (d > 524288) d -= 1048576;
          } else if (ones === 4) {
            d = (rdWide(data, pos, 32) | 0) * TWO32 + rdWide(data, pos + 32, 32);
            pos += 64;
          }
        }
        delta += d;
        t += delta;
        // Value delta-of-delta: '0' | '10'+7 | '110'+14 | '1110'+21 | '11110'+32 | '11111'+64.
        if (restBits >= 1 && rest >>> (restBits - 1) === 0) {
          d = 0;
          pos += 1;
        } else if (restBits >= 9 && rest >>> (restBits - 2) === 2) {
          d = (rest >>> (restBits - 9)) & 127;
          if (d >= 64) d -= 128;
          pos += 9;
        } else if (restBits >= 17 && rest >>> (restBits - 3) === 6) {
          d = (rest >>> (restBits - 17)) & 16383;
          if (d >= 8192) d -= 16384;
          pos += 17;
        } else {
          let ones = 0;
          while (ones < 5 && ((data[pos >>> 3] >>> (7 - (pos & 7))) & 1) === 1) {
            ones++;
            pos++;
          }
          if (ones < 5) pos++;
          d = 0;
          if (ones === 1) {
            d = rd(data, pos, 7);
            pos += 7;
            if (d >= 64) d -= 128;
          } else if (ones === 2) {
            d = rd(data, pos, 14);
            pos += 14;
            if (d >= 8192) d -= 16384;
          } else if (ones === 3) {
            d = rd(data, pos, 21);
            pos += 21;
            if (d >= 1048576) d -= 2097152;
          } else if (ones === 4) {
            d = rdWide(data, pos, 32) | 0;
            pos += 32;
          } else if (ones === 5) {
            d = (rdWide(data, pos, 32) | 0) * TWO32 + rdWide(data, pos + 32, 32);
            pos += 64;
          }
        }
        dm += d;
        m += dm;
      }
      if (pos > limit) return -1 - (k - at);
      if (t < mint) continue;
      if (t > maxt) break;
      ts[k] = t;
      vs[k] = p === 1 ? m : m / p; // never a NaN, so no payload to keep
      k++;
    }
    return k - at;
  }
  const n = data[0];
  let pos = 8;
  let vhi = 0;
  let vlo = 0;
  let lead = 0;
  let trail = 0;
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      const neg = (data[pos >>> 3] >>> (7 - (pos & 7))) & 1;
      pos++;
      const l = rd(data, pos, 6);
      pos += 6;
      t = l > 32 ? rdWide(data, pos, l - 32) * TWO32 + rdWide(data, pos + l - 32, 32) : rdWide(data, pos, l);
      pos += l;
      if (neg) t = -t;
      vhi = rdWide(data, pos, 32);
      vlo = rdWide(data, pos + 32, 32);
      pos += 64;
    } else {
      let ones = 0;
      while (ones < 4 && ((data[pos >>> 3] >>> (7 - (pos & 7))) & 1) === 1) {
        ones++;
        pos++;
      }
      if (ones < 4) pos++;
      let d = 0;
      if (ones === 1) {
        d = rd(data, pos, 14);
        pos += 14;
        if (d > 8192) d -= 16384;
      } else if (ones === 2) {
        d = rd(data, pos, 17);
        pos += 17;
        if (d > 65536) d -= 131072;
      } else if (ones === 3) {
        d = rd(data, pos, 20);
        pos += 20;
        if (d > 524288) d -= 1048576;
      } else if (ones === 4) {
        d = (rdWide(data, pos, 32) | 0) * TWO32 + rdWide(data, pos + 32, 32);
        pos += 64;
      }
      delta += d;
      t += delta;
      if (((data[pos >>> 3] >>> (7 - (pos & 7))) & 1) === 1) {
        pos++;
        if (((data[pos >>> 3] >>> (7 - (pos & 7))) & 1) === 1) {
          pos++;
          lead = rd(data, pos, 5);
          let sig = rd(data, pos + 5, 6);
          pos += 11;
          if (sig === 0) sig = 64;
          trail = 64 - lead - sig;
          if (trail < 0) return -1 - (k - at);
        } else pos++;
        const tr = trail;
        const sig = 64 - lead - tr;
        let shi = 0;
        let slo: number;
        if (sig > 32) {
          shi = rdWide(data, pos, sig - 32);
          slo = rdWide(data, pos + sig - 32, 32);
        } else slo = rdWide(data, pos, sig);
        pos += sig;
        let xhi: number;
        let xlo: number;
        if (tr === 0) {
          xhi = shi;
          xlo = slo;
        } else if (tr < 32) {
          xhi = ((shi << tr) | (slo >>> (32 - tr))) >>> 0;
          xlo = (slo << tr) >>> 0;
        } else {
          xhi = (slo << (tr - 32)) >>> 0;
          xlo = 0;
        }
        vhi = (vhi ^ xhi) >>> 0;
        vlo = (vlo ^ xlo) >>> 0;
      } else pos++;
    }
    if (pos > limit) return -1 - (k - at);
    if (t < mint) continue;
    if (t > maxt) break;
    ts[k] = t;
    vbits[2 * k] = vlo;
    vbits[2 * k + 1] = vhi;
    k++;
  }
  return k - at;
}
