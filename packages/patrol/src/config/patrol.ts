// Patrol's own sections: server and storage.

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
});

export const storageConfig = z.strictObject({
  /** The data directory; the --data flag overrides it. */
  path: z.string().optional(),
  retention: duration.default(30 * 24 * 3600 * 1000),
  retention_size: byteSize.default(0),
  out_of_order_time_window: duration.default(0),
});

export type ServerConfig = z.infer<typeof serverConfig>;
export type StorageConfig = z.infer<typeof storageConfig>;
