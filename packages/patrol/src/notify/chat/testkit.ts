// Helpers for the chat integrations' tests, the benchmark and `patrol notify test`: sample
// alerts, a receiver's integrations built from YAML, a notify context.

import { Writable } from 'node:stream';
import { parse } from 'yaml';
import { receiver as receiverSchema, type AlertingConfig } from '../../config/alertmanager.js';
import { createLogger } from '../../logger.js';
import { labelSetFingerprint, type Alert } from '../../model/alert.js';
import { buildIntegrations, type Integration, type NotifyContext } from '../notifier.js';
import '../integrations.js';

export function sampleAlert(labels: Record<string, string>, o: { annotations?: Record<string, string>; startsAt?: number; endsAt?: number; generatorURL?: string } = {}): Alert {
  const now = Date.now();
  return {
    labels,
    annotations: o.annotations ?? {},
    startsAt: o.startsAt ?? now - 5 * 60_000,
    endsAt: o.endsAt ?? now + 60 * 60_000,
    generatorURL: o.generatorURL ?? '',
    updatedAt: now,
    timeout: false,
    fingerprint: labelSetFingerprint(labels),
  };
}

/** Log lines written while building and sending (to check that no secret shows). */
export class LogCapture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

/** The integrations of one receiver written in YAML. */
export function integrationsOf(yaml: string, o: { global?: AlertingConfig['global']; baseDir?: string; log?: LogCapture } = {}): Integration[] {
  const r = receiverSchema.parse(parse(yaml));
  const logger = createLogger('debug', o.log ?? new LogCapture());
  return buildIntegrations(r, { global: o.global, baseDir: o.baseDir ?? '.', logger }).integrations;
}

export function notifyContext(groupKey: string, o: { signal?: AbortSignal; externalURL?: string; groupLabels?: Record<string, string> } = {}): NotifyContext {
  return { receiver: 'team', groupKey, groupLabels: o.groupLabels ?? {}, externalURL: o.externalURL ?? 'http://patrol.example:9093', signal: o.signal ?? AbortSignal.timeout(60_000), now: Date.now() };
}
