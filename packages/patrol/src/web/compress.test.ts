import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { pickEncoding, sendJsonText } from './compress.js';

describe('compressed JSON answers', () => {
  it('picks br, then gzip, honouring q=0 and *', () => {
    assert.equal(pickEncoding('gzip, deflate, br, zstd'), 'br');
    assert.equal(pickEncoding('gzip, deflate'), 'gzip');
    assert.equal(pickEncoding('br;q=0, gzip;q=0.5'), 'gzip');
    assert.equal(pickEncoding('*'), 'br');
    assert.equal(pickEncoding('*;q=0, identity'), null);
    assert.equal(pickEncoding('deflate'), null);
    assert.equal(pickEncoding(undefined), null);
  });

  it('compresses a large body as accepted and leaves a small one alone', async () => {
    const app = Fastify();
    const big = JSON.stringify({ rows: Array.from({ length: 500 }, (_, i) => ({ name: `probe-${i}`, state: 'up' })) });
    app.get('/big', (req, reply) => sendJsonText(req, reply, big));
    app.get('/small', (req, reply) => sendJsonText(req, reply, '{"a":1}'));
    await app.ready();
    try {
      const b = await app.inject({ url: '/big', headers: { 'accept-encoding': 'gzip, br' } });
      assert.equal(b.headers['content-encoding'], 'br');
      assert.equal(b.headers.vary, 'Accept-Encoding');
      assert.ok(b.rawPayload.length < big.length / 4, `${b.rawPayload.length} bytes`);
      assert.equal(brotliDecompressSync(b.rawPayload).toString('utf8'), big);
      const g = await app.inject({ url: '/big', headers: { 'accept-encoding': 'gzip' } });
      assert.equal(g.headers['content-encoding'], 'gzip');
      assert.equal(gunzipSync(g.rawPayload).toString('utf8'), big);
      const plain = await app.inject({ url: '/big' });
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.body, big);
      const s = await app.inject({ url: '/small', headers: { 'accept-encoding': 'gzip, br' } });
      assert.equal(s.headers['content-encoding'], undefined);
      assert.deepEqual(s.json(), { a: 1 });
    } finally {
      await app.close();
    }
  });
});
