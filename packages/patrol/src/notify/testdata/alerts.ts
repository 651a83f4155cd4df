// Sample alerts and contexts for the integrations' tests.

import pino from 'pino';
import { labelSetFingerprint, type Alert } from '../../model/alert.js';
import { alertingConfig } from '../../config/alertmanager.js';
import type { IntegrationContext, NotifyContext } from '../notifier.js';

export function alert(labels: Record<string, string>, annotations: Record<string, string> = {}, resolved = false): Alert {
  const now = Date.now();
  return {
    labels,
    annotations,
    startsAt: now - 5 * 60_000,
    endsAt: resolved ? now - 1000 : 0,
    generatorURL: 'http://prom.example/graph?g0.expr=up',
    updatedAt: now,
    timeout: false,
    fingerprint: labelSetFingerprint(labels),
  };
}

export const sampleAlerts: Alert[] = [
  alert({ alertname: 'HighLatency', severity: 'critical', service: 'api', instance: 'api-1:9090' }, { summary: 'p99 latency 2.3s on api-1' }),
  alert({ alertname: 'HighLatency', severity: 'critical', service: 'api', instance: 'api-2:9090' }, { summary: 'p99 latency 1.9s on api-2' }),
  alert({ alertname: 'HighLatency', severity: 'critical', service: 'api', instance: 'api-3:9090' }, { summary: 'p99 latency back to 0.2s' }, true),
];

export function notifyCtx(over: Partial<NotifyContext> = {}): NotifyContext {
  return {
    receiver: 'team-api',
    groupKey: '{}:{alertname="HighLatency"}',
    groupLabels: { alertname: 'HighLatency' },
    externalURL: 'http://patrol.example:9090',
    signal: AbortSignal.timeout(20_000),
    now: Date.now(),
    ...over,
  };
}

/** An integration context; `global` goes through the real schema (defaults applied). */
export function integrationCtx(global: Record<string, unknown> = {}, over: Partial<IntegrationContext> = {}): IntegrationContext {
  const a = alertingConfig.parse({ global });
  return { receiver: 'team-api', index: 0, global: a.global, baseDir: '.', logger: pino({ level: 'silent' }), ...over };
}
