// TLS probes: handshake, chain validity, host name match and certificate expiry of a host:port.
// Verification errors (expired, self-signed, wrong host) fail the probe with that reason unless
// tls_config.insecure_skip_verify is set; [CERTIFICATE_EXPIRATION] then checks the days left.

import net from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import type { TlsProbeConfig } from '../config/probes.js';
import { joinHostPort, parseHostPort } from '../model/hostport.js';
import type { Condition } from '../model/conditions.js';
import { describeNetError, earliestExpiry, resolveProbeHost, tlsOptions } from './net.js';
import type { PreparedProbe, ProbeType, RunContext, RunOutcome } from './types.js';

const TLS_VERSIONS: Record<string, number> = { TLSv1: 1.0, 'TLSv1.1': 1.1, 'TLSv1.2': 1.2, 'TLSv1.3': 1.3 };

class TlsProbe implements PreparedProbe {
  readonly host: string;
  private readonly port: number;
  private readonly tls: ConnectionOptions;

  constructor(
    private readonly cfg: TlsProbeConfig,
    _conditions: readonly Condition[],
    dir: string,
  ) {
    const hp = parseHostPort(cfg.target)!;
    this.host = hp.host;
    this.port = hp.port;
    this.tls = tlsOptions(cfg.tls_config, dir);
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const t0 = performance.now();
    const where = joinHostPort(this.host, this.port);
    const start = await resolveProbeHost(ctx, this.host, this.cfg);
    if ('outcome' in start) return start.outcome;
    const { resolved: r, obs } = start;
    const error = await new Promise<string | null>((resolve) => {
      let done = false;
      const opts: ConnectionOptions = { ...this.tls, host: r.address, port: this.port };
      if (!opts.servername && net.isIP(this.host) === 0) opts.servername = this.host;
      const sock = tls.connect(opts);
      const finish = (err: string | null) => {
        if (done) return;
        done = true;
        ctx.abort.off(onAbort);
        sock.destroy();
        resolve(err);
      };
      const onAbort = () => finish('aborted');
      ctx.abort.on(onAbort);
      sock.once('connect', () => {
        ctx.samples.push({ name: 'probe_tcp_connect_seconds', value: (performance.now() - t0) / 1000 });
        ctx.phase = 'TLS handshake';
      });
      sock.once('secureConnect', () => {
        obs.connected = true;
        obs.certNotAfter = earliestExpiry(sock.getPeerCertificate(true));
        if (obs.certNotAfter !== undefined) ctx.samples.push({ name: 'probe_ssl_earliest_cert_expiry', value: obs.certNotAfter / 1000 });
        const v = sock.getProtocol();
        if (v && v in TLS_VERSIONS) ctx.samples.push({ name: 'probe_tls_version_info', value: 1, labelName: 'version', labelValue: v.replace('v', ' ') });
        finish(null);
      });
      sock.on('error', (e) => finish(describeNetError(e, ctx.phase, where)));
      sock.on('end', () => finish(`connection closed by ${where} during ${ctx.phase}`));
    });
    obs.durationMs = performance.now() - t0;
    return { obs, error };
  }
}

export const tlsProbeType: ProbeType<TlsProbeConfig> = {
  type: 'tls',
  defaultConditions: ['[CONNECTED] == true'],
  prepare: (cfg, conditions, dir) => new TlsProbe(cfg, conditions, dir),
};
