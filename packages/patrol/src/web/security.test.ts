import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';

// Endpoints of every kind: health, metrics, reload, remote write, query API, admin, Patrol's own.
const ENDPOINTS: [string, string][] = [
  ['GET', '/-/healthy'],
  ['GET', '/-/ready'],
  ['GET', '/metrics'],
  ['POST', '/-/reload'],
  ['PUT', '/-/reload'],
  ['POST', '/api/v1/write'],
  ['GET', '/api/v1/query?query=up'],
  ['POST', '/api/v1/query'],
  ['GET', '/api/v1/status/config'],
  ['POST', '/api/v1/admin/tsdb/delete_series?match[]=up'],
  ['GET', '/api/patrol/v1/status/config'],
  ['GET', '/api/v1/targets'],
  ['GET', '/no/such/path'],
];

describe('web edge: basic auth, CORS, cross-site writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-edge-'));
  const configFile = join(dir, 'patrol.yml');
  const logs: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean)));
  let patrol: Patrol;
  let base: string;
  const good = 'Basic ' + Buffer.from('alice:wonder land').toString('base64');
  const bad = 'Basic ' + Buffer.from('alice:guess').toString('base64');

  before(async () => {
    const hash = bcrypt.hashSync('wonder land', 4);
    writeFileSync(configFile, `server:\n  enable_admin_api: true\n  cors_origin: 'https://dash\\.example'\n  basic_auth_users:\n    alice: '${hash}'\n`);
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('info', stream) });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });
  after(async () => {
    await patrol.stop();
  });

  it('refuses every endpoint without credentials or with a wrong password', async () => {
    for (const [method, path] of ENDPOINTS) {
      for (const headers of [{}, { authorization: bad }, { authorization: 'Bearer x' }, { authorization: 'Basic !!!' }] as Record<string, string>[]) {
        const r = await fetch(base + path, { method, headers });
        await r.arrayBuffer();
        assert.equal(r.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
        assert.equal(r.headers.get('www-authenticate'), 'Basic');
      }
    }
  });

  it('answers with the right credentials', async () => {
    for (const path of ['/-/healthy', '/-/ready', '/metrics', '/api/v1/query?query=1', '/api/patrol/v1/status/config']) {
      const r = await fetch(base + path, { headers: { authorization: good } });
      assert.equal(r.status, 200, path);
      const text = await r.text();
      assert.doesNotMatch(text, /\$2[aby]\$/, 'bcrypt hashes are not shown');
    }
    const reload = await fetch(`${base}/-/reload`, { method: 'POST', headers: { authorization: good } });
    assert.equal(reload.status, 200);
  });

  it('logs failed logins, rate-limited, without the password', async () => {
    const before = logs.filter((l) => l.includes('authentication failed')).length;
    for (let i = 0; i < 20; i++) await (await fetch(`${base}/metrics`, { headers: { authorization: bad } })).arrayBuffer();
    const lines = logs.filter((l) => l.includes('authentication failed'));
    assert.ok(lines.length >= 1);
    assert.ok(lines.length - before <= 1, 'at most one line per minute');
    assert.ok(!logs.some((l) => l.includes('guess') || l.includes('wonder')));
  });

  it('allows CORS only for read endpoints from the configured origin', async () => {
    const pre = await fetch(`${base}/api/v1/query`, { method: 'OPTIONS', headers: { origin: 'https://dash.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://dash.example');
    const other = await fetch(`${base}/api/v1/query`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const q = await fetch(`${base}/api/v1/query?query=1`, { headers: { origin: 'https://evil.example', authorization: good } });
    assert.equal(q.status, 200);
    assert.equal(q.headers.get('access-control-allow-origin'), null);
    for (const path of ['/-/reload', '/api/v1/write', '/api/v1/admin/tsdb/delete_series']) {
      const r = await fetch(base + path, { method: 'OPTIONS', headers: { origin: 'https://dash.example', 'access-control-request-method': 'POST' } });
      assert.equal(r.headers.get('access-control-allow-origin'), null, path);
    }
  });

  it('refuses cross-site and form-typed writes, keeps form-POSTed queries working', async () => {
    const auth = { authorization: good };
    const writes = ['/-/reload', '/api/v1/admin/tsdb/delete_series?match[]=up', '/api/v1/write'];
    const attacks: Record<string, string>[] = [
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'multipart/form-data; boundary=x' },
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
    ];
    for (const path of writes) {
      for (const h of attacks) {
        const r = await fetch(base + path, { method: 'POST', headers: { ...auth, ...h }, body: 'match[]=up' });
        await r.arrayBuffer();
        assert.equal(r.status, 403, `${path} ${JSON.stringify(h)}`);
      }
    }
    const q = await fetch(`${base}/api/v1/query`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=1%2B1' });
    assert.equal(q.status, 200);
    assert.equal(((await q.json()) as { data: { result: unknown[] } }).data.result[1], '2');
    const same = await fetch(`${base}/-/reload`, { method: 'POST', headers: { ...auth, origin: base } });
    assert.equal(same.status, 200);
    // The signed acknowledgement page posts a form to its own link: the guard lets it through
    // to the signature check (which this made-up signature fails), and a foreign origin not.
    const ackPath = '/api/patrol/v1/ack/0123456789abcdef?exp=9999999999&sig=made-up';
    const form = { ...auth, 'content-type': 'application/x-www-form-urlencoded' };
    const ack = await fetch(base + ackPath, { method: 'POST', headers: { ...form, origin: base }, body: 'by=alice' });
    assert.match(await ack.text(), /invalid acknowledgement link/);
    const forged = await fetch(base + ackPath, { method: 'POST', headers: { ...form, origin: 'https://evil.example' }, body: 'by=alice' });
    assert.equal(forged.status, 403);
    assert.match(await forged.text(), /cross-site write refused/);
  });

  it('remote write requires Content-Encoding: snappy', async () => {
    const r = await fetch(`${base}/api/v1/write`, { method: 'POST', headers: { authorization: good, 'content-type': 'application/x-protobuf' }, body: new Uint8Array([0]) });
    assert.equal(r.status, 415);
    assert.match(await r.text(), /Content-Encoding/);
  });
});
