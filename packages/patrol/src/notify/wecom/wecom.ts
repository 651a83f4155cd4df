// WeCom (企业微信) group robot: POST to the robot's address (…/cgi-bin/webhook/send?key=UUID).
// Markdown content takes 4,096 bytes, text 2,048; mentions by user id (mentioned_list, text
// messages) or mobile (mentioned_mobile_list, both kinds). It answers HTTP 200 with `errcode`:
// 0 ok, 45009 more than 20 messages a minute (hold and merge), 93000 bad key (permanent),
// 40058 content too long (shorten).

import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { wecomKeyProblem } from '../../config/alertmanager.js';
import { readSecretFile } from '../../scrape/httpclient.js';
import { ChatRobot, robotOptions, type RenderedBatch, type Verdict } from '../chat/base.js';
import { utf8Bytes } from '../chat/cut.js';
import type { RobotAnswer } from '../chat/robot.js';
import { registerIntegration, type IntegrationContext } from '../notifier.js';

export type WecomConfig = NonNullable<z.infer<typeof receiver>['wecom_configs']>[number];

export const WECOM_MARKDOWN_BYTES = 4096;
export const WECOM_TEXT_BYTES = 2048;

/** What a WeCom errcode means (shared with the application messages of wechat_configs). */
export function wecomVerdict(a: RobotAnswer, who = 'WeCom'): Verdict {
  if (a.status >= 500) return { kind: 'failed', retry: true, error: `${who} answered HTTP ${a.status}` };
  if (a.status !== 200) return { kind: 'failed', retry: false, error: `${who} answered HTTP ${a.status}: ${a.text}` };
  const b = a.body as { errcode?: number; errmsg?: string } | undefined;
  if (!b || typeof b.errcode !== 'number') return { kind: 'failed', retry: true, error: `${who} answered something that is not its JSON: ${a.text}` };
  const msg = `errcode ${b.errcode}: ${b.errmsg ?? ''}`;
  switch (b.errcode) {
    case 0:
      return { kind: 'ok' };
    case 45009:
    case 45033:
      return { kind: 'rate-limited', error: msg };
    case 40058:
      return { kind: 'too-large', error: msg };
    case 93000:
      return { kind: 'failed', retry: false, error: `${msg} (the robot's key is unknown: the robot was removed or the address was copied wrong)` };
    case -1:
      // "system busy": may pass.
      return { kind: 'failed', retry: true, error: msg };
    default:
      return { kind: 'failed', retry: false, error: msg };
  }
}

export class WecomIntegration extends ChatRobot {
  private readonly url: string;

  constructor(
    private readonly conf: WecomConfig,
    ctx: IntegrationContext,
  ) {
    const url = conf.url ? conf.url.reveal() : readSecretFile(conf.url_file!, ctx.baseDir).trim();
    if (conf.url_file) {
      let problem: string | null;
      try {
        problem = wecomKeyProblem(new URL(url));
      } catch {
        problem = 'url_file does not hold a URL';
      }
      if (problem) throw new Error(`wecom_configs[${ctx.index}]: ${problem}`);
    }
    const text = conf.message_type === 'text';
    super(
      robotOptions(ctx, conf, {
        kind: 'wecom',
        flavor: text ? 'text' : 'wecom',
        // Room for the mentions appended below.
        maxBytes: (text ? WECOM_TEXT_BYTES : WECOM_MARKDOWN_BYTES) - mentionBytes(conf),
        url,
        textTemplate: conf.text,
        secrets: [url],
      }),
    );
    this.url = url;
  }

  body(m: RenderedBatch): Record<string, unknown> {
    const c = this.conf;
    const mention = this.severe(m.groups, c.mention_severities);
    if (c.message_type === 'text') {
      return {
        msgtype: 'text',
        text: { content: m.text, mentioned_list: mention ? c.mentioned_list : [], mentioned_mobile_list: mention ? c.mentioned_mobile_list : [] },
      };
    }
    // Markdown messages mention through <@userid> in the content; mobiles are not supported
    // there, so the mobile list is sent as a text message's would be (WeCom ignores it).
    const ats = mention ? c.mentioned_list.map((u) => `<@${u}>`).join(' ') : '';
    return { msgtype: 'markdown', markdown: { content: ats ? `${m.text}\n${ats}` : m.text, mentioned_mobile_list: mention ? c.mentioned_mobile_list : [] } };
  }

  protected async send(m: RenderedBatch, signal: AbortSignal): Promise<{ answer: RobotAnswer; verdict: Verdict }> {
    const answer = await this.o.client.post(this.url, this.body(m), signal);
    return { answer, verdict: wecomVerdict(answer) };
  }
}

function mentionBytes(c: WecomConfig): number {
  return c.message_type === 'text' ? 0 : utf8Bytes(c.mentioned_list.map((u) => `<@${u}>`).join(' ')) + 1;
}

registerIntegration<WecomConfig>({
  configKey: 'wecom_configs',
  name: 'wecom',
  build: (conf, ctx) => new WecomIntegration(conf, ctx),
});
