// dns_sd_configs: look up SRV, A, AAAA, MX or NS records of each name every refresh_interval,
// one target group per name, with Prometheus's `__meta_dns_*` labels.

import { Resolver } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { DnsSDConfig } from '../config/prometheus.js';
import { RefreshDiscovery, type TargetGroup } from './discovery.js';
import { ADDRESS_LABEL, type DiscoveredTarget } from './target.js';

/** Answers that mean "this name has no such records" rather than "we could not find out". */
const EMPTY_ANSWER = new Set(['ENOTFOUND', 'ENODATA']);

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Prometheus reports record targets as fully qualified names (with the final dot). */
function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function target(name: string, address: string, meta: { srvTarget?: string; srvPort?: string; mx?: string; ns?: string }): DiscoveredTarget {
  return {
    [ADDRESS_LABEL]: address,
    __meta_dns_name: name,
    __meta_dns_srv_record_target: meta.srvTarget ?? '',
    __meta_dns_srv_record_port: meta.srvPort ?? '',
    __meta_dns_mx_record_target: meta.mx ?? '',
    __meta_dns_ns_record_target: meta.ns ?? '',
  };
}

/**
 * One dns_sd_config. A name whose lookup fails (SERVFAIL, timeout, refused) keeps its last good
 * targets; NXDOMAIN or an empty answer means it has none. `servers` (`host:port`) replaces the
 * system's DNS servers; it is not configuration, tests use it.
 */
export class DnsDiscovery extends RefreshDiscovery {
  private readonly last = new Map<string, TargetGroup>();

  constructor(
    private readonly cfg: DnsSDConfig,
    onChange: (groups: TargetGroup[]) => void,
    log?: Logger,
    private readonly servers?: string[],
  ) {
    super('dns_sd', cfg.refresh_interval, onChange, log);
  }

  protected async fetch(signal: AbortSignal): Promise<{ groups: TargetGroup[]; errors: string[] }> {
    const resolver = new Resolver({ timeout: 2000, tries: 2 });
    if (this.servers) resolver.setServers(this.servers);
    const onAbort = (): void => resolver.cancel();
    signal.addEventListener('abort', onAbort);
    const errors: string[] = [];
    try {
      const groups = await Promise.all(
        this.cfg.names.map(async (name): Promise<TargetGroup | null> => {
          try {
            const g: TargetGroup = { source: name, targets: await this.lookup(resolver, name) };
            this.last.set(name, g);
            return g;
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code ?? '';
            if (EMPTY_ANSWER.has(code)) {
              const g: TargetGroup = { source: name, targets: [] };
              this.last.set(name, g);
              return g;
            }
            errors.push(`${this.cfg.type} lookup of ${JSON.stringify(name)} failed: ${code || (e as Error).message}`);
            return this.last.get(name) ?? null;
          }
        }),
      );
      return { groups: groups.filter((g): g is TargetGroup => g !== null), errors };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async lookup(r: Resolver, name: string): Promise<DiscoveredTarget[]> {
    const port = this.cfg.port ?? 0;
    switch (this.cfg.type) {
      case 'SRV':
        return (await r.resolveSrv(name)).map((s) => target(name, hostPort(trimDot(s.name), s.port), { srvTarget: fqdn(s.name), srvPort: String(s.port) }));
      case 'A':
        return (await r.resolve4(name)).map((ip) => target(name, hostPort(ip, port), {}));
      case 'AAAA':
        return (await r.resolve6(name)).map((ip) => target(name, hostPort(ip, port), {}));
      case 'MX':
        return (await r.resolveMx(name)).map((m) => target(name, hostPort(trimDot(m.exchange), port), { mx: fqdn(m.exchange) }));
      case 'NS':
        return (await r.resolveNs(name)).map((ns) => target(name, hostPort(trimDot(ns), port), { ns: fqdn(ns) }));
    }
  }
}
