import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkCount, chunkIterator, decodeChunkInto, encodeBestChunk, encodeChunk, encodeDecimalChunk, MAX_SAMPLE_BITS, recodeChunk, XorEncoder, XorIterator } from './chunk.js';
import { isStaleNaN, STALE_NAN, STALE_NAN_BITS } from '../model/value.js';

// A small seeded PRNG so failures reproduce (the seed is in the test name).
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const f = new Float64Array(1);
const u = new BigUint64Array(f.buffer);
function bitsOfFloat(v: number): bigint {
  f[0] = v;
  return u[0];
}
function floatOfBits(b: bigint): number {
  u[0] = b;
  return f[0];
}

type Gen = (r: () => number, i: number, prev: number) => number;
const valueGens: Record<string, Gen> = {
  random: (r) => (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20),
  counter: (r, _i, p) => p + Math.floor(r() * 5),
  gauge: (r, _i, p) => Math.round((p + (r() - 0.5) * 3) * 100) / 100,
  constant: () => 42,
  special: (r) => [NaN, Infinity, -Infinity, -0, 0, STALE_NAN, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, 1e-300][Math.floor(r() * 10)],
  randomBits: (r) => floatOfBits((BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32))),
  mixed: (r, i, p) => (r() < 0.1 ? STALE_NAN : r() < 0.5 ? p + 1 : (r() - 0.5) * 1e6),
};
type TGen = (r: () => number, prev: number) => number;
const timeGens: Record<string, TGen> = {
  regular: (_r, p) => p + 15000,
  jittered: (r, p) => p + 15000 + Math.floor((r() - 0.5) * 200),
  irregular: (r, p) => p + 1 + Math.floor(r() ** 4 * 1e9),
  dense: (r, p) => p + 1 + Math.floor(r() * 3),
  huge: (r, p) => p + 1 + Math.floor(r() * 2 ** 45),
};

function roundTrip(ts: number[], vs: number[]): void {
  const data = encodeChunk(ts, vs);
  assert.ok(data.length <= 1 + Math.ceil((ts.length * MAX_SAMPLE_BITS + 120) / 8));
  check(data, ts, vs);
  if (ts.length <= 255) {
    const best = encodeBestChunk(ts, vs);
    assert.ok(best.length <= data.length);
    check(best, ts, vs);
    check(recodeChunk(data), ts, vs);
    const dec = encodeDecimalChunk(ts, vs);
    if (dec) check(dec, ts, vs);
  }
}

function check(data: Uint8Array, ts: number[], vs: number[]): void {
  assert.equal(chunkCount(data), ts.length);
  const it = chunkIterator(data);
  for (let i = 0; i < ts.length; i++) {
    assert.ok(it.next(), `sample ${i} missing`);
    assert.equal(it.atT(), ts[i], `timestamp ${i}`);
    const [hi, lo] = it.atBits();
    const got = (BigInt(hi) << 32n) | BigInt(lo);
    const want = isStaleNaN(vs[i]) ? STALE_NAN_BITS : bitsOfFloat(vs[i]);
    assert.equal(got.toString(16), want.toString(16), `value ${i} (${vs[i]})`);
  }
  assert.equal(it.next(), false);
  assert.equal(it.err(), null);
  // The bulk decoder gives the same samples, bit for bit, over the whole chunk and a window.
  const windows: [number, number][] = [[-Infinity, Infinity]];
  if (ts.length > 2) windows.push([ts[1], ts[ts.length - 2]], [ts[1] + 1, ts[ts.length - 1] - 1]);
  for (const [lo, hi] of windows) {
    const at = 3;
    const out = new Float64Array(at + ts.length);
    const vals = new Float64Array(at + ts.length);
    const bits = new Uint32Array(vals.buffer);
    const w = decodeChunkInto(data, lo, hi, out, vals, bits, at);
    const want = ts.map((t, i) => [t, i] as const).filter(([t]) => t >= lo && t <= hi);
    assert.equal(w, want.length, `bulk decode of [${lo}, ${hi}]`);
    for (let k = 0; k < want.length; k++) {
      const [t, i] = want[k];
      assert.equal(out[at + k], t, `bulk timestamp ${i}`);
      const got = (BigInt(bits[2 * (at + k) + 1]) << 32n) | BigInt(bits[2 * (at + k)]);
      const wantBits = isStaleNaN(vs[i]) ? STALE_NAN_BITS : bitsOfFloat(vs[i]);
      assert.equal(got.toString(16), wantBits.toString(16), `bulk value ${i} (${vs[i]})`);
    }
  }
}

describe('XOR chunk encoding', () => {
  for (const [vn, vg] of Object.entries(valueGens)) {
    for (const [tn, tg] of Object.entries(timeGens)) {
      test(`round-trips ${vn} values at ${tn} timestamps`, () => {
        for (let seed = 1; seed <= 40; seed++) {
          const r = rng(seed * 7919 + vn.length * 31 + tn.length);
          const n = 1 + Math.floor(r() * 250);
          const ts: number[] = [];
          const vs: number[] = [];
          let t = Math.floor((r() - 0.3) * 2 ** 44);
          let v = r() * 1000;
          for (let i = 0; i < n; i++) {
            ts.push(t);
            vs.push(v);
            t = tg(r, t);
            v = vg(r, i, v);
          }
          vs[0] = vg(r, 0, vs[0]);
          roundTrip(ts, vs);
        }
      });
    }
  }

  test('keeps the stale marker, other NaNs, -0 and infinities bit-exactly', () => {
    const odd = floatOfBits(0x7ff8000000000abcn);
    const vs = [STALE_NAN, -0, 0, Infinity, -Infinity, NaN, odd, STALE_NAN, 1, STALE_NAN];
    const ts = vs.map((_, i) => 1000 + i * 15000);
    roundTrip(ts, vs);
    const it = new XorIterator(encodeChunk(ts, vs));
    it.next();
    const [hi, lo] = it.atBits();
    assert.equal(((BigInt(hi) << 32n) | BigInt(lo)).toString(16), STALE_NAN_BITS.toString(16));
    it.next();
    assert.ok(Object.is(it.atV(), -0));
  });

  test('handles negative, zero and extreme timestamps', () => {
    roundTrip([-(2 ** 50), -5, 0, 1, 2 ** 52], [1, 2, 3, 4, 5]);
    roundTrip([0], [STALE_NAN]);
    roundTrip([2 ** 53 - 1], [-0]);
  });

  test('decimal chunks take counters and two-digit decimals, refuse what they cannot hold exactly', () => {
    const ts = Array.from({ length: 120 }, (_, i) => 1.7e12 + i * 15000);
    let v = 123456.78;
    const cpu = ts.map(() => (v = Math.round((v + 7.3 + Math.random()) * 100) / 100));
    const dec = encodeDecimalChunk(ts, cpu)!;
    assert.ok(dec, 'two-digit decimals are accepted');
    assert.ok(dec.length < encodeChunk(ts, cpu).length / 2, `${dec.length} vs ${encodeChunk(ts, cpu).length} bytes`);
    check(dec, ts, cpu);
    assert.equal(encodeDecimalChunk(ts, ts.map(() => Math.random())), null);
    assert.equal(encodeDecimalChunk([1, 2], [1, STALE_NAN]), null);
    assert.equal(encodeDecimalChunk([1, 2], [1, -0]), null);
    assert.equal(encodeDecimalChunk([1, 2], [1, 2 ** 60]), null);
    check(encodeDecimalChunk([1, 2, 3], [-5e8, 5e8, -1e-6])!, [1, 2, 3], [-5e8, 5e8, -1e-6]);
  });

  test('seek moves to the first sample at or after t', () => {
    const ts = [10, 20, 30, 40];
    const it = new XorIterator(encodeChunk(ts, [1, 2, 3, 4]));
    assert.ok(it.seek(25));
    assert.equal(it.atT(), 30);
    assert.ok(it.seek(5));
    assert.equal(it.atT(), 30);
    assert.equal(it.seek(41), false);
  });

  test('reports a truncated chunk through err()', () => {
    const ts = Array.from({ length: 50 }, (_, i) => i * 1000 + (i % 3));
    const vs = ts.map((t) => Math.sin(t));
    const data = encodeChunk(ts, vs);
    const it = new XorIterator(data.subarray(0, data.length >> 1));
    let n = 0;
    while (it.next()) n++;
    assert.ok(n < 50);
    assert.match(String(it.err()?.message), /truncated/);
    for (const c of [data.subarray(0, data.length >> 1), encodeDecimalChunk(ts.map((t) => t * 10), ts)!.subarray(0, 40)]) {
      const it2 = new XorIterator(c);
      let m = 0;
      while (it2.next()) m++;
      assert.ok(it2.err());
      const vals = new Float64Array(50);
      const w = decodeChunkInto(c, -Infinity, Infinity, new Float64Array(50), vals, new Uint32Array(vals.buffer), 0);
      assert.equal(w, -1 - m, 'the bulk decoder reports the damage after the same samples');
    }
  });

  test('an encoder writing into a region of a shared buffer leaves neighbours alone', () => {
    const buf = new Uint8Array(1024).fill(0xaa);
    const enc = new XorEncoder();
    enc.reset(buf, 256, 256);
    for (let i = 0; i < 20; i++) enc.append(i * 15000, i * 1.5);
    assert.ok(buf.subarray(0, 256).every((b) => b === 0xaa));
    assert.ok(buf.subarray(512).every((b) => b === 0xaa));
    const it = new XorIterator(buf.slice(256, 256 + enc.bytes));
    let n = 0;
    while (it.next()) {
      assert.equal(it.atV(), n * 1.5);
      n++;
    }
    assert.equal(n, 20);
  });

  test('compresses a steady counter to under two bytes per sample', () => {
    const ts: number[] = [];
    const vs: number[] = [];
    for (let i = 0; i < 120; i++) {
      ts.push(1.7e12 + i * 15000);
      vs.push(1000 + i * 3);
    }
    const data = encodeChunk(ts, vs);
    assert.ok(data.length / 120 < 2, `${data.length} bytes for 120 samples`);
  });
});
