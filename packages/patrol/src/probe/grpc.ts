// gRPC probes: the standard health checking protocol (grpc.health.v1.Health/Check) over a fresh
// channel per run, in plain text or TLS. The two messages are one field each, so they are encoded
// here by hand rather than through a .proto loader. Metric names are blackbox_exporter's grpc
// prober's: probe_grpc_healthcheck_response{serving_status}, probe_grpc_status_code,
// probe_grpc_ssl, probe_grpc_duration_seconds{phase}; over TLS, probe_ssl_earliest_cert_expiry
// (and [CERTIFICATE_EXPIRATION]) from the chain the server presented, read when Node checks the
// server's identity: that check is skipped for a chain that does not verify, so with
// insecure_skip_verify and such a chain the expiry is not known.

import net from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type * as GrpcLib from '@grpc/grpc-js';
import type { GrpcProbeConfig } from '../config/probes.js';
import { joinHostPort, parseHostPort } from '../model/hostport.js';
import { earliestExpiry, resolveProbeHost, tlsOptions } from './net.js';
import type { PreparedProbe, ProbeType, RunContext, RunOutcome } from './types.js';

type Grpc = typeof GrpcLib;
let grpcLib: Promise<Grpc> | null = null;
/** @grpc/grpc-js, loaded at the first gRPC probe's run: about 10 MB of memory that a
 * configuration without gRPC probes does not pay. */
const loadGrpc = (): Promise<Grpc> => (grpcLib ??= import('@grpc/grpc-js'));

export const HEALTH_CHECK_METHOD = '/grpc.health.v1.Health/Check';

/** grpc.health.v1.HealthCheckResponse.ServingStatus, by number. */
export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

/** HealthCheckRequest { string service = 1; } */
export function encodeHealthRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0);
  const s = Buffer.from(service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a]), varint(s.length), s]);
}

/** HealthCheckResponse { ServingStatus status = 1; }: the status number (0 when absent). Throws on a malformed message. */
export function decodeHealthResponse(b: Buffer): number {
  let i = 0;
  let status = 0;
  const readVarint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (i >= b.length) throw new Error('truncated varint');
      const byte = b[i++];
      v += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return v;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  };
  while (i < b.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const v = readVarint();
      if (field === 1) status = v;
    } else if (wire === 2) {
      const len = readVarint();
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
    if (i > b.length) throw new Error('truncated field');
  }
  return status;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

class GrpcProbe implements PreparedProbe {
  readonly host: string;
  private readonly port: number;
  private readonly request: Buffer;
  /** Fresh credentials per run; `seen` receives the server's certificate (chain) when checked. */
  private readonly creds: (grpc: Grpc, seen: (cert: PeerCertificate) => void) => GrpcLib.ChannelCredentials;
  private readonly serverName: string | undefined;

  constructor(
    private readonly cfg: GrpcProbeConfig,
    dir: string,
  ) {
    const hp = parseHostPort(cfg.target)!;
    this.host = hp.host;
    this.port = hp.port;
    this.request = encodeHealthRequest(cfg.service);
    if (cfg.tls) {
      const o = tlsOptions(cfg.tls_config, dir);
      const buf = (v: unknown) => (typeof v === 'string' ? Buffer.from(v) : null);
      const skip = o.rejectUnauthorized === false;
      const ca = buf(o.ca);
      const key = buf(o.key);
      const cert = buf(o.cert);
      this.creds = (grpc, seen) =>
        grpc.credentials.createSsl(ca, key, cert, {
          rejectUnauthorized: !skip,
          checkServerIdentity: (host, peer) => {
            seen(peer);
            return skip ? undefined : checkServerIdentity(host, peer);
          },
        });
      this.serverName = o.servername ?? (net.isIP(this.host) === 0 ? this.host : undefined);
    } else {
      this.creds = (grpc) => grpc.credentials.createInsecure();
    }
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const grpc = await loadGrpc();
    const t0 = performance.now();
    const where = joinHostPort(this.host, this.port);
    const start = await resolveProbeHost(ctx, this.host, this.cfg);
    const tResolved = performance.now();
    ctx.samples.push({ name: 'probe_grpc_ssl', value: this.cfg.tls ? 1 : 0 });
    if ('outcome' in start) return start.outcome;
    const { resolved: r, obs } = start;
    ctx.phase = 'health check';
    const options: GrpcLib.ChannelOptions = {
      // A probe measures one attempt: no retries, no keepalive, no shared subchannel.
      'grpc.enable_retries': 0,
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 64 * 1024,
    };
    if (this.serverName) {
      options['grpc.ssl_target_name_override'] = this.serverName;
      options['grpc.default_authority'] = joinHostPort(this.serverName, this.port);
    }
    const client = new grpc.Client(
      joinHostPort(r.address, this.port),
      this.creds(grpc, (peer) => (obs.certNotAfter = earliestExpiry(peer))),
      options,
    );
    const deadline = new Date(Date.now() + Math.max(1, this.cfg.timeout - (performance.now() - t0)));
    const res = await new Promise<{ err: GrpcLib.ServiceError | null; status?: number; bad?: string }>((resolve) => {
      let done = false;
      const finish = (v: { err: GrpcLib.ServiceError | null; status?: number; bad?: string }) => {
        if (done) return;
        done = true;
        ctx.abort.off(onAbort);
        resolve(v);
      };
      const call = client.makeUnaryRequest<Buffer, number>(
        HEALTH_CHECK_METHOD,
        (b: Buffer) => b,
        (b: Buffer) => decodeHealthResponse(b),
        this.request,
        new grpc.Metadata(),
        { deadline },
        (err, status) => {
          if (err && err.code === grpc.status.INTERNAL && /parse|deseriali/i.test(err.details)) finish({ err: null, bad: `malformed HealthCheckResponse: ${err.details}` });
          else finish({ err: err ?? null, status });
        },
      );
      const onAbort = () => {
        call.cancel();
        finish({ err: null, bad: 'aborted' });
      };
      ctx.abort.on(onAbort);
    });
    client.close();
    const tDone = performance.now();
    ctx.samples.push({ name: 'probe_grpc_duration_seconds', value: (tResolved - t0) / 1000, labelName: 'phase', labelValue: 'resolve' });
    ctx.samples.push({ name: 'probe_grpc_duration_seconds', value: (tDone - tResolved) / 1000, labelName: 'phase', labelValue: 'check' });
    const code = res.err ? res.err.code : res.bad ? grpc.status.INTERNAL : grpc.status.OK;
    ctx.samples.push({ name: 'probe_grpc_status_code', value: code });
    const seen = res.status !== undefined && !res.err ? res.status : -1;
    for (let s = 0; s < SERVING_STATUS.length; s++) ctx.samples.push({ name: 'probe_grpc_healthcheck_response', value: s === seen ? 1 : 0, labelName: 'serving_status', labelValue: SERVING_STATUS[s] });
    if (obs.certNotAfter !== undefined) ctx.samples.push({ name: 'probe_ssl_earliest_cert_expiry', value: obs.certNotAfter / 1000 });
    obs.durationMs = tDone - t0;
    let error: string | null = null;
    if (res.bad) error = res.bad;
    else if (res.err) {
      const e = res.err;
      const name = grpc.status[e.code] ?? String(e.code);
      obs.connected = e.code !== grpc.status.UNAVAILABLE && e.code !== grpc.status.DEADLINE_EXCEEDED;
      if (e.code === grpc.status.UNIMPLEMENTED) error = `${where} does not implement the gRPC health checking protocol (${HEALTH_CHECK_METHOD}: UNIMPLEMENTED)`;
      else if (e.code === grpc.status.NOT_FOUND) error = `the health service of ${where} does not know service ${JSON.stringify(this.cfg.service)} (NOT_FOUND)`;
      else if (e.code === grpc.status.DEADLINE_EXCEEDED) error = `no health check answer from ${where} before the timeout (DEADLINE_EXCEEDED)`;
      else error = `gRPC ${name} from ${where}: ${e.details.replace(/\.?\s*Resolution note:.*$/s, '').replace('Last error: Error: ', 'last error: ').slice(0, 300)}`;
    } else {
      obs.connected = true;
      const st = SERVING_STATUS[res.status ?? 0] ?? `status ${res.status}`;
      if (res.status !== 1) error = `health status ${st}${this.cfg.service ? ` for service ${JSON.stringify(this.cfg.service)}` : ''}, expected SERVING`;
    }
    return { obs, error };
  }
}

export const grpcProbeType: ProbeType<GrpcProbeConfig> = {
  type: 'grpc',
  defaultConditions: [],
  prepare: (cfg, _conditions, dir) => new GrpcProbe(cfg, dir),
};
