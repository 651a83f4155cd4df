// The sender: where the rules' alerts go. It turns them into Alertmanager API v2 postable alerts
// with Prometheus's arithmetic, adds external_labels, applies alerting.alert_relabel_configs, and
// hands them to every AlertSink: Patrol's own dispatcher (registered with addSink) and one
// queue per external Alertmanager from `alerting.alertmanagers`. Nothing here waits for a
// receiver: send() returns once every sink has queued the alerts.

import type { Logger } from 'pino';
import type { Component, ConfigContext, PreparedConfig, Runtime } from '../component.js';
import type { Config } from '../config/schema.js';
import type { AlertSink, PostableAlert } from '../model/alert.js';
import type { Alert } from '../rules/alerting.js';
import type { NotifyFunc } from '../rules/group.js';
import { compileRelabel, type CompiledRelabel } from '../scrape/relabel.js';
import type { QueueSettings } from './client.js';
import { relabelAlerts, toPostableAlerts } from './convert.js';
import { notifierMetrics, type NotifierMetrics } from './metrics.js';
import { AlertmanagerSet } from './set.js';

/** Prometheus's --alertmanager.notification-queue-capacity default. */
export const DEFAULT_QUEUE_CAPACITY = 10_000;
/** Alerts per POST, Prometheus 2.x's maxBatchSize. */
export const DEFAULT_MAX_BATCH_SIZE = 64;

export interface NotifierOptions {
  /** Per external Alertmanager; default 10,000. */
  queueCapacity?: number;
  maxBatchSize?: number;
}

/** Active and dropped Alertmanager URLs, for /api/v1/alertmanagers. */
export interface AlertmanagerURLs {
  active: string[];
  dropped: string[];
}

export class Notifier implements Component {
  readonly name = 'notifier';
  private readonly log: Logger;
  private readonly metrics: NotifierMetrics;
  private readonly queue: QueueSettings;
  /** In-process sinks (Patrol's dispatcher, test doubles), in registration order. */
  private readonly sinks: AlertSink[] = [];
  private sets: AlertmanagerSet[] = [];
  private externalLabels: Record<string, string> = {};
  private relabelSteps: CompiledRelabel[] = [];
  private externalURL = '';

  constructor(
    private readonly rt: Runtime,
    opts: NotifierOptions = {},
  ) {
    this.log = rt.logger;
    this.queue = { capacity: opts.queueCapacity ?? DEFAULT_QUEUE_CAPACITY, maxBatchSize: opts.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE };
    this.metrics = notifierMetrics(rt.registry, this.queue.capacity, () => this.alertmanagers().active.length);
  }

  /**
   * Registers an in-process receiver of every alert (after external labels and
   * alert_relabel_configs). Patrol's own alert dispatcher registers here; its send must queue
   * and return at once.
   */
  addSink(sink: AlertSink): void {
    this.sinks.push(sink);
  }

  /** The rules' notify function: converts with Prometheus's arithmetic and sends. */
  notifyFunc(): NotifyFunc {
    return (expr: string, alerts: Alert[]) => this.send(toPostableAlerts(expr, alerts, this.externalURL));
  }

  /** Adds external labels, applies alert_relabel_configs and gives the result to every sink. Never throws. */
  send(alerts: readonly PostableAlert[]): void {
    const out = relabelAlerts(alerts, this.externalLabels, this.relabelSteps);
    if (out.length === 0) return;
    for (const sink of [...this.sinks, ...this.sets]) {
      try {
        sink.send(out);
      } catch (e) {
        this.log.error({ sink: sink.name, err: (e as Error).message }, 'an alert sink failed to take alerts');
      }
    }
  }

  alertmanagers(): AlertmanagerURLs {
    return { active: this.sets.flatMap((s) => s.active), dropped: this.sets.flatMap((s) => s.dropped) };
  }

  /** Queue lengths by Alertmanager URL. */
  queueLengths(): Map<string, number> {
    return new Map(this.sets.flatMap((s) => [...s.queueLengths()]));
  }

  prepareConfig(cfg: Config, ctx: ConfigContext): PreparedConfig {
    const relabelSteps = compileRelabel(cfg.alerting.alert_relabel_configs);
    const built: AlertmanagerSet[] = [];
    const deps = { metrics: this.metrics, log: this.log, queue: this.queue };
    try {
      cfg.alerting.alertmanagers.forEach((am, i) => {
        try {
          built.push(new AlertmanagerSet(`config-${i}`, JSON.stringify([am, ctx.dir]), am, ctx.dir, deps));
        } catch (e) {
          throw new Error(`alerting.alertmanagers[${i}]: ${(e as Error).message}`);
        }
      });
    } catch (e) {
      void Promise.all(built.map((s) => s.stop()));
      throw e;
    }
    const externalURL = cfg.server.external_url ?? `http://${this.rt.listen}`;
    return {
      commit: async () => {
        // An unchanged entry keeps running with its queues; the new copy is thrown away.
        const old = new Map(this.sets.map((s) => [s.key, s]));
        const next: AlertmanagerSet[] = [];
        const fresh: AlertmanagerSet[] = [];
        for (const s of built) {
          const kept = old.get(s.key);
          if (kept) {
            old.delete(s.key);
            next.push(kept);
            await s.stop();
          } else {
            next.push(s);
            fresh.push(s);
          }
        }
        await Promise.all(fresh.map((s) => s.start()));
        this.sets = next;
        this.externalLabels = { ...cfg.global.external_labels };
        this.relabelSteps = relabelSteps;
        this.externalURL = externalURL;
        await Promise.all([...old.values()].map((s) => s.stop()));
      },
      discard: async () => {
        await Promise.all(built.map((s) => s.stop()));
      },
    };
  }

  async applyConfig(cfg: Config, ctx: ConfigContext): Promise<void> {
    await this.prepareConfig(cfg, ctx).commit();
  }

  async stop(): Promise<void> {
    const sets = this.sets;
    this.sets = [];
    await Promise.all(sets.map((s) => s.stop()));
  }
}
