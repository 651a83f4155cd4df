// The query API behind the real server edge: error texts bounded, and what a bad escaped label
// name in the path says.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';

describe('query API errors at the server edge', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-apiedge-'));
  const logs: string[] = [];
  let patrol: Patrol;
  let base: string;

  before(async () => {
    const file = join(dir, 'patrol.yml');
    writeFileSync(file, "global: {scrape_interval: 1h}\nserver:\n  cors_origin: 'https://dash\\.example'\n");
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean)));
    patrol = new Patrol({ configFile: file, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('debug', stream) });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });
  after(async () => {
    await patrol.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: string) => fetch(`${base}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

  it('a 24 MB request gets a bounded answer and bounded log lines', async () => {
    const r = await post(`query=${'a'.repeat(24 * 1024 * 1024)}(`);
    const text = await r.text();
    assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
    assert.ok(text.length < 10_000, `answer of ${text.length} characters`);
    for (const l of logs) assert.ok(l.length < 20_000, `log line of ${l.length} characters`);
  });

  it('a long invalid query is echoed cut, with the parse error kept', async () => {
    // Within the body limit, so it reaches the parser and its error quotes the input.
    const r = await post(`query=${encodeURIComponent(`sum(rate(x{a="${'v'.repeat(900_000)}"}[5m])`)}`);
    const body = (await r.json()) as { status: string; errorType: string; error: string };
    assert.equal(r.status, 400);
    assert.equal(body.errorType, 'bad_data');
    assert.ok(body.error.length < 5000, `error of ${body.error.length} characters`);
    assert.match(body.error, /parse error/);
    for (const l of logs) assert.ok(l.length < 20_000, `log line of ${l.length} characters`);
  });

  it('CORS for the query API comes from the server edge (server.cors_origin), never a default *', async () => {
    const allowed = await fetch(`${base}/api/v1/labels`, { headers: { origin: 'https://dash.example' } });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://dash.example');
    assert.equal(allowed.headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS');
    const other = await fetch(`${base}/api/v1/labels`, { headers: { origin: 'https://evil.example' } });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const pre = await fetch(`${base}/api/v1/query`, { method: 'OPTIONS', headers: { origin: 'https://dash.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-headers'), 'Accept, Authorization, Content-Type, Origin');
    const preOther = await fetch(`${base}/api/v1/query`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(preOther.status, 403);
    assert.equal(preOther.headers.get('access-control-allow-origin'), null);
    const plain = await fetch(`${base}/api/v1/query`, { method: 'OPTIONS' });
    assert.equal(plain.status, 204);
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });

  it('an escaped label name with an invalid code point says which name and why', async () => {
    const r = await fetch(`${base}/api/v1/label/U__a_110000_b/values`);
    const body = (await r.json()) as { status: string; errorType: string; error: string };
    assert.equal(r.status, 400);
    assert.equal(body.errorType, 'bad_data');
    assert.doesNotMatch(body.error, /Invalid code point/);
    assert.match(body.error, /invalid label name "U__a_110000_b": the escape _110000_ is not a Unicode character/);
    const surrogate = (await (await fetch(`${base}/api/v1/label/U__x_d800_/values`)).json()) as { error: string };
    assert.match(surrogate.error, /invalid label name "U__x_d800_"/);
    // A valid escape still works.
    assert.equal((await fetch(`${base}/api/v1/label/U__a_2e_b/values`)).status, 200);
  });
});
