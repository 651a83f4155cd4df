// WebSocket probes: open the connection (the HTTP upgrade, over TLS for wss://), optionally send
// a text message and wait for a message matching `expect`, then close. blackbox_exporter has no
// WebSocket prober; the names follow its style: probe_websocket_duration_seconds{phase}
// (connect: until the upgrade completed; reply: until the expected message), probe_http_status_code
// (the handshake's answer), probe_failed_due_to_regex when `expect` is set. The host is resolved
// first like the other socket probes (preferred_ip_protocol, probe_dns_lookup_time_seconds,
// probe_ip_protocol); over wss://, probe_ssl_earliest_cert_expiry as the http and tcp probes.

import type { LookupFunction } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type WebSocket from 'ws';
import type { WebsocketProbeConfig } from '../config/probes.js';
import { showBytes, type Condition } from '../model/conditions.js';
import { describeNetError, earliestExpiry, resolveProbeHost, StreamProbe, type Resolved } from './net.js';
import type { PreparedProbe, ProbeType, RunContext, RunOutcome } from './types.js';

/** A lookup that answers the address resolveProbeHost chose (so the socket connects there). */
function fixedLookup(r: Resolved): LookupFunction {
  return ((_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => {
    if (opts?.all) cb(null, [{ address: r.address, family: r.family }]);
    else cb(null, r.address, r.family);
  }) as LookupFunction;
}

class WebsocketProbe extends StreamProbe implements PreparedProbe {
  readonly host: string;
  private readonly url: URL;

  constructor(
    private readonly cfg: WebsocketProbeConfig,
    conditions: readonly Condition[],
    dir: string,
  ) {
    const url = new URL(cfg.target);
    super(cfg, conditions, dir, url.protocol === 'wss:');
    this.url = url;
    // URL keeps the brackets of an IPv6 literal.
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    for (const [k, v] of Object.entries(cfg.headers)) if (/[\r\n\0]/.test(v)) throw new Error(`headers.${k}: the value contains a line break`);
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const t0 = performance.now();
    const where = this.url.host;
    const start = await resolveProbeHost(ctx, this.host, this.cfg);
    if ('outcome' in start) return start.outcome;
    const { resolved, obs } = start;
    const WS = await loadWs();
    const tConnect = performance.now();
    return new Promise<RunOutcome>((resolve) => {
      let done = false;
      let tOpen = 0;
      let received = '';
      let ws: WebSocket;
      const finish = (error: string | null) => {
        if (done) return;
        done = true;
        ctx.abort.off(onAbort);
        const t = performance.now();
        obs.durationMs = t - t0;
        ctx.samples.push({ name: 'probe_websocket_duration_seconds', value: ((tOpen || t) - tConnect) / 1000, labelName: 'phase', labelValue: 'connect' });
        if (this.expect || this.cfg.send !== undefined) ctx.samples.push({ name: 'probe_websocket_duration_seconds', value: tOpen ? (t - tOpen) / 1000 : 0, labelName: 'phase', labelValue: 'reply' });
        ctx.samples.push({ name: 'probe_http_status_code', value: obs.status ?? 0 });
        if (this.expect) ctx.samples.push({ name: 'probe_failed_due_to_regex', value: obs.connected && error !== null && (error.startsWith('expected') || (error === 'aborted' && received !== '')) ? 1 : 0 });
        try {
          // A clean close when open; otherwise drop the socket.
          if (ws.readyState === WS.OPEN) ws.close(1000);
          ws.terminate();
        } catch {
          /* already gone */
        }
        resolve({ obs, error });
      };
      const onAbort = () => finish('aborted');
      try {
        ws = new WS(this.url, {
          headers: { 'user-agent': 'Patrol', ...this.cfg.headers },
          maxPayload: this.cfg.body_size_limit === 0 ? undefined : this.cfg.body_size_limit,
          perMessageDeflate: false,
          followRedirects: false,
          handshakeTimeout: Math.max(1, this.cfg.timeout - (tConnect - t0)),
          lookup: fixedLookup(resolved),
          ...(this.tls ?? {}),
        });
      } catch (e) {
        resolve({ obs, error: `cannot open ${this.cfg.target}: ${(e as Error).message}` });
        return;
      }
      ctx.abort.on(onAbort);
      ws.on('upgrade', (res) => {
        obs.status = res.statusCode;
        obs.headers = res.headers;
        if (this.tls) {
          obs.certNotAfter = earliestExpiry((res.socket as TLSSocket).getPeerCertificate(true));
          if (obs.certNotAfter !== undefined) ctx.samples.push({ name: 'probe_ssl_earliest_cert_expiry', value: obs.certNotAfter / 1000 });
        }
      });
      ws.on('unexpected-response', (_req, res) => {
        obs.status = res.statusCode;
        obs.headers = res.headers;
        res.resume();
        finish(`the server answered the WebSocket upgrade with HTTP ${res.statusCode}, expected 101`);
      });
      ws.on('open', () => {
        tOpen = performance.now();
        obs.connected = true;
        if (this.cfg.send !== undefined) ws.send(this.cfg.send);
        if (!this.expect && !this.keepBody) return finish(null);
        ctx.phase = this.expect ? 'waiting for the expected message' : 'waiting for a message';
      });
      ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
        const text = isBinary ? `<binary ${showBytes(Buffer.isBuffer(data) ? data.length : 0)}>` : data.toString();
        received = received === '' ? text : `${received}\n${text}`;
        if (received.length > 1024 * 1024) received = received.slice(-1024 * 1024);
        obs.body = text;
        if (!this.expect) return finish(null);
        if (this.expect.test(text)) finish(null);
      });
      ws.on('close', (code, reason) => {
        if (!obs.connected) return finish(`connection to ${where} closed during the handshake`);
        if (this.expect) finish(`expected /${this.cfg.expect}/ but the server closed the connection (code ${code}${reason.length ? `: ${reason.toString().slice(0, 100)}` : ''})${received ? `; received ${JSON.stringify(received.slice(0, 80))}` : ''}`);
        else finish(this.keepBody ? `the server closed the connection (code ${code}) before sending a message` : null);
      });
      ws.on('error', (e) => {
        const msg = (e as Error).message;
        if (/Max payload size exceeded/i.test(msg)) return finish(`a message exceeds body_size_limit ${showBytes(this.cfg.body_size_limit)}`);
        if (/Opening handshake has timed out/i.test(msg)) return finish(`timeout during the WebSocket handshake with ${where}`);
        finish(describeNetError(e, ctx.phase, where));
      });
    });
  }
}


let wsLib: Promise<typeof WebSocket> | null = null;
/** `ws`, loaded at the first WebSocket probe's run (a configuration without one does not pay for it). */
const loadWs = (): Promise<typeof WebSocket> => (wsLib ??= import('ws').then((m) => m.default));

export const websocketProbeType: ProbeType<WebsocketProbeConfig> = {
  type: 'websocket',
  reportsRegexFailure: false,
  defaultConditions: ['[CONNECTED] == true'],
  prepare: (cfg, conditions, dir) => new WebsocketProbe(cfg, conditions, dir),
};
