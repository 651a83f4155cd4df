// OIDC login against two providers on 127.0.0.1: node-oidc-provider (the real thing, with its
// development login and consent forms submitted as a browser would) for the whole flow, and a small
// provider made here with jose that signs real tokens but can be told to get one thing wrong
// (signature, expiry, audience, nonce, issuer), which the real provider cannot be made to do.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { listen, OP_CLIENT_SECRET, startOidcProvider, type Accounts } from './oidc.testutil.js';

/** Patrol as the provider knows it; the test browser sends this host to the real Patrol (as a proxy would). */
const PUBLIC = 'http://patrol.test';
const CALLBACK = `${PUBLIC}/api/patrol/v1/auth/oidc/callback`;

async function startPatrol(oidcYaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-oidc-'));
  const configFile = join(dir, 'patrol.yml');
  writeFileSync(configFile, `server:\n  auth:\n    oidc:\n${oidcYaml}`);
  const logs: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => logs.push(d.toString()));
  const patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('info', stream), uiDir: null });
  await patrol.start();
  return { patrol, base: `http://${patrol.listen}`, logs };
}

/** A browser: a cookie jar, redirects followed by hand, forms submitted. */
class Browser {
  readonly jar = new Map<string, string>();
  constructor(private readonly patrolBase: string) {}

  private cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Response> {
    const real = url.startsWith(PUBLIC) ? this.patrolBase + url.slice(PUBLIC.length) : url;
    const headers: Record<string, string> = { ...init.headers };
    if (this.jar.size > 0) headers.cookie = this.cookieHeader();
    const r = await fetch(real, { method: init.method ?? 'GET', body: init.body, headers, redirect: 'manual' });
    for (const c of r.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (gone) this.jar.delete(name);
      else this.jar.set(name, pair.slice(eq + 1).trim());
    }
    return r;
  }

  /**
   * Follows redirects from `url`, submitting the provider's login form as `user` and its consent
   * form, until Patrol's callback answers; returns that answer.
   */
  async login(url: string, user: string): Promise<{ status: number; body: string; location: string | null }> {
    let next: { url: string; method: string; body?: string } = { url, method: 'GET' };
    for (let hop = 0; hop < 30; hop++) {
      const r = await this.request(next.url, { method: next.method, body: next.body, headers: next.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {} });
      const body = await r.text();
      const location = r.headers.get('location');
      // Patrol's refusal's message, unquoted.
      if (next.url.startsWith(CALLBACK)) return { status: r.status, body: body.startsWith('{') ? ((JSON.parse(body) as { error?: string }).error ?? body) : body, location };
      if (location) {
        next = { url: new URL(location, next.url.startsWith(PUBLIC) ? PUBLIC : next.url).toString(), method: 'GET' };
        continue;
      }
      const form = /<form[^>]*action="([^"]+)"[^>]*method="post"[\s\S]*?name="prompt" value="(\w+)"/i.exec(body);
      assert.ok(form, `expected a form or a redirect, got ${r.status} ${body.slice(0, 300)}`);
      const fields = new URLSearchParams({ prompt: form[2] });
      if (form[2] === 'login') {
        fields.set('login', user);
        fields.set('password', 'any');
      }
      next = { url: new URL(form[1], next.url).toString(), method: 'POST', body: fields.toString() };
    }
    throw new Error('too many hops');
  }
}

const whoami = async (base: string, cookie: string) => {
  const r = await fetch(`${base}/api/patrol/v1/auth/whoami`, { headers: { cookie } });
  return { status: r.status, body: (await r.json()) as { data: { name: string; role: string; team?: string; via: string; csrf_token: string } } };
};

const sessionCookie = (b: Browser) => `patrol_session=${b.jar.get('patrol_session') ?? ''}`;

describe('OIDC login with node-oidc-provider', () => {
  let op: Awaited<ReturnType<typeof listen>>;
  let patrol: Patrol;
  let base: string;
  const accounts: Accounts = {
    alice: { groups: ['staff', 'sre'], team: 'payments' },
    bob: { groups: ['staff'] },
    erin: { groups: ['nobody'], team: 'web' },
    mallory: { groups: ['contractors'] },
  };

  before(async () => {
    op = await startOidcProvider(CALLBACK, accounts);
    ({ patrol, base } = await startPatrol(
      `      issuer: ${op.base}\n      client_id: patrol\n      client_secret: ${OP_CLIENT_SECRET}\n      redirect_url: ${CALLBACK}\n` +
        `      role_mapping: {staff: viewer, sre: operator}\n      team_claim: team\n      default_role: viewer\n` +
        `      scopes: [openid, profile]\n`,
    ));
  });
  after(async () => {
    await patrol.stop();
    await op.close();
  });

  it('the login page learns that OIDC is configured', async () => {
    const r = await fetch(`${base}/api/patrol/v1/auth/methods`);
    assert.deepEqual(((await r.json()) as { data: unknown }).data, { auth: true, password: false, oidc: { login_url: '/api/patrol/v1/auth/oidc/login', label: 'Log in with single sign-on' } });
  });

  it('logs in through the provider: a session with the mapped role and team, CSRF on writes', async () => {
    const b = new Browser(base);
    const end = await b.login(`${PUBLIC}/api/patrol/v1/auth/oidc/login`, 'alice');
    assert.equal(end.status, 303, end.body);
    assert.equal(end.location, '/');
    assert.ok(b.jar.get('patrol_session'), 'a session cookie');
    assert.equal(b.jar.has('patrol_oidc'), false, 'the state cookie is cleared');
    const w = await whoami(base, sessionCookie(b));
    assert.equal(w.status, 200);
    assert.deepEqual({ ...w.body.data, csrf_token: undefined }, { name: 'oidc:alice', role: 'operator', via: 'session', team: 'payments', csrf_token: undefined });
    // An operator write needs the CSRF token, as with a password login.
    const silence = JSON.stringify({ matchers: [{ name: 'team', value: 'payments', isRegex: false, isEqual: true }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3600_000).toISOString(), createdBy: 'alice', comment: 'oidc' });
    let r = await fetch(`${base}/api/v2/silences`, { method: 'POST', headers: { cookie: sessionCookie(b), 'content-type': 'application/json' }, body: silence });
    assert.equal(r.status, 403);
    await r.arrayBuffer();
    r = await fetch(`${base}/api/v2/silences`, { method: 'POST', headers: { cookie: sessionCookie(b), 'content-type': 'application/json', 'x-csrf-token': w.body.data.csrf_token }, body: silence });
    assert.equal(r.status, 200, await r.text());
    // The team from team_claim scopes the session: a silence that does not pin team="payments" is refused.
    r = await fetch(`${base}/api/v2/silences`, { method: 'POST', headers: { cookie: sessionCookie(b), 'content-type': 'application/json', 'x-csrf-token': w.body.data.csrf_token }, body: silence.replace('"team"', '"service"') });
    assert.equal(r.status, 403);
    assert.match(await r.text(), /team payments may only create silences with the matcher team=/);
  });

  it('a user whose groups map to nothing gets default_role; a user without the team claim is refused', async () => {
    const b = new Browser(base);
    assert.equal((await b.login(`${PUBLIC}/api/patrol/v1/auth/oidc/login`, 'erin')).status, 303);
    const w = await whoami(base, sessionCookie(b));
    assert.equal(w.body.data.role, 'viewer');
    assert.equal(w.body.data.team, 'web');
    const bob = new Browser(base);
    const end = await bob.login(`${PUBLIC}/api/patrol/v1/auth/oidc/login`, 'bob');
    assert.equal(end.status, 401);
    assert.match(end.body, /user bob has no "team" claim/);
    assert.equal(bob.jar.has('patrol_session'), false);
  });

  it('a state from another browser is refused (login CSRF)', async () => {
    const attacker = new Browser(base);
    // The attacker starts a login and stops at the provider's redirect back to Patrol.
    const start = await attacker.request(`${PUBLIC}/api/patrol/v1/auth/oidc/login`);
    assert.equal(start.status, 302);
    const victim = new Browser(base);
    const end = await victim.login(start.headers.get('location')!, 'mallory');
    assert.equal(end.status, 401);
    assert.match(end.body, /OIDC login refused: the state does not belong to this browser/);
    assert.equal(victim.jar.has('patrol_session'), false);
  });

  it('a tampered state is refused', async () => {
    const b = new Browser(base);
    const start = await b.request(`${PUBLIC}/api/patrol/v1/auth/oidc/login`);
    const u = new URL(start.headers.get('location')!);
    u.searchParams.set('state', 'forged');
    const end = await b.login(u.toString(), 'alice');
    assert.equal(end.status, 401);
    assert.match(end.body, /unknown or expired state/);
  });
});

type Fault = 'none' | 'signature' | 'expired' | 'audience' | 'nonce' | 'issuer' | 'alg-none';

/** A small provider made with jose: discovery, JWKS, an authorization endpoint that logs in at once, a token endpoint. */
async function miniProvider() {
  const key = await generateKeyPair('ES256');
  const other = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(key.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const codes = new Map<string, { nonce: string; challenge: string }>();
  const state = { fault: 'none' as Fault, claims: { groups: ['sre'] } as Record<string, unknown>, lastVerifier: '' };
  const json = (res: ServerResponse, code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  let base = '';
  const op = await listen((req, res) => {
    const u = new URL(req.url!, base);
    if (u.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, { issuer: base, authorization_endpoint: `${base}/auth`, token_endpoint: `${base}/token`, jwks_uri: `${base}/jwks`, code_challenge_methods_supported: ['S256'] });
    }
    if (u.pathname === '/jwks') return json(res, 200, { keys: [jwk] });
    if (u.pathname === '/auth') {
      const code = randomBytes(8).toString('hex');
      codes.set(code, { nonce: u.searchParams.get('nonce')!, challenge: u.searchParams.get('code_challenge')! });
      const back = new URL(u.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', u.searchParams.get('state')!);
      return res.writeHead(302, { location: back.toString() }).end();
    }
    if (u.pathname === '/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        void (async () => {
          const f = new URLSearchParams(body);
          const c = codes.get(f.get('code') ?? '');
          codes.delete(f.get('code') ?? '');
          if (!c || req.headers.authorization !== `Basic ${Buffer.from('patrol:s3cret').toString('base64')}`) return json(res, 400, { error: 'invalid_grant' });
          state.lastVerifier = f.get('code_verifier') ?? '';
          const now = Math.floor(Date.now() / 1000);
          const claims = { ...state.claims, nonce: state.fault === 'nonce' ? 'another-nonce' : c.nonce, preferred_username: 'carol' };
          const jwt = new SignJWT(claims)
            .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
            .setIssuer(state.fault === 'issuer' ? 'https://evil.example' : base)
            .setAudience(state.fault === 'audience' ? 'another-client' : 'patrol')
            .setSubject('carol-1')
            .setIssuedAt(state.fault === 'expired' ? now - 7200 : now)
            .setExpirationTime(state.fault === 'expired' ? now - 3600 : now + 300);
          let token = await jwt.sign(state.fault === 'signature' ? other.privateKey : key.privateKey);
          if (state.fault === 'alg-none') {
            const [, payload] = token.split('.');
            token = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`;
          }
          json(res, 200, { access_token: 'at', token_type: 'Bearer', id_token: token });
        })();
      });
      return;
    }
    json(res, 404, { error: 'not found' });
  });
  base = op.base;
  return { ...op, state, codes };
}

describe('OIDC login refuses bad tokens (a jose provider told to get one thing wrong)', () => {
  let mini: Awaited<ReturnType<typeof miniProvider>>;
  let patrol: Patrol;
  let base: string;
  let logs: string[];

  before(async () => {
    mini = await miniProvider();
    ({ patrol, base, logs } = await startPatrol(
      `      issuer: ${mini.base}\n      client_id: patrol\n      client_secret: s3cret\n      redirect_url: ${CALLBACK}\n      role_mapping: {sre: operator}\n`,
    ));
  });
  after(async () => {
    await patrol.stop();
    await mini.close();
  });

  const attempt = async (fault: Fault, claims: Record<string, unknown> = { groups: ['sre'] }) => {
    mini.state.fault = fault;
    mini.state.claims = claims;
    const b = new Browser(base);
    const end = await b.login(`${PUBLIC}/api/patrol/v1/auth/oidc/login`, 'carol');
    return { ...end, session: b.jar.has('patrol_session'), b };
  };

  it('a good token logs in, with PKCE (the verifier sent matches the challenge)', async () => {
    const r = await attempt('none');
    assert.equal(r.status, 303, r.body);
    assert.equal(r.session, true);
    assert.match(mini.state.lastVerifier, /^[\w-]{43,128}$/);
    const w = await whoami(base, sessionCookie(r.b));
    assert.equal(w.body.data.name, 'oidc:carol');
    assert.equal(w.body.data.role, 'operator');
  });

  const cases: [Fault, RegExp][] = [
    ['signature', /signature does not verify against the provider's keys/],
    ['expired', /ID token has expired/],
    ['audience', /not for this client \(aud/],
    ['nonce', /nonce does not match this login/],
    ['issuer', /issued by another issuer/],
    ['alg-none', /not valid|algorithm/],
  ];
  for (const [fault, message] of cases) {
    it(`refuses a token with a bad ${fault}, saying so`, async () => {
      const r = await attempt(fault);
      assert.equal(r.status, 401, r.body);
      assert.match(r.body, /OIDC login refused/);
      assert.match(r.body, message);
      assert.equal(r.session, false);
    });
  }

  it('refuses a user whose groups map to no role when there is no default_role', async () => {
    const r = await attempt('none', { groups: ['contractors'] });
    assert.equal(r.status, 401);
    assert.match(r.body, /user carol has no role: no value of the "groups" claim is in server.auth.oidc.role_mapping/);
  });

  it('a code is used once: replaying the callback is refused', async () => {
    mini.state.fault = 'none';
    mini.state.claims = { groups: ['sre'] };
    const b = new Browser(base);
    const start = await b.request(`${PUBLIC}/api/patrol/v1/auth/oidc/login`);
    const auth = await b.request(start.headers.get('location')!);
    const callback = auth.headers.get('location')!;
    const state = b.jar.get('patrol_oidc')!;
    assert.equal((await b.request(callback)).status, 303);
    b.jar.set('patrol_oidc', state);
    const again = await b.request(callback);
    assert.equal(again.status, 401);
    assert.match(await again.text(), /unknown or expired state/);
  });

  it('the client secret never reaches the log', () => {
    assert.ok(logs.some((l) => l.includes('OIDC login refused')));
    assert.ok(!logs.some((l) => l.includes('s3cret')));
  });
});
