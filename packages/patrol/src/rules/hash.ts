// Where in its interval a rule group evaluates. Prometheus spreads groups over the interval by an
// offset taken from the hash of the group's name and file (labels {file, name} hashed the way
// Prometheus hashes a label set: xxHash64 of name 0xff value 0xff …). Using the same hash gives
// a group the same evaluation times here as in Prometheus, so results line up side by side.

const MASK = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

function rotl(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & MASK;
}

function round(acc: bigint, lane: bigint): bigint {
  return (rotl((acc + lane * P2) & MASK, 31n) * P1) & MASK;
}

function u64(b: Uint8Array, i: number): bigint {
  const dv = new DataView(b.buffer, b.byteOffset + i, 8);
  return dv.getBigUint64(0, true);
}

/** xxHash64 with seed 0 (the function Prometheus's labels.Hash uses). */
export function xxhash64(b: Uint8Array): bigint {
  const len = b.length;
  let i = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (P1 + P2) & MASK;
    let v2 = P2;
    let v3 = 0n;
    let v4 = (-P1) & MASK;
    for (; i + 32 <= len; i += 32) {
      v1 = round(v1, u64(b, i));
      v2 = round(v2, u64(b, i + 8));
      v3 = round(v3, u64(b, i + 16));
      v4 = round(v4, u64(b, i + 24));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
    for (const v of [v1, v2, v3, v4]) h = (((h ^ round(0n, v)) * P1) & MASK) + P4 & MASK;
  } else {
    h = P5;
  }
  h = (h + BigInt(len)) & MASK;
  for (; i + 8 <= len; i += 8) {
    h ^= round(0n, u64(b, i));
    h = ((rotl(h, 27n) * P1) & MASK) + P4 & MASK;
  }
  if (i + 4 <= len) {
    const k = BigInt(new DataView(b.buffer, b.byteOffset + i, 4).getUint32(0, true));
    h ^= (k * P1) & MASK;
    h = ((rotl(h, 23n) * P2) & MASK) + P3 & MASK;
    i += 4;
  }
  for (; i < len; i++) {
    h ^= (BigInt(b[i]) * P5) & MASK;
    h = (rotl(h, 11n) * P1) & MASK;
  }
  h ^= h >> 33n;
  h = (h * P2) & MASK;
  h ^= h >> 29n;
  h = (h * P3) & MASK;
  h ^= h >> 32n;
  return h;
}

/** Prometheus's hash of a label set given as sorted [name, value] pairs. */
export function labelsHash(pairs: readonly (readonly [string, string])[]): bigint {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const [n, v] of pairs) parts.push(enc.encode(n), Uint8Array.of(0xff), enc.encode(v), Uint8Array.of(0xff));
  const total = parts.reduce((s, p) => s + p.length, 0);
  const buf = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return xxhash64(buf);
}

/**
 * The group's evaluation slot at or before `nowMs`, in nanoseconds since the epoch: the
 * interval grid shifted by hash({file, name}) mod interval, as Prometheus computes it.
 */
export function evalSlotNs(file: string, name: string, intervalMs: number, nowMs: number): bigint {
  const interval = BigInt(Math.round(intervalMs)) * 1_000_000n;
  const offset = labelsHash([['file', file], ['name', name]]) % interval;
  const adj = BigInt(Math.floor(nowMs)) * 1_000_000n - offset;
  return adj - (adj % interval) + offset;
}
