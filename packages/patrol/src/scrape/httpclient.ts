// Prometheus's common HTTP client settings (tls_config, basic_auth, authorization, bearer
// token, oauth2, http_headers) turned into what undici needs: connect options for the Agent and
// the request headers. Shared by the scrape client and http_sd_configs so both read the same fields the same
// way.

import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { Agent, EnvHttpProxyAgent, request, type buildConnector, type Dispatcher } from 'undici';
import type { HttpClientConfig } from '../config/fields.js';

export function resolvePath(file: string, baseDir: string): string {
  return isAbsolute(file) ? file : resolve(baseDir, file);
}

/** A credential file's content without surrounding whitespace (as Prometheus reads them). */
export function readSecretFile(file: string, baseDir: string): string {
  return readFileSync(resolvePath(file, baseDir), 'utf8').trim();
}

function pemOrFile(inline: string | undefined, file: string | undefined, baseDir: string): string | undefined {
  if (inline) return inline;
  if (file) return readFileSync(resolvePath(file, baseDir), 'utf8');
  return undefined;
}

const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;

/** Connect options for an undici Agent from tls_config; throws naming an unreadable file. */
export function connectOptions(cfg: Pick<HttpClientConfig, 'tls_config'>, baseDir: string): buildConnector.BuildOptions | undefined {
  const tls = cfg.tls_config;
  if (!tls) return undefined;
  return {
    ca: pemOrFile(tls.ca, tls.ca_file, baseDir),
    cert: pemOrFile(tls.cert, tls.cert_file, baseDir),
    key: pemOrFile(tls.key?.reveal(), tls.key_file, baseDir),
    servername: tls.server_name,
    rejectUnauthorized: !tls.insecure_skip_verify,
    minVersion: tls.min_version ? TLS_VERSIONS[tls.min_version] : undefined,
    maxVersion: tls.max_version ? TLS_VERSIONS[tls.max_version] : undefined,
  };
}

/**
 * The dispatcher for one client configuration: a plain Agent, or one that goes through
 * `proxy_url` (except for hosts in `no_proxy`) or through the proxies the environment names
 * (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) with `proxy_from_environment`. As Go does, plain-HTTP
 * targets are requested from an HTTP proxy in absolute form and HTTPS targets are tunnelled
 * with CONNECT, which carries `proxy_connect_header`. Throws naming an unreadable TLS file.
 */
export function clientDispatcher(
  cfg: Pick<HttpClientConfig, 'tls_config' | 'proxy_url' | 'no_proxy' | 'proxy_from_environment' | 'proxy_connect_header'>,
  baseDir: string,
  opts: Agent.Options = {},
): Dispatcher {
  const connect = connectOptions(cfg, baseDir);
  if (cfg.proxy_url === undefined && !cfg.proxy_from_environment) return new Agent({ ...opts, connect });
  const headers: Record<string, string> = {};
  for (const [k, vs] of Object.entries(cfg.proxy_connect_header ?? {})) headers[k] = vs.map((v) => v.reveal()).join(', ');
  const proxied = { ...opts, connect, requestTls: connect, proxyTunnel: false, headers };
  if (cfg.proxy_url !== undefined) return new EnvHttpProxyAgent({ ...proxied, httpProxy: cfg.proxy_url, httpsProxy: cfg.proxy_url, noProxy: cfg.no_proxy ?? '' });
  return new EnvHttpProxyAgent(proxied);
}

/**
 * The Authorization header from basic_auth, authorization or bearer_token. Credential files are
 * read on every call so that rotated secrets are picked up; throws when one cannot be read.
 */
export function authHeader(c: HttpClientConfig, baseDir: string): string | undefined {
  if (c.basic_auth) {
    const user = c.basic_auth.username_file ? readSecretFile(c.basic_auth.username_file, baseDir) : (c.basic_auth.username ?? '');
    const pass = c.basic_auth.password_file ? readSecretFile(c.basic_auth.password_file, baseDir) : (c.basic_auth.password?.reveal() ?? '');
    return 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
  }
  if (c.authorization) {
    const cred = c.authorization.credentials_file ? readSecretFile(c.authorization.credentials_file, baseDir) : c.authorization.credentials?.reveal();
    return cred ? `${c.authorization.type} ${cred}` : undefined;
  }
  if (c.bearer_token) return `Bearer ${c.bearer_token.reveal()}`;
  if (c.bearer_token_file) return `Bearer ${readSecretFile(c.bearer_token_file, baseDir)}`;
  return undefined;
}

/** Go's oauth2 normalises the token type's case for the well-known ones. */
function tokenType(t: string): string {
  const l = t.toLowerCase();
  if (l === '' || l === 'bearer') return 'Bearer';
  if (l === 'mac') return 'MAC';
  if (l === 'basic') return 'Basic';
  return t;
}

/** Go's oauth2 treats a token as expired this long before it actually expires. */
const EXPIRY_DELTA_MS = 10_000;
const TOKEN_TIMEOUT_MS = 30_000;

interface Token {
  header: string;
  /** ms since epoch; Infinity when the server gave no expires_in. */
  expiry: number;
  secret: string;
}

/**
 * OAuth 2.0 client credentials grant (RFC 6749 §4.4) as Prometheus's oauth2 block does it: the
 * token is fetched on first use and reused until 10s before it expires, or until the client
 * secret (file) changes. Concurrent requests share one token fetch. Credentials go in an HTTP
 * Basic header first; if the server refuses that, in the form body (remembered afterwards).
 */
export class OAuth2Token {
  private token: Token | null = null;
  private pending: Promise<Token> | null = null;
  private agent: Dispatcher | null = null;
  private credentialsInBody = false;

  constructor(
    private readonly cfg: NonNullable<HttpClientConfig['oauth2']>,
    private readonly baseDir: string,
    private readonly userAgent: string,
  ) {
    if (cfg.tls_config || cfg.proxy_url) this.agent = clientDispatcher(cfg, baseDir);
  }

  private secret(): string {
    if (this.cfg.client_secret_file) return readSecretFile(this.cfg.client_secret_file, this.baseDir);
    return this.cfg.client_secret?.reveal() ?? '';
  }

  /** The Authorization header value; throws (naming the token URL) when no token can be had. */
  async header(signal?: AbortSignal): Promise<string> {
    let secret: string;
    try {
      secret = this.secret();
    } catch (e) {
      throw new Error(`unable to read oauth2 client secret: ${(e as Error).message}`);
    }
    const t = this.token;
    if (t && t.secret === secret && Date.now() < t.expiry - EXPIRY_DELTA_MS) return t.header;
    if (!this.pending) {
      this.pending = this.fetchToken(secret).finally(() => {
        this.pending = null;
      });
    }
    const p = this.pending;
    const token = await (signal ? raceAbort(p, signal) : p);
    this.token = token;
    return token.header;
  }

  private async fetchToken(secret: string): Promise<Token> {
    const first = await this.request(secret, this.credentialsInBody);
    let res = first;
    if (!this.credentialsInBody && first.status >= 400 && first.status < 500) {
      // Go's oauth2 auto-detection: a server that rejects Basic auth gets the credentials in the body.
      const second = await this.request(secret, true);
      if (second.status >= 200 && second.status < 300) this.credentialsInBody = true;
      res = second.status >= 200 && second.status < 300 ? second : first;
    }
    if (res.status < 200 || res.status >= 300) {
      throw new Error(`oauth2: cannot fetch token from ${this.cfg.token_url}: HTTP status ${res.status} ${STATUS_CODES[res.status] ?? ''}`.trimEnd() + (res.body ? `: ${res.body.slice(0, 200)}` : ''));
    }
    let fields: Record<string, unknown>;
    if (/^(application\/x-www-form-urlencoded|text\/plain)/i.test(res.contentType)) {
      fields = Object.fromEntries(new URLSearchParams(res.body));
    } else {
      try {
        const doc: unknown = JSON.parse(res.body);
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
        fields = doc as Record<string, unknown>;
      } catch (e) {
        throw new Error(`oauth2: cannot parse the token response from ${this.cfg.token_url}: ${(e as Error).message}`);
      }
    }
    const access = fields.access_token;
    if (typeof access !== 'string' || access === '') throw new Error(`oauth2: the token response from ${this.cfg.token_url} has no access_token`);
    const type = typeof fields.token_type === 'string' ? fields.token_type : '';
    const expiresIn = Number(fields.expires_in ?? 0);
    return {
      header: `${tokenType(type)} ${access}`,
      expiry: Number.isFinite(expiresIn) && expiresIn > 0 ? Date.now() + expiresIn * 1000 : Infinity,
      secret,
    };
  }

  private async request(secret: string, inBody: boolean): Promise<{ status: number; contentType: string; body: string }> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.cfg.scopes && this.cfg.scopes.length > 0) form.set('scope', this.cfg.scopes.join(' '));
    for (const [k, v] of Object.entries(this.cfg.endpoint_params ?? {})) form.set(k, v);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': this.userAgent, accept: 'application/json' };
    if (inBody) {
      form.set('client_id', this.cfg.client_id);
      if (secret !== '') form.set('client_secret', secret);
    } else {
      headers.authorization = 'Basic ' + Buffer.from(`${encodeURIComponent(this.cfg.client_id)}:${encodeURIComponent(secret)}`).toString('base64');
    }
    try {
      const res = await request(this.cfg.token_url, {
        method: 'POST',
        headers,
        body: form.toString(),
        dispatcher: this.agent ?? undefined,
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
      const body = await res.body.text();
      return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body };
    } catch (e) {
      const err = e as Error & { cause?: Error };
      throw new Error(`oauth2: cannot fetch token from ${this.cfg.token_url}: ${err.cause?.message ?? err.message}`);
    }
  }

  async close(): Promise<void> {
    await this.agent?.close().catch(() => undefined);
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolveP, rejectP) => {
    const onAbort = (): void => rejectP(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolveP(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        rejectP(e as Error);
      },
    );
  });
}

/**
 * Everything a request of one HTTP client config carries besides what its caller sets:
 * Authorization (basic_auth, authorization, bearer token or an oauth2 token) and http_headers.
 * Files are read on every request, so rotated credentials are picked up.
 */
export class RequestHeaders {
  private readonly oauth2: OAuth2Token | null;

  /** Throws naming a TLS file of the oauth2 block that cannot be read. */
  constructor(
    private readonly cfg: HttpClientConfig,
    private readonly baseDir: string,
    userAgent: string,
  ) {
    this.oauth2 = cfg.oauth2 ? new OAuth2Token(cfg.oauth2, baseDir, userAgent) : null;
  }

  /**
   * Adds http_headers and a static Authorization (basic_auth, authorization, bearer token) to
   * `into`, synchronously; throws naming a file that cannot be read. Returns true when an oauth2
   * token is still to be added with addToken.
   */
  apply(into: Record<string, string | string[]>): boolean {
    for (const [name, h] of Object.entries(this.cfg.http_headers ?? {})) {
      const values = [...h.values, ...h.secrets.map((s) => s.reveal())];
      for (const f of h.files) {
        try {
          values.push(readSecretFile(f, this.baseDir));
        } catch (e) {
          throw new Error(`unable to read header file for ${name}: ${(e as Error).message}`);
        }
      }
      if (values.length === 0) continue;
      const key = name.toLowerCase();
      const prev = into[key];
      into[key] = prev === undefined ? (values.length === 1 ? values[0] : values) : [...(Array.isArray(prev) ? prev : [prev]), ...values];
    }
    let auth: string | undefined;
    try {
      auth = authHeader(this.cfg, this.baseDir);
    } catch (e) {
      throw new Error(`cannot read credentials: ${(e as Error).message}`);
    }
    if (auth) into.authorization = auth;
    return !auth && this.oauth2 !== null;
  }

  /** Adds the oauth2 token's Authorization header; throws when no token can be had. */
  async addToken(into: Record<string, string | string[]>, signal?: AbortSignal): Promise<void> {
    if (this.oauth2) into.authorization = await this.oauth2.header(signal);
  }

  async close(): Promise<void> {
    await this.oauth2?.close();
  }
}
