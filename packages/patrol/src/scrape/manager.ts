// The scrape manager: one pool per scrape_configs job. A pool merges what its discovery
// providers report, turns it into targets (relabel_configs), and runs one loop per target.
// Reloads keep loops of unchanged targets (their series continue without staleness) and mark
// the series of removed targets stale.

import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Component, ConfigContext, Runtime } from '../component.js';
import type { ScrapeConfig } from '../config/prometheus.js';
import type { Config } from '../config/schema.js';
import type { Labels } from '../model/labels.js';
import { compareLabels } from '../model/labels.js';
import type { Storage } from '../storage/interface.js';
import { ScrapeClient } from './client.js';
import { DiscoveryStats, FileDiscovery, staticGroups, type Discoverer, type TargetGroup } from './discovery.js';
import { DnsDiscovery } from './discovery_dns.js';
import { HttpDiscovery } from './discovery_http.js';
import { connectOptions } from './httpclient.js';
import { ScrapeLoop, ScrapeSampleCounts, type LoopOptions } from './loop.js';
import type { MetricMeta } from '../textparse/parser.js';
import { compileRelabel, type CompiledRelabel } from './relabel.js';
import { populateLabels, Target } from './target.js';

interface PoolSettings {
  client: ScrapeClient;
  relabel: CompiledRelabel[];
  loop: LoopOptions;
}

/** Validates and builds everything a pool needs from its config; throws naming the problem. */
function prepare(cfg: ScrapeConfig, dir: string): PoolSettings {
  let relabel: CompiledRelabel[];
  let metricRelabel: CompiledRelabel[];
  try {
    relabel = compileRelabel(cfg.relabel_configs);
    metricRelabel = compileRelabel(cfg.metric_relabel_configs);
  } catch (e) {
    throw new Error(`job ${cfg.job_name}: ${(e as Error).message}`);
  }
  let client: ScrapeClient;
  try {
    client = new ScrapeClient(cfg, dir);
  } catch (e) {
    throw new Error(`job ${cfg.job_name}: ${(e as Error).message}`);
  }
  for (const [i, h] of cfg.http_sd_configs.entries()) {
    try {
      connectOptions(h, dir);
      if (h.oauth2) connectOptions(h.oauth2, dir);
    } catch (e) {
      void client.close();
      throw new Error(`job ${cfg.job_name}: http_sd_configs[${i}]: ${(e as Error).message}`);
    }
  }
  return {
    client,
    relabel,
    loop: {
      honorLabels: cfg.honor_labels,
      honorTimestamps: cfg.honor_timestamps,
      trackTimestampsStaleness: cfg.track_timestamps_staleness,
      sampleLimit: cfg.sample_limit,
      labelLimit: cfg.label_limit,
      labelNameLengthLimit: cfg.label_name_length_limit,
      labelValueLengthLimit: cfg.label_value_length_limit,
      metricRelabel,
    },
  };
}

/** Internal settings that are not configuration (tests point DNS discovery at a local server). */
export interface ScrapeOptions {
  /** DNS servers (`host:port`) for dns_sd_configs instead of the system's. */
  dnsServers?: string[];
}

/** A discovery provider that failed its last refresh (its last good targets are still used). */
export interface DiscoveryError {
  pool: string;
  /** e.g. `http_sd_configs[0]` */
  provider: string;
  error: string;
}

export interface DroppedTarget {
  scrapePool: string;
  discoveredLabels: Labels;
}

export class ScrapePool {
  private readonly loops = new Map<string, ScrapeLoop>();
  private dropped: DroppedTarget[] = [];
  /** All dropped targets, also those beyond keep_dropped_targets. */
  droppedCount = 0;
  /** Targets over target_limit: listed as active, never scraped. */
  private unscraped: Target[] = [];
  private readonly groups = new Map<string, TargetGroup[]>();
  private discoverers: { provider: string; d: Discoverer }[] = [];
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private cfg: ScrapeConfig,
    private settings: PoolSettings,
    private dir: string,
    private readonly storage: Storage,
    private readonly log?: Logger,
    private readonly opts: ScrapeOptions = {},
    private readonly stats?: DiscoveryStats,
    private readonly sampleCounts?: ScrapeSampleCounts,
  ) {}

  get name(): string {
    return this.cfg.job_name;
  }

  get config(): ScrapeConfig {
    return this.cfg;
  }

  async start(): Promise<void> {
    this.groups.set('static', staticGroups(this.cfg));
    const update = (key: string) => (groups: TargetGroup[]) => {
      this.groups.set(key, groups);
      this.requestSync();
    };
    const ds: { provider: string; d: Discoverer }[] = [];
    this.cfg.file_sd_configs.forEach((f, i) => ds.push({ provider: `file_sd_configs[${i}]`, d: new FileDiscovery(f.files, f.refresh_interval, this.dir, update(`file/${i}`), this.log) }));
    this.cfg.http_sd_configs.forEach((h, i) => ds.push({ provider: `http_sd_configs[${i}]`, d: new HttpDiscovery(h, this.dir, update(`http/${i}`), this.log) }));
    this.cfg.dns_sd_configs.forEach((c, i) => ds.push({ provider: `dns_sd_configs[${i}]`, d: new DnsDiscovery(c, update(`dns/${i}`), this.log, this.opts.dnsServers) }));
    for (const x of ds) x.d.stats = this.stats;
    this.discoverers = ds;
    await Promise.all(ds.map((x) => x.d.start()));
    this.requestSync();
    await this.chain;
  }

  /** Applies a changed config of the same job; targets that keep their identity keep their loop. */
  async update(cfg: ScrapeConfig, settings: PoolSettings, dir: string): Promise<void> {
    const old = this.settings;
    for (const x of this.discoverers) x.d.stop();
    this.discoverers = [];
    this.groups.clear();
    this.cfg = cfg;
    this.settings = settings;
    this.dir = dir;
    for (const l of this.loops.values()) l.reconfigure(settings.client, settings.loop);
    await this.start();
    await old.client.close();
  }

  private requestSync(): void {
    this.chain = this.chain.then(
      () => this.sync(),
      () => this.sync(),
    );
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    const next = new Map<string, Target>();
    const dropped: DroppedTarget[] = [];
    let droppedCount = 0;
    for (const groups of this.groups.values()) {
      for (const g of groups) {
        for (const d of g.targets) {
          const r = populateLabels(d, this.cfg, this.settings.relabel);
          if (r.error) {
            this.log?.warn({ job: this.cfg.job_name, source: g.source, error: r.error }, 'invalid target');
            continue;
          }
          if (!r.labels) {
            droppedCount++;
            if (this.cfg.keep_dropped_targets === 0 || dropped.length < this.cfg.keep_dropped_targets) dropped.push({ scrapePool: this.cfg.job_name, discoveredLabels: r.discovered });
            continue;
          }
          const t = new Target(r.discovered, r.labels, this.cfg);
          if (!next.has(t.key)) next.set(t.key, t);
        }
      }
    }
    this.dropped = dropped;
    this.droppedCount = droppedCount;
    const limit = this.cfg.target_limit;
    if (limit > 0 && next.size > limit) {
      for (const [k, l] of this.loops) {
        this.loops.delete(k);
        await l.stop(true);
      }
      this.unscraped = [...next.values()];
      for (const t of this.unscraped) {
        t.health = 'down';
        t.lastError = `target_limit exceeded (number of targets: ${next.size}, limit: ${limit})`;
      }
      return;
    }
    this.unscraped = [];
    const gone: ScrapeLoop[] = [];
    for (const [k, l] of this.loops) {
      if (!next.has(k)) {
        this.loops.delete(k);
        gone.push(l);
      }
    }
    for (const [k, t] of next) {
      if (this.loops.has(k)) continue;
      const loop = new ScrapeLoop(t, this.settings.client, this.settings.loop, this.storage, this.log, this.sampleCounts);
      this.loops.set(k, loop);
      loop.start();
    }
    await Promise.all(gone.map((l) => l.stop(true)));
  }

  /** Targets the providers report, before relabelling. */
  discoveredCount(): number {
    let n = 0;
    for (const groups of this.groups.values()) for (const g of groups) n += g.targets.length;
    return n;
  }

  /** Providers whose last refresh failed, with the error. */
  discoveryErrors(): DiscoveryError[] {
    return this.discoverers.filter((x) => x.d.lastError !== '').map((x) => ({ pool: this.cfg.job_name, provider: x.provider, error: x.d.lastError }));
  }

  activeTargets(): Target[] {
    return [...[...this.loops.values()].map((l) => l.target), ...this.unscraped];
  }

  droppedTargets(): DroppedTarget[] {
    return this.dropped;
  }

  loopsList(): ScrapeLoop[] {
    return [...this.loops.values()];
  }

  /** Stops every loop; with `stale`, their series are marked stale (job removed or shutdown). */
  async stop(stale: boolean): Promise<void> {
    this.stopped = true;
    for (const x of this.discoverers) x.d.stop();
    await this.chain;
    await Promise.all([...this.loops.values()].map((l) => l.stop(stale)));
    this.loops.clear();
    await this.settings.client.close();
  }
}

export interface TargetMetadata {
  target: Labels;
  metric: string;
  meta: MetricMeta;
}

/** Runs scrape_configs. Construct with the Runtime; register in the server's component list. */
export class ScrapeManager implements Component {
  readonly name = 'scrape';
  private readonly pools = new Map<string, ScrapePool>();
  /** Discovery refreshes and failures per mechanism since start. */
  readonly discoveryStats = new DiscoveryStats();
  /** Scraped samples that were not stored, by reason (patrol_target_scrapes_sample_*_total). */
  readonly sampleCounts = new ScrapeSampleCounts();

  /** With a registry in `rt`, registers the patrol_sd_* self-metrics there. */
  constructor(
    private readonly rt: Pick<Runtime, 'storage' | 'logger'> & Partial<Pick<Runtime, 'registry'>>,
    private readonly opts: ScrapeOptions = {},
  ) {
    if (rt.registry) registerDiscoveryMetrics(rt.registry, this);
  }

  async applyConfig(cfg: Config, ctx: ConfigContext): Promise<void> {
    // Build everything first so a bad job (unreadable TLS file, bad regex) fails the reload
    // before anything changes.
    const prepared = new Map<string, { cfg: ScrapeConfig; settings: PoolSettings }>();
    try {
      for (const c of cfg.scrape_configs) prepared.set(c.job_name, { cfg: c, settings: prepare(c, ctx.dir) });
    } catch (e) {
      await Promise.all([...prepared.values()].map((p) => p.settings.client.close()));
      throw e;
    }
    for (const [name, pool] of this.pools) {
      if (!prepared.has(name)) {
        this.pools.delete(name);
        await pool.stop(true);
      }
    }
    for (const [name, p] of prepared) {
      const pool = this.pools.get(name);
      if (!pool) {
        const np = new ScrapePool(p.cfg, p.settings, ctx.dir, this.rt.storage, this.rt.logger, this.opts, this.discoveryStats, this.sampleCounts);
        this.pools.set(name, np);
        await np.start();
      } else if (JSON.stringify(pool.config) !== JSON.stringify(p.cfg)) {
        await pool.update(p.cfg, p.settings, ctx.dir);
      } else {
        await p.settings.client.close();
      }
    }
  }

  async stop(): Promise<void> {
    // At shutdown the series are not marked stale: Patrol will scrape them again after restart.
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.stop(false)));
  }

  /** Active targets, by pool name then labels. */
  activeTargets(): { pool: string; target: Target }[] {
    const out: { pool: string; target: Target }[] = [];
    for (const name of [...this.pools.keys()].sort()) {
      const ts = this.pools.get(name)!.activeTargets().sort((a, b) => compareLabels(a.labels, b.labels));
      for (const target of ts) out.push({ pool: name, target });
    }
    return out;
  }

  /** Discovery providers whose last refresh failed, by pool (for the API and `patrol check`). */
  discoveryErrors(): DiscoveryError[] {
    return this.poolNames().flatMap((n) => this.pools.get(n)!.discoveryErrors());
  }

  droppedTargets(): DroppedTarget[] {
    return [...this.pools.keys()].sort().flatMap((n) => this.pools.get(n)!.droppedTargets());
  }

  /** Dropped targets per pool, counting those not kept (keep_dropped_targets). */
  droppedTargetCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.poolNames()) out[n] = this.pools.get(n)!.droppedCount;
    return out;
  }

  /** Discovered targets (before relabelling) per pool. */
  discoveredTargetCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.poolNames()) out[n] = this.pools.get(n)!.discoveredCount();
    return out;
  }

  poolNames(): string[] {
    return [...this.pools.keys()].sort();
  }

  /** For /api/v1/metadata: metric family name → distinct metadata seen across targets. */
  metadata(): Map<string, MetricMeta[]> {
    const out = new Map<string, MetricMeta[]>();
    const seen = new Set<string>();
    for (const pool of this.pools.values()) {
      for (const loop of pool.loopsList()) {
        for (const [name, m] of loop.metadata) {
          const k = `${name}\xff${m.type}\xff${m.help}\xff${m.unit}`;
          if (seen.has(k)) continue;
          seen.add(k);
          const list = out.get(name) ?? [];
          list.push(m);
          out.set(name, list);
        }
      }
    }
    return out;
  }

  /** For /api/v1/targets/metadata: metadata per target from its last successful scrape. */
  targetMetadata(): TargetMetadata[] {
    const out: TargetMetadata[] = [];
    for (const name of this.poolNames()) {
      for (const loop of this.pools.get(name)!.loopsList()) {
        for (const [metric, meta] of loop.metadata) out.push({ target: loop.target.publicLabels, metric, meta });
      }
    }
    return out;
  }
}

function registerDiscoveryMetrics(registry: Registry, m: ScrapeManager): void {
  // A second manager on the same registry (tests) is not registered again.
  if (registry.getSingleMetric('patrol_sd_refreshes_total')) return;
  new Counter({
    name: 'patrol_sd_refreshes_total',
    help: 'Service discovery refreshes by mechanism (file_sd, http_sd, dns_sd).',
    labelNames: ['mechanism'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [k, v] of m.discoveryStats.refreshes) this.inc({ mechanism: k }, v);
    },
  });
  new Counter({
    name: 'patrol_sd_refresh_failures_total',
    help: 'Service discovery refreshes that failed in whole or in part, by mechanism; the last good targets were kept.',
    labelNames: ['mechanism'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [k, v] of m.discoveryStats.failures) this.inc({ mechanism: k }, v);
    },
  });
  const skipped: [string, string, keyof ScrapeSampleCounts][] = [
    ['patrol_target_scrapes_sample_out_of_bounds_total', 'Scraped samples not stored because their timestamp is older than the retention or more than storage.max_future ahead of the clock.', 'outOfBounds'],
    ['patrol_target_scrapes_sample_duplicate_timestamp_total', 'Scraped samples not stored because the scrape had the same series and timestamp before (the first value is kept).', 'duplicateTimestamp'],
    ['patrol_target_scrapes_sample_out_of_order_total', 'Scraped samples not stored because they are older than the newest stored sample of the series.', 'outOfOrder'],
  ];
  for (const [name, help, key] of skipped) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(m.sampleCounts[key]);
      },
    });
  }
  new Gauge({
    name: 'patrol_sd_discovered_targets',
    help: 'Targets reported by service discovery per scrape job, before relabelling.',
    labelNames: ['job'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [k, v] of Object.entries(m.discoveredTargetCounts())) this.set({ job: k }, v);
    },
  });
}
