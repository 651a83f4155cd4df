// Feishu / Lark custom bot: POST to …/open-apis/bot/v2/hook/TOKEN. Signing: `timestamp` (seconds,
// in the body) and `sign` = Base64 of HMAC-SHA256 keyed with "timestamp\nsecret" over an empty
// message; the bot refuses a timestamp more than an hour off. Interactive cards (default), text
// or rich text (post); the request body takes 20 KB. It answers `code`: 0 ok, 19021 bad
// signature or timestamp (permanent), 11232 rate limited (hold and merge).

import { createHmac } from 'node:crypto';
import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { readSecretFile } from '../../scrape/httpclient.js';
import { ChatRobot, robotOptions, type RenderedBatch, type Verdict } from '../chat/base.js';
import { secretValue, type RobotAnswer } from '../chat/robot.js';
import { registerIntegration, type IntegrationContext } from '../notifier.js';

export type FeishuConfig = NonNullable<z.infer<typeof receiver>['feishu_configs']>[number];

export const FEISHU_MAX_BODY = 20 * 1024;
const TEXT_BYTES = 18_000;

/** The signature of a Feishu bot request. */
export function feishuSign(timestampSec: number, secret: string): string {
  return createHmac('sha256', `${timestampSec}\n${secret}`).update('').digest('base64');
}

export function feishuVerdict(a: RobotAnswer): Verdict {
  if (a.status >= 500) return { kind: 'failed', retry: true, error: `Feishu answered HTTP ${a.status}` };
  const b = a.body as { code?: number; msg?: string; StatusCode?: number; StatusMessage?: string } | undefined;
  const code = b?.code ?? b?.StatusCode;
  if (typeof code !== 'number') return { kind: 'failed', retry: a.status === 429, error: `Feishu answered HTTP ${a.status}: ${a.text}` };
  const msg = `code ${code}: ${b?.msg ?? b?.StatusMessage ?? ''}`;
  switch (code) {
    case 0:
      return { kind: 'ok' };
    case 11232:
      return { kind: 'rate-limited', error: msg };
    case 19021:
      return { kind: 'failed', retry: false, error: `${msg} (a wrong or missing secret, or the machine's clock more than an hour off)` };
    case 19024:
      return { kind: 'failed', retry: false, error: `${msg} (the bot's IP allowlist does not include this machine)` };
    case 19001:
      return { kind: 'failed', retry: false, error: `${msg} (the bot's address is unknown: the bot was removed or the address was copied wrong)` };
    default:
      return { kind: 'failed', retry: false, error: msg };
  }
}

const HEADER_COLOR: Record<string, string> = { critical: 'red', error: 'red', warning: 'orange', info: 'blue' };

export class FeishuIntegration extends ChatRobot {
  private readonly url: string;
  private readonly secret: string | undefined;

  constructor(
    private readonly conf: FeishuConfig,
    ctx: IntegrationContext,
  ) {
    const url = conf.url ? conf.url.reveal() : readSecretFile(conf.url_file!, ctx.baseDir).trim();
    const secret = secretValue(conf.secret, conf.secret_file, ctx.baseDir);
    super(
      robotOptions(ctx, conf, {
        kind: 'feishu',
        flavor: conf.message_type === 'interactive' ? 'lark' : 'text',
        maxBytes: TEXT_BYTES,
        url,
        textTemplate: conf.text,
        titleTemplate: conf.title,
        secrets: [url, secret],
      }),
    );
    this.url = url;
    this.secret = secret;
  }

  body(m: RenderedBatch, now = Date.now()): Record<string, unknown> {
    const signed: Record<string, unknown> = {};
    if (this.secret) {
      const ts = Math.floor(now / 1000);
      signed.timestamp = String(ts);
      signed.sign = feishuSign(ts, this.secret);
    }
    switch (this.conf.message_type) {
      case 'text':
        return { ...signed, msg_type: 'text', content: { text: `${m.title}\n${m.text}` } };
      case 'post':
        return {
          ...signed,
          msg_type: 'post',
          content: { post: { [this.o.language === 'zh-CN' ? 'zh_cn' : 'en_us']: { title: m.title, content: m.text.split('\n').filter(Boolean).map((line) => [{ tag: 'text', text: line }]) } } },
        };
      default: {
        const color = m.firing === 0 ? 'green' : (HEADER_COLOR[m.severity] ?? 'grey');
        return {
          ...signed,
          msg_type: 'interactive',
          card: {
            config: { wide_screen_mode: true },
            header: { title: { tag: 'plain_text', content: m.title }, template: color },
            elements: [{ tag: 'div', text: { tag: 'lark_md', content: m.text } }],
          },
        };
      }
    }
  }

  protected override fits(m: RenderedBatch): boolean {
    return Buffer.byteLength(JSON.stringify(this.body(m)), 'utf8') <= FEISHU_MAX_BODY;
  }

  protected async send(m: RenderedBatch, signal: AbortSignal): Promise<{ answer: RobotAnswer; verdict: Verdict }> {
    const answer = await this.o.client.post(this.url, this.body(m), signal);
    return { answer, verdict: feishuVerdict(answer) };
  }
}

registerIntegration<FeishuConfig>({
  configKey: 'feishu_configs',
  name: 'feishu',
  build: (conf, ctx) => new FeishuIntegration(conf, ctx),
});
