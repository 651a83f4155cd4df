// PagerDuty Events API v2: Alertmanager's pagerduty_configs. A firing group triggers, a resolved
// one resolves, both with dedup_key = SHA-256 (hex) of the group key as Alertmanager computes
// it, so an incident opened by Alertmanager is resolved by Patrol and the other way round.
// PagerDuty answers 202; 400 (invalid event) fails for good; 429 and 5xx are retried.

import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { readSecretFile } from '../../scrape/httpclient.js';
import type { Alert } from '../../model/alert.js';
import { templateData } from '../data.js';
import { registerIntegration, type Integration, type IntegrationContext, type NotifyContext, type NotifyResult } from '../notifier.js';
import { excerpt, JsonPoster, networkError, templateError, truncateRunes } from '../post.js';
import { defaultTemplates, goData, type NotifyTemplates } from '../tmpl.js';
import { defaultTemplate } from '../tmpl_defaults.js';

export type PagerdutyConfig = NonNullable<z.infer<typeof receiver>['pagerduty_configs']>[number];

const DEFAULT_URL = 'https://events.pagerduty.com/v2/enqueue';
const V1_URL = 'https://events.pagerduty.com/generic/2010-04-15/create_event.json';
/** Events API v2 limit on payload.summary. */
const MAX_SUMMARY = 1024;

/** Alertmanager's notify.Key.Hash: SHA-256 of the group key, hex. */
export function groupKeyHash(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex');
}

export function classifyPagerduty(status: number, text: string): NotifyResult {
  if (status >= 200 && status < 300) return { ok: true };
  let detail = excerpt(text);
  try {
    const j = JSON.parse(text) as { status?: string; message?: string; errors?: string[] };
    detail = [j.status, j.message, ...(j.errors ?? [])].filter(Boolean).join(': ');
  } catch {
    // Plain text answer.
  }
  if (status === 429) return { ok: false, retry: true, reason: 'clientError', error: `pagerduty 429 (rate limited): ${detail}` };
  if (status >= 500) return { ok: false, retry: true, reason: 'serverError', error: `pagerduty ${status}: ${detail}` };
  return { ok: false, retry: false, reason: 'clientError', error: `pagerduty ${status}: ${detail}` };
}

export class PagerdutyIntegration implements Integration {
  readonly name = 'pagerduty';
  readonly index: number;
  readonly sendResolved: boolean;
  private readonly poster: JsonPoster;
  private readonly templates: NotifyTemplates;

  constructor(
    private readonly conf: PagerdutyConfig,
    private readonly ctx: IntegrationContext,
  ) {
    this.index = ctx.index;
    this.sendResolved = conf.send_resolved ?? true;
    this.poster = new JsonPoster(conf.http_config, ctx);
    this.templates = ctx.templates ?? defaultTemplates();
  }

  /** The v2 routing key, or the v1 service key (then `v1` is true). */
  private key(): { key: string; v1: boolean } {
    const c = this.conf;
    if (c.routing_key) return { key: c.routing_key.reveal(), v1: false };
    if (c.routing_key_file) return { key: readSecretFile(c.routing_key_file, this.ctx.baseDir), v1: false };
    if (c.service_key) return { key: c.service_key.reveal(), v1: true };
    return { key: readSecretFile(c.service_key_file!, this.ctx.baseDir), v1: true };
  }

  async notify(ctx: NotifyContext, alerts: readonly Alert[]): Promise<NotifyResult> {
    const td = templateData(ctx.receiver, ctx.groupLabels, alerts, ctx.externalURL, ctx.now);
    const data = goData(td, ctx.ackURL);
    const c = this.conf;
    const trigger = td.status === 'firing';
    let f: Record<string, string>;
    let details: Record<string, string>;
    try {
      f = await this.templates.renderAll(
        {
          client: c.client ?? '{{ template "pagerduty.default.client" . }}',
          client_url: c.client_url ?? '{{ template "pagerduty.default.clientURL" . }}',
          description: c.description ?? defaultTemplate('pagerduty', 'description', this.ctx.language),
          severity: c.severity ?? 'error',
          source: c.source ?? c.client ?? '{{ template "pagerduty.default.client" . }}',
          class: c.class ?? '',
          component: c.component ?? '',
          group: c.group ?? '',
        },
        data,
      );
      details = await this.templates.renderAll(
        c.details ?? {
          firing: '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
          resolved: '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
          num_firing: '{{ .Alerts.Firing | len }}',
          num_resolved: '{{ .Alerts.Resolved | len }}',
        },
        data,
      );
    } catch (e) {
      return templateError(e);
    }
    const { key, v1 } = this.key();
    if (v1) {
      // Events API v1 (Alertmanager's service_key): incident_key is the same group key hash.
      const event = { service_key: key, event_type: trigger ? 'trigger' : 'resolve', incident_key: groupKeyHash(ctx.groupKey), description: truncateRunes(f.description, MAX_SUMMARY).text, client: f.client, client_url: f.client_url, details };
      try {
        const res = await this.poster.post(c.url ?? this.ctx.global?.pagerduty_url ?? V1_URL, trigger ? event : { ...event, details: undefined }, ctx.signal, { timeout: c.timeout });
        return classifyPagerduty(res.status, res.text);
      } catch (e) {
        return networkError(e, [key]);
      }
    }
    const event: Record<string, unknown> = {
      routing_key: key,
      event_action: trigger ? 'trigger' : 'resolve',
      dedup_key: groupKeyHash(ctx.groupKey),
      client: f.client,
      client_url: f.client_url,
    };
    if (trigger) {
      const payload: Record<string, unknown> = { summary: truncateRunes(f.description, MAX_SUMMARY).text, source: f.source, severity: f.severity, custom_details: details };
      if (f.class) payload.class = f.class;
      if (f.component) payload.component = f.component;
      if (f.group) payload.group = f.group;
      event.payload = payload;
      if (c.images?.length) event.images = c.images;
      if (c.links?.length) event.links = c.links;
    }
    const url = c.url ?? this.ctx.global?.pagerduty_url ?? DEFAULT_URL;
    try {
      const res = await this.poster.post(url, event, ctx.signal, { timeout: c.timeout });
      return classifyPagerduty(res.status, res.text);
    } catch (e) {
      return networkError(e, [key]);
    }
  }

  close(): Promise<void> {
    return this.poster.close();
  }
}

registerIntegration<PagerdutyConfig>({
  configKey: 'pagerduty_configs',
  name: 'pagerduty',
  build: (conf, ctx) => new PagerdutyIntegration(conf, ctx),
});
