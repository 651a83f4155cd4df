import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Patrol } from '../server.js';
import { watchHealthy } from '../testing/healthy.js';
import { snappyUncompress } from './snappy.js';
import { snappy } from './remote_write.testutil.js';

const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' };

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** A snappy block of `size` zero bytes written as one literal and 64-byte copies (3 bytes each). */
function zeroBomb(size: number): Buffer {
  const copies = Math.floor((size - 1) / 64);
  const head = [...varint(size), 0x00, 0x00];
  const b = Buffer.alloc(head.length + copies * 3);
  b.set(head, 0);
  for (let i = 0, p = head.length; i < copies; i++, p += 3) {
    b[p] = (63 << 2) | 2;
    b[p + 1] = 1;
    b[p + 2] = 0;
  }
  return b;
}

/** A snappy block holding `raw` as one literal (no compression). */
function literalBlock(raw: Uint8Array): Buffer {
  const n = raw.length - 1;
  return Buffer.concat([Buffer.from(varint(raw.length)), Buffer.from([0xfc, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]), raw]);
}

/** One TimeSeries with `n` labels and one sample, as a WriteRequest. */
function manyLabels(n: number): Uint8Array {
  const parts: Buffer[] = [];
  const name = Buffer.from([0x0a, 8, 95, 95, 110, 97, 109, 101, 95, 95, 0x12, 1, 109]); // __name__="m"
  parts.push(Buffer.from([0x0a, ...varint(name.length)]), name);
  for (let i = 0; i < n; i++) {
    const l = Buffer.from(`l${i}`);
    const body = Buffer.concat([Buffer.from([0x0a, l.length]), l, Buffer.from([0x12, 1, 118])]);
    parts.push(Buffer.from([0x0a, body.length]), body);
  }
  const ts = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x0a, ...varint(ts.length)]), ts]);
}

describe('remote write bounds (real sockets, /-/healthy watched)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-rwlimits-'));
  let patrol: Patrol;
  let base: string;
  const worst: Record<string, number> = {};

  before(async () => {
    patrol = new Patrol({ dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: pino({ level: 'silent' }) });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });
  after(async () => {
    await patrol.stop();
    console.log(`# worst /-/healthy latency (ms): ${JSON.stringify(worst)}`);
  });

  const post = async (what: string, payload: Buffer) => {
    const w = watchHealthy(base, 5);
    const r = await fetch(`${base}/api/v1/write`, { method: 'POST', headers: HEADERS, body: payload });
    const text = await r.text();
    const rep = await w.stop();
    worst[what] = rep.worstMs;
    assert.equal(rep.failures, 0);
    return { status: r.status, text };
  };

  it('answers 400 for a 12.6 MB body that expands to 256 MiB, naming the limit', async () => {
    const bomb = zeroBomb(256 * 1024 * 1024);
    assert.ok(bomb.length > 12_000_000 && bomb.length < 13_000_000);
    const r = await post('snappy bomb 256 MiB', bomb);
    assert.equal(r.status, 400);
    assert.match(r.text, /exceeds the limit of 33554432 bytes \(max_decoded_bytes\)/);
  });

  it('answers 400 for a series with 1 M labels, naming label_limit', async () => {
    const raw = manyLabels(1_000_000);
    const r = await post('1 M labels', literalBlock(raw));
    assert.equal(r.status, 400);
    assert.match(r.text, /more than 512 labels \(label_limit\)/);
    const labels = (await (await fetch(`${base}/api/v1/labels`)).json()) as { data: string[] };
    assert.ok(!labels.data.includes('l600'));
  });

  it('answers 400 for an over-long label value and stays short', async () => {
    const v = Buffer.alloc(8 * 1024 * 1024, 0x61);
    const lab = Buffer.concat([Buffer.from([0x0a, 1, 120, 0x12, ...varint(v.length)]), v]);
    const name = Buffer.from([0x0a, 8, 95, 95, 110, 97, 109, 101, 95, 95, 0x12, 1, 109]);
    const ts = Buffer.concat([Buffer.from([0x0a, name.length]), name, Buffer.from([0x0a, ...varint(lab.length)]), lab]);
    const req = Buffer.concat([Buffer.from([0x0a, ...varint(ts.length)]), ts]);
    const r = await post('8 MiB label value', Buffer.from(snappy.compress(req)));
    assert.equal(r.status, 400);
    assert.match(r.text, /label_value_length_limit/);
    assert.ok(r.text.length < 5000, `response of ${r.text.length} characters`);
  });

  it('decodes a large valid block in slices with the same bytes as snappyjs', async () => {
    const raw = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) % 251 < 100 ? 0 : i & 0xff;
    const out = await snappyUncompress(snappy.compress(raw), raw.length, 64 * 1024);
    assert.deepEqual(Buffer.from(out), Buffer.from(raw));
    await assert.rejects(snappyUncompress(snappy.compress(raw), raw.length - 1), /exceeds the limit/);
    await assert.rejects(snappyUncompress(Buffer.from([5, 0x0a, 1]), 100), /truncated copy element/);
  });
});
