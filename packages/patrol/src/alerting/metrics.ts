// The dispatcher's self-metrics under Alertmanager's names, so its dashboards work unchanged.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { FAILURE_REASONS, type FailureReason } from '../notify/notifier.js';

/** What the durable notification log tells about itself (state_sqlite.ts). */
export interface NflogSource {
  readonly stats: { queries: number; queryErrors: number; gcRuns: number; gcErrors: number; gcSeconds: number };
  readonly size: number;
  fileSize(): number;
}

/**
 * Alertmanager's alertmanager_nflog_* metrics, read from the log's counters at scrape time.
 * "maintenance" is the periodic gc (Patrol has no separate snapshot: every entry is committed
 * to alerting.db as it is written, so snapshot_size_bytes is that file's size).
 */
export function nflogMetrics(registry: Registry, src: NflogSource): void {
  const counter = (name: string, help: string, read: () => number) => {
    let last = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        this.inc(Math.max(0, v - last));
        last = v;
      },
    });
  };
  counter('alertmanager_nflog_queries_total', 'Number of notification log queries were received.', () => src.stats.queries);
  counter('alertmanager_nflog_query_errors_total', 'Number notification log received queries that failed.', () => src.stats.queryErrors);
  counter('alertmanager_nflog_maintenance_total', 'How many maintenances were executed for the notification log.', () => src.stats.gcRuns);
  counter('alertmanager_nflog_maintenance_errors_total', 'How many maintenances were executed for the notification log that failed.', () => src.stats.gcErrors);
  counter('patrol_nflog_gc_seconds_total', 'Seconds spent in notification log garbage collection.', () => src.stats.gcSeconds);
  new Gauge({
    name: 'alertmanager_nflog_snapshot_size_bytes',
    help: 'Size of the notification log on disk (alerting.db and its WAL).',
    registers: [registry],
    collect() {
      this.set(src.fileSize());
    },
  });
  new Gauge({
    name: 'patrol_nflog_entries',
    help: 'Entries in the notification log.',
    registers: [registry],
    collect() {
      this.set(src.size);
    },
  });
}

export interface PipelineMetrics {
  /** One notification attempt; `reason` (Alertmanager 0.27's clientError, serverError, other) when it failed. */
  observe(integration: string, seconds: number, ok: boolean, reason?: FailureReason): void;
}

export interface AlertingMetrics extends PipelineMetrics {
  received: Counter<'status'>;
  invalid: Counter;
}

export function alertingMetrics(registry: Registry, alerts: () => { active: number; suppressed: number; unprocessed: number }): AlertingMetrics {
  const notifications = new Counter({ name: 'alertmanager_notifications_total', help: 'The total number of attempted notifications.', labelNames: ['integration'], registers: [registry] });
  const failed = new Counter({ name: 'alertmanager_notifications_failed_total', help: 'The total number of failed notifications.', labelNames: ['integration', 'reason'], registers: [registry] });
  const latency = new Histogram({
    name: 'alertmanager_notification_latency_seconds',
    help: 'The latency of notifications in seconds.',
    labelNames: ['integration'],
    buckets: [1, 5, 10, 15, 20],
    registers: [registry],
  });
  for (const i of ['webhook']) {
    notifications.inc({ integration: i }, 0);
    for (const reason of FAILURE_REASONS) failed.inc({ integration: i, reason }, 0);
  }
  new Gauge({
    name: 'alertmanager_alerts',
    help: 'How many alerts by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const c = alerts();
      this.set({ state: 'active' }, c.active);
      this.set({ state: 'suppressed' }, c.suppressed);
      this.set({ state: 'unprocessed' }, c.unprocessed);
    },
  });
  const received = new Counter({ name: 'alertmanager_alerts_received_total', help: 'The total number of received alerts.', labelNames: ['status'], registers: [registry] });
  const invalid = new Counter({ name: 'alertmanager_alerts_invalid_total', help: 'The total number of received alerts that were invalid.', registers: [registry] });
  return {
    received,
    invalid,
    observe(integration, seconds, ok, reason) {
      notifications.inc({ integration });
      latency.observe({ integration }, seconds);
      if (!ok) failed.inc({ integration, reason: reason ?? 'other' });
    },
  };
}
