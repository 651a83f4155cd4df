// The metrics of an http probe run under blackbox_exporter's names AND values, so dashboards and
// rules written for blackbox_exporter read the same numbers: every run reports the full set,
// failed runs included (a timeout reports probe_http_status_code 0, a refused connection
// probe_http_content_length 0, as blackbox's empty response does). The values follow Go's
// net/http as blackbox sees it: Content-Length -1 when unknown and 0 for responses that have no
// body; the body of a redirect that was not followed is not read; the TLS series exist only when
// the final response came over TLS. src/probe/blackbox.sidebyside.test.ts checks them against
// Debian's blackbox_exporter.

import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { ProbeSample } from './types.js';
import { earliestExpiry } from './net.js';

/** What the TLS handshake of a hop showed, in blackbox's terms. */
export interface TlsFacts {
  /** "TLS 1.3" */
  version: string;
  /** Earliest notAfter over the certificates (ms since the epoch), when known. */
  earliest?: number;
  /** probe_ssl_last_chain_expiry_timestamp_seconds: the verified chain's earliest notAfter (s). */
  lastChain: number;
  info: Record<string, string>;
}

export interface HopView {
  status?: number;
  headers?: Record<string, string | string[]>;
  httpVersion?: string;
  contentLength: number;
  bodySize: number;
  decodedSize?: number;
  tls?: TlsFacts;
}

export interface RunView {
  resolve: number;
  connect: number;
  tls: number;
  processing: number;
  transfer: number;
  /** The first lookup (of the configured host), ms. */
  lookupMs: number;
  /** The configured host's address and family, once resolved. */
  address?: string;
  family: 0 | 4 | 6;
  /** The hop in progress or the last one. */
  hop: HopView | null;
  /** Redirect responses met, the one not followed included (blackbox's len(via)). */
  redirects: number;
  /** The final response is a redirect that was not followed (too many, or follow_redirects off). */
  unfollowed: boolean;
  method: string;
}

/** Go's time.Time{}.Unix(): what blackbox reports for a chain it did not verify. */
const GO_ZERO_TIME = -62135596800;

/** blackbox's probe_ip_addr_hash: FNV-1a (32 bit) of the address's bytes (4 for IPv4, 16 for IPv6). */
export function ipAddrHash(address: string): number {
  let h = 0x811c9dc5;
  for (const b of ipBytes(address)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function ipBytes(address: string): number[] {
  if (isIP(address) === 4) return address.split('.').map(Number);
  if (isIP(address) !== 6) return [];
  let a = address;
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  // An IPv4-mapped tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const [p, q, r, s] = v4[1].split('.').map(Number);
    a = a.slice(0, -v4[1].length) + ((p << 8) | q).toString(16) + ':' + ((r << 8) | s).toString(16);
  }
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const hg = head ? head.split(':') : [];
  const tg = tail ? tail.split(':') : [];
  const groups = tail === undefined ? hg : [...hg, ...Array<string>(8 - hg.length - tg.length).fill('0'), ...tg];
  const out: number[] = [];
  for (const g of groups) {
    const n = parseInt(g || '0', 16);
    out.push(n >> 8, n & 0xff);
  }
  // Go hashes an IPv4-mapped IPv6 address as its 4 bytes.
  if (out.length === 16 && out.slice(0, 10).every((x) => x === 0) && out[10] === 0xff && out[11] === 0xff) return out.slice(12);
  return out;
}

const factsCache = new Map<string, Omit<TlsFacts, 'version' | 'lastChain'>>();

/** Go's pkix.Name.String(): the RDNs most specific first, joined by commas. */
function goName(nodeName: string): string {
  return nodeName
    .split('\n')
    .filter((l) => l !== '')
    .reverse()
    .map((l) => l.replace(/^emailAddress=/, '1.2.840.113549.1.9.1='))
    .join(',');
}

/** The TLS facts of a connected socket (certificate details are parsed once per certificate). */
export function tlsFacts(ts: TLSSocket): TlsFacts {
  const proto = ts.getProtocol() ?? '';
  const version = proto === 'TLSv1' ? 'TLS 1.0' : proto.replace(/^TLSv/, 'TLS ');
  let peer: DetailedPeerCertificate | undefined;
  try {
    peer = ts.getPeerCertificate(true);
  } catch {
    peer = undefined;
  }
  if (!peer || !peer.raw) return { version, lastChain: GO_ZERO_TIME, info: {} };
  const fingerprint = createHash('sha256').update(peer.raw).digest('hex');
  let f = factsCache.get(fingerprint);
  if (!f) {
    let subject = '';
    let issuer = '';
    let dns = '';
    try {
      const x = new X509Certificate(peer.raw);
      subject = goName(x.subject);
      issuer = goName(x.issuer);
      dns = (x.subjectAltName ?? '')
        .split(', ')
        .filter((s) => s.startsWith('DNS:'))
        .map((s) => s.slice(4))
        .join(',');
    } catch {
      /* unparsable: empty labels */
    }
    f = { earliest: earliestExpiry(peer), info: { fingerprint_sha256: fingerprint, subject, issuer, subjectalternative: dns } };
    if (factsCache.size >= 256) factsCache.delete(factsCache.keys().next().value!);
    factsCache.set(fingerprint, f);
  }
  // Only a verified chain has an expiry for blackbox (insecure_skip_verify: none, Go's zero time).
  const lastChain = ts.authorized && f.earliest !== undefined ? Math.floor(f.earliest / 1000) : GO_ZERO_TIME;
  return { ...f, version, lastChain };
}

/** Go's http.Response.ContentLength for the response head blackbox got. */
function goContentLength(hop: HopView, method: string): number {
  if (hop.status === undefined) return 0; // no response: blackbox's empty http.Response
  const h = hop.headers ?? {};
  const te = h['transfer-encoding'];
  const chunked = typeof te === 'string' && /chunked/i.test(te);
  if (method !== 'HEAD' && (hop.status < 200 || hop.status === 204 || hop.status === 304)) return 0;
  if (chunked) return -1;
  return hop.contentLength;
}

/**
 * The run's samples in a fixed order; pushed once at the start with blackbox's values for "no
 * response", then filled from what the run saw, at its end or at the moment it is cut off.
 */
export class HttpReport {
  private readonly phase: ProbeSample[];
  private readonly dns: ProbeSample = { name: 'probe_dns_lookup_time_seconds', value: 0 };
  private readonly status: ProbeSample = { name: 'probe_http_status_code', value: 0 };
  private readonly contentLength: ProbeSample = { name: 'probe_http_content_length', value: 0 };
  private readonly bodyLength: ProbeSample = { name: 'probe_http_uncompressed_body_length', value: 0 };
  private readonly redirects: ProbeSample = { name: 'probe_http_redirects', value: 0 };
  private readonly ssl: ProbeSample = { name: 'probe_http_ssl', value: 0 };
  private readonly version: ProbeSample = { name: 'probe_http_version', value: 0 };
  private readonly ipProtocol: ProbeSample = { name: 'probe_ip_protocol', value: 0 };
  private readonly ipHash: ProbeSample = { name: 'probe_ip_addr_hash', value: 0 };
  private filled = false;

  constructor(private readonly samples: ProbeSample[]) {
    this.phase = ['resolve', 'connect', 'tls', 'processing', 'transfer'].map((p) => ({ name: 'probe_http_duration_seconds', value: 0, labelName: 'phase', labelValue: p }));
    samples.push(...this.phase, this.dns, this.status, this.contentLength, this.bodyLength, this.redirects, this.ssl, this.version, this.ipProtocol, this.ipHash);
  }

  /** Writes what the run saw; only the first call counts (the end, or the cut-off). */
  fill(v: RunView): void {
    if (this.filled) return;
    this.filled = true;
    const p = this.phase;
    p[0].value = v.resolve / 1000;
    p[1].value = v.connect / 1000;
    p[2].value = v.tls / 1000;
    p[3].value = v.processing / 1000;
    p[4].value = v.transfer / 1000;
    this.dns.value = v.lookupMs / 1000;
    this.redirects.value = v.redirects;
    this.ipProtocol.value = v.family;
    if (v.address !== undefined) this.ipHash.value = ipAddrHash(v.address);
    const hop = v.hop;
    if (!hop || hop.status === undefined) return;
    this.status.value = hop.status;
    this.contentLength.value = goContentLength(hop, v.method);
    this.bodyLength.value = v.unfollowed ? 0 : (hop.decodedSize ?? hop.bodySize);
    this.version.value = Number(hop.httpVersion ?? 0) || 0;
    const lm = hop.headers?.['last-modified'];
    if (typeof lm === 'string') {
      const t = Date.parse(lm);
      if (Number.isFinite(t)) this.samples.push({ name: 'probe_http_last_modified_timestamp_seconds', value: t / 1000 });
    }
    const t = hop.tls;
    if (!t) return;
    this.ssl.value = 1;
    if (t.earliest !== undefined) this.samples.push({ name: 'probe_ssl_earliest_cert_expiry', value: t.earliest / 1000 });
    this.samples.push({ name: 'probe_ssl_last_chain_expiry_timestamp_seconds', value: t.lastChain });
    if (t.info.fingerprint_sha256) this.samples.push({ name: 'probe_ssl_last_chain_info', value: 1, labels: t.info });
    if (t.version) this.samples.push({ name: 'probe_tls_version_info', value: 1, labelName: 'version', labelValue: t.version });
  }
}
