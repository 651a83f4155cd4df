// Patrol's own sections: server, storage and query.

import { z } from 'zod';
import { byteSize, duration, regex, secret, tlsConfig } from './fields.js';

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

export const serverConfig = z.strictObject({
  /** host:port; the --listen flag overrides it. */
  listen: z.string().optional(),
  /** The URL users reach Patrol at (links in notifications). */
  external_url: z.string().optional(),
  tls: tlsConfig.optional(),
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
});

export const storageConfig = z.strictObject({
  /** The data directory; the --data flag overrides it. */
  path: z.string().optional(),
  retention: duration.default(30 * 24 * 3600 * 1000),
  retention_size: byteSize.default(0),
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

export type ServerConfig = z.infer<typeof serverConfig>;
export type StorageConfig = z.infer<typeof storageConfig>;
export type QueryConfig = z.output<typeof queryConfig>;
