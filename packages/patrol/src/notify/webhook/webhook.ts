// The webhook integration: Alertmanager's version 4 JSON payload, field for field, POSTed to
// `url` (or the URL read from `url_file`), at most `max_alerts` alerts with the rest counted in
// `truncatedAlerts`. Status codes are classified as Alertmanager does (5xx retried).

import { request, type Dispatcher } from 'undici';
import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { clientDispatcher, readSecretFile, RequestHeaders } from '../../scrape/httpclient.js';
import { VERSION } from '../../version.js';
import type { Alert } from '../../model/alert.js';
import { templateData, type TemplateData } from '../data.js';
import { classifyHttpStatus, registerIntegration, type Integration, type IntegrationContext, type NotifyContext, type NotifyResult } from '../notifier.js';

export type WebhookConfig = NonNullable<z.infer<typeof receiver>['webhook_configs']>[number];

/** Alertmanager's webhook.Message. */
export interface WebhookMessage extends TemplateData {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
}

export function webhookMessage(ctx: Pick<NotifyContext, 'receiver' | 'groupKey' | 'groupLabels' | 'externalURL' | 'now'>, alerts: readonly Alert[], maxAlerts: number): WebhookMessage {
  const truncated = maxAlerts > 0 && alerts.length > maxAlerts ? alerts.length - maxAlerts : 0;
  const sent = truncated > 0 ? alerts.slice(0, maxAlerts) : alerts;
  return { ...templateData(ctx.receiver, ctx.groupLabels, sent, ctx.externalURL, Date.now()), version: '4', groupKey: ctx.groupKey, truncatedAlerts: truncated };
}

const DEFAULT_TIMEOUT = 0;

export class WebhookIntegration implements Integration {
  readonly name = 'webhook';
  readonly index: number;
  readonly sendResolved: boolean;
  private readonly dispatcher: Dispatcher;
  private readonly headers: RequestHeaders;

  constructor(
    private readonly conf: WebhookConfig,
    private readonly ctx: IntegrationContext,
  ) {
    this.index = ctx.index;
    // Alertmanager's webhook default: send_resolved true.
    this.sendResolved = conf.send_resolved ?? true;
    // As Alertmanager: the global http_config is the default of every integration's.
    const http = conf.http_config ?? ctx.global?.http_config ?? { follow_redirects: true, enable_http2: true };
    this.dispatcher = clientDispatcher(http, ctx.baseDir);
    this.headers = new RequestHeaders(http, ctx.baseDir, `Patrol/${VERSION}`);
  }

  private url(): string {
    if (this.conf.url) return this.conf.url.reveal();
    return readSecretFile(this.conf.url_file!, this.ctx.baseDir);
  }

  async notify(ctx: NotifyContext, alerts: readonly Alert[]): Promise<NotifyResult> {
    const body = JSON.stringify(webhookMessage(ctx, alerts, this.conf.max_alerts)) + '\n';
    const timeout = this.conf.timeout ?? DEFAULT_TIMEOUT;
    const signal = timeout > 0 ? AbortSignal.any([ctx.signal, AbortSignal.timeout(timeout)]) : ctx.signal;
    try {
      const headers: Record<string, string | string[]> = { 'content-type': 'application/json', 'user-agent': `Patrol/${VERSION}` };
      if (this.headers.apply(headers)) await this.headers.addToken(headers, signal);
      const res = await request(this.url(), { method: 'POST', body, headers, dispatcher: this.dispatcher, signal });
      let text = '';
      try {
        // The body only matters for the error message; read a bounded start of it.
        for await (const chunk of res.body) {
          text += (chunk as Buffer).toString('utf8');
          if (text.length >= 1024) break;
        }
      } catch {
        // A body cut off mid-way changes nothing about the status.
      }
      res.body.destroy();
      return classifyHttpStatus(res.statusCode, text.trim());
    } catch (e) {
      // Network errors are retried (Alertmanager: PostJSON failure → retry).
      return { ok: false, retry: true, error: redactUrl((e as Error).message, this.conf.url?.reveal()) };
    }
  }

  async close(): Promise<void> {
    await this.headers.close();
    await this.dispatcher.close();
  }
}

/** The webhook URL may carry a key: never repeat it in an error. */
function redactUrl(msg: string, url: string | undefined): string {
  return url ? msg.split(url).join('<url>') : msg;
}

registerIntegration<WebhookConfig>({
  configKey: 'webhook_configs',
  name: 'webhook',
  build: (conf, ctx) => new WebhookIntegration(conf, ctx),
});
