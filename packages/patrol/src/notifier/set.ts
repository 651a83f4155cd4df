// One entry of `alerting.alertmanagers`: its discovery (static, file, http and DNS, the scrape
// code's providers), the relabelling of discovered targets into Alertmanager URLs, one HTTP
// client for all of them, its own alert_relabel_configs, and one AlertmanagerClient (queue) per
// Alertmanager. Prometheus's alertmanagerSet (notifier/alertmanagerset.go), rewritten.

import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { AlertSink, PostableAlert } from '../model/alert.js';
import { labelsFromRecord, labelsToRecord, type Labels } from '../model/labels.js';
import { FileDiscovery, type Discoverer, type TargetGroup } from '../scrape/discovery.js';
import { DnsDiscovery } from '../scrape/discovery_dns.js';
import { HttpDiscovery } from '../scrape/discovery_http.js';
import { clientDispatcher, RequestHeaders } from '../scrape/httpclient.js';
import { compileRelabel, relabel, type CompiledRelabel } from '../scrape/relabel.js';
import { ADDRESS_LABEL, SCHEME_LABEL } from '../scrape/target.js';
import { AlertmanagerClient, USER_AGENT, type QueueSettings, type Transport } from './client.js';
import { relabelAlerts } from './convert.js';
import type { NotifierMetrics } from './metrics.js';

export type AlertmanagerConfig = Config['alerting']['alertmanagers'][number];

/** The label holding the path alerts are posted to (Prometheus's __alerts_path__). */
export const ALERTS_PATH_LABEL = '__alerts_path__';

/** Prometheus's postPath: path.Join("/", path_prefix, "/api/v2/alerts"), cleaned. */
export function alertsPath(pathPrefix: string): string {
  return posix.join('/', pathPrefix, '/api/v2/alerts');
}

/** The URL of an Alertmanager from its (relabelled) labels. */
export function alertmanagerURL(ls: Labels): string {
  const rec = labelsToRecord(ls);
  return `${rec[SCHEME_LABEL] ?? 'http'}://${rec[ADDRESS_LABEL] ?? ''}${rec[ALERTS_PATH_LABEL] ?? ''}`;
}

export interface TargetResult {
  active: string[];
  /** URLs of the targets relabel_configs dropped, from their labels before relabelling. */
  dropped: string[];
  errors: string[];
}

/**
 * Prometheus's AlertmanagerFromGroup: each discovered target gets __scheme__ and __alerts_path__
 * from the config (a group's labels under the target's own), then relabel_configs; a target
 * whose address holds a '/' is an error.
 */
export function alertmanagersFromGroups(groups: readonly TargetGroup[], cfg: AlertmanagerConfig, steps: readonly CompiledRelabel[]): TargetResult {
  const out: TargetResult = { active: [], dropped: [], errors: [] };
  const seen = new Set<string>();
  for (const g of groups) {
    for (const t of g.targets) {
      const rec: Record<string, string> = { ...t, [SCHEME_LABEL]: cfg.scheme, [ALERTS_PATH_LABEL]: alertsPath(cfg.path_prefix) };
      const pre = labelsFromRecord(rec);
      const ls = relabel(pre, steps);
      if (ls === null) {
        out.dropped.push(alertmanagerURL(pre));
        continue;
      }
      const addr = labelsToRecord(ls)[ADDRESS_LABEL] ?? '';
      if (addr === '' || addr.includes('/')) {
        out.errors.push(`${g.source}: ${JSON.stringify(addr)} is not a valid hostname`);
        continue;
      }
      const url = alertmanagerURL(ls);
      if (seen.has(url)) continue;
      seen.add(url);
      out.active.push(url);
    }
  }
  return out;
}

export interface SetDeps {
  metrics: NotifierMetrics;
  log: Logger;
  queue: QueueSettings;
}

export class AlertmanagerSet implements AlertSink {
  private readonly transport: Transport;
  private readonly targetRelabel: CompiledRelabel[];
  private readonly alertRelabel: CompiledRelabel[];
  private readonly groups = new Map<string, TargetGroup[]>();
  private discoverers: Discoverer[] = [];
  private clients = new Map<string, AlertmanagerClient>();
  private droppedURLs: string[] = [];
  private stopped = false;

  /** Builds the HTTP client; throws naming a TLS file that cannot be read or a bad regex. */
  constructor(
    /** config-<index>, as Prometheus names the sets. */
    readonly name: string,
    /** Identity: the same key after a reload keeps this set (and its queues) running. */
    readonly key: string,
    private readonly cfg: AlertmanagerConfig,
    private readonly dir: string,
    private readonly deps: SetDeps,
  ) {
    this.targetRelabel = compileRelabel(cfg.relabel_configs);
    this.alertRelabel = compileRelabel(cfg.alert_relabel_configs);
    this.transport = { dispatcher: clientDispatcher(cfg, dir), headers: new RequestHeaders(cfg, dir, USER_AGENT), timeoutMs: cfg.timeout };
  }

  /** Starts discovery; resolves once every provider has answered (or waited its bound). */
  async start(): Promise<void> {
    const update = (key: string) => (groups: TargetGroup[]) => {
      this.groups.set(key, groups);
      this.sync();
    };
    this.groups.set(
      'static',
      this.cfg.static_configs.map((s, i) => ({ source: `static/${i}`, targets: s.targets.map((t) => ({ ...s.labels, [ADDRESS_LABEL]: t })) })),
    );
    const log = this.deps.log;
    const ds: Discoverer[] = [];
    this.cfg.file_sd_configs.forEach((f, i) => ds.push(new FileDiscovery(f.files, f.refresh_interval, this.dir, update(`file/${i}`), log)));
    (this.cfg.http_sd_configs ?? []).forEach((h, i) => ds.push(new HttpDiscovery(h, this.dir, update(`http/${i}`), log)));
    (this.cfg.dns_sd_configs ?? []).forEach((c, i) => ds.push(new DnsDiscovery(c, update(`dns/${i}`), log)));
    this.discoverers = ds;
    await Promise.all(ds.map((d) => d.start()));
    this.sync();
  }

  /** Rebuilds the Alertmanager list from the discovered groups; unchanged ones keep their queue. */
  private sync(): void {
    if (this.stopped) return;
    const r = alertmanagersFromGroups([...this.groups.values()].flat(), this.cfg, this.targetRelabel);
    for (const e of r.errors) this.deps.log.warn({ set: this.name, err: e }, 'invalid Alertmanager target');
    const next = new Map<string, AlertmanagerClient>();
    for (const url of r.active) next.set(url, this.clients.get(url) ?? new AlertmanagerClient(url, this.transport, this.deps.queue, this.deps.metrics, this.deps.log));
    for (const [url, c] of this.clients) if (!next.has(url)) void c.stop();
    this.clients = next;
    this.droppedURLs = r.dropped;
  }

  get active(): string[] {
    return [...this.clients.keys()];
  }

  get dropped(): string[] {
    return this.droppedURLs;
  }

  /** The set's alert_relabel_configs, then every Alertmanager's queue. */
  send(alerts: readonly PostableAlert[]): void {
    if (this.stopped || this.clients.size === 0) return;
    const mine = this.alertRelabel.length > 0 ? relabelAlerts(alerts, {}, this.alertRelabel) : alerts;
    if (mine.length === 0) return;
    for (const c of this.clients.values()) c.send(mine);
  }

  /** Queue lengths by Alertmanager URL (tests, status). */
  queueLengths(): Map<string, number> {
    return new Map([...this.clients].map(([u, c]) => [u, c.queueLength]));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const d of this.discoverers) d.stop();
    this.discoverers = [];
    await Promise.all([...this.clients.values()].map((c) => c.stop()));
    this.clients.clear();
    await this.transport.headers.close();
    await this.transport.dispatcher.close().catch(() => undefined);
  }
}
