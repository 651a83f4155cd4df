// Patrol's own sections: server, storage and query.

import { z } from 'zod';
import { byteSize, duration, regex, secret } from './fields.js';
import { nearestName } from './suggest.js';

/** A bcrypt hash; never echoed in an error (it is a secret field). */
const bcryptHash = secret.superRefine((s, ctx) => {
  if (!/^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$/.test(s.reveal())) {
    ctx.addIssue({ code: 'custom', message: 'is not a bcrypt hash (expected e.g. the output of htpasswd -nBC 10 USER, "$2y$10$...")' });
  }
});

/** Bounds of the remote write receiver (POST /api/v1/write); 0 means no bound. */
export const remoteWriteReceiverConfig = z.strictObject({
  /** Largest decompressed request, bytes (e.g. "32MB"). */
  max_decoded_bytes: byteSize.default(32 * 1024 * 1024),
  /** Labels per series. */
  label_limit: z.number().int().nonnegative().default(512),
  /** Characters of a label name. */
  label_name_length_limit: z.number().int().nonnegative().default(1024),
  /** Characters of a label value. */
  label_value_length_limit: z.number().int().nonnegative().default(16 * 1024),
});

/** The client certificate policy of Prometheus's web configuration (Go's tls.ClientAuthType names). */
export const CLIENT_AUTH_TYPES = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;

/** HTTPS for every endpoint: Prometheus's web configuration `tls_server_config`. */
export const serverTlsConfig = z
  .strictObject({
    cert_file: z.string().optional(),
    /** The certificate inline (PEM), instead of cert_file. */
    cert: z.string().optional(),
    key_file: z.string().optional(),
    /** The key inline (PEM), instead of key_file. */
    key: secret.optional(),
    client_auth_type: z.enum(CLIENT_AUTH_TYPES).default('NoClientCert'),
    client_ca_file: z.string().optional(),
    min_version: z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']).default('TLS12'),
    max_version: z.enum(['TLS10', 'TLS11', 'TLS12', 'TLS13']).optional(),
    /** Go's names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256…); apply to TLS 1.2 and older, as in Go. */
    cipher_suites: z.array(z.string()).optional(),
    prefer_server_cipher_suites: z.boolean().optional(),
  })
  .superRefine((t, ctx) => {
    if ((t.cert_file === undefined) === (t.cert === undefined)) ctx.addIssue({ code: 'custom', message: 'exactly one of cert_file or cert is required' });
    if ((t.key_file === undefined) === (t.key === undefined)) ctx.addIssue({ code: 'custom', message: 'exactly one of key_file or key is required' });
    const verifies = t.client_auth_type === 'VerifyClientCertIfGiven' || t.client_auth_type === 'RequireAndVerifyClientCert';
    if (verifies && t.client_ca_file === undefined) ctx.addIssue({ code: 'custom', message: `client_auth_type ${t.client_auth_type} needs client_ca_file (the CA that signs client certificates)` });
    const order = ['TLS10', 'TLS11', 'TLS12', 'TLS13'];
    if (t.max_version !== undefined && order.indexOf(t.max_version) < order.indexOf(t.min_version)) {
      ctx.addIssue({ code: 'custom', message: `max_version ${t.max_version} is lower than min_version ${t.min_version}` });
    }
  });

/** A password hash made by `patrol hash-password` (scrypt, PHC-style): `$scrypt$ln=15,r=8,p=1$SALT$HASH`. */
const scryptHash = secret.superRefine((s, ctx) => {
  if (!/^\$scrypt\$ln=\d{1,2},r=\d{1,2},p=\d{1,2}\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/.test(s.reveal())) {
    ctx.addIssue({ code: 'custom', message: 'is not a scrypt password hash (make one with `patrol hash-password`)' });
  }
});

const ROLE = z.enum(['viewer', 'operator', 'editor', 'admin']);
const httpUrl = z.string().refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'expected an http(s) URL');

/** The dashboard's OIDC callback; `redirect_url` must end with it (register that URL at the provider). */
export const OIDC_CALLBACK_PATH = '/api/patrol/v1/auth/oidc/callback';

/** `server.auth.oidc`: dashboard login through an OpenID Connect provider (authorization code flow with PKCE). */
export const serverOidcConfig = z.strictObject({
  /** The provider's issuer URL; its `.well-known/openid-configuration` is read from there. */
  issuer: httpUrl,
  client_id: z.string().min(1),
  /** Absent for a public client (PKCE only). */
  client_secret: secret.optional(),
  /** Patrol's callback as the provider knows it: `https://patrol.example/api/patrol/v1/auth/oidc/callback`. */
  redirect_url: httpUrl.refine((u) => !URL.canParse(u) || new URL(u).pathname.endsWith(OIDC_CALLBACK_PATH), `must end with ${OIDC_CALLBACK_PATH}`),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is one word')).default(['openid', 'profile', 'email']),
  /** The claim that names the user (falls back to `email`, then `sub`). */
  username_claim: z.string().default('preferred_username'),
  /** The claim (a string or a list of strings, e.g. groups) whose values role_mapping maps to roles. */
  role_claim: z.string().default('groups'),
  /** Claim value → role; the highest role among the user's values wins. */
  role_mapping: z.record(z.string(), ROLE).default({}),
  /** The role of a user whose claim values map to none; unset: such users are refused. */
  default_role: ROLE.optional(),
  /** The claim that gives the user's team (per-team scoping); unset: OIDC users see every team. */
  team_claim: z.string().optional(),
  /** The text of the dashboard's login button. */
  button_label: z.string().max(80).default('Log in with single sign-on'),
});

/** `server.auth`: local users with roles, sessions and API tokens (tokens are created through the API). */
export const serverAuthConfig = z.strictObject({
  /** Dashboard login through an OpenID Connect provider. */
  oidc: serverOidcConfig.optional(),
  users: z.record(
    z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'user names are 1 to 64 letters, digits, . _ @ -'),
    z.strictObject({
      password_hash: scryptHash,
      role: ROLE,
      /** Per-team scoping: the user sees and silences only alerts whose team_label is this. */
      team: z.string().min(1).optional(),
    }),
  ).default({}),
  /** The alert label that names a team (per-team scoping of users, tokens and OIDC logins with a team). */
  team_label: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a label name').default('team'),
  /** How long a dashboard login lasts. */
  session_ttl: duration.default(12 * 3600 * 1000),
  /** Failed logins or token uses per client address per minute before it is refused with 429. */
  failures_per_minute: z.number().int().positive().default(10),
});

export const serverConfig = z.strictObject({
  /** Users, roles, sessions and API tokens; when set, every route needs the role its table row names. */
  auth: serverAuthConfig.optional(),
  /** host:port; the --listen flag overrides it. */
  listen: z.string().optional(),
  /** The URL users reach Patrol at (links in notifications). */
  external_url: z.string().optional(),
  /** HTTPS on every endpoint (Prometheus's web configuration tls_server_config). */
  tls: serverTlsConfig.optional(),
  /**
   * Basic authentication for every endpoint: user → bcrypt hash, as in Prometheus's web
   * configuration file (`htpasswd -nBC 10 user` makes one).
   */
  basic_auth_users: z.record(z.string(), bcryptHash).optional(),
  /** Origins (an anchored regex) allowed to read the API from a browser; unset: none. */
  cors_origin: regex.optional(),
  remote_write_receiver: remoteWriteReceiverConfig.default(remoteWriteReceiverConfig.parse({})),
  /** The TSDB admin endpoints under /api/v1/admin (Prometheus's --web.enable-admin-api). */
  enable_admin_api: z.boolean().default(false),
  /** Longest a request (headers and body) may take to arrive; 0: no bound. */
  request_timeout: duration.default(30 * 1000),
  /** Most request body bytes held by all requests in flight together; more are refused with 503. 0: no bound. */
  max_inflight_body_bytes: byteSize.default(128 * 1024 * 1024),
});

export const storageConfig = z.strictObject({
  /** The data directory; the --data flag overrides it. */
  path: z.string().optional(),
  retention: duration.default(30 * 24 * 3600 * 1000),
  retention_size: byteSize.default(0),
  /** How long probe state changes and failure reasons are kept; default: `retention`. */
  probe_events_retention: duration.optional(),
  out_of_order_time_window: duration.default(0),
  /** Samples more than this far ahead of the wall clock are rejected (they would move no boundary). */
  max_future: duration.default(10 * 60 * 1000),
});

/** A duration that must be longer than zero (`0` is a valid duration elsewhere). */
const positiveDuration = (what: string) =>
  duration.refine((ms) => ms > 0, { message: `${what} must be longer than 0 (e.g. "5m")` });

const positiveInt = (what: string) =>
  z.unknown().transform((v, ctx): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
      ctx.addIssue({ code: 'custom', message: `${what} must be a whole number of at least 1, got ${JSON.stringify(v) ?? String(v)}` });
      return z.NEVER;
    }
    return v;
  });

/** PromQL engine limits (Prometheus's --query.* flags), applied again on every reload. */
export const queryConfig = z.strictObject({
  /** How far back an instant selector looks for a sample (--query.lookback-delta). */
  lookback_delta: positiveDuration('lookback_delta').default(5 * 60 * 1000),
  /** Longest a query may run before it fails with errorType "timeout" (--query.timeout). */
  timeout: positiveDuration('timeout').default(2 * 60 * 1000),
  /** Most samples one query may hold in memory at once (--query.max-samples). */
  max_samples: positiveInt('max_samples').default(50_000_000),
  /** Queries evaluated at the same time; more wait in a queue (--query.max-concurrency). */
  max_concurrency: positiveInt('max_concurrency').default(20),
});

/** Every rule pack shipped in packages/patrol/packs, in the order they are documented. */
export const PACK_NAMES = ['http', 'go', 'host', 'probes', 'patrol'] as const;

export type PackName = (typeof PACK_NAMES)[number];

/** `rule_packs`: the rule packs (packs/<name>.rules.yml) to run beside rule_files, by name. */
export const rulePacksConfig = z.array(
  z.string().superRefine((name, ctx) => {
    if ((PACK_NAMES as readonly string[]).includes(name)) return;
    const near = nearestName(name, PACK_NAMES);
    ctx.addIssue({ code: 'custom', message: `unknown rule pack ${JSON.stringify(name)}${near ? `; did you mean ${JSON.stringify(near)}?` : ''} (packs: ${PACK_NAMES.join(', ')})` });
  }),
);

export type ServerConfig = z.infer<typeof serverConfig>;
export type StorageConfig = z.infer<typeof storageConfig>;
export type QueryConfig = z.output<typeof queryConfig>;

/** Alerting rules' `for` state restore and resending: Prometheus's --rules.alert.* flags. */
export const ruleAlertConfig = z.strictObject({
  /** Longest Patrol may be down for `for` state to be restored (--rules.alert.for-outage-tolerance). */
  for_outage_tolerance: duration.default(60 * 60 * 1000),
  /** Least time an alert still waits after a restart before it fires (--rules.alert.for-grace-period). */
  for_grace_period: duration.default(10 * 60 * 1000),
  /** Least time between two sends of a firing alert (--rules.alert.resend-delay). */
  resend_delay: duration.default(60 * 1000),
});

export const rulesConfig = z.strictObject({
  alert: ruleAlertConfig.default(ruleAlertConfig.parse({})),
});
