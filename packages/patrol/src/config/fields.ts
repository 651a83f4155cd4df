// Field types shared by every config section: durations, secrets, label names, regexes and
// matchers, each with a message that quotes the bad value and says what was expected.

import { z } from 'zod';
import { isValidLabelName } from '../model/labels.js';
import { compileAnchoredRegex, parseMatchers, type Matcher } from '../model/matchers.js';
import { parseByteSize, parseDuration } from '../model/duration.js';
import { expandEnv, Secret } from './secret.js';

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** A duration such as `30s`, `5m`, `1h30m`, `1d`; parsed to milliseconds. */
export const duration = z.unknown().transform((v, ctx): number => {
  const ms = typeof v === 'string' ? parseDuration(v) : null;
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `${show(v)} is not a duration (expected e.g. "30s", "5m", "1h30m", "1d")` });
    return z.NEVER;
  }
  return ms;
});

/** A byte size such as `512MB` or `0` (no limit); parsed to bytes. */
export const byteSize = z.unknown().transform((v, ctx): number => {
  const b = typeof v === 'string' ? parseByteSize(v) : typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
  if (b === null) {
    ctx.addIssue({ code: 'custom', message: `${show(v)} is not a byte size (expected e.g. "512MB", "1GB", 0)` });
    return z.NEVER;
  }
  return b;
});

/** A secret value; `${ENV}` references are expanded at load time. Prints as `<secret>`. */
export const secret = z.unknown().transform((v, ctx): Secret => {
  // YAML reads `password: 1234` as a number; Prometheus takes it as the text. The value of a
  // secret field is never quoted in an error, only its type.
  if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
  if (typeof v !== 'string') {
    // "got undefined" is what load.ts turns into "missing required key".
    ctx.addIssue({ code: 'custom', message: v === undefined ? 'expected a string, got undefined' : `expected a string, got ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a map' : typeof v} (the value is not shown: it is a secret)` });
    return z.NEVER;
  }
  const { value, missing } = expandEnv(v);
  if (missing.length > 0) {
    ctx.addIssue({ code: 'custom', message: `environment variable ${missing.map((m) => '${' + m + '}').join(', ')} is not set` });
    return z.NEVER;
  }
  return new Secret(value);
});

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** An IANA time zone name (or UTC), checked against the zones this Node.js knows. */
export const timeZone = z.string().refine(validTimeZone, { error: (iss) => `${JSON.stringify(iss.input)} is not a time zone (expected e.g. "UTC", "Europe/Berlin")` });

export const labelName = z.string().refine(isValidLabelName, { error: (iss) => `${show(iss.input)} is not a valid label name` });

/**
 * A string field. YAML reads `true`, `8080` or `1.5` as other types; Prometheus (Go) takes them
 * as their text for string fields, and so do we.
 */
export const text = z.preprocess((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v), z.string());

export const labelSet = z.record(labelName, text);

/** A regular expression as Prometheus takes it (anchored); stays a string, validated here. */
export const regex = text.superRefine((v, ctx) => {
  try {
    compileAnchoredRegex(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

/** A list of Alertmanager-style matchers (`alertname="X"`, `severity=~"warn|crit"`). */
export const matcherList = z.array(z.string()).transform((list, ctx): Matcher[] => {
  const out: Matcher[] = [];
  list.forEach((text, i) => {
    try {
      out.push(...parseMatchers(text));
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message, path: [i] });
    }
  });
  return out;
});

export const positiveInt = z.number().int().nonnegative();

export const url = z.string().refine(
  (v) => {
    try {
      new URL(v);
      return true;
    } catch {
      return false;
    }
  },
  { error: (iss) => `${show(iss.input)} is not a URL` },
);

/** A URL that may carry a key in its path or query (webhooks); treated as a secret. */
export const secretUrl = secret.superRefine((s, ctx) => {
  try {
    new URL(s.reveal());
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a URL' });
  }
});

export const tlsConfig = z.strictObject({
  ca: z.string().optional(),
  ca_file: z.string().optional(),
  cert: z.string().optional(),
  cert_file: z.string().optional(),
  key: secret.optional(),
  key_file: z.string().optional(),
  server_name: z.string().optional(),
  insecure_skip_verify: z.boolean().default(false),
  min_version: z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']).optional(),
  max_version: z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']).optional(),
});

export const basicAuth = z.strictObject({
  username: z.string().optional(),
  username_file: z.string().optional(),
  password: secret.optional(),
  password_file: z.string().optional(),
});

export const authorization = z.strictObject({
  type: z.string().default('Bearer'),
  credentials: secret.optional(),
  credentials_file: z.string().optional(),
});

export const oauth2 = z.strictObject({
  client_id: z.string(),
  client_secret: secret.optional(),
  client_secret_file: z.string().optional(),
  scopes: z.array(z.string()).optional(),
  token_url: z.string(),
  endpoint_params: z.record(z.string(), text).optional(),
  tls_config: tlsConfig.optional(),
  proxy_url: z.string().optional(),
}).superRefine((o, ctx) => {
  try {
    const u = new URL(o.token_url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `token_url must be http or https, got ${JSON.stringify(o.token_url)}`, path: ['token_url'] });
  } catch {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(o.token_url)} is not a URL`, path: ['token_url'] });
  }
});

/** Headers Prometheus sets itself or that change the connection; http_headers may not set them. */
export const RESERVED_HEADERS = new Set([
  'Authorization',
  'Host',
  'Content-Encoding',
  'Content-Length',
  'Content-Type',
  'User-Agent',
  'Connection',
  'Keep-Alive',
  'Proxy-Authenticate',
  'Proxy-Authorization',
  'Www-Authenticate',
  'Accept-Encoding',
  'X-Prometheus-Remote-Write-Version',
  'X-Prometheus-Remote-Read-Version',
  'X-Prometheus-Scrape-Timeout-Seconds',
  'X-Amz-Date',
  'X-Amz-Security-Token',
  'X-Amz-Content-Sha256',
]);

/** Go's http.CanonicalHeaderKey: `x-foo-bar` → `X-Foo-Bar`. */
export function canonicalHeaderKey(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

/** Prometheus 2.55+ http_headers: `{Name: {values, secrets, files}}`, each adding header lines. */
export const httpHeaders = z
  .record(
    z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: (iss) => `${show(iss.input)} is not a valid header name` }),
    z.strictObject({
      values: z.array(text).default([]),
      secrets: z.array(secret).default([]),
      files: z.array(z.string()).default([]),
    }),
  )
  .superRefine((h, ctx) => {
    for (const name of Object.keys(h)) {
      const canon = canonicalHeaderKey(name);
      if (RESERVED_HEADERS.has(canon)) ctx.addIssue({ code: 'custom', message: `setting header ${JSON.stringify(canon)} is not allowed`, path: [name] });
    }
  });

/** Prometheus's common HTTP client settings, inlined into scrape, remote write and receivers. */
export const httpClientFields = {
  basic_auth: basicAuth.optional(),
  authorization: authorization.optional(),
  oauth2: oauth2.optional(),
  bearer_token: secret.optional(),
  bearer_token_file: z.string().optional(),
  tls_config: tlsConfig.optional(),
  proxy_url: z.string().optional(),
  no_proxy: z.string().optional(),
  proxy_from_environment: z.boolean().optional(),
  proxy_connect_header: z.record(z.string(), z.array(secret)).optional(),
  follow_redirects: z.boolean().default(true),
  enable_http2: z.boolean().default(true),
  http_headers: httpHeaders.optional(),
};

const httpClientObject = z.strictObject(httpClientFields);

/** The HTTP client settings as parsed; scrape configs and http_sd_configs carry them inline. */
export type HttpClientConfig = z.output<typeof httpClientObject>;

/**
 * Prometheus's HTTPClientConfig.Validate: the authentication methods exclude each other. For
 * use in the superRefine of an object that spreads httpClientFields.
 */
export function checkHttpClient(c: HttpClientConfig, ctx: z.RefinementCtx): void {
  const set = (['basic_auth', 'authorization', 'oauth2', 'bearer_token', 'bearer_token_file'] as const).filter((k) => c[k] !== undefined);
  if (c.bearer_token !== undefined && c.bearer_token_file !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'at most one of bearer_token and bearer_token_file may be set', path: ['bearer_token'] });
  } else if (set.length > 1) {
    ctx.addIssue({ code: 'custom', message: `at most one of basic_auth, authorization, oauth2 and bearer_token may be set (found ${set.join(', ')})`, path: [set[1]] });
  }
  if (c.basic_auth) {
    if (c.basic_auth.username !== undefined && c.basic_auth.username_file !== undefined) ctx.addIssue({ code: 'custom', message: 'at most one of basic_auth username and username_file may be set', path: ['basic_auth', 'username_file'] });
    if (c.basic_auth.password !== undefined && c.basic_auth.password_file !== undefined) ctx.addIssue({ code: 'custom', message: 'at most one of basic_auth password and password_file may be set', path: ['basic_auth', 'password_file'] });
  }
  if (c.authorization) {
    if (c.authorization.credentials !== undefined && c.authorization.credentials_file !== undefined) ctx.addIssue({ code: 'custom', message: 'at most one of authorization credentials and credentials_file may be set', path: ['authorization', 'credentials_file'] });
    if (c.authorization.type.toLowerCase() === 'basic') ctx.addIssue({ code: 'custom', message: 'authorization type cannot be set to "basic", use "basic_auth" instead', path: ['authorization', 'type'] });
  }
  if (c.oauth2 && c.oauth2.client_secret !== undefined && c.oauth2.client_secret_file !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'at most one of oauth2 client_secret and client_secret_file may be set', path: ['oauth2', 'client_secret_file'] });
  }
  // Prometheus's proxy rules.
  if (c.proxy_url !== undefined) {
    let u: URL | null = null;
    try {
      u = new URL(c.proxy_url);
    } catch {
      // reported below
    }
    if (!u || !['http:', 'https:', 'socks5:', 'socks:'].includes(u.protocol)) ctx.addIssue({ code: 'custom', message: `proxy_url ${JSON.stringify(c.proxy_url)} is not an http, https or socks5 URL`, path: ['proxy_url'] });
  }
  if (c.proxy_from_environment && (c.proxy_url !== undefined || c.no_proxy !== undefined)) {
    ctx.addIssue({ code: 'custom', message: 'if proxy_from_environment is configured, proxy_url and no_proxy must not be configured', path: ['proxy_from_environment'] });
  }
  if (c.proxy_url === undefined && c.no_proxy !== undefined) ctx.addIssue({ code: 'custom', message: 'if no_proxy is configured, proxy_url must also be configured', path: ['no_proxy'] });
  if (c.proxy_url === undefined && !c.proxy_from_environment && c.proxy_connect_header !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured', path: ['proxy_connect_header'] });
  }
}

/** A standalone HTTP client block (receivers' http_config), validated like Prometheus's. */
export const httpClientConfig = httpClientObject.superRefine(checkHttpClient);
