// Patrol's own sections: server, storage and query.

import { z } from 'zod';
import { byteSize, duration, secret, tlsConfig } from './fields.js';

export const serverConfig = z.strictObject({
  /** host:port; the --listen flag overrides it. */
  listen: z.string().optional(),
  /** The URL users reach Patrol at (links in notifications). */
  external_url: z.string().optional(),
  tls: tlsConfig.optional(),
  /** Optional basic authentication for the API and dashboard; passwords may be bcrypt hashes later. */
  basic_auth_users: z.record(z.string(), secret).optional(),
  /** The TSDB admin endpoints under /api/v1/admin (Prometheus's --web.enable-admin-api). */
  enable_admin_api: z.boolean().default(false),
});

export const storageConfig = z.strictObject({
  /** The data directory; the --data flag overrides it. */
  path: z.string().optional(),
  retention: duration.default(30 * 24 * 3600 * 1000),
  retention_size: byteSize.default(0),
  out_of_order_time_window: duration.default(0),
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
