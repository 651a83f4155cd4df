// Host and port of an address, one way everywhere: Go's net.SplitHostPort (what Prometheus's
// templates use), and on top of it the checked form for addresses Patrol connects to or listens on.

import { isIP } from 'node:net';

/**
 * Go's net.SplitHostPort: `host:port` or `[host]:port` (IPv6). The port is any text (possibly
 * empty), the host may be empty. Null where Go returns an error (no port, too many colons,
 * stray brackets).
 */
export function splitHostPort(s: string): { host: string; port: string } | null {
  const i = s.lastIndexOf(':');
  if (i < 0) return null;
  let host: string;
  let j = 0;
  let k = 0;
  if (s[0] === '[') {
    const end = s.indexOf(']');
    if (end < 0 || end + 1 !== i) return null; // missing ']', missing port, or too many colons
    host = s.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = s.slice(0, i);
    if (host.includes(':')) return null;
  }
  if (s.indexOf('[', j) >= 0 || s.indexOf(']', k) >= 0) return null;
  return { host, port: s.slice(i + 1) };
}

/** A decimal port number 0–65535; null otherwise. */
export function parsePort(p: string): number | null {
  if (!/^\d{1,5}$/.test(p)) return null;
  const n = Number(p);
  return n <= 65535 ? n : null;
}

/**
 * An address to connect to: `host:port`, `[v6]:port`, and, when `defaultPort` is given, a bare
 * host, `[v6]` or a bare IPv6 address. Null when the host is empty or the port not 1–65535.
 */
export function parseHostPort(s: string, defaultPort?: number): { host: string; port: number } | null {
  const hp = splitHostPort(s);
  if (hp === null) {
    if (defaultPort === undefined) return null;
    const bracketed = /^\[([^\]]+)\]$/.exec(s);
    if (bracketed) return { host: bracketed[1], port: defaultPort };
    if (isIP(s) === 6 || (s !== '' && !/[:[\]]/.test(s))) return { host: s, port: defaultPort };
    return null;
  }
  const port = parsePort(hp.port);
  if (hp.host === '' || port === null || port === 0) return null;
  return { host: hp.host, port };
}

/** Go's net.JoinHostPort: `host:port`, with brackets around an IPv6 host (`[::1]:53`). */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
