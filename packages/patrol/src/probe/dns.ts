// DNS probes: ask a resolver (the one given, or the system's) for one record type of the target
// name. The response code and the answers are what conditions judge; by default the probe wants
// NOERROR with at least one answer.

import { Resolver } from 'node:dns/promises';
import type { DnsProbeConfig } from '../config/probes.js';
import { joinHostPort, parseHostPort } from '../model/hostport.js';
import type { Observation } from '../model/conditions.js';
import type { PreparedProbe, ProbeType, RunContext, RunOutcome } from './types.js';

/** c-ares error codes → DNS response codes (or null when no response came back). */
const RCODES: Record<string, string | null> = {
  ENODATA: 'NOERROR',
  ENOTFOUND: 'NXDOMAIN',
  ESERVFAIL: 'SERVFAIL',
  EREFUSED: 'REFUSED',
  ENOTIMP: 'NOTIMP',
  EFORMERR: 'FORMERR',
  EBADRESP: null,
  ETIMEOUT: null,
  ECONNREFUSED: null,
  ECANCELLED: null,
};

class DnsProbe implements PreparedProbe {
  readonly host: string;
  private readonly server: string | null;

  constructor(private readonly cfg: DnsProbeConfig) {
    if (cfg.resolver !== undefined) {
      const hp = parseHostPort(cfg.resolver, 53)!;
      this.server = joinHostPort(hp.host, hp.port);
      this.host = hp.host;
    } else {
      this.server = null;
      this.host = 'system-resolver';
    }
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const t0 = performance.now();
    ctx.phase = 'DNS query';
    // A resolver per run: no cache, and its own timeout (the run's deadline still holds above it).
    const resolver = new Resolver({ timeout: this.cfg.timeout, tries: 1 });
    const obs: Observation = { durationMs: 0, now: Date.now(), answers: [] };
    const onAbort = () => resolver.cancel();
    ctx.abort.on(onAbort);
    let error: string | null = null;
    try {
      if (this.server) resolver.setServers([this.server]);
      obs.answers = await this.query(resolver);
      obs.rcode = 'NOERROR';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      const rcode = RCODES[code];
      if (rcode) obs.rcode = rcode;
      else if (code === 'ETIMEOUT') error = `DNS query timed out at ${this.server ?? 'the system resolver'}`;
      else if (code === 'ECONNREFUSED') error = `DNS server ${this.server ?? '(system)'} refused the connection`;
      else if (code === 'ECANCELLED') error = 'aborted';
      else error = `DNS query failed: ${code || (e as Error).message}`;
    } finally {
      ctx.abort.off(onAbort);
    }
    obs.durationMs = performance.now() - t0;
    ctx.samples.push({ name: 'probe_dns_lookup_time_seconds', value: obs.durationMs / 1000 });
    ctx.samples.push({ name: 'probe_dns_duration_seconds', value: obs.durationMs / 1000, labelName: 'phase', labelValue: 'request' });
    ctx.samples.push({ name: 'probe_dns_answer_rrs', value: obs.answers!.length });
    if (obs.rcode) ctx.samples.push({ name: 'probe_dns_query_succeeded', value: 1 });
    return { obs, error };
  }

  private async query(r: Resolver): Promise<string[]> {
    const name = this.cfg.target;
    switch (this.cfg.query_type) {
      case 'A':
        return r.resolve4(name);
      case 'AAAA':
        return r.resolve6(name);
      case 'CNAME':
        return (await r.resolveCname(name)).map((n) => n.replace(/\.$/, ''));
      case 'NS':
        return (await r.resolveNs(name)).map((n) => n.replace(/\.$/, ''));
      case 'MX':
        return (await r.resolveMx(name)).map((m) => `${m.priority} ${m.exchange.replace(/\.$/, '')}`);
      case 'TXT':
        return (await r.resolveTxt(name)).map((chunks) => chunks.join(''));
    }
  }
}

export const dnsProbeType: ProbeType<DnsProbeConfig> = {
  type: 'dns',
  defaultConditions: ['[DNS_RCODE] == NOERROR', '[ANSWER_COUNT] > 0'],
  prepare: (cfg) => new DnsProbe(cfg),
};
