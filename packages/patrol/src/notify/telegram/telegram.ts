// Telegram: Alertmanager's telegram_configs, sendMessage on the Bot API
// (`<api_url>/bot<token>/sendMessage`). Telegram answers {"ok":false,"error_code":…,
// "description":…}: 400/403 fail for good (chat not found, bot blocked, bad entities), 429
// (with parameters.retry_after) and 5xx are retried. Messages are cut to 4096 characters.

import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { readSecretFile } from '../../scrape/httpclient.js';
import type { Alert } from '../../model/alert.js';
import { registerIntegration, type Integration, type IntegrationContext, type NotifyContext, type NotifyResult } from '../notifier.js';
import { excerpt, JsonPoster, networkError, redact, templateError, truncateRunes } from '../post.js';
import { defaultTemplates, notifyData, type NotifyTemplates } from '../tmpl.js';
import { defaultTemplate } from '../tmpl_defaults.js';

export type TelegramConfig = NonNullable<z.infer<typeof receiver>['telegram_configs']>[number];

export const TELEGRAM_MAX_MESSAGE = 4096;

export function classifyTelegram(status: number, text: string, token: string): NotifyResult {
  let j: { ok?: boolean; error_code?: number; description?: string; parameters?: { retry_after?: number } } = {};
  try {
    j = JSON.parse(text) as typeof j;
  } catch {
    // Not Telegram's JSON (a proxy's page): judged by status alone.
  }
  if (status >= 200 && status < 300 && j.ok !== false) return { ok: true };
  const what = redact(j.description ?? excerpt(text), [token]);
  if (status === 429) return { ok: false, retry: true, reason: 'clientError', error: `telegram 429: ${what}${j.parameters?.retry_after ? ` (retry after ${j.parameters.retry_after}s)` : ''}` };
  if (status >= 500) return { ok: false, retry: true, reason: 'serverError', error: `telegram ${status}: ${what}` };
  return { ok: false, retry: false, reason: 'clientError', error: `telegram ${j.error_code ?? status}: ${what}` };
}

export class TelegramIntegration implements Integration {
  readonly name = 'telegram';
  readonly index: number;
  readonly sendResolved: boolean;
  private readonly poster: JsonPoster;
  private readonly templates: NotifyTemplates;

  constructor(
    private readonly conf: TelegramConfig,
    private readonly ctx: IntegrationContext,
  ) {
    this.index = ctx.index;
    this.sendResolved = conf.send_resolved ?? true;
    this.poster = new JsonPoster(conf.http_config, ctx);
    this.templates = ctx.templates ?? defaultTemplates();
  }

  private token(): string {
    return this.conf.bot_token ? this.conf.bot_token.reveal() : readSecretFile(this.conf.bot_token_file!, this.ctx.baseDir);
  }

  async notify(ctx: NotifyContext, alerts: readonly Alert[]): Promise<NotifyResult> {
    const data = notifyData(ctx, alerts);
    let message: string;
    try {
      message = await this.templates.render(this.conf.message ?? defaultTemplate('telegram', 'message', this.ctx.language), data);
    } catch (e) {
      return templateError(e);
    }
    // Default messages are plain text: escaped for HTML so a label's "<" cannot break parsing.
    if (this.conf.message === undefined && this.conf.parse_mode === 'HTML') message = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const body: Record<string, unknown> = {
      chat_id: this.conf.chat_id,
      text: truncateRunes(message, TELEGRAM_MAX_MESSAGE).text,
      disable_notification: this.conf.disable_notifications,
    };
    if (this.conf.parse_mode) body.parse_mode = this.conf.parse_mode;
    if (this.conf.message_thread_id !== undefined) body.message_thread_id = this.conf.message_thread_id;
    const base = (this.conf.api_url ?? this.ctx.global?.telegram_api_url ?? 'https://api.telegram.org').replace(/\/+$/, '');
    let token = '';
    try {
      token = this.token();
      const res = await this.poster.post(`${base}/bot${token}/sendMessage`, body, ctx.signal);
      return classifyTelegram(res.status, res.text, token);
    } catch (e) {
      return networkError(e, [token]);
    }
  }

  close(): Promise<void> {
    return this.poster.close();
  }
}

registerIntegration<TelegramConfig>({
  configKey: 'telegram_configs',
  name: 'telegram',
  build: (conf, ctx) => new TelegramIntegration(conf, ctx),
});
