// Network helpers shared by the probe types: name resolution with an address-family preference,
// TLS options from tls_config, certificate expiry, and error messages that say what failed.

import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import type { ConnectionOptions, DetailedPeerCertificate, PeerCertificate, SecureVersion } from 'node:tls';
import type { z } from 'zod';
import type { tlsConfig } from '../config/fields.js';
import { needsBody, type Condition, type Observation } from '../model/conditions.js';
import { compileSearch, type Regex } from '../model/regex.js';
import type { RunContext, RunOutcome } from './types.js';

export type TlsConfig = z.output<typeof tlsConfig>;

export interface Resolved {
  address: string;
  family: 4 | 6;
  lookupMs: number;
}

/**
 * Resolves `host` to one address, preferring `prefer` and falling back to the other family when
 * allowed. IP literals resolve to themselves in no time. Returns an error message on failure.
 */
export async function resolveHost(host: string, prefer: 'ip4' | 'ip6', fallback: boolean): Promise<Resolved | { error: string }> {
  const ipv = isIP(host);
  if (ipv !== 0) return { address: host, family: ipv as 4 | 6, lookupMs: 0 };
  const t0 = performance.now();
  const want = prefer === 'ip6' ? 6 : 4;
  try {
    const all = await lookup(host, { all: true });
    const lookupMs = performance.now() - t0;
    const first = all.find((a) => a.family === want) ?? (fallback ? all[0] : undefined);
    if (!first) return { error: `DNS lookup of ${host} returned no ${prefer} address (ip_protocol_fallback is off)` };
    return { address: first.address, family: first.family as 4 | 6, lookupMs };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND') return { error: `DNS lookup of ${host} failed: no such host` };
    return { error: `DNS lookup of ${host} failed: ${code ?? (e as Error).message}` };
  }
}

/**
 * The first phase of a socket probe (tcp, tls, grpc, websocket, icmp): resolves the host, records the DNS samples and
 * moves the probe to its connect phase; or, when resolution fails, the probe's outcome.
 */
export async function resolveProbeHost(
  ctx: RunContext,
  host: string,
  cfg: { preferred_ip_protocol: 'ip4' | 'ip6'; ip_protocol_fallback: boolean },
): Promise<{ resolved: Resolved; obs: Observation } | { outcome: RunOutcome }> {
  ctx.phase = 'DNS resolution';
  const r = await resolveHost(host, cfg.preferred_ip_protocol, cfg.ip_protocol_fallback);
  const obs: Observation = { durationMs: 0, connected: false, now: Date.now() };
  if ('error' in r) return { outcome: { obs, error: r.error } };
  ctx.samples.push({ name: 'probe_dns_lookup_time_seconds', value: r.lookupMs / 1000 });
  ctx.samples.push({ name: 'probe_ip_protocol', value: r.family });
  ctx.phase = 'connect';
  return { resolved: r, obs };
}

/**
 * What the stream probes (tcp, websocket) share: an optional `expect` regular expression, whether
 * the received data is kept for the conditions, and the TLS options when the probe uses TLS.
 */
export abstract class StreamProbe {
  protected readonly expect: Regex | null;
  protected readonly keepBody: boolean;
  protected readonly tls: ConnectionOptions | null;

  constructor(cfg: { expect?: string; tls_config?: TlsConfig }, conditions: readonly Condition[], dir: string, useTls: boolean) {
    this.expect = cfg.expect !== undefined ? compileSearch(cfg.expect) : null;
    this.keepBody = needsBody(conditions);
    this.tls = useTls ? tlsOptions(cfg.tls_config, dir) : null;
  }
}

/** Reads tls_config's files (relative to the config's folder) into connection options. */
export function tlsOptions(cfg: TlsConfig | undefined, dir: string): ConnectionOptions {
  if (!cfg) return { rejectUnauthorized: true };
  const read = (key: string, file: string | undefined, inline: string | undefined): string | undefined => {
    if (inline !== undefined) return inline;
    if (file === undefined) return undefined;
    try {
      return readFileSync(resolvePath(dir, file), 'utf8');
    } catch (e) {
      throw new Error(`tls_config.${key}: cannot read ${JSON.stringify(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const versions: Record<string, SecureVersion> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
  const opts: ConnectionOptions = { rejectUnauthorized: !cfg.insecure_skip_verify };
  const ca = read('ca_file', cfg.ca_file, cfg.ca);
  if (ca) opts.ca = ca;
  const cert = read('cert_file', cfg.cert_file, cfg.cert);
  const key = read('key_file', cfg.key_file, cfg.key?.reveal());
  if ((cert === undefined) !== (key === undefined)) throw new Error('tls_config: a client certificate needs both cert(_file) and key(_file)');
  if (cert) opts.cert = cert;
  if (key) opts.key = key;
  if (cfg.server_name) opts.servername = cfg.server_name;
  if (cfg.min_version) opts.minVersion = versions[cfg.min_version];
  if (cfg.max_version) opts.maxVersion = versions[cfg.max_version];
  return opts;
}

/** The earliest notAfter (ms since the epoch) over the presented chain, or undefined. */
export function earliestExpiry(cert: PeerCertificate | DetailedPeerCertificate | null | undefined): number | undefined {
  let earliest: number | undefined;
  const seen = new Set<unknown>();
  let cur = cert as DetailedPeerCertificate | undefined;
  while (cur && typeof cur === 'object' && cur.valid_to && !seen.has(cur)) {
    seen.add(cur);
    const t = Date.parse(cur.valid_to);
    if (Number.isFinite(t) && (earliest === undefined || t < earliest)) earliest = t;
    if (cur.issuerCertificate === cur) break;
    cur = cur.issuerCertificate;
  }
  return earliest;
}

const TLS_REASONS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the certificate (unknown issuer)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to verify the certificate (issuer not trusted)',
  CERT_REVOKED: 'certificate revoked',
};

/** A precise message for a socket or TLS error that happened during `phase`. */
export function describeNetError(e: unknown, phase: string, where: string): string {
  const err = e as NodeJS.ErrnoException & { reason?: string };
  const code = err?.code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: certificate does not match the host name (${err.reason ?? err.message})`;
  if (code in TLS_REASONS) return `TLS: ${TLS_REASONS[code]}`;
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused by ${where}`;
    case 'ECONNRESET':
      return `connection reset by ${where} during ${phase}`;
    case 'EHOSTUNREACH':
      return `host unreachable: ${where}`;
    case 'ENETUNREACH':
      return `network unreachable: ${where}`;
    case 'EADDRNOTAVAIL':
      return `address not available: ${where}`;
    case 'EPIPE':
      return `connection closed by ${where} during ${phase}`;
  }
  if (code.startsWith('HPE_')) return `invalid HTTP response from ${where}: ${err.message}`;
  if (code.startsWith('ERR_SSL') || /SSL|TLS|certificate/i.test(err?.message ?? '')) return `TLS: ${err.message}`;
  if (err?.message === 'socket hang up') return `connection closed by ${where} during ${phase}`;
  return `${phase} failed: ${code ? code + ' ' : ''}${err?.message ?? String(e)}`;
}

