// One interface for every notification integration (webhook, email, DingTalk, WeCom, Feishu…)
// and the registry that builds them from a receiver's `<name>_configs` lists. An integration
// lives in its own folder and registers itself; the dispatcher knows only this file.

import type { Logger } from 'pino';
import type { AlertingConfig, ReceiverConfig } from '../config/alertmanager.js';
import type { Alert } from '../model/alert.js';
import type { Language, NotifyTemplates } from './tmpl.js';

/** What one flush of an aggregation group tells the integrations. */
export interface NotifyContext {
  /** The receiver's name as configured. */
  readonly receiver: string;
  /** Alertmanager's group key: `<route key>:<group labels>`. */
  readonly groupKey: string;
  readonly groupLabels: Readonly<Record<string, string>>;
  /** The URL users reach Patrol at (server.external_url). */
  readonly externalURL: string;
  /** Aborted when the flush's time is up (group_interval, at least 10s). */
  readonly signal: AbortSignal;
  /** ms; the time of the flush. */
  readonly now: number;
  /** Patrol: the signed acknowledgement link of a firing alert (alerting.patrol.ack.links). */
  readonly ackURL?: ((fingerprint: string) => string) | undefined;
}

/** Alertmanager's (retry, error) pair: a failure says whether trying again may help. */
/**
 * `reason` is Alertmanager's failure reason label (clientError, serverError, other) for
 * `_notifications_failed_total{reason}`; the error text never carries a secret.
 */
export type NotifyResult = { ok: true } | { ok: false; retry: boolean; error: string; reason?: FailureReason };
export const FAILURE_REASONS = ['clientError', 'serverError', 'other'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export interface Integration {
  /** The integration's kind, as Alertmanager names it in metrics and logs: `webhook`, `email`… */
  readonly name: string;
  /** Its position in the receiver's list of that kind. */
  readonly index: number;
  /** Whether resolved alerts are sent (send_resolved). */
  readonly sendResolved: boolean;
  /** Sends one notification; never throws (failures are results). */
  notify(ctx: NotifyContext, alerts: readonly Alert[]): Promise<NotifyResult>;
  close?(): void | Promise<void>;
}

export interface IntegrationContext {
  readonly receiver: string;
  readonly index: number;
  readonly global: AlertingConfig['global'];
  /** Folder that relative file paths (url_file, credentials) resolve against. */
  readonly baseDir: string;
  readonly logger: Logger;
  /** Users' template files with the defaults; the defaults alone when absent. */
  readonly templates?: NotifyTemplates;
  /** `language:` of the receiver, else of `global` (default messages' language). */
  readonly language?: Language;
}

export interface IntegrationType<C = unknown> {
  /** The receiver key holding its list, e.g. `webhook_configs`. */
  readonly configKey: keyof ReceiverConfig & `${string}_configs`;
  readonly name: string;
  /** Builds one integration; throws naming a problem the schema could not see (unreadable file). */
  build(conf: C, ctx: IntegrationContext): Integration;
}

const registry = new Map<string, IntegrationType>();

/** Registers an integration kind; each integration's module calls this once. */
export function registerIntegration<C>(t: IntegrationType<C>): void {
  registry.set(t.configKey, t as IntegrationType);
}

export function registeredIntegrations(): readonly IntegrationType[] {
  return [...registry.values()];
}

/**
 * The integrations of one receiver, and the `_configs` keys it uses that no registered
 * integration handles (configured, validated, but not sent to yet).
 */
export function buildIntegrations(
  r: ReceiverConfig,
  ctx: Omit<IntegrationContext, 'receiver' | 'index' | 'language'>,
): { integrations: Integration[]; unsupported: string[] } {
  const integrations: Integration[] = [];
  const unsupported: string[] = [];
  for (const [key, list] of Object.entries(r)) {
    if (!key.endsWith('_configs') || !Array.isArray(list) || list.length === 0) continue;
    const t = registry.get(key);
    if (!t) {
      unsupported.push(key);
      continue;
    }
    list.forEach((conf: unknown, index: number) => integrations.push(t.build(conf, { ...ctx, receiver: r.name, index, language: r.language ?? ctx.global?.language })));
  }
  return { integrations, unsupported };
}

/**
 * Alertmanager's notify.Retrier.Check: 2xx succeeds, 5xx may be retried, anything else fails
 * for good; the error names the status and the body's start.
 */
export function classifyHttpStatus(status: number, body: string): NotifyResult {
  if (Math.floor(status / 100) === 2) return { ok: true };
  const details = body.length > 512 ? body.slice(0, 512) + '…' : body;
  return { ok: false, retry: Math.floor(status / 100) === 5, reason: Math.floor(status / 100) === 4 ? 'clientError' : Math.floor(status / 100) === 5 ? 'serverError' : 'other', error: `unexpected status code ${status}${details ? `: ${details}` : ''}` };
}
