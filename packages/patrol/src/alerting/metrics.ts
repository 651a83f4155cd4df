// The dispatcher's self-metrics under Alertmanager's names, so its dashboards work unchanged.

import { Counter, Gauge, Histogram, Summary, type Registry } from 'prom-client';
import { FAILURE_REASONS, type FailureReason } from '../notify/notifier.js';

/** What the durable notification log tells about itself (state_sqlite.ts). */
export interface NflogSource {
  readonly stats: { queries: number; queryErrors: number; gcRuns: number; gcErrors: number; gcSeconds: number };
  readonly size: number;
  readonly timings: StoreTimings;
  fileSize(): number;
}

/**
 * Alertmanager's alertmanager_nflog_* metrics, read from the log's counters at scrape time.
 * "maintenance" is the periodic gc (Patrol has no separate snapshot: every entry is committed
 * to alerting.db as it is written, so snapshot_size_bytes is that file's size).
 */
export function nflogMetrics(registry: Registry, src: NflogSource): void {
  const counter = (name: string, help: string, read: () => number) => readCounter(registry, name, help, read);
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
  storeTimingMetrics(registry, 'alertmanager_nflog', 'notification log', src.timings);
}

/** What the history database tells about its writes (history.ts AlertingDB). */
export interface HistorySource {
  readonly written: number;
  readonly dropped: number;
  readonly writeErrors: number;
}

/** patrol_alert_history_*: rows written, rows dropped (writes kept failing), failed batch writes. */
export function historyMetrics(registry: Registry, src: HistorySource): void {
  readCounter(registry, 'patrol_alert_history_rows_written_total', 'Alert history rows (state changes and notification attempts) written.', () => src.written);
  readCounter(registry, 'patrol_alert_history_rows_dropped_total', 'Alert history rows dropped because writes kept failing and the queue was full.', () => src.dropped);
  readCounter(registry, 'patrol_alert_history_write_errors_total', 'Alert history batch writes that failed (their rows are tried again).', () => src.writeErrors);
}

/** A counter that follows a count kept elsewhere (read at scrape time). */
function readCounter(registry: Registry, name: string, help: string, read: () => number): void {
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
}

/** What the silences tell about themselves (silences.ts). */
export interface SilencesSource {
  counts(): Record<string, number>;
  readonly queries: number;
  readonly timings: StoreTimings;
  /** Bytes of silences.db and its WAL; 0 when kept in memory. */
  fileSize(): number;
}

/** Alertmanager's alertmanager_silences* metrics. */
export function silencesMetrics(registry: Registry, src: SilencesSource): void {
  new Gauge({
    name: 'alertmanager_silences',
    help: 'How many silences by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      for (const [state, n] of Object.entries(src.counts())) this.set({ state }, n);
    },
  });
  readCounter(registry, 'alertmanager_silences_queries_total', 'How many silence queries were received.', () => src.queries);
  new Counter({ name: 'alertmanager_silences_query_errors_total', help: 'How many silence received queries did not succeed.', registers: [registry] });
  new Gauge({
    name: 'alertmanager_silences_snapshot_size_bytes',
    help: 'Size of the silences on disk (silences.db and its WAL).',
    registers: [registry],
    collect() {
      this.set(src.fileSize());
    },
  });
  storeTimingMetrics(registry, 'alertmanager_silences', 'silence', src.timings);
}

export interface PipelineMetrics {
  /** An integration's notification (once, however many requests its retries take). */
  notification(integration: string): void;
  /** That notification failed for good; `reason` is Alertmanager 0.27's clientError, serverError or other. */
  notificationFailed(integration: string, reason: FailureReason): void;
  /** One request to the integration (each retry is one) and how long it took. */
  request(integration: string, seconds: number, ok: boolean): void;
}

export interface AlertingMetrics extends PipelineMetrics {
  received: Counter<'status'>;
  invalid: Counter;
}

type ByState = { active: number; suppressed: number; unprocessed: number };

/** What the dispatcher tells its gauges at scrape time. */
export interface AlertingSource {
  /** Alerts not resolved (alertmanager_alerts) and every alert held, resolved ones too (alertmanager_marked_alerts). */
  alerts(): { current: ByState; marked: ByState };
  aggregationGroups(): number;
  /** Receivers the route tree uses and their integrations (Alertmanager builds only those). */
  configured(): { receivers: number; integrations: number };
  /** Hash of the running `alerting:` section and the last reload's outcome; undefined before the first. */
  config(): { hash: number; reloadOk: boolean; reloadTime: number } | undefined;
}

/** Integrations Alertmanager pre-creates series for, so rate() works before the first notification. */
const INTEGRATIONS = ['email', 'pagerduty', 'wechat', 'pushover', 'slack', 'opsgenie', 'webhook', 'victorops', 'sns', 'telegram'];

export function alertingMetrics(registry: Registry, src: AlertingSource): AlertingMetrics {
  const notifications = new Counter({ name: 'alertmanager_notifications_total', help: 'The total number of attempted notifications.', labelNames: ['integration'], registers: [registry] });
  const failed = new Counter({ name: 'alertmanager_notifications_failed_total', help: 'The total number of failed notifications.', labelNames: ['integration', 'reason'], registers: [registry] });
  const requests = new Counter({ name: 'alertmanager_notification_requests_total', help: 'The total number of attempted notification requests.', labelNames: ['integration'], registers: [registry] });
  const requestsFailed = new Counter({
    name: 'alertmanager_notification_requests_failed_total',
    help: 'The total number of failed notification requests.',
    labelNames: ['integration'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'alertmanager_notification_latency_seconds',
    help: 'The latency of notifications in seconds.',
    labelNames: ['integration'],
    buckets: [1, 5, 10, 15, 20],
    registers: [registry],
  });
  for (const integration of INTEGRATIONS) {
    notifications.inc({ integration }, 0);
    requests.inc({ integration }, 0);
    requestsFailed.inc({ integration }, 0);
    latency.zero({ integration });
    for (const reason of FAILURE_REASONS) failed.inc({ integration, reason }, 0);
  }
  const byState = (name: string, help: string, read: () => ByState) =>
    new Gauge({
      name,
      help,
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const c = read();
        this.set({ state: 'active' }, c.active);
        this.set({ state: 'suppressed' }, c.suppressed);
        this.set({ state: 'unprocessed' }, c.unprocessed);
      },
    });
  byState('alertmanager_alerts', 'How many alerts by state.', () => src.alerts().current);
  byState('alertmanager_marked_alerts', 'How many alerts by state are currently marked in the Alertmanager regardless of their expiry.', () => src.alerts().marked);
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('alertmanager_dispatcher_aggregation_groups', 'Number of active aggregation groups', () => src.aggregationGroups());
  gauge('alertmanager_receivers', 'Number of configured receivers.', () => src.configured().receivers);
  gauge('alertmanager_integrations', 'Number of configured integrations.', () => src.configured().integrations);
  gauge('alertmanager_config_hash', 'Hash of the currently loaded alertmanager configuration.', () => src.config()?.hash ?? 0);
  gauge('alertmanager_config_last_reload_successful', 'Whether the last configuration reload attempt was successful.', () => (src.config()?.reloadOk === false ? 0 : 1));
  gauge('alertmanager_config_last_reload_success_timestamp_seconds', 'Timestamp of the last successful configuration reload.', () => (src.config()?.reloadTime ?? 0) / 1000);
  const received = new Counter({ name: 'alertmanager_alerts_received_total', help: 'The total number of received alerts.', labelNames: ['status'], registers: [registry] });
  const invalid = new Counter({ name: 'alertmanager_alerts_invalid_total', help: 'The total number of received alerts that were invalid.', registers: [registry] });
  return {
    received,
    invalid,
    notification(integration) {
      notifications.inc({ integration });
    },
    notificationFailed(integration, reason) {
      failed.inc({ integration, reason });
    },
    request(integration, seconds, ok) {
      requests.inc({ integration });
      latency.observe({ integration }, seconds);
      if (!ok) requestsFailed.inc({ integration });
    },
  };
}

/** Query and write timings of the durable stores, which they report through these hooks. */
export interface StoreTimings {
  /** A query answered (Alertmanager's *_query_duration_seconds). */
  query?: (seconds: number) => void;
  /**
   * A change committed to its SQLite file. Patrol writes each change through instead of taking
   * Alertmanager's periodic snapshots, so this is what *_snapshot_duration_seconds observes.
   */
  write?: (seconds: number) => void;
}

/** Alertmanager's *_query_duration_seconds (histogram) and *_snapshot_duration_seconds (summary) for one store. */
function storeTimingMetrics(registry: Registry, prefix: 'alertmanager_nflog' | 'alertmanager_silences', what: string, timings: StoreTimings): void {
  const query = new Histogram({ name: `${prefix}_query_duration_seconds`, help: `Duration of ${what} query evaluation.`, registers: [registry] });
  const write = new Summary({ name: `${prefix}_snapshot_duration_seconds`, help: `Duration of the last ${what} snapshot.`, percentiles: [], registers: [registry] });
  timings.query = (s) => query.observe(s);
  timings.write = (s) => write.observe(s);
}
