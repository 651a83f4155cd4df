// ICMP probes (ping): `count` echo requests through the system's ping program (iputils), whose
// summary gives loss and round-trip times. Node cannot open raw sockets, and ping already holds
// the privilege ICMP needs (cap_net_raw or setuid, or the kernel's unprivileged ICMP sockets via
// net.ipv4.ping_group_range); Patrol itself then needs none. Without it the run fails naming
// the privilege. Metric names: blackbox_exporter's probe_icmp_duration_seconds{phase="rtt"} and
// probe_icmp_reply_hop_limit, plus probe_icmp_packets_sent / _received, probe_icmp_packet_loss_ratio
// and probe_icmp_rtt_seconds{stat="min|avg|max|mdev"}.

import { spawn } from 'node:child_process';
import type { IcmpProbeConfig } from '../config/probes.js';
import { resolveProbeHost } from './net.js';
import type { PreparedProbe, ProbeType, RunContext, RunOutcome } from './types.js';

/** The most of ping's output kept (its summary is a few lines). */
const MAX_OUTPUT = 64 * 1024;

export const PRIVILEGE_HINT =
  'ICMP needs privilege: give the ping program cap_net_raw (setcap cap_net_raw+ep $(command -v ping)) or setuid root, run Patrol with CAP_NET_RAW, or allow unprivileged ICMP sockets for its group (sysctl net.ipv4.ping_group_range)';

export interface PingSummary {
  sent: number;
  received: number;
  rtt?: { min: number; avg: number; max: number; mdev: number };
  ttl?: number;
}

/** Reads iputils ping's summary; null when it is not there. */
export function parsePing(out: string): PingSummary | null {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  if (!m) return null;
  const s: PingSummary = { sent: Number(m[1]), received: Number(m[2]) };
  const r = /(?:rtt|round-trip) min\/avg\/max\/(?:mdev|stddev) = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(out);
  if (r) s.rtt = { min: Number(r[1]), avg: Number(r[2]), max: Number(r[3]), mdev: Number(r[4]) };
  const ttls = [...out.matchAll(/\bttl=(\d+)/g)];
  if (ttls.length > 0) s.ttl = Number(ttls[ttls.length - 1][1]);
  return s;
}

class IcmpProbe implements PreparedProbe {
  readonly host: string;

  constructor(private readonly cfg: IcmpProbeConfig) {
    this.host = cfg.target;
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const start = await resolveProbeHost(ctx, this.host, this.cfg);
    if ('outcome' in start) return start.outcome;
    const { resolved: r, obs } = start;
    ctx.phase = 'ping';
    const count = this.cfg.count;
    // Ends by itself before the probe's timeout when it can (-w is in whole seconds).
    const deadline = Math.max(1, Math.floor(this.cfg.timeout / 1000));
    const args = ['-n', `-${r.family}`, '-c', String(count), '-i', '0.2', '-w', String(deadline), r.address];
    const res = await new Promise<{ code: number | null; out: string; err: string; spawnError?: NodeJS.ErrnoException }>((resolve) => {
      let out = '';
      let err = '';
      let done = false;
      const finish = (v: { code: number | null; spawnError?: NodeJS.ErrnoException }) => {
        if (done) return;
        done = true;
        ctx.abort.off(onAbort);
        resolve({ ...v, out, err });
      };
      const child = spawn(this.cfg.ping_command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
      const onAbort = () => {
        child.kill('SIGKILL');
        finish({ code: null });
      };
      ctx.abort.on(onAbort);
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', (c: string) => {
        if (out.length < MAX_OUTPUT) out += c;
      });
      child.stderr.on('data', (c: string) => {
        if (err.length < MAX_OUTPUT) err += c;
      });
      child.on('error', (e: NodeJS.ErrnoException) => finish({ code: null, spawnError: e }));
      child.on('close', (code) => finish({ code }));
    });
    if (res.spawnError) {
      const e = res.spawnError;
      const error =
        e.code === 'ENOENT'
          ? `the ping program ${JSON.stringify(this.cfg.ping_command)} is not installed or not on PATH (Debian: apt-get install iputils-ping)`
          : e.code === 'EACCES'
            ? `the ping program ${JSON.stringify(this.cfg.ping_command)} cannot be run: permission denied`
            : `cannot run ${JSON.stringify(this.cfg.ping_command)}: ${e.message}`;
      return { obs, error };
    }
    if (ctx.abort.aborted) return { obs, error: 'aborted' };
    const s = parsePing(res.out);
    if (!s) {
      const text = (res.err || res.out).trim();
      if (/operation not permitted|permission denied|cap_net_raw|lacking privilege|socket:/i.test(text)) return { obs, error: `ping ${r.address}: ${PRIVILEGE_HINT} (ping said: ${lastLine(text)})` };
      return { obs, error: `ping ${r.address} failed (exit ${res.code}): ${lastLine(text) || 'no output'}` };
    }
    obs.connected = s.received > 0;
    const loss = s.sent > 0 ? (s.sent - s.received) / s.sent : 1;
    ctx.samples.push({ name: 'probe_icmp_packets_sent', value: s.sent });
    ctx.samples.push({ name: 'probe_icmp_packets_received', value: s.received });
    ctx.samples.push({ name: 'probe_icmp_packet_loss_ratio', value: loss });
    if (s.rtt) {
      obs.durationMs = s.rtt.avg;
      ctx.samples.push({ name: 'probe_icmp_duration_seconds', value: s.rtt.avg / 1000, labelName: 'phase', labelValue: 'rtt' });
      for (const k of ['min', 'avg', 'max', 'mdev'] as const) ctx.samples.push({ name: 'probe_icmp_rtt_seconds', value: s.rtt[k] / 1000, labelName: 'stat', labelValue: k });
    }
    if (s.ttl !== undefined) ctx.samples.push({ name: 'probe_icmp_reply_hop_limit', value: s.ttl });
    if (s.received === 0) return { obs, error: `no echo reply from ${r.address} (${s.sent} sent, 100% loss)` };
    const lossPct = loss * 100;
    if (lossPct > this.cfg.max_loss_percent) return { obs, error: `${Math.round(lossPct)}% packet loss to ${r.address} (${s.received} of ${s.sent} replies), above max_loss_percent ${this.cfg.max_loss_percent}` };
    return { obs, error: null };
  }
}

function lastLine(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim() !== '');
  return (lines[lines.length - 1] ?? '').slice(0, 200);
}

export const icmpProbeType: ProbeType<IcmpProbeConfig> = {
  type: 'icmp',
  defaultConditions: [],
  prepare: (cfg) => new IcmpProbe(cfg),
};
