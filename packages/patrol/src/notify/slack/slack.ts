// Slack: Alertmanager's slack_configs, one attachment POSTed to an incoming webhook (answers
// "ok", or 4xx with an error word such as invalid_payload) or to chat.postMessage (answers
// 200 with {"ok":false,"error":…} on failure). api_url(_file) falls back to global.slack_api_url.

import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { readSecretFile } from '../../scrape/httpclient.js';
import type { Alert } from '../../model/alert.js';
import { templateData } from '../data.js';
import { registerIntegration, type Integration, type IntegrationContext, type NotifyContext, type NotifyResult } from '../notifier.js';
import { excerpt, JsonPoster, networkError, templateError } from '../post.js';
import { defaultTemplates, goData, type NotifyTemplates } from '../tmpl.js';
import { defaultTemplate } from '../tmpl_defaults.js';

export type SlackConfig = NonNullable<z.infer<typeof receiver>['slack_configs']>[number];

/** Slack's attachment text limit is far above this; Alertmanager cuts the title at 1024 runes. */
const MAX_TITLE = 1024;

/** Classifies Slack's answer: 200 "ok" or {"ok":true}; {"ok":false,error} and 4xx fail for good; 429 and 5xx are retried. */
export function classifySlack(status: number, text: string): NotifyResult {
  if (status === 429) return { ok: false, retry: true, reason: 'clientError', error: `slack rate limited (429): ${excerpt(text)}` };
  if (status >= 500) return { ok: false, retry: true, reason: 'serverError', error: `unexpected status code ${status}: ${excerpt(text)}` };
  if (status >= 400) return { ok: false, retry: false, reason: 'clientError', error: `unexpected status code ${status}: ${excerpt(text)}` };
  if (status < 200 || status >= 300) return { ok: false, retry: false, reason: 'other', error: `unexpected status code ${status}` };
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      const j = JSON.parse(t) as { ok?: boolean; error?: string };
      if (j.ok === false) return { ok: false, retry: false, reason: 'clientError', error: `slack error: ${j.error ?? 'unknown'}` };
    } catch {
      // Not JSON after all: a webhook's plain answer.
    }
  }
  return { ok: true };
}

export class SlackIntegration implements Integration {
  readonly name = 'slack';
  readonly index: number;
  readonly sendResolved: boolean;
  private readonly poster: JsonPoster;
  private readonly templates: NotifyTemplates;

  constructor(
    private readonly conf: SlackConfig,
    private readonly ctx: IntegrationContext,
  ) {
    this.index = ctx.index;
    this.sendResolved = conf.send_resolved ?? false;
    if (!conf.api_url && !conf.api_url_file && !ctx.global?.slack_api_url && !ctx.global?.slack_api_url_file) throw new Error('slack_configs: no api_url (api_url, api_url_file or global.slack_api_url)');
    this.poster = new JsonPoster(conf.http_config, ctx);
    this.templates = ctx.templates ?? defaultTemplates();
  }

  private url(): string {
    const g = this.ctx.global;
    if (this.conf.api_url) return this.conf.api_url.reveal();
    if (this.conf.api_url_file) return readSecretFile(this.conf.api_url_file, this.ctx.baseDir);
    if (g?.slack_api_url) return g.slack_api_url.reveal();
    return readSecretFile(g!.slack_api_url_file!, this.ctx.baseDir);
  }

  async notify(ctx: NotifyContext, alerts: readonly Alert[]): Promise<NotifyResult> {
    const data = goData(templateData(ctx.receiver, ctx.groupLabels, alerts, ctx.externalURL, ctx.now));
    const c = this.conf;
    const lang = this.ctx.language;
    let f: Record<string, string>;
    try {
      f = await this.templates.renderAll(
        {
          channel: c.channel ?? '',
          username: c.username ?? '{{ template "slack.default.username" . }}',
          color: c.color ?? '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}',
          title: c.title ?? defaultTemplate('slack', 'title', lang),
          title_link: c.title_link ?? '{{ template "slack.default.titlelink" . }}',
          pretext: c.pretext ?? '{{ template "slack.default.pretext" . }}',
          text: c.text ?? defaultTemplate('slack', 'text', lang),
          footer: c.footer ?? '{{ template "slack.default.footer" . }}',
          fallback: c.fallback ?? '{{ template "slack.default.fallback" . }}',
          callback_id: c.callback_id ?? '',
          icon_emoji: c.icon_emoji ?? '{{ template "slack.default.iconemoji" . }}',
          icon_url: c.icon_url ?? '{{ template "slack.default.iconurl" . }}',
          image_url: c.image_url ?? '',
          thumb_url: c.thumb_url ?? '',
        },
        data,
      );
    } catch (e) {
      return templateError(e);
    }
    const title = [...f.title].length > MAX_TITLE ? [...f.title].slice(0, MAX_TITLE - 1).join('') + '…' : f.title;
    const attachment: Record<string, unknown> = {
      title,
      title_link: f.title_link,
      pretext: f.pretext,
      text: f.text,
      fallback: f.fallback,
      callback_id: f.callback_id,
      footer: f.footer,
      color: f.color,
      mrkdwn_in: c.mrkdwn_in ?? ['fallback', 'pretext', 'text'],
    };
    if (f.image_url) attachment.image_url = f.image_url;
    if (f.thumb_url) attachment.thumb_url = f.thumb_url;
    if (c.fields?.length) attachment.fields = c.fields;
    if (c.actions?.length) attachment.actions = c.actions;
    const body: Record<string, unknown> = { channel: f.channel, username: f.username, attachments: [attachment] };
    if (f.icon_emoji) body.icon_emoji = f.icon_emoji;
    if (f.icon_url) body.icon_url = f.icon_url;
    if (c.link_names) body.link_names = true;
    let url = '';
    try {
      url = this.url();
      const res = await this.poster.post(url, body, ctx.signal);
      return classifySlack(res.status, res.text);
    } catch (e) {
      return networkError(e, [url]);
    }
  }

  close(): Promise<void> {
    return this.poster.close();
  }
}

registerIntegration<SlackConfig>({
  configKey: 'slack_configs',
  name: 'slack',
  build: (conf, ctx) => new SlackIntegration(conf, ctx),
});
