// TCP probes: connect (optionally over TLS), optionally send a line and wait for a reply that
// matches `expect`. What was received is [BODY] for conditions.

import net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { TcpProbeConfig } from '../config/probes.js';
import { joinHostPort, parseHostPort } from '../model/hostport.js';
import type { Condition } from '../model/conditions.js';
import { describeNetError, earliestExpiry, resolveProbeHost, StreamProbe } from './net.js';
import type { PreparedProbe, ProbeType, RunContext, RunOutcome } from './types.js';

class TcpProbe extends StreamProbe implements PreparedProbe {
  readonly host: string;
  private readonly port: number;

  constructor(
    private readonly cfg: TcpProbeConfig,
    conditions: readonly Condition[],
    dir: string,
  ) {
    super(cfg, conditions, dir, cfg.tls);
    const hp = parseHostPort(cfg.target)!;
    this.host = hp.host;
    this.port = hp.port;
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const t0 = performance.now();
    const where = joinHostPort(this.host, this.port);
    const start = await resolveProbeHost(ctx, this.host, this.cfg);
    if ('outcome' in start) return start.outcome;
    const { resolved: r, obs } = start;
    const limit = this.cfg.body_size_limit === 0 ? Infinity : this.cfg.body_size_limit;
    const error = await new Promise<string | null>((resolve) => {
      let done = false;
      let received = '';
      let size = 0;
      let sock: net.Socket;
      const finish = (err: string | null) => {
        if (done) return;
        done = true;
        ctx.abort.off(onAbort);
        if (this.expect || this.keepBody) obs.body = received;
        obs.bodySize = size;
        sock.destroy();
        resolve(err);
      };
      const onAbort = () => finish('aborted');
      const onConnected = () => {
        obs.connected = true;
        if (this.tls) {
          const cert = (sock as TLSSocket).getPeerCertificate(true);
          obs.certNotAfter = earliestExpiry(cert);
          if (obs.certNotAfter !== undefined) ctx.samples.push({ name: 'probe_ssl_earliest_cert_expiry', value: obs.certNotAfter / 1000 });
        }
        if (this.cfg.send !== undefined) sock.write(this.cfg.send);
        if (!this.expect && !this.keepBody) return finish(null);
        ctx.phase = this.expect ? 'waiting for the expected reply' : 'reading the reply';
      };
      if (this.tls) {
        const opts: tls.ConnectionOptions = { ...this.tls, host: r.address, port: this.port };
        if (!opts.servername && net.isIP(this.host) === 0) opts.servername = this.host;
        sock = tls.connect(opts);
        sock.once('connect', () => (ctx.phase = 'TLS handshake'));
        sock.once('secureConnect', onConnected);
      } else {
        sock = net.connect({ host: r.address, port: this.port });
        sock.once('connect', onConnected);
      }
      ctx.abort.on(onAbort);
      sock.setEncoding('utf8');
      sock.on('data', (chunk: string) => {
        size += Buffer.byteLength(chunk);
        if (size <= limit) received += chunk;
        if (this.expect && this.expect.test(received)) return finish(null);
        if (size > limit) finish(this.expect ? `expected /${this.cfg.expect}/ not found in the first ${limit} bytes` : null);
      });
      sock.on('end', () => {
        if (this.expect && !this.expect.test(received)) {
          return finish(`connection closed before /${this.cfg.expect}/ was received (got ${JSON.stringify(received.slice(0, 60))})`);
        }
        finish(null);
      });
      sock.on('error', (e) => finish(describeNetError(e, ctx.phase, where)));
    });
    obs.durationMs = performance.now() - t0;
    if (this.expect && obs.connected) ctx.samples.push({ name: 'probe_failed_due_to_regex', value: this.expect.test(obs.body ?? '') ? 0 : 1 });
    return { obs, error };
  }
}

export const tcpProbeType: ProbeType<TcpProbeConfig> = {
  type: 'tcp',
  defaultConditions: ['[CONNECTED] == true'],
  prepare: (cfg, conditions, dir) => new TcpProbe(cfg, conditions, dir),
};
