// The notifier's self-metrics: Prometheus's notifier metrics under the patrol_ prefix, labelled
// alertmanager="<URL alerts are posted to>" as Prometheus 3 labels them (one queue per
// Alertmanager).

import { Counter, Gauge, Summary, type Registry } from 'prom-client';

export interface NotifierMetrics {
  /** Alerts an Alertmanager accepted (2xx), as Prometheus 3 counts them. */
  sent: Counter<'alertmanager'>;
  /** Alerts in POSTs that failed (error, timeout, non-2xx). */
  errors: Counter<'alertmanager'>;
  /** Alerts dropped: queue full, batch larger than the queue, failed POST, or left queued at a reload or shutdown. */
  dropped: Counter<'alertmanager'>;
  queueLength: Gauge<'alertmanager'>;
  queueCapacity: Gauge;
  latency: Summary<'alertmanager'>;
  discovered: Gauge;
}

export function notifierMetrics(registry: Registry, capacity: number, discovered: () => number): NotifierMetrics {
  const labelNames = ['alertmanager'] as const;
  const registers = [registry];
  const m: NotifierMetrics = {
    sent: new Counter({ name: 'patrol_notifications_sent_total', help: 'Total number of alerts sent.', labelNames, registers }),
    errors: new Counter({ name: 'patrol_notifications_errors_total', help: 'Total number of sent alerts affected by errors.', labelNames, registers }),
    dropped: new Counter({ name: 'patrol_notifications_dropped_total', help: 'Total number of alerts dropped due to errors when sending to Alertmanager.', labelNames, registers }),
    queueLength: new Gauge({ name: 'patrol_notifications_queue_length', help: 'The number of alert notifications in the queue.', labelNames, registers }),
    queueCapacity: new Gauge({ name: 'patrol_notifications_queue_capacity', help: 'The capacity of the alert notifications queue.', registers }),
    latency: new Summary({
      name: 'patrol_notifications_latency_seconds',
      help: 'Latency quantiles for sending alert notifications.',
      labelNames,
      percentiles: [0.5, 0.9, 0.99],
      maxAgeSeconds: 600,
      ageBuckets: 5,
      registers,
    }),
    discovered: new Gauge({
      name: 'patrol_notifications_alertmanagers_discovered',
      help: 'The number of alertmanagers discovered and active.',
      registers,
      collect() {
        this.set(discovered());
      },
    }),
  };
  m.queueCapacity.set(capacity);
  return m;
}

/** Drops one Alertmanager's series (it left the configuration or discovery). */
export function forgetAlertmanager(m: NotifierMetrics, url: string): void {
  for (const metric of [m.sent, m.errors, m.dropped, m.queueLength, m.latency]) metric.remove({ alertmanager: url });
}
