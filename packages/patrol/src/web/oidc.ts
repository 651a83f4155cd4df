// Dashboard login through an OpenID Connect provider (server.auth.oidc): the authorization code
// flow with PKCE (S256), state and nonce. The provider is found through its
// `.well-known/openid-configuration`; the ID token's signature is verified against the provider's
// JWKS (jose), and its iss, aud (and azp), exp and nonce are checked. A claim maps to a role
// (role_mapping) and optionally a team; the login ends in the same session a password login makes.

import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type * as Jose from 'jose';
import type { createRemoteJWKSet, JWTPayload } from 'jose';
import { OIDC_CALLBACK_PATH, type serverOidcConfig } from '../config/patrol.js';
import type { z } from 'zod';
import { cookie, FailureLimiter, startSession, type AuthDeps } from './auth.js';
import { ROLES, type Role } from './roles.js';

let joseLib: Promise<typeof Jose> | null = null;
/** jose once loaded (explain reads its error classes). */
let jose: typeof Jose | null = null;
/** jose, loaded at the first OIDC login (a Patrol without OIDC does not pay its memory). */
const loadJose = (): Promise<typeof Jose> => (joseLib ??= import('jose').then((m) => (jose = m)));

export type OidcConfig = z.output<typeof serverOidcConfig>;

export const OIDC_LOGIN_PATH = '/api/patrol/v1/auth/oidc/login';
/** Binds a login in progress to the browser that started it (SameSite=Lax: the provider's redirect back is a cross-site navigation). */
const STATE_COOKIE = 'patrol_oidc';
const TRANSACTION_TTL = 10 * 60 * 1000;
const MAX_TRANSACTIONS = 10_000;
const MAX_BODY = 1024 * 1024;
const FETCH_TIMEOUT = 10_000;
const DISCOVERY_TTL = 3600 * 1000;
/** Asymmetric algorithms only: an HS256 token would be signed with the client secret, 'none' with nothing. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** Why an OIDC login was refused; the message is shown to the user. 502: the provider failed. */
export class OidcError extends Error {
  constructor(
    message: string,
    readonly status = 401,
  ) {
    super(message);
  }
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  token_endpoint_auth_methods_supported?: string[];
  code_challenge_methods_supported?: string[];
}

interface Transaction {
  nonce: string;
  verifier: string;
  created: number;
}

async function fetchJson(url: string, init: RequestInit, what: string): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT) });
  } catch (e) {
    throw new OidcError(`the provider's ${what} (${url}) could not be reached: ${(e as Error).message}`, 502);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_BODY) throw new OidcError(`the provider's ${what} answered more than ${MAX_BODY} bytes`, 502);
      chunks.push(Buffer.from(chunk));
    }
  }
  try {
    return { status: res.status, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    throw new OidcError(`the provider's ${what} answered HTTP ${res.status} without JSON`, 502);
  }
}

const b64url = (b: Buffer) => b.toString('base64url');

/** The values of a claim as strings: a string, a number, or a list of them. */
function claimValues(v: unknown): string[] {
  if (typeof v === 'string' || typeof v === 'number') return [String(v)];
  if (Array.isArray(v)) return v.filter((x) => typeof x === 'string' || typeof x === 'number').map(String);
  return [];
}

/** The role (highest mapped) and team an ID token's claims give, or why the user is refused. */
export function mapClaims(cfg: OidcConfig, claims: JWTPayload): { name: string; role: Role; team?: string } {
  const who = claimValues(claims[cfg.username_claim])[0] ?? claimValues(claims.email)[0] ?? claims.sub;
  if (!who) throw new OidcError('the ID token names no user (no sub)');
  let role: Role | undefined;
  for (const v of claimValues(claims[cfg.role_claim])) {
    const r = Object.hasOwn(cfg.role_mapping, v) ? cfg.role_mapping[v] : undefined;
    if (r && (role === undefined || ROLES.indexOf(r) > ROLES.indexOf(role))) role = r;
  }
  role ??= cfg.default_role;
  if (!role) throw new OidcError(`user ${who} has no role: no value of the "${cfg.role_claim}" claim is in server.auth.oidc.role_mapping and there is no default_role`);
  const out: { name: string; role: Role; team?: string } = { name: `oidc:${who}`.slice(0, 200), role };
  if (cfg.team_claim !== undefined) {
    const team = claimValues(claims[cfg.team_claim])[0];
    if (team === undefined) throw new OidcError(`user ${who} has no "${cfg.team_claim}" claim (server.auth.oidc.team_claim), so no team to scope to`);
    out.team = team;
  }
  return out;
}

function explain(e: unknown): string {
  if (e instanceof OidcError) return e.message;
  const joseErrors = jose?.errors;
  if (!joseErrors) return `the login failed: ${(e as Error)?.message ?? String(e)}`;
  if (e instanceof joseErrors.JWTExpired) return 'the ID token has expired';
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return 'the ID token is not for this client (aud does not contain client_id)';
    if (e.claim === 'iss') return 'the ID token was issued by another issuer (iss)';
    if (e.claim === 'nbf' || e.claim === 'iat') return `the ID token is not valid yet (${e.claim})`;
    return `the ID token's ${e.claim} claim is wrong: ${e.reason}`;
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return "the ID token's signature does not verify against the provider's keys (JWKS)";
  if (e instanceof joseErrors.JWKSNoMatchingKey) return "no key in the provider's JWKS matches the ID token's key id";
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'the ID token is signed with an algorithm Patrol does not accept (asymmetric ones only)';
  if (e instanceof joseErrors.JOSEError) return `the ID token is not valid: ${e.message}`;
  return `the login failed: ${(e as Error)?.message ?? String(e)}`;
}

/** One provider's discovery document and key set, cached for an hour (keys refresh on an unknown kid). */
class Provider {
  private discovery: { at: number; doc: Discovery; jwks: ReturnType<typeof createRemoteJWKSet> } | null = null;
  constructor(readonly issuer: string) {}

  async get(): Promise<{ doc: Discovery; jwks: ReturnType<typeof createRemoteJWKSet> }> {
    if (this.discovery && Date.now() - this.discovery.at < DISCOVERY_TTL) return this.discovery;
    const url = `${this.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const { status, body } = await fetchJson(url, { headers: { accept: 'application/json' } }, 'discovery document');
    if (status !== 200 || !body || typeof body !== 'object') throw new OidcError(`the provider's discovery document (${url}) answered HTTP ${status}`, 502);
    const doc = body as Partial<Discovery>;
    for (const k of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
      if (typeof doc[k] !== 'string' || !URL.canParse(doc[k])) throw new OidcError(`the provider's discovery document has no valid ${k}`);
    }
    if (doc.issuer !== this.issuer) throw new OidcError(`the provider's discovery document names issuer ${doc.issuer}, not the configured ${this.issuer}`);
    if (doc.code_challenge_methods_supported && !doc.code_challenge_methods_supported.includes('S256')) throw new OidcError('the provider does not support PKCE with S256');
    const { createRemoteJWKSet } = await loadJose();
    this.discovery = { at: Date.now(), doc: doc as Discovery, jwks: createRemoteJWKSet(new URL(doc.jwks_uri!), { timeoutDuration: FETCH_TIMEOUT }) };
    return this.discovery;
  }
}

/** The routes of OIDC login: start (redirect to the provider) and callback (code → session). */
export function registerOidc(app: FastifyInstance, d: AuthDeps): void {
  const transactions = new Map<string, Transaction>();
  let provider: Provider | null = null;
  const limiter = new FailureLimiter(() => d.config()?.auth?.failures_per_minute ?? 10);
  const providerFor = (cfg: OidcConfig) => (provider?.issuer === cfg.issuer ? provider : (provider = new Provider(cfg.issuer)));
  const config = () => d.config()?.auth?.oidc;
  // The callback's path as the browser sees it (redirect_url's, which may carry a proxy's prefix).
  const callbackPath = () => {
    const u = config()?.redirect_url;
    return u && URL.canParse(u) ? new URL(u).pathname : OIDC_CALLBACK_PATH;
  };
  const cookieAttrs = (maxAge: number) => [`Path=${callbackPath()}`, 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAge}`, ...(d.secure() ? ['Secure'] : [])].join('; ');
  const refuse = (req: FastifyRequest, reply: FastifyReply, code: number, why: string) => {
    if (code === 401) limiter.fail(req.ip);
    d.log.warn({ remote: req.ip, reason: why }, 'OIDC login refused');
    reply.header('Set-Cookie', `${STATE_COOKIE}=; ${cookieAttrs(0)}`);
    return reply.code(code).send({ status: 'error', errorType: code === 401 ? 'unauthorized' : code === 502 ? 'bad_gateway' : code === 429 ? 'too_many_requests' : 'bad_data', error: `OIDC login refused: ${why}` });
  };

  // What the dashboard's login page offers.
  app.get('/api/patrol/v1/auth/methods', async () => {
    const auth = d.config()?.auth;
    const oidc = auth?.oidc;
    return { status: 'success', data: { auth: auth !== undefined, password: auth !== undefined && Object.keys(auth.users).length > 0, oidc: oidc ? { login_url: OIDC_LOGIN_PATH, label: oidc.button_label } : null } };
  });

  app.get(OIDC_LOGIN_PATH, async (req, reply) => {
    const cfg = config();
    if (!cfg || !d.store()) return reply.code(404).send({ status: 'error', errorType: 'not_found', error: 'server.auth.oidc is not configured' });
    let doc: Discovery;
    try {
      ({ doc } = await providerFor(cfg).get());
    } catch (e) {
      return refuse(req, reply, 502, explain(e));
    }
    const now = Date.now();
    for (const [k, t] of transactions) if (now - t.created > TRANSACTION_TTL) transactions.delete(k);
    if (transactions.size >= MAX_TRANSACTIONS) return reply.code(503).header('Retry-After', '60').send({ status: 'error', errorType: 'unavailable', error: 'too many logins in progress; try again in a minute' });
    const state = b64url(randomBytes(24));
    const t: Transaction = { nonce: b64url(randomBytes(24)), verifier: b64url(randomBytes(32)), created: now };
    transactions.set(state, t);
    const url = new URL(doc.authorization_endpoint);
    const scopes = cfg.scopes.includes('openid') ? cfg.scopes : ['openid', ...cfg.scopes];
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: cfg.client_id,
      redirect_uri: cfg.redirect_url,
      scope: scopes.join(' '),
      state,
      nonce: t.nonce,
      code_challenge: b64url(createHash('sha256').update(t.verifier).digest()),
      code_challenge_method: 'S256',
    })) {
      url.searchParams.set(k, v);
    }
    reply.header('Set-Cookie', `${STATE_COOKIE}=${state}; ${cookieAttrs(TRANSACTION_TTL / 1000)}`);
    return reply.redirect(url.toString(), 302);
  });

  app.get(OIDC_CALLBACK_PATH, async (req, reply) => {
    const cfg = config();
    const store = d.store();
    if (!cfg || !store) return reply.code(404).send({ status: 'error', errorType: 'not_found', error: 'server.auth.oidc is not configured' });
    const wait = limiter.blocked(req.ip);
    if (wait > 0) {
      reply.header('Retry-After', String(wait));
      return refuse(req, reply, 429, 'too many failed logins from this address; try again later');
    }
    const q = req.query as Record<string, unknown>;
    const str = (k: string) => (typeof q[k] === 'string' ? (q[k] as string).slice(0, 2048) : undefined);
    const error = str('error');
    if (error !== undefined) return refuse(req, reply, 401, `the provider answered ${error}${str('error_description') ? `: ${str('error_description')}` : ''}`);
    const state = str('state');
    const code = str('code');
    if (!state || !code) return refuse(req, reply, 400, 'the callback has no code or state');
    const t = transactions.get(state);
    const mine = cookie(req, STATE_COOKIE);
    if (!t || mine !== state) {
      return refuse(req, reply, 401, !t ? 'unknown or expired state (start the login again)' : 'the state does not belong to this browser (start the login again)');
    }
    transactions.delete(state);
    if (Date.now() - t.created > TRANSACTION_TTL) return refuse(req, reply, 401, 'the login took too long (start it again)');
    try {
      const { doc, jwks } = await providerFor(cfg).get();
      const iss = str('iss');
      if (iss !== undefined && iss !== doc.issuer) throw new OidcError(`the callback names issuer ${iss}, not ${doc.issuer}`);
      const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: cfg.redirect_url, code_verifier: t.verifier, client_id: cfg.client_id });
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
      const secret = cfg.client_secret?.reveal();
      if (secret !== undefined) {
        const methods = doc.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
        if (methods.includes('client_secret_basic') || !methods.includes('client_secret_post')) {
          headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(cfg.client_id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
        } else form.set('client_secret', secret);
      }
      const { status, body } = await fetchJson(doc.token_endpoint, { method: 'POST', headers, body: form.toString() }, 'token endpoint');
      const tokens = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
      if (status !== 200) {
        const why = typeof tokens.error === 'string' ? `${tokens.error}${typeof tokens.error_description === 'string' ? `: ${tokens.error_description}` : ''}` : `HTTP ${status}`;
        throw new OidcError(`the provider refused the code: ${why.slice(0, 300)}`);
      }
      if (typeof tokens.id_token !== 'string') throw new OidcError('the provider answered no ID token (is "openid" among the scopes?)');
      const { jwtVerify } = await loadJose();
      const { payload } = await jwtVerify(tokens.id_token, jwks, { issuer: doc.issuer, audience: cfg.client_id, algorithms: ALGORITHMS, clockTolerance: 30, requiredClaims: ['sub', 'exp', 'iat'] });
      if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== cfg.client_id) throw new OidcError('the ID token is for several clients and its azp is not this one');
      if (payload.nonce !== t.nonce) throw new OidcError('the ID token nonce does not match this login (a replayed or substituted token)');
      const who = mapClaims(cfg, payload);
      const id = { name: who.name, role: who.role, via: 'session' as const, ...(who.team !== undefined ? { team: who.team } : {}) };
      startSession(d, req, reply, id, 'oidc');
      // The session cookie and the cleared state cookie, then the dashboard.
      reply.header('Set-Cookie', [reply.getHeader('set-cookie') as string, `${STATE_COOKIE}=; ${cookieAttrs(0)}`]);
      d.log.info({ user: who.name, role: who.role, team: who.team }, 'OIDC login');
      store.audit({ who: who.name, via: 'oidc', remote: req.ip, method: req.method, path: OIDC_CALLBACK_PATH, status: 303, what: { role: who.role, ...(who.team !== undefined ? { team: who.team } : {}) } });
      return reply.redirect('/', 303);
    } catch (e) {
      return refuse(req, reply, e instanceof OidcError ? e.status : 401, explain(e));
    }
  });
}
