// The remote-write snappy decoder: bounded before allocating, the same bytes as snappyjs, and
// bounded work between yields to the event loop whatever the input is made of.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snappy } from './remote_write.testutil.js';
import { snappyUncompress } from './snappy.js';
import { turnsDuring } from '../testing/loop.js';

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** A block of `size` bytes: one literal `x`, then 4-byte copies at offset 1 (2 bytes each). */
function tinyCopies(size: number): Buffer {
  const copies = (size - 1) / 4;
  assert.ok(Number.isInteger(copies));
  const head = [...varint(size), 0x00, 0x78];
  const b = Buffer.alloc(head.length + copies * 2);
  b.set(head, 0);
  for (let i = 0, p = head.length; i < copies; i++, p += 2) {
    b[p] = 0x01; // copy with 1-byte offset, length 4
    b[p + 1] = 1;
  }
  return b;
}


describe('snappyUncompress', () => {
  it('refuses a block declaring more than the limit before decoding it', async () => {
    await assert.rejects(snappyUncompress(tinyCopies(4_000_001), 4_000_000), /decoded size 4000001 bytes exceeds the limit of 4000000 bytes \(max_decoded_bytes\)/);
  });

  it('yields to the event loop inside a block of many tiny elements, though its output is small', async () => {
    // 200,000 elements and 800 KB of output: under the 1 MiB output slice, so only the element
    // bound makes it yield (every 32,768 elements).
    const { value, turns } = await turnsDuring(() => snappyUncompress(tinyCopies(800_001), 1 << 20));
    assert.equal(value.length, 800_001);
    assert.ok(value.every((b) => b === 0x78), 'overlapping copies repeat the byte');
    assert.ok(turns >= 6, `the loop turned ${turns} times`);
  });

  it('decodes short and overlapping copies as snappyjs does', async () => {
    const parts: number[] = [];
    for (let i = 0; i < 20_000; i++) parts.push(...Buffer.from(`l${i % 977}="v${i % 13}",`), i & 0xff);
    const raw = new Uint8Array(parts);
    const block = snappy.compress(raw);
    assert.deepEqual(Buffer.from(await snappyUncompress(block, raw.length)), Buffer.from(raw));
    const runs = new Uint8Array(100_000).map((_, i) => (i % 1000 < 700 ? 7 : i % 3));
    assert.deepEqual(Buffer.from(await snappyUncompress(snappy.compress(runs), runs.length)), Buffer.from(runs));
  });

  it('names a copy that points before the output', async () => {
    await assert.rejects(snappyUncompress(Buffer.from([8, 0x00, 0x61, 0x01, 5]), 100), /copy offset 5 at output position 1 is out of range/);
  });
});
