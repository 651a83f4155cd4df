import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { registerUi } from './ui.js';

describe('dashboard assets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-ui-'));
  const app = Fastify();
  const js = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;
  before(async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Patrol</title><script src="/assets/app-abc123.js"></script>');
    writeFileSync(join(dir, 'assets', 'app-abc123.js'), js);
    registerUi(app, dir);
    app.get('/api/patrol/v1/x', async () => ({ ok: true }));
    await app.ready();
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers index.html at / and on client routes, never cached', async () => {
    for (const url of ['/', '/probes/some%20probe', '/alerts', '/silences/new?matchers=a', '/rules', '/targets']) {
      const r = await app.inject({ url });
      assert.equal(r.statusCode, 200, url);
      assert.match(r.headers['content-type'] as string, /^text\/html/);
      assert.equal(r.headers['cache-control'], 'no-cache');
      assert.match(r.body, /<title>Patrol<\/title>/);
    }
  });

  it('serves hashed assets for a year, brotli or gzip as asked, with ETag revalidation', async () => {
    let r = await app.inject({ url: '/assets/app-abc123.js', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(r.headers['content-encoding'], 'br');
    assert.equal(brotliDecompressSync(r.rawPayload).toString(), js);
    r = await app.inject({ url: '/assets/app-abc123.js', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(r.rawPayload).toString(), js);
    r = await app.inject({ url: '/assets/app-abc123.js' });
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.body, js);
    const etag = r.headers.etag as string;
    r = await app.inject({ url: '/assets/app-abc123.js', headers: { 'if-none-match': etag } });
    assert.equal(r.statusCode, 304);
  });

  it('answers 404 for a missing asset, a bad escape and a path outside the folder; APIs are untouched', async () => {
    for (const url of ['/assets/nope.js', '/assets/%E0%A4%A', '/assets/../../etc/passwd', '/assets/..%2f..%2fetc%2fpasswd']) {
      const r = await app.inject({ url });
      // fastify itself refuses a malformed escape with 400.
      assert.ok(r.statusCode === 404 || (r.statusCode === 400 && url.includes('%E0')), `${url}: ${r.statusCode}`);
    }
    const r = await app.inject({ url: '/api/patrol/v1/x' });
    assert.deepEqual(r.json(), { ok: true });
  });

  it('explains how to build the dashboard when it is not built', async () => {
    const bare = Fastify();
    registerUi(bare, null);
    const r = await bare.inject({ url: '/' });
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /dashboard is not built/);
    await bare.close();
  });
});
