// Decompression bombs: a target answering with a small compressed body that inflates to
// gigabytes must fail the probe with a clear reason, and leave the process running.

import assert from 'node:assert/strict';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startHttp } from './testdata/servers.js';
import { runOne, sample } from './testdata/helpers.js';

describe('http probe against decompression bombs', () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  let gzipBomb: Buffer;
  let brBomb: Buffer;
  const GZIP_INFLATED = 100 * 16 * 1024 * 1024; // 1.6 GiB of zeros
  before(async () => {
    // Made here, not stored: one gzip member of 16 MiB of zeros, repeated (a gzip stream may hold
    // several members, decoded one after the other), gives 1.6 GiB from about 1.6 MB.
    const member = gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
    gzipBomb = Buffer.concat(Array.from({ length: 100 }, () => member));
    brBomb = brotliCompressSync(Buffer.alloc(64 * 1024 * 1024), { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } });
    srv = await startHttp((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/gzip-bomb') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': String(gzipBomb.length) });
        res.end(gzipBomb);
      } else if (u.pathname === '/br-bomb') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'br' });
        res.end(brBomb);
      } else if (u.pathname === '/small') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
        res.end(gzipSync('all is well'));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });
  after(() => srv.close());

  it('the bomb really is one', () => {
    assert.ok(gzipBomb.length < 4 * 1024 * 1024, `compressed ${gzipBomb.length} bytes`);
    assert.ok(GZIP_INFLATED / gzipBomb.length > 500);
  });

  it('a gzip bomb with a body condition fails at the default body_size_limit, after decompression', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/gzip-bomb`, timeout: '20s', headers: { 'Accept-Encoding': 'gzip' }, conditions: ['[BODY] contains "well"'] });
    assert.equal(r.success, false);
    assert.match(r.reason, /^body exceeds 10MiB after decompression \(gzip, .* received\)$/);
    // The compressed bytes are all under the limit: only the decoded size can have stopped it.
    assert.ok(sample(r, 'probe_http_content_length')! < 10 * 1024 * 1024);
    assert.ok(sample(r, 'probe_http_uncompressed_body_length')! > 10 * 1024 * 1024);
  });

  it('with body_size_limit 0 (no limit) a kept body still stops at 256MiB', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/gzip-bomb`, interval: '2m', timeout: '60s', body_size_limit: 0, headers: { 'Accept-Encoding': 'gzip' }, conditions: ['[BODY] contains "well"'] });
    assert.equal(r.success, false);
    assert.match(r.reason, /^body exceeds 256MiB after decompression/);
  });

  it('a brotli bomb fails under a configured limit', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/br-bomb`, body_size_limit: '1MiB', headers: { 'Accept-Encoding': 'br' }, conditions: ['[BODY] contains "well"'] });
    assert.equal(r.success, false);
    assert.match(r.reason, /^body exceeds 1MiB after decompression \(br, /);
  });

  it('the process is still here: a small compressed body is decoded for its condition', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/small`, headers: { 'Accept-Encoding': 'gzip' }, conditions: ['[BODY] contains "well"'] });
    assert.equal(r.reason, '');
    assert.equal(r.success, true);
    assert.equal(sample(r, 'probe_http_uncompressed_body_length'), 'all is well'.length);
  });
});
