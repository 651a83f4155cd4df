// Prometheus's common HTTP client settings (tls_config, basic_auth, authorization, bearer
// token) turned into what undici needs: connect options for the Agent and the Authorization
// header. Shared by the scrape client and http_sd_configs so both read the same fields the same
// way.

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { buildConnector } from 'undici';
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
