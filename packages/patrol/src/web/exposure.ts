// Safe defaults for the listener: Patrol refuses to listen beyond this machine when nobody who
// reaches the port would have to prove who they are, unless the operator says --insecure.

import { isIP } from 'node:net';
import type { ServerConfig } from '../config/patrol.js';

/** Whether a listen host only accepts connections from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** Whether the server section makes callers authenticate (basic auth users, users/tokens, OIDC login, or verified client certificates). */
export function authConfigured(server: ServerConfig): boolean {
  if (server.basic_auth_users && Object.keys(server.basic_auth_users).length > 0) return true;
  if (server.auth && Object.keys(server.auth.users).length > 0) return true;
  if (server.auth?.oidc) return true;
  return server.tls?.client_auth_type === 'RequireAndVerifyClientCert';
}

/** Why starting would expose an unauthenticated server to the network, or null when it is fine. */
export function insecureListenReason(host: string, server: ServerConfig, insecure: boolean): string | null {
  if (insecure || isLoopbackHost(host) || authConfigured(server)) return null;
  const where = host === '0.0.0.0' || host === '::' || host === '' ? 'every network interface' : `${host}, which is not a loopback address`;
  return (
    `refusing to listen on ${where} without authentication: anyone who reaches the port could ` +
    'silence alerts, delete series or reload the configuration. Configure server.auth users or ' +
    'server.basic_auth_users (or TLS with client_auth_type: RequireAndVerifyClientCert), listen on ' +
    '127.0.0.1, or pass --insecure if a proxy in front of Patrol authenticates every request.'
  );
}
