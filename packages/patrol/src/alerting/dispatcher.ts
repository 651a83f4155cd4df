// The alert dispatcher: Patrol's in-process Alertmanager. It takes alerts (AlertSink for the
// rules, post() for the API), keeps them in the store, routes each through the route tree into
// aggregation groups, and flushes groups through the notification pipeline. Configuration is
// the `alerting:` section; a reload rebuilds routes, receivers and groups (the notification log
// survives, so nothing already notified is sent again before its time).

import type { Logger } from 'pino';
import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import type { Component, ConfigContext, PreparedConfig } from '../component.js';
import type { AlertingConfig } from '../config/alertmanager.js';
import type { Config } from '../config/schema.js';
import type { AlertSink, PostableAlert } from '../model/alert.js';
import '../notify/integrations.js';
import { buildIntegrations, type Integration } from '../notify/notifier.js';
import { NotifyTemplates } from '../notify/tmpl.js';
import { labelSetString, resolvedAt, type Alert } from '../model/alert.js';
import { AggregationGroup } from './group.js';
import { Inhibitor } from './inhibit.js';
import { alertingMetrics, nflogMetrics, silencesMetrics, type AlertingMetrics } from './metrics.js';
import { MemoryNotificationLog, type NotificationLog } from './nflog.js';
import { TurnPacer } from './pacer.js';
import { Pipeline, type Muter, type PipelineHooks, type Receiver, type TimeMuter } from './pipeline.js';
import { alertFromPostable } from './postable.js';
import { Route } from './route.js';
import { MemorySilenceStore, Silences, type SilenceStore } from './silences.js';
import type { SqliteAlertingState } from './state_sqlite.js';
import { AlertStore } from './store.js';
import { TimeIntervals } from './timeinterval.js';

/** Flushes started per turn of the event loop (pacer.ts): 100 at once held ~3 MB more than 4 at a time. */
const FLUSHES_PER_TURN = 4;

export interface DispatcherOptions {
  logger: Logger;
  registry?: Registry;
  nflog?: NotificationLog;
  /** The URL in notifications when server.external_url is unset (read at each reload). */
  defaultExternalURL?: () => string;
  /** How often resolved alerts and expired log entries are dropped (Alertmanager: 30m). */
  gcInterval?: number;
  /** How often empty aggregation groups are removed (Alertmanager: 30s). */
  cleanupInterval?: number;
  /** Retry backoff (ms); Alertmanager's 500ms ×1.5 up to 60s by default. */
  backoff?: { initial: number; max: number };
  /** Where silences are kept; in memory by default. */
  silenceStore?: SilenceStore;
  /**
   * Durable notification log and alerts (alerting.db in the data directory): both are loaded
   * at start, and the groups of restored alerts resume their timers. Replaces `nflog`.
   */
  state?: SqliteAlertingState;
  /**
   * The outcome of the last configuration reload and when one last succeeded (ms), for
   * alertmanager_config_last_reload_*; without it, the dispatcher's own last commit.
   */
  reloadStatus?: () => { reloadOk: boolean; reloadTime: number };
}

export interface AlertGroupView {
  labels: Readonly<Record<string, string>>;
  receiver: string;
  alerts: Alert[];
}

/** Silences and inhibition plug in here (and answer the API's status questions). */
export interface AlertMuters {
  inhibitor?: Muter & { inhibitedBy(a: Alert, now: number): string[] };
  silencer?: Muter & { silencedBy(a: Alert, now: number): string[] };
  timeMuter?: TimeMuter;
}

interface Built {
  alerting: AlertingConfig;
  route: Route | null;
  receivers: Map<string, Receiver>;
  externalURL: string;
  resolveTimeout: number;
  baseDir: string;
  timeIntervals: TimeIntervals;
  /** alertmanager_config_hash: of the `alerting:` section as parsed. */
  hash: number;
  /** When it was committed (ms). */
  appliedAt: number;
}

export class AlertDispatcher implements AlertSink, Component {
  readonly name = 'alerting';
  readonly store: AlertStore;
  readonly nflog: NotificationLog;
  readonly metrics: AlertingMetrics;
  readonly silences: Silences;
  private built: Built | null = null;
  private pipeline: Pipeline | null = null;
  private groups = new Map<Route, Map<string, AggregationGroup>>();
  private muters: AlertMuters = {};
  private inhibitor: Inhibitor | null = null;
  private hooks: PipelineHooks | undefined;
  private readonly log: Logger;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;
  /** True until the first configuration is applied after restoring state: groups then resume their timers. */
  private resuming: boolean;
  /** Flushes run so far (every group, whether or not anything was sent). */
  flushes = 0;
  private readonly pacer = new TurnPacer(FLUSHES_PER_TURN);

  constructor(private readonly o: DispatcherOptions) {
    this.log = o.logger;
    this.store = new AlertStore(Date.now, o.state);
    this.nflog = o.state ?? o.nflog ?? new MemoryNotificationLog();
    this.resuming = !!o.state;
    if (o.state) {
      const restored = o.state.loadAlerts();
      this.store.restore(restored);
      if (restored.length > 0) this.log.info({ alerts: restored.length, nflogEntries: o.state.size }, 'alerts and notification log restored');
    }
    this.silences = new Silences(o.silenceStore ?? new MemorySilenceStore());
    this.muters = { silencer: this.silences };
    const registry = o.registry ?? new Registry();
    this.metrics = alertingMetrics(registry, {
      alerts: () => this.countByState(),
      aggregationGroups: () => {
        let n = 0;
        for (const m of this.groups.values()) n += m.size;
        return n;
      },
      configured: () => this.configured(),
      config: () => (this.built ? { hash: this.built.hash, ...(o.reloadStatus?.() ?? { reloadOk: true, reloadTime: this.built.appliedAt }) } : undefined),
    });
    silencesMetrics(registry, this.silences);
    if (o.state) nflogMetrics(registry, o.state);
    this.store.subscribe((a) => this.process(a));
    this.timers.push(setInterval(() => this.gc(), o.gcInterval ?? 30 * 60_000));
    this.timers.push(setInterval(() => this.cleanup(), o.cleanupInterval ?? 30_000));
    for (const t of this.timers) t.unref();
  }

  /** A time muter (silences and inhibition are the dispatcher's own); takes effect from the next flush. */
  setMuters(m: Pick<AlertMuters, 'timeMuter'>): void {
    this.muters = { ...this.muters, ...m };
    if (this.built) this.pipeline = this.newPipeline(this.built);
  }

  /** Patrol's pipeline hooks (escalation.ts); take effect from the next flush. */
  setHooks(h: PipelineHooks | undefined): void {
    this.hooks = h;
    if (this.built) this.pipeline = this.newPipeline(this.built);
  }

  /** A configured receiver (escalation and digests send through its integrations). */
  receiver(name: string): Receiver | undefined {
    return this.built?.receivers.get(name);
  }

  get config(): AlertingConfig | null {
    return this.built?.alerting ?? null;
  }

  get route(): Route | null {
    return this.built?.route ?? null;
  }

  get receiverNames(): string[] {
    return this.built ? this.built.alerting.receivers.map((r) => r.name) : [];
  }

  get externalURL(): string {
    return this.built?.externalURL ?? this.o.defaultExternalURL?.() ?? '';
  }

  /** AlertSink: alerts from Patrol's own rules. Invalid ones are counted and dropped. */
  send(alerts: readonly PostableAlert[]): void {
    const errors = this.post(alerts);
    if (errors.length > 0) this.log.warn({ errors: errors.slice(0, 5), count: errors.length }, 'invalid alerts dropped');
  }

  /**
   * Stores the valid alerts and returns the messages for the invalid ones (Alertmanager's
   * best effort: valid alerts are kept even when others fail).
   */
  post(alerts: readonly PostableAlert[]): string[] {
    const now = Date.now();
    const resolveTimeout = this.built?.resolveTimeout ?? 5 * 60_000;
    const valid: Alert[] = [];
    const errors: string[] = [];
    for (const p of alerts) {
      const a = alertFromPostable(p, now, resolveTimeout);
      if (typeof a === 'string') {
        errors.push(a);
        this.metrics.invalid.inc();
        continue;
      }
      this.metrics.received.inc({ status: resolvedAt(a, now) ? 'resolved' : 'firing' });
      valid.push(a);
    }
    this.store.put(valid);
    return errors;
  }

  /** The receivers an alert routes to, in route order (with repeats, as Alertmanager lists them). */
  receiversOf(labels: Readonly<Record<string, string>>): string[] {
    return this.route ? this.route.match(labels).map((r) => r.opts.receiver) : [];
  }

  /** Why an alert is muted now: silence ids and inhibiting fingerprints. */
  status(a: Alert, now = Date.now()): { silencedBy: string[]; inhibitedBy: string[]; state: 'active' | 'suppressed' } {
    const inhibitedBy = this.muters.inhibitor?.inhibitedBy(a, now) ?? [];
    const silencedBy = this.muters.silencer?.silencedBy(a, now) ?? [];
    return { silencedBy, inhibitedBy, state: silencedBy.length + inhibitedBy.length > 0 ? 'suppressed' : 'active' };
  }

  /** The aggregation groups with alerts, in route order. */
  groupList(): AlertGroupView[] {
    const out: AlertGroupView[] = [];
    if (!this.route) return out;
    for (const r of this.route.walk()) {
      for (const g of this.groups.get(r)?.values() ?? []) {
        if (g.empty) continue;
        out.push({ labels: g.labels, receiver: r.opts.receiver, alerts: [...g.alerts.values()] });
      }
    }
    return out;
  }

  /** Resolves when no group is flushing (tests). */
  async idle(): Promise<void> {
    for (const m of this.groups.values()) for (const g of m.values()) await g.idle();
  }

  prepareConfig(cfg: Config, ctx: ConfigContext): PreparedConfig {
    const a = cfg.alerting;
    // Before any integration is made: a bad interval rejects the configuration (the old one stays).
    const timeIntervals = new TimeIntervals([...a.time_intervals, ...a.mute_time_intervals]);
    const receivers = new Map<string, Receiver>();
    const made: Integration[] = [];
    try {
      const templates = new NotifyTemplates(a.templates, ctx.dir, a.global?.time_zone);
      for (const r of a.receivers) {
        const { integrations, unsupported } = buildIntegrations(r, { global: a.global, baseDir: ctx.dir, templates, logger: this.log.child({ receiver: r.name }) });
        made.push(...integrations);
        if (unsupported.length > 0) this.log.warn({ receiver: r.name, integrations: unsupported }, 'these integrations are not built yet; nothing is sent through them');
        receivers.set(r.name, { name: r.name, integrations });
      }
    } catch (e) {
      void closeAll(made);
      throw e;
    }
    const built: Built = {
      alerting: a,
      route: a.route ? new Route(a.route) : null,
      receivers,
      externalURL: cfg.server.external_url ?? this.o.defaultExternalURL?.() ?? '',
      resolveTimeout: a.global?.resolve_timeout ?? 5 * 60_000,
      baseDir: ctx.dir,
      timeIntervals,
      hash: configHash(a),
      appliedAt: 0,
    };
    return {
      commit: () => this.switchTo(built),
      discard: () => closeAll(made),
    };
  }

  async applyConfig(cfg: Config, ctx: ConfigContext): Promise<void> {
    await this.prepareConfig(cfg, ctx).commit();
  }

  private newPipeline(b: Built): Pipeline {
    return new Pipeline({
      receivers: b.receivers,
      nflog: this.nflog,
      inhibitor: this.muters.inhibitor,
      silencer: this.muters.silencer,
      timeMuter: this.muters.timeMuter ?? b.timeIntervals,
      logger: this.log,
      metrics: this.metrics,
      backoff: this.o.backoff,
      hooks: this.hooks,
    });
  }

  private async switchTo(b: Built): Promise<void> {
    const old = this.built;
    b.appliedAt = Date.now();
    this.stopGroups();
    this.built = b;
    this.inhibitor?.close();
    this.inhibitor = new Inhibitor(b.alerting.inhibit_rules, this.store);
    this.muters = { ...this.muters, inhibitor: this.inhibitor };
    this.pipeline = this.newPipeline(b);
    if (old) await closeAll([...old.receivers.values()].flatMap((r) => r.integrations));
    // As Alertmanager after a reload: every stored alert goes through the new routes again.
    for (const a of this.store.list()) this.process(a);
    this.resuming = false;
  }

  private stopGroups(): void {
    for (const m of this.groups.values()) for (const g of m.values()) g.stop();
    this.groups = new Map();
  }

  private process(a: Alert): void {
    if (this.stopped || !this.built?.route) return;
    for (const r of this.built.route.match(a.labels)) {
      const labels = r.groupLabels(a.labels);
      const id = labelSetString(labels);
      let m = this.groups.get(r);
      if (!m) this.groups.set(r, (m = new Map()));
      let g = m.get(id);
      if (!g) {
        // Groups of alerts restored at start resume from their last notification.
        const lastFlush = this.resuming ? this.o.state?.lastNotified(`${r.key}:${id}`) : undefined;
        g = new AggregationGroup(
          r,
          labels,
          (group, alerts, now, signal) => this.flush(group, alerts, now, signal),
          Date.now,
          (e) => this.log.error({ err: e }, 'flushing an aggregation group failed'),
          lastFlush,
        );
        m.set(id, g);
      }
      g.insert(a);
    }
  }

  private async flush(g: AggregationGroup, alerts: Alert[], now: number, signal: AbortSignal): Promise<boolean> {
    // A few flushes start per turn of the event loop (pacer.ts).
    await this.pacer.turn();
    const p = this.pipeline;
    this.flushes++;
    if (!p) return false;
    const o = g.route.opts;
    const ok = await p.exec(
      {
        receiver: o.receiver,
        groupKey: g.key,
        groupLabels: g.labels,
        externalURL: this.externalURL,
        now,
        repeatInterval: o.repeatInterval,
        muteTimeIntervals: o.muteTimeIntervals,
        activeTimeIntervals: o.activeTimeIntervals,
      },
      alerts,
      signal,
    );
    if (!ok) this.log.error({ receiver: o.receiver, group: g.key }, 'notify for alerts failed');
    return ok;
  }

  private cleanup(): void {
    for (const m of this.groups.values()) {
      for (const [id, g] of m) {
        if (g.empty) {
          g.stop();
          m.delete(id);
        }
      }
    }
  }

  /** Drops resolved alerts and expired log entries. */
  gc(): void {
    this.store.gc();
    this.nflog.gc(Date.now());
    this.silences.gc();
    this.inhibitor?.gc(Date.now());
  }

  /** Alerts by state: those not resolved (alertmanager_alerts) and all held, resolved too (alertmanager_marked_alerts). */
  private countByState(): { current: { active: number; suppressed: number; unprocessed: number }; marked: { active: number; suppressed: number; unprocessed: number } } {
    const now = Date.now();
    const current = { active: 0, suppressed: 0, unprocessed: 0 };
    const marked = { active: 0, suppressed: 0, unprocessed: 0 };
    for (const a of this.store.list()) {
      const state = this.status(a, now).state;
      marked[state]++;
      if (!resolvedAt(a, now)) current[state]++;
    }
    return { current, marked };
  }

  /** As Alertmanager counts them: the receivers some route uses, and their integrations. */
  private configured(): { receivers: number; integrations: number } {
    const route = this.built?.route;
    if (!route) return { receivers: 0, integrations: 0 };
    const used = new Set<string>();
    for (const r of route.walk()) used.add(r.opts.receiver);
    let integrations = 0;
    for (const name of used) integrations += this.built!.receivers.get(name)?.integrations.length ?? 0;
    return { receivers: used.size, integrations };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.stopGroups();
    this.inhibitor?.close();
    if (this.built) await closeAll([...this.built.receivers.values()].flatMap((r) => r.integrations));
    await this.nflog.close?.();
    this.silences.close();
  }
}

async function closeAll(integrations: Integration[]): Promise<void> {
  await Promise.allSettled(integrations.map((i) => i.close?.()));
}

/** Alertmanager's value for a configuration hash: the first 6 bytes of its MD5 as a number (exact in a float64). */
function configHash(a: AlertingConfig): number {
  return createHash('md5').update(JSON.stringify(a)).digest().readUIntBE(0, 6);
}
