// HTTP(S) probes: one fresh connection per request (no keep-alive, no pooling), so every run
// measures resolve, connect, TLS, processing (time to first byte) and transfer the way a new
// client sees them. Redirects are followed by hand so that each hop is timed and counted.
// Bodies are read up to body_size_limit and only kept in memory when a condition reads them.

import net, { isIP } from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import { createBrotliDecompress, createGunzip, createInflate, type Zlib } from 'node:zlib';
import type { Transform } from 'node:stream';
import type { HttpProbeConfig } from '../config/probes.js';
import { needsBody, showBytes, type Condition, type Observation } from '../model/conditions.js';
import { ResponseParser, type ResponseHandler, type ResponseHead } from './http1.js';
import { HttpReport, tlsFacts, type RunView, type TlsFacts } from './http_metrics.js';
import { joinHostPort } from '../model/hostport.js';
import { describeNetError, resolveHost, tlsOptions, type Resolved } from './net.js';
import type { PreparedProbe, ProbeType, RunContext, RunOutcome } from './types.js';

/** The run's accumulated phase timings and progress (shared with the report). */
type Phases = RunView;

interface Hop {
  error: string | null;
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: string;
  /** Bytes received after the head (compressed when the response is). */
  bodySize: number;
  /** Bytes after decoding a Content-Encoding, when the body was decoded. */
  decodedSize?: number;
  contentLength: number;
  certNotAfter?: number;
  httpVersion?: string;
  tls?: TlsFacts;
}

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

export class HttpProbe implements PreparedProbe {
  readonly host: string;
  private readonly url: URL;
  private readonly keepBody: boolean;
  private readonly headers: Record<string, string>;
  private readonly headerLines: string;
  /** The configured URL taken apart, and its request head, computed once. */
  private readonly target: Target;
  private readonly firstHead: string;
  private readonly tls: ConnectionOptions;

  constructor(
    private readonly cfg: HttpProbeConfig,
    conditions: readonly Condition[],
    dir: string,
    /** Keep the body whatever the conditions read (a flow step capturing from it). */
    keepBody = false,
  ) {
    this.url = new URL(cfg.target);
    this.host = this.url.hostname;
    this.keepBody = keepBody || needsBody(conditions);
    const headers: Record<string, string> = { 'user-agent': 'Patrol', accept: '*/*' };
    for (const [k, v] of Object.entries(cfg.headers)) headers[k.toLowerCase()] = v;
    if (cfg.basic_auth) {
      const pw = cfg.basic_auth.password?.reveal() ?? '';
      headers.authorization = 'Basic ' + Buffer.from(`${cfg.basic_auth.username}:${pw}`).toString('base64');
    } else if (cfg.bearer_token) headers.authorization = `Bearer ${cfg.bearer_token.reveal()}`;
    for (const [k, v] of Object.entries(headers)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw new Error(`headers: ${JSON.stringify(k)} is not a valid header name`);
      if (/[\r\n\0]/.test(v)) throw new Error(`headers.${k}: the value contains a line break`);
    }
    this.headers = headers;
    this.headerLines = headerLines(headers);
    this.tls = tlsOptions(cfg.tls_config, dir);
    this.target = targetOf(this.url);
    this.firstHead = this.requestHead(cfg.method, this.url, headers, cfg.body);
  }

  run(ctx: RunContext): Promise<RunOutcome> {
    return this.exchange(ctx, this.url, this.cfg.method, this.headers, this.cfg.body);
  }

  /**
   * One request (with its redirects) to another URL, headers or body than configured (a flow step
   * whose variables are known at run time). Header values are checked for line breaks here.
   */
  runWith(ctx: RunContext, url: URL, headers: Record<string, string>, body: string | undefined): Promise<RunOutcome> {
    for (const k in headers) if (/[\r\n\0]/.test(headers[k])) return Promise.resolve({ obs: { durationMs: 0, now: Date.now() }, error: `header ${k}: the value contains a line break` });
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.resolve({ obs: { durationMs: 0, now: Date.now() }, error: `${url.protocol} is not http or https` });
    return this.exchange(ctx, url, this.cfg.method, headers, body);
  }

  /** The configured headers, lower-cased, with the authorization the config asks for. */
  get baseHeaders(): Readonly<Record<string, string>> {
    return this.headers;
  }

  get configuredUrl(): URL {
    return this.url;
  }

  get configuredBody(): string | undefined {
    return this.cfg.body;
  }

  private async exchange(ctx: RunContext, url: URL, method0: string, headers0: Record<string, string>, body0: string | undefined): Promise<RunOutcome> {
    const phases: Phases = { resolve: 0, connect: 0, tls: 0, processing: 0, transfer: 0, lookupMs: 0, family: 0, hop: null, redirects: 0, unfollowed: false, method: this.cfg.method };
    // The full metric set from the start; a run cut off by its timeout reports what it saw.
    const report = new HttpReport(ctx.samples);
    const cutOff = () => report.fill(phases);
    ctx.abort.on(cutOff);
    const t0 = performance.now();
    let method = method0;
    let body = body0;
    let headers = headers0;
    let redirects = 0;
    let hop: Hop;
    const visited = new Set<string>([url.href]);
    for (;;) {
      phases.method = method;
      hop = await this.request(url, method, headers, body, ctx, phases);
      if (hop.error || !REDIRECT_CODES.has(hop.status!) || hop.headers?.location === undefined) break;
      if (!this.cfg.follow_redirects) {
        // blackbox counts the redirect it refused to follow.
        phases.redirects = redirects + 1;
        phases.unfollowed = true;
        break;
      }
      let next: URL;
      try {
        next = new URL(hop.headers.location, url);
      } catch {
        hop.error = `redirect to an invalid location ${JSON.stringify(hop.headers.location)}`;
        break;
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        hop.error = `redirect to unsupported scheme ${next.protocol}`;
        break;
      }
      redirects++;
      phases.redirects = redirects;
      if (redirects > this.cfg.max_redirects) {
        hop.error = `stopped after ${this.cfg.max_redirects} redirects${visited.has(next.href) ? ' (redirect loop)' : ''}`;
        phases.unfollowed = true;
        break;
      }
      visited.add(next.href);
      if (hop.status === 303 || ((hop.status === 301 || hop.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
      }
      if (next.host !== url.host && headers.authorization) {
        // Credentials are for the configured host only.
        headers = { ...headers };
        delete headers.authorization;
      }
      url = next;
      if (ctx.abort.aborted) break;
    }
    const durationMs = performance.now() - t0;
    ctx.abort.off(cutOff);
    // After a cut-off the report already holds what the run had seen then.
    if (!ctx.abort.aborted) report.fill(phases);
    const obs: Observation = {
      durationMs,
      status: hop.status,
      body: hop.body,
      bodySize: hop.decodedSize ?? hop.bodySize,
      headers: hop.headers,
      certNotAfter: hop.certNotAfter,
      redirects,
      now: Date.now(),
    };
    return { obs, error: hop.error };
  }

  private async request(url: URL, method: string, headers: Record<string, string>, body: string | undefined, ctx: RunContext, phases: Phases): Promise<Hop> {
    const t = url === this.url ? this.target : targetOf(url);
    const { isHttps, hostname, port, where } = t;
    const empty: Hop = { error: null, bodySize: 0, contentLength: -1 };
    phases.hop = empty;
    ctx.phase = 'DNS resolution';
    let r: Resolved;
    if (t.family !== 0) r = { address: hostname, family: t.family, lookupMs: 0 };
    else {
      const res = await resolveHost(hostname, this.cfg.preferred_ip_protocol, this.cfg.ip_protocol_fallback);
      if ('error' in res) return { ...empty, error: res.error };
      r = res;
      if (ctx.abort.aborted) return { ...empty, error: 'aborted' };
    }
    phases.resolve += r.lookupMs;
    if (phases.address === undefined) {
      // blackbox resolves the configured host once; its address is the one reported.
      phases.address = r.address;
      phases.family = r.family;
      phases.lookupMs = r.lookupMs;
    }
    ctx.phase = 'connect';
    // 0 means no limit, as in Prometheus.
    const limit = this.cfg.body_size_limit === 0 ? Infinity : this.cfg.body_size_limit;

    return new Promise<Hop>((resolve) => {
      const x = new Exchange(ctx, phases, empty, this.keepBody, limit, where, isHttps, method === 'HEAD', resolve);
      let sock: net.Socket;
      // A fresh connection of our own (no agent, no pooling), so every phase is measured.
      if (isHttps) {
        const o: tls.ConnectionOptions = { ...this.tls, host: r.address, port };
        if (!this.tls.servername && isIP(hostname) === 0) o.servername = hostname;
        const ts = tls.connect(o);
        ts.once('secureConnect', () => x.secured(ts));
        sock = ts;
      } else {
        sock = net.connect({ host: r.address, port });
      }
      x.attach(sock);
      const head = url === this.url && method === this.cfg.method && headers === this.headers && body === this.cfg.body ? this.firstHead : this.requestHead(method, url, headers, body);
      sock.write(head);
      if (body !== undefined) sock.write(body);
    });
  }

  /** The request line and headers; the configured headers' text is built once. */
  private requestHead(method: string, url: URL, headers: Record<string, string>, body: string | undefined): string {
    let lines = headers === this.headers ? this.headerLines : headerLines(headers);
    if (body !== undefined) lines += `content-length: ${Buffer.byteLength(body)}\r\n`;
    // A configured Host header (virtual hosts) applies to the configured URL, not to redirects.
    const host = url === this.url && headers.host !== undefined ? headers.host : url.host;
    return `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${host}\r\n${lines}connection: close\r\n\r\n`;
  }
}

interface Target {
  isHttps: boolean;
  hostname: string;
  port: number;
  /** host:port for messages. */
  where: string;
  /** 4 or 6 when the host is an IP address (no lookup), else 0. */
  family: 0 | 4 | 6;
}

function targetOf(url: URL): Target {
  const isHttps = url.protocol === 'https:';
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : isHttps ? 443 : 80;
  return { isHttps, hostname, port, where: joinHostPort(hostname, port), family: isIP(hostname) as 0 | 4 | 6 };
}

/**
 * A streaming decoder for a Content-Encoding, or null when it is not one we decode. Decoding
 * runs chunk by chunk as the body arrives (off the event loop, in zlib's thread pool), and the
 * caller counts what comes out, so a small body that inflates to gigabytes is stopped at the
 * limit instead of being inflated whole in memory.
 */
function decoder(enc: string): (Transform & Zlib) | null {
  switch (enc) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return null;
  }
}

/**
 * The most a body kept for conditions may take after decoding when body_size_limit is 0 (no
 * limit): the text must stay far below V8's largest string, and a probe is not a download.
 */
export const MAX_DECODED_BODY = 256 * 1024 * 1024;

function headerLines(headers: Record<string, string>): string {
  let s = '';
  for (const k in headers) if (k !== 'host' && k !== 'connection' && k !== 'content-length') s += `${k}: ${headers[k]}\r\n`;
  return s;
}

/**
 * One request/response on one connection: socket events in, phase timings and the parsed
 * response out. A class so that the hot path allocates no closures per request.
 */
class Exchange implements ResponseHandler {
  private done = false;
  private readonly tStart = performance.now();
  private tConnected: number;
  private tSecure: number;
  private tFirstByte = 0;
  private sock: net.Socket | null = null;
  private readonly chunks: Buffer[] = [];
  private readonly parser: ResponseParser;
  /** Decodes the body's Content-Encoding as it arrives (only when conditions read the body). */
  private dec: (Transform & Zlib) | null = null;
  private decodedLimit = 0;
  private readonly onAbort: () => void;

  constructor(
    private readonly ctx: RunContext,
    private readonly phases: Phases,
    private readonly hop: Hop,
    private readonly keepBody: boolean,
    private readonly limit: number,
    private readonly where: string,
    private readonly isHttps: boolean,
    isHead: boolean,
    private readonly resolve: (h: Hop) => void,
  ) {
    this.tConnected = this.tStart;
    this.tSecure = this.tStart;
    this.parser = new ResponseParser(this, isHead);
    this.onAbort = this.finish.bind(this, 'aborted');
    ctx.abort.on(this.onAbort);
  }

  attach(sock: net.Socket): void {
    this.sock = sock;
    if (this.done) {
      sock.destroy();
      return;
    }
    sock.once('connect', () => this.connected());
    sock.on('data', (chunk: Buffer) => this.received(chunk));
    sock.on('end', () => this.parser.eof());
    sock.on('close', () => {
      if (!this.done) this.parser.eof();
    });
    sock.on('error', (e) => this.finish(describeNetError(e, this.ctx.phase, this.where)));
  }

  private connected(): void {
    this.tConnected = performance.now();
    this.phases.connect += this.tConnected - this.tStart;
    this.ctx.phase = this.isHttps ? 'TLS handshake' : 'waiting for the response';
  }

  secured(ts: tls.TLSSocket): void {
    this.tSecure = performance.now();
    this.phases.tls += this.tSecure - this.tConnected;
    this.ctx.phase = 'waiting for the response';
    try {
      this.hop.tls = tlsFacts(ts);
      this.hop.certNotAfter = this.hop.tls.earliest;
    } catch {
      /* no certificate details; expiry stays unknown */
    }
  }

  private received(chunk: Buffer): void {
    if (this.tFirstByte === 0) {
      this.tFirstByte = performance.now();
      this.phases.processing += this.tFirstByte - (this.isHttps ? this.tSecure : this.tConnected);
    }
    this.parser.feed(chunk);
  }

  head(h: ResponseHead): void {
    const hop = this.hop;
    hop.status = h.status;
    hop.headers = h.headers;
    hop.httpVersion = h.httpVersion;
    const cl = h.headers['content-length'];
    hop.contentLength = typeof cl === 'string' ? Number(cl) : -1;
    this.ctx.phase = 'reading the body';
    if (hop.contentLength > this.limit) return this.finish(`body of ${showBytes(hop.contentLength)} exceeds body_size_limit ${showBytes(this.limit)}`);
    // Only when the probe's own headers asked for compression (Patrol sends no Accept-Encoding).
    const enc = h.headers['content-encoding'];
    if (this.keepBody && typeof enc === 'string' && enc.trim() !== '' && enc.trim().toLowerCase() !== 'identity') {
      const dec = decoder(enc.trim().toLowerCase());
      if (!dec) return this.finish(`cannot decode the ${enc} body: unsupported content-encoding`);
      this.startDecoding(dec, enc);
    }
  }

  private startDecoding(dec: Transform & Zlib, enc: string): void {
    this.dec = dec;
    this.decodedLimit = Math.min(this.limit, MAX_DECODED_BODY);
    this.hop.decodedSize = 0;
    dec.on('data', (out: Buffer) => {
      if (this.done) return;
      const size = (this.hop.decodedSize! += out.length);
      if (size > this.decodedLimit) return this.finish(`body exceeds ${showBytes(this.decodedLimit)} after decompression (${enc}, ${showBytes(this.hop.bodySize)} received)`);
      this.chunks.push(out);
    });
    dec.on('error', (e) => this.finish(`cannot decode the ${enc} body: ${e.message}`));
    dec.on('end', () => this.decoded());
  }

  data(chunk: Buffer): void {
    if (this.done) return;
    this.hop.bodySize += chunk.length;
    if (this.hop.bodySize > this.limit) return this.finish(`body exceeds body_size_limit ${showBytes(this.limit)}`);
    if (this.dec) this.dec.write(chunk);
    else if (this.keepBody) {
      if (this.hop.bodySize > MAX_DECODED_BODY) return this.finish(`body exceeds ${showBytes(MAX_DECODED_BODY)}, the most Patrol keeps for body conditions`);
      this.chunks.push(chunk);
    }
  }

  end(): void {
    if (this.done) return;
    this.phases.transfer += performance.now() - this.tFirstByte;
    if (this.dec) {
      // The socket is done; the decoder finishes what it holds, then decoded() completes the hop.
      this.ctx.phase = 'decompressing the body';
      this.sock?.destroy();
      this.dec.end();
      return;
    }
    if (this.keepBody) this.hop.body = Buffer.concat(this.chunks).toString('utf8');
    this.finish(null);
  }

  private decoded(): void {
    if (this.done) return;
    this.hop.body = Buffer.concat(this.chunks).toString('utf8');
    this.finish(null);
  }

  error(msg: string): void {
    if (msg.startsWith('connection closed')) this.finish(msg.replace('connection closed', `connection closed by ${this.where}`));
    else this.finish(msg.startsWith('invalid') ? `${msg} (from ${this.where})` : `invalid HTTP response from ${this.where}: ${msg}`);
  }

  private finish(error: string | null): void {
    if (this.done) return;
    this.done = true;
    this.ctx.abort.off(this.onAbort);
    this.hop.error = error;
    this.sock?.destroy();
    if (this.dec) {
      this.dec.removeAllListeners('data');
      this.dec.on('error', () => undefined);
      this.dec.destroy();
      if (error !== null) this.chunks.length = 0;
    }
    this.resolve(this.hop);
  }
}

export const httpProbeType: ProbeType<HttpProbeConfig> = {
  type: 'http',
  reportsRegexFailure: true,
  defaultConditions: ['[STATUS] == 2xx'],
  prepare: (cfg, conditions, dir) => new HttpProbe(cfg, conditions, dir),
};
