// DingTalk custom robot (自定义机器人). Signing (加签): the query gets `timestamp` (ms) and
// `sign` = URL-encoded Base64 of HMAC-SHA256 keyed with the secret over "timestamp\nsecret";
// the robot refuses a timestamp more than an hour off. It answers HTTP 200 with `errcode`:
// 0 ok, 310000 bad signature / keyword / IP (permanent), 130101 more than 20 messages a
// minute (hold and merge), 460101 message too large (shorten).

import { createHmac } from 'node:crypto';
import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { dingtalkSecretProblem } from '../../config/alertmanager.js';
import { registerIntegration, type IntegrationContext } from '../notifier.js';
import { ChatRobot, robotOptions, type RenderedBatch, type Verdict } from '../chat/base.js';
import { secretValue, type RobotAnswer } from '../chat/robot.js';
import { readSecretFile } from '../../scrape/httpclient.js';

export type DingtalkConfig = NonNullable<z.infer<typeof receiver>['dingtalk_configs']>[number];

/** DingTalk's whole request body may take 20,000 bytes; the text gets this much of it. */
export const DINGTALK_MAX_BODY = 20_000;
const TEXT_BYTES = 18_000;

/** The signature of a DingTalk robot request. */
export function dingtalkSign(timestampMs: number, secret: string): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64');
}

/** The signed address: `timestamp` and `sign` added to the robot's URL. */
export function dingtalkSignedUrl(url: string, secret: string | undefined, now = Date.now()): string {
  if (!secret) return url;
  const u = new URL(url);
  u.searchParams.set('timestamp', String(now));
  u.searchParams.set('sign', dingtalkSign(now, secret));
  return u.toString();
}

/** What an errcode means. */
export function dingtalkVerdict(a: RobotAnswer): Verdict {
  if (a.status >= 500) return { kind: 'failed', retry: true, error: `DingTalk answered HTTP ${a.status}` };
  if (a.status !== 200) return { kind: 'failed', retry: false, error: `DingTalk answered HTTP ${a.status}: ${a.text}` };
  const b = a.body as { errcode?: number; errmsg?: string } | undefined;
  if (!b || typeof b.errcode !== 'number') return { kind: 'failed', retry: true, error: `DingTalk answered something that is not its JSON: ${a.text}` };
  const msg = `errcode ${b.errcode}: ${b.errmsg ?? ''}`;
  switch (b.errcode) {
    case 0:
      return { kind: 'ok' };
    case 130101:
      return { kind: 'rate-limited', error: msg };
    case 460101:
      return { kind: 'too-large', error: msg };
    case 310000:
      return {
        kind: 'failed',
        retry: false,
        error: `${msg} (DingTalk refused the robot's security check: a wrong or missing secret, the machine's clock more than an hour off, a keyword the message lacks, or an IP outside the robot's allowed range)`,
      };
    case 300001:
    case 400102:
      return { kind: 'failed', retry: false, error: `${msg} (the access_token is unknown or the robot was removed)` };
    default:
      // DingTalk's system errors (-1 and friends) may pass; anything else is about the request.
      return { kind: 'failed', retry: b.errcode < 0, error: msg };
  }
}

export class DingtalkIntegration extends ChatRobot {
  private readonly url: string;
  private readonly secret: string | undefined;

  constructor(
    private readonly conf: DingtalkConfig,
    ctx: IntegrationContext,
  ) {
    const url = conf.url ? conf.url.reveal() : readSecretFile(conf.url_file!, ctx.baseDir).trim();
    const secret = secretValue(conf.secret, conf.secret_file, ctx.baseDir);
    if (secret && dingtalkSecretProblem(secret)) throw new Error(`dingtalk_configs[${ctx.index}]: ${dingtalkSecretProblem(secret)}`);
    super(
      robotOptions(ctx, conf, {
        kind: 'dingtalk',
        flavor: conf.message_type === 'text' ? 'text' : 'dingtalk',
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

  /** The request body for a rendered message. */
  body(m: RenderedBatch): Record<string, unknown> {
    const c = this.conf;
    const mention = this.severe(m.groups, c.at_severities);
    const at = mention ? { atMobiles: c.at_mobiles, atUserIds: c.at_user_ids, isAtAll: c.at_all } : { atMobiles: [], atUserIds: [], isAtAll: false };
    // DingTalk shows a mention only when the text names it.
    const names = mention ? [...c.at_mobiles, ...c.at_user_ids].map((x) => `@${x}`).join(' ') : '';
    const text = names ? `${m.text}\n\n${names}` : m.text;
    switch (c.message_type) {
      case 'text':
        return { msgtype: 'text', text: { content: text }, at };
      case 'actionCard': {
        const firstURL = m.groups.flatMap((g) => g.alerts).find((a) => a.generatorURL)?.generatorURL;
        // An action card needs a button address; without one, markdown says the same.
        if (!firstURL) return { msgtype: 'markdown', markdown: { title: m.title, text }, at };
        return {
          msgtype: 'actionCard',
          actionCard: { title: m.title, text, btnOrientation: '0', singleTitle: this.o.language === 'zh-CN' ? '查看详情' : 'Details', singleURL: firstURL },
        };
      }
      default:
        return { msgtype: 'markdown', markdown: { title: m.title, text }, at };
    }
  }

  protected override fits(m: RenderedBatch): boolean {
    return Buffer.byteLength(JSON.stringify(this.body(m)), 'utf8') <= DINGTALK_MAX_BODY;
  }

  protected async send(m: RenderedBatch, signal: AbortSignal): Promise<{ answer: RobotAnswer; verdict: Verdict }> {
    const answer = await this.o.client.post(dingtalkSignedUrl(this.url, this.secret), this.body(m), signal);
    return { answer, verdict: dingtalkVerdict(answer) };
  }
}

registerIntegration<DingtalkConfig>({
  configKey: 'dingtalk_configs',
  name: 'dingtalk',
  build: (conf, ctx) => new DingtalkIntegration(conf, ctx),
});
