// The dispatcher's self-metrics under Alertmanager's names, so its dashboards work unchanged.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface PipelineMetrics {
  observe(integration: string, seconds: number, ok: boolean): void;
}

export interface AlertingMetrics extends PipelineMetrics {
  received: Counter<'status'>;
  invalid: Counter;
}

export function alertingMetrics(registry: Registry, alerts: () => { active: number; suppressed: number; unprocessed: number }): AlertingMetrics {
  const notifications = new Counter({ name: 'alertmanager_notifications_total', help: 'The total number of attempted notifications.', labelNames: ['integration'], registers: [registry] });
  const failed = new Counter({ name: 'alertmanager_notifications_failed_total', help: 'The total number of failed notifications.', labelNames: ['integration'], registers: [registry] });
  const latency = new Histogram({
    name: 'alertmanager_notification_latency_seconds',
    help: 'The latency of notifications in seconds.',
    labelNames: ['integration'],
    buckets: [1, 5, 10, 15, 20],
    registers: [registry],
  });
  for (const i of ['webhook']) {
    notifications.inc({ integration: i }, 0);
    failed.inc({ integration: i }, 0);
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
    observe(integration, seconds, ok) {
      notifications.inc({ integration });
      latency.observe({ integration }, seconds);
      if (!ok) failed.inc({ integration });
    },
  };
}
