// Alertmanager's wechat_configs: WeCom (企业微信) application messages. An access token is got
// from `gettoken` with the corp id and the application's secret, cached for as long as WeCom
// says it lives, and got again when a send answers 40014 (invalid) or 42001 (expired); the
// message goes to `message/send` for the agent, to users, parties or tags. Text and markdown
// content take 2,048 bytes.

import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { ChatRobot, robotOptions, type RenderedBatch, type Verdict } from '../chat/base.js';
import { secretValue, type RobotAnswer } from '../chat/robot.js';
import { registerIntegration, type IntegrationContext } from '../notifier.js';
import { wecomVerdict } from '../wecom/wecom.js';

export type WechatConfig = NonNullable<z.infer<typeof receiver>['wechat_configs']>[number];

/** Alertmanager's default wechat_api_url. */
export const WECHAT_API_URL = 'https://qyapi.weixin.qq.com/cgi-bin/';
const CONTENT_BYTES = 2048;

export class WechatIntegration extends ChatRobot {
  private readonly api: string;
  private readonly corpId: string;
  private readonly apiSecret: string;
  private token: { value: string; expires: number } | null = null;
  /** Tokens got so far (tests). */
  tokensFetched = 0;

  constructor(
    private readonly conf: WechatConfig,
    ctx: IntegrationContext,
  ) {
    const g = ctx.global;
    const api = conf.api_url ?? g?.wechat_api_url ?? WECHAT_API_URL;
    const apiSecret = secretValue(conf.api_secret ?? g?.wechat_api_secret, conf.api_secret_file, ctx.baseDir);
    const corpId = conf.corp_id ?? g?.wechat_api_corp_id;
    if (!apiSecret) throw new Error(`wechat_configs[${ctx.index}]: api_secret (or global wechat_api_secret) is required`);
    if (!corpId) throw new Error(`wechat_configs[${ctx.index}]: corp_id (or global wechat_api_corp_id) is required`);
    super(
      robotOptions(ctx, conf, {
        kind: 'wechat',
        // Alertmanager's wechat default: send_resolved false.
        sendResolved: false,
        flavor: conf.message_type === 'markdown' ? 'wecom' : 'text',
        maxBytes: CONTENT_BYTES,
        url: `${api}#${corpId}#${conf.agent_id ?? ''}`,
        textTemplate: conf.message,
        secrets: [apiSecret],
      }),
    );
    this.api = api.endsWith('/') ? api : api + '/';
    this.corpId = corpId;
    this.apiSecret = apiSecret;
  }

  /** The cached access token, or a new one. */
  private async accessToken(signal: AbortSignal): Promise<{ token: string } | { answer: RobotAnswer; verdict: Verdict }> {
    if (this.token && this.token.expires > Date.now()) return { token: this.token.value };
    const u = new URL('gettoken', this.api);
    u.searchParams.set('corpid', this.corpId);
    u.searchParams.set('corpsecret', this.apiSecret);
    const answer = await this.o.client.post(u.toString(), undefined, signal, 'GET');
    const v = wecomVerdict(answer, 'WeCom gettoken');
    if (v.kind !== 'ok') {
      const b = answer.body as { errcode?: number } | undefined;
      // 40001 (bad secret) and 40013 (bad corp id) are for good.
      const permanent = b?.errcode === 40001 || b?.errcode === 40013;
      return { answer, verdict: v.kind === 'failed' ? { ...v, retry: !permanent && v.retry, error: `getting an access token: ${v.error}${permanent ? ' (check corp_id and api_secret)' : ''}` } : v };
    }
    const b = answer.body as { access_token?: string; expires_in?: number };
    if (!b.access_token) return { answer, verdict: { kind: 'failed', retry: true, error: 'WeCom gettoken answered no access_token' } };
    this.tokensFetched++;
    // Renewed a minute before WeCom lets it lapse.
    this.token = { value: b.access_token, expires: Date.now() + Math.max(0, (b.expires_in ?? 7200) * 1000 - 60_000) };
    return { token: b.access_token };
  }

  body(m: RenderedBatch): Record<string, unknown> {
    const c = this.conf;
    const content = c.message_type === 'markdown' ? { markdown: { content: m.text } } : { text: { content: m.text } };
    return { touser: c.to_user ?? (c.to_party || c.to_tag ? undefined : '@all'), toparty: c.to_party, totag: c.to_tag, msgtype: c.message_type, agentid: c.agent_id, safe: '0', ...content };
  }

  protected async send(m: RenderedBatch, signal: AbortSignal): Promise<{ answer: RobotAnswer; verdict: Verdict }> {
    for (let attempt = 0; ; attempt++) {
      const t = await this.accessToken(signal);
      if (!('token' in t)) return t;
      const u = new URL('message/send', this.api);
      u.searchParams.set('access_token', t.token);
      const answer = await this.o.client.post(u.toString(), this.body(m), signal);
      const code = (answer.body as { errcode?: number } | undefined)?.errcode;
      if ((code === 40014 || code === 42001) && attempt === 0) {
        // The token was revoked or lapsed: get a new one and send again.
        this.token = null;
        continue;
      }
      return { answer, verdict: wecomVerdict(answer) };
    }
  }
}

registerIntegration<WechatConfig>({
  configKey: 'wechat_configs',
  name: 'wechat',
  build: (conf, ctx) => new WechatIntegration(conf, ctx),
});
