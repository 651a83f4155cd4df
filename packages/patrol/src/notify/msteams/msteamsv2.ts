// Microsoft Teams through a Workflows webhook (Alertmanager's msteamsv2_configs): one message
// carrying an Adaptive Card (title, text, status colour). Workflows answer 202; 4xx fail for
// good, 429 and 5xx are retried. The webhook URL carries a signature: never in errors.

import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { readSecretFile } from '../../scrape/httpclient.js';
import type { Alert } from '../../model/alert.js';
import { templateData } from '../data.js';
import { classifyHttpStatus, registerIntegration, type Integration, type IntegrationContext, type NotifyContext, type NotifyResult } from '../notifier.js';
import { JsonPoster, networkError, redact, templateError } from '../post.js';
import { defaultTemplates, goData, type NotifyTemplates } from '../tmpl.js';
import { defaultTemplate } from '../tmpl_defaults.js';

export type MsteamsV2Config = NonNullable<z.infer<typeof receiver>['msteamsv2_configs']>[number];

export function adaptiveCardMessage(title: string, text: string, firing: boolean): unknown {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.2',
          body: [
            { type: 'TextBlock', text: title, weight: 'Bolder', size: 'Medium', wrap: true, style: 'heading', color: firing ? 'Attention' : 'Good' },
            { type: 'TextBlock', text, wrap: true },
          ],
          msteams: { width: 'full' },
        },
      },
    ],
  };
}

export class MsteamsV2Integration implements Integration {
  readonly name = 'msteamsv2';
  readonly index: number;
  readonly sendResolved: boolean;
  private readonly poster: JsonPoster;
  private readonly templates: NotifyTemplates;

  constructor(
    private readonly conf: MsteamsV2Config,
    private readonly ctx: IntegrationContext,
  ) {
    this.index = ctx.index;
    this.sendResolved = conf.send_resolved ?? true;
    this.poster = new JsonPoster(conf.http_config, ctx);
    this.templates = ctx.templates ?? defaultTemplates();
  }

  async notify(ctx: NotifyContext, alerts: readonly Alert[]): Promise<NotifyResult> {
    const td = templateData(ctx.receiver, ctx.groupLabels, alerts, ctx.externalURL, ctx.now);
    let f: Record<'title' | 'text', string>;
    try {
      f = await this.templates.renderAll(
        { title: this.conf.title ?? defaultTemplate('msteamsv2', 'title', this.ctx.language), text: this.conf.text ?? defaultTemplate('msteamsv2', 'text', this.ctx.language) },
        goData(td, ctx.ackURL),
      );
    } catch (e) {
      return templateError(e);
    }
    let url = '';
    try {
      url = this.conf.webhook_url ? this.conf.webhook_url.reveal() : readSecretFile(this.conf.webhook_url_file!, this.ctx.baseDir);
      const res = await this.poster.post(url, adaptiveCardMessage(f.title, f.text, td.status === 'firing'), ctx.signal);
      const r = classifyHttpStatus(res.status, res.text.trim());
      if (!r.ok && res.status === 429) return { ...r, retry: true };
      return r.ok ? r : { ...r, error: redact(r.error, [url]) };
    } catch (e) {
      return networkError(e, [url]);
    }
  }

  close(): Promise<void> {
    return this.poster.close();
  }
}

registerIntegration<MsteamsV2Config>({
  configKey: 'msteamsv2_configs',
  name: 'msteamsv2',
  build: (conf, ctx) => new MsteamsV2Integration(conf, ctx),
});
