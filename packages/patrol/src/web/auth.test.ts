import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { hashPassword } from './auth_store.js';
import { ROLES, ROUTE_ROLES, roleAtLeast, ruleFor, type Need, type Role } from './roles.js';
import { isReadRequest } from './security.js';

type Who = Role | 'anonymous' | 'prometheus';

async function start(extra = '', failures = 1000) {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-auth-'));
  const configFile = join(dir, 'patrol.yml');
  const users = await Promise.all(ROLES.map(async (r) => `      ${r}1:\n        password_hash: '${await hashPassword(`pw-${r}`)}'\n        role: ${r}\n`));
  writeFileSync(
    configFile,
    `server:\n  enable_admin_api: true\n  basic_auth_users:\n    prom: '${bcrypt.hashSync('scrape', 4)}'\n  auth:\n    failures_per_minute: ${failures}\n    users:\n${users.join('')}${extra}`,
  );
  const logs: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => logs.push(d.toString()));
  const patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('info', stream), uiDir: null });
  await patrol.start();
  return { patrol, base: `http://${patrol.listen}`, logs };
}

async function login(base: string, user: string, password: string): Promise<{ cookie: string; csrf: string; status: number }> {
  const r = await fetch(`${base}/api/patrol/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user, password }) });
  const body = (await r.json()) as { data?: { csrf_token: string } };
  return { cookie: (r.headers.get('set-cookie') ?? '').split(';')[0], csrf: body.data?.csrf_token ?? '', status: r.status };
}

/** What the auth layer says when it refuses (routes' own 403s say other things). */
const AUTH_REFUSAL = /authentication required|may not do this|basic_auth_users may call|x-csrf-token/;

/** A concrete path for a route pattern. */
const concrete = (url: string) => url.replace(/:\w+/g, 'x').replace(/\*/g, 'x');

describe('authentication and roles', () => {
  let patrol: Patrol;
  let base: string;
  let logs: string[];
  const tokens = new Map<Role, string>();
  let admin: { cookie: string; csrf: string };

  before(async () => {
    ({ patrol, base, logs } = await start());
    admin = await login(base, 'admin1', 'pw-admin');
    for (const role of ROLES) {
      const r = await fetch(`${base}/api/patrol/v1/auth/tokens`, {
        method: 'POST',
        headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `t-${role}`, role, expires_in: '1h' }),
      });
      assert.equal(r.status, 201);
      const b = (await r.json()) as { data: { token: string } };
      tokens.set(role, b.data.token);
    }
  });
  after(async () => {
    await patrol.stop();
  });

  const headersOf = (who: Who): Record<string, string> =>
    who === 'anonymous' ? {} : who === 'prometheus' ? { authorization: 'Basic ' + Buffer.from('prom:scrape').toString('base64') } : { authorization: `Bearer ${tokens.get(who)}` };

  const allowed = (who: Who, need: Need, prometheus: boolean): boolean =>
    need === 'public' || (who === 'prometheus' ? prometheus : who !== 'anonymous' && roleAtLeast(who, need));

  it('every route allows exactly the roles its table row names, read and write', async () => {
    const whos: Who[] = ['anonymous', 'prometheus', ...ROLES];
    for (const rule of ROUTE_ROLES) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        if (!patrol.routeList.some((r) => r.url === rule.url && r.method === method)) continue;
        const path = concrete(rule.url);
        const need = isReadRequest(method, path) ? rule.read : rule.write;
        for (const who of whos) {
          const headers: Record<string, string> = { ...headersOf(who) };
          const body = method === 'POST' ? '{}' : undefined;
          if (body) headers['content-type'] = 'application/json';
          const r = await fetch(base + path, { method, headers, body });
          // The live event stream never ends: its status is the answer.
          const text = (r.headers.get('content-type') ?? '').startsWith('text/event-stream') ? ((await r.body?.cancel()), '') : await r.text();
          const ok = allowed(who, need, rule.prometheus === true);
          const msg = `${who} ${method} ${path} (needs ${need}) -> ${r.status} ${text.slice(0, 200)}`;
          // A route may refuse by itself (the signed ack link without a signature): only the auth layer's refusals count.
          const byAuth = (r.status === 401 || r.status === 403) && AUTH_REFUSAL.test(text);
          // Login and the agents' routes answer 401 themselves (bad credentials, no location token).
          if (ok) assert.ok(!byAuth && (r.status !== 401 || path === '/api/patrol/v1/auth/login' || path.startsWith('/api/patrol/v1/agent/')), msg);
          else {
            assert.equal(r.status, who === 'anonymous' ? 401 : 403, msg);
            assert.match(text, AUTH_REFUSAL, msg);
          }
        }
      }
    }
  });

  it('every registered write route has a row in the table (a new one is closed to all but admin until it does)', () => {
    const missing = patrol.routeList.filter((r) => !isReadRequest(r.method, r.url) && ruleFor(r.url).url === '*');
    // Methods a route answers only with 405 are fine to fall back on admin; list what is left.
    const real = missing.filter((r) => !['PUT', 'PATCH', 'DELETE'].includes(r.method) || !/^\/api\/v1\//.test(r.url));
    assert.deepEqual(real, []);
  });

  it('a viewer calling an admin endpoint is refused and it is not audited as a change', async () => {
    const r = await fetch(`${base}/-/reload`, { method: 'POST', headers: headersOf('viewer') });
    assert.equal(r.status, 403);
    assert.match(((await r.json()) as { error: string }).error, /role viewer may not do this \(needs admin\)/);
  });

  it('expired and revoked tokens are refused', async () => {
    const mk = async (body: object) => {
      const r = await fetch(`${base}/api/patrol/v1/auth/tokens`, { method: 'POST', headers: { ...headersOf('admin'), 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 201);
      return ((await r.json()) as { data: { token: string; id: string } }).data;
    };
    const short = await mk({ name: 'short', role: 'viewer', expires_in: '1ms' });
    await new Promise((ok) => setTimeout(ok, 20));
    let r = await fetch(`${base}/api/v1/targets`, { headers: { authorization: `Bearer ${short.token}` } });
    assert.equal(r.status, 401);
    assert.match(((await r.json()) as { error: string }).error, /expired/);
    const t = await mk({ name: 'gone', role: 'viewer' });
    r = await fetch(`${base}/api/v1/targets`, { headers: { authorization: `Bearer ${t.token}` } });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    r = await fetch(`${base}/api/patrol/v1/auth/tokens/${t.id}`, { method: 'DELETE', headers: headersOf('admin') });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    r = await fetch(`${base}/api/v1/targets`, { headers: { authorization: `Bearer ${t.token}` } });
    assert.equal(r.status, 401);
    assert.match(((await r.json()) as { error: string }).error, /revoked/);
    // The list never shows a token again, nor its hash.
    r = await fetch(`${base}/api/patrol/v1/auth/tokens`, { headers: headersOf('admin') });
    const text = await r.text();
    assert.ok(!text.includes(t.token) && !text.includes('hash'), text);
    // A token cannot outrank its creator.
    r = await fetch(`${base}/api/patrol/v1/auth/tokens`, { method: 'POST', headers: { ...headersOf('editor'), 'content-type': 'application/json' }, body: '{"name":"x","role":"admin"}' });
    assert.equal(r.status, 403);
    await r.arrayBuffer();
  });

  it('session cookies are HttpOnly and SameSite; a write without the CSRF token or from another origin is refused', async () => {
    const r0 = await fetch(`${base}/api/patrol/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"operator1","password":"pw-operator"}' });
    const setCookie = r0.headers.get('set-cookie') ?? '';
    await r0.arrayBuffer();
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const s = await login(base, 'operator1', 'pw-operator');
    const path = `${base}/api/patrol/v1/probes/none/run`;
    const tries: [Record<string, string>, number][] = [
      [{ cookie: s.cookie }, 403],
      [{ cookie: s.cookie, 'x-csrf-token': 'wrong' }, 403],
      [{ cookie: s.cookie, 'x-csrf-token': s.csrf, origin: 'https://evil.example' }, 403],
      [{ cookie: s.cookie, 'x-csrf-token': s.csrf, 'sec-fetch-site': 'cross-site' }, 403],
      [{ cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': s.csrf }, 403],
      [{ cookie: s.cookie, 'x-csrf-token': s.csrf }, 404],
    ];
    for (const [headers, status] of tries) {
      const r = await fetch(path, { method: 'POST', headers, body: headers['content-type'] ? 'a=b' : undefined });
      await r.arrayBuffer();
      assert.equal(r.status, status, JSON.stringify(headers));
    }
    // Reads need no CSRF token; whoami gives it back to a reloaded page.
    const w = await fetch(`${base}/api/patrol/v1/auth/whoami`, { headers: { cookie: s.cookie } });
    assert.deepEqual(((await w.json()) as { data: object }).data, { name: 'operator1', role: 'operator', via: 'session', csrf_token: s.csrf });
    // Logout ends the session.
    const out = await fetch(`${base}/api/patrol/v1/auth/logout`, { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    assert.equal(out.status, 200);
    await out.arrayBuffer();
    const again = await fetch(`${base}/api/patrol/v1/auth/whoami`, { headers: { cookie: s.cookie } });
    assert.equal(again.status, 401);
    await again.arrayBuffer();
  });

  it('path traversal in file-serving routes finds nothing', async () => {
    for (const p of ['/assets/..%2f..%2fpackage.json', '/assets/../../package.json', '/runbooks/..%2F..%2Fpackage.json', '/runbooks/%2e%2e', '/favicon.svg/../../etc/passwd']) {
      const r = await fetch(base + p, { headers: headersOf('admin') });
      const text = await r.text();
      // 200 only for a page of Patrol's own (fetch turns `/runbooks/%2e%2e` into `/`).
      assert.ok(r.status === 404 || r.status === 400 || (r.status === 200 && /Runbooks|Patrol is running/.test(text)), `${p} -> ${r.status}`);
      assert.doesNotMatch(text, /"name":|root:/);
    }
  });

  it('an oversized body on every POST endpoint is refused with 413', async () => {
    const big = JSON.stringify({ x: 'a'.repeat(2 * 1024 * 1024) });
    for (const rule of ROUTE_ROLES) {
      const r = await fetch(base + concrete(rule.url), { method: 'POST', headers: { ...headersOf('admin'), 'content-type': 'application/json' }, body: big });
      await r.arrayBuffer();
      // 404/405: routes without POST; 415: remote write takes protobuf only (next request).
      if ([413, 404, 405].includes(r.status) || (rule.url === '/api/v1/write' && r.status === 415)) continue;
      // The Alertmanager API takes batches up to 32 MiB, as Alertmanager does: past that, 413.
      const huge = await fetch(base + concrete(rule.url), { method: 'POST', headers: { ...headersOf('admin'), 'content-type': 'application/json' }, body: Buffer.alloc(33 * 1024 * 1024, 32) });
      await huge.arrayBuffer();
      assert.equal(huge.status, 413, `${rule.url} -> ${r.status}, then ${huge.status} with 33 MiB`);
    }
    const w = await fetch(`${base}/api/v1/write`, {
      method: 'POST',
      headers: { ...headersOf('admin'), 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
      body: Buffer.alloc(64 * 1024 * 1024, 1),
    });
    await w.arrayBuffer();
    assert.equal(w.status, 413);
    const r = await fetch(`${base}/-/healthy`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  });

  it('secrets never reach the log', () => {
    const all = logs.join('');
    for (const t of tokens.values()) assert.ok(!all.includes(t));
    assert.ok(!all.includes('pw-admin'));
  });

  it('writes are audited: who, from where, what, with secrets masked', async () => {
    const r = await fetch(`${base}/api/patrol/v1/audit?limit=1000`, { headers: headersOf('admin') });
    const entries = ((await r.json()) as { data: { who: string; via: string; remote: string; method: string; path: string; status: number; what: unknown }[] }).data;
    const created = entries.find((e) => e.path === '/api/patrol/v1/auth/tokens' && e.method === 'POST' && e.status === 201 && e.via === 'session');
    assert.ok(created, 'token creation audited');
    assert.equal(created.who, 'admin1');
    assert.equal(created.via, 'session');
    assert.equal(created.remote, '127.0.0.1');
    const logins = entries.filter((e) => e.path === '/api/patrol/v1/auth/login' && e.status === 200);
    assert.ok(logins.length > 0);
    for (const l of logins) assert.equal((l.what as { password: string }).password, '<secret>');
    assert.ok(entries.some((e) => e.who === 'token:t-admin' && e.method === 'DELETE'));
    // Reads are not audited.
    assert.ok(entries.every((e) => e.method !== 'GET'));
    // Filters by actor and action (method and path start), as the dashboard's audit page asks.
    const f = await fetch(`${base}/api/patrol/v1/audit?who=admin1&method=post&path=${encodeURIComponent('/api/patrol/v1/auth/tokens')}`, { headers: headersOf('admin') });
    const filtered = ((await f.json()) as { data: typeof entries }).data;
    assert.ok(filtered.length > 0);
    assert.ok(filtered.every((e) => e.who === 'admin1' && e.method === 'POST' && e.path.startsWith('/api/patrol/v1/auth/tokens')), JSON.stringify(filtered));
    assert.ok(filtered.length < entries.length, 'the filter had something to leave out');
    // Paging: before_id gives the next older entries.
    const page = async (q: string) => ((await (await fetch(`${base}/api/patrol/v1/audit?${q}`, { headers: headersOf('admin') })).json()) as { data: { id: number }[] }).data;
    const first = await page('limit=2');
    const next = await page(`limit=2&before_id=${first[1].id}`);
    assert.ok(next.length > 0 && next.every((e) => e.id < first[1].id));
    assert.deepEqual(next.map((e) => e.id), (await page('limit=4')).slice(2).map((e) => e.id));
    assert.equal((await fetch(`${base}/api/patrol/v1/audit?before_id=x`, { headers: headersOf('admin') })).status, 400);
    // A viewer cannot read the audit log.
    const v = await fetch(`${base}/api/patrol/v1/audit`, { headers: headersOf('viewer') });
    assert.equal(v.status, 403);
    await v.arrayBuffer();
  });
});

/** A GET from a given local address (so two clients of one machine are told apart). */
function getFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request(url, { localAddress, headers }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('brute force and slow clients', () => {
  let patrol: Patrol;
  let base: string;
  before(async () => {
    ({ patrol, base } = await start('  request_timeout: 1s\n', 3));
  });
  after(async () => {
    await patrol.stop();
  });

  it('wrong passwords are rate limited per address and user; other addresses are not slowed', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await login(base, 'admin1', `guess${i}`)).status);
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    // The right password from the same address is refused too until the minute passes.
    assert.equal((await login(base, 'admin1', 'pw-admin')).status, 429);
    // Another user from another address logs in.
    const other = await new Promise<number>((ok, fail) => {
      const req = request(`${base}/api/patrol/v1/auth/login`, { method: 'POST', localAddress: '127.0.0.2', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        ok(res.statusCode ?? 0);
      });
      req.on('error', fail);
      req.end('{"username":"viewer1","password":"pw-viewer"}');
    });
    assert.equal(other, 200);
  });

  it('token guessing is rate limited per address; a valid token from another address still works', async () => {
    const url = `${base}/api/v1/targets`;
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push(await getFrom('127.0.0.3', url, { authorization: `Bearer ptk_guess_${i}` }));
    assert.deepEqual(got, [401, 401, 401, 429, 429]);
    const s = await login(base, 'admin1', 'pw-admin').catch(() => null);
    assert.ok(s);
    // Basic auth users limited the same way; a fresh address is unaffected.
    assert.equal(await getFrom('127.0.0.4', `${base}/metrics`, { authorization: 'Basic ' + Buffer.from('prom:scrape').toString('base64') }), 200);
  });

  it('a slowloris client does not stop others from being served', async () => {
    const sockets: Socket[] = [];
    for (let i = 0; i < 50; i++) {
      const u = new URL(base);
      const s = connect(Number(u.port), u.hostname);
      s.on('error', () => undefined);
      s.write('GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      sockets.push(s);
    }
    try {
      const r = await fetch(`${base}/-/healthy`);
      assert.equal(r.status, 200);
      await r.arrayBuffer();
      // A body that never arrives is cut off by server.request_timeout with 408.
      const u = new URL(base);
      const slow = connect(Number(u.port), u.hostname);
      const answer = await new Promise<string>((ok) => {
        let got = '';
        slow.on('data', (d) => (got += d.toString()));
        slow.on('close', () => ok(got));
        slow.on('error', () => ok(got));
        slow.write(`POST /api/patrol/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user`);
      });
      assert.match(answer, /^HTTP\/1\.1 408/);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});
