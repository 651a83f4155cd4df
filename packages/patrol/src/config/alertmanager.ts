// The sections Patrol shares with alertmanager.yml, placed under `alerting:`: global, route,
// receivers, inhibit_rules, time_intervals (and the older mute_time_intervals), templates.
// Same keys and meaning; Patrol adds receivers for DingTalk, WeCom and Feishu.

import { z } from 'zod';
import { duration, httpClientConfig, labelName, matcherList, secret, secretUrl, timeZone, tlsConfig, url } from './fields.js';
import type { Secret } from './secret.js';
import { alertmanagerTargetConfig, relabelConfig } from './prometheus.js';
import { checkPatrolAlerting, patrolAlertingConfig } from './patrol_alerting.js';
import { parsePeriod } from '../model/timeinterval.js';

const notifierCommon = {
  send_resolved: z.boolean().optional(),
};

const emailConfig = z.strictObject({
  ...notifierCommon,
  to: z.string(),
  from: z.string().optional(),
  smarthost: z.string().optional(),
  hello: z.string().optional(),
  auth_username: z.string().optional(),
  auth_password: secret.optional(),
  auth_password_file: z.string().optional(),
  auth_secret: secret.optional(),
  auth_identity: z.string().optional(),
  require_tls: z.boolean().optional(),
  tls_config: tlsConfig.optional(),
  headers: z.record(z.string(), z.string()).optional(),
  html: z.string().optional(),
  text: z.string().optional(),
});

const webhookConfig = z
  .strictObject({
    ...notifierCommon,
    url: secretUrl.optional(),
    url_file: z.string().optional(),
    http_config: httpClientConfig.optional(),
    max_alerts: z.number().int().nonnegative().default(0),
    timeout: duration.optional(),
  })
  .refine((w) => w.url !== undefined || w.url_file !== undefined, { error: 'one of url or url_file is required' });

const slackConfig = z.strictObject({
  ...notifierCommon,
  api_url: secretUrl.optional(),
  api_url_file: z.string().optional(),
  channel: z.string().optional(),
  username: z.string().optional(),
  color: z.string().optional(),
  title: z.string().optional(),
  title_link: z.string().optional(),
  pretext: z.string().optional(),
  text: z.string().optional(),
  footer: z.string().optional(),
  fallback: z.string().optional(),
  icon_emoji: z.string().optional(),
  icon_url: z.string().optional(),
  link_names: z.boolean().optional(),
  short_fields: z.boolean().optional(),
  mrkdwn_in: z.array(z.string()).optional(),
  fields: z.array(z.record(z.string(), z.unknown())).optional(),
  actions: z.array(z.record(z.string(), z.unknown())).optional(),
  callback_id: z.string().optional(),
  image_url: z.string().optional(),
  thumb_url: z.string().optional(),
  http_config: httpClientConfig.optional(),
});

/** Language of the default message templates (global, overridden per receiver). */
export const language = z.enum(['en', 'zh-CN']);

/** The robot's address: `url` or `url_file` (either a secret: it carries the robot's key). */
function robotUrl<T extends { url?: Secret | undefined; url_file?: string | undefined }>(o: T, ctx: z.RefinementCtx, check?: (u: URL) => string | null): void {
  if ((o.url === undefined) === (o.url_file === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'exactly one of url or url_file is required', path: ['url'] });
    return;
  }
  if (o.url && check) {
    const problem = check(new URL(o.url.reveal()));
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['url'] });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A WeCom group robot's key (the `key` query parameter of its address) is a UUID. */
export function wecomKeyProblem(u: URL): string | null {
  const key = u.searchParams.get('key');
  if (key === null) return 'the WeCom robot address has no key= parameter (copy the whole address from the robot\'s settings)';
  return UUID.test(key) ? null : 'the WeCom robot key (key= in url) is not a UUID (the value is not shown: it is a secret)';
}

/** A DingTalk signing secret starts with SEC (加签 in the robot's security settings). */
export function dingtalkSecretProblem(s: string): string | null {
  return s.startsWith('SEC') ? null : 'a DingTalk signing secret starts with "SEC" (the value is not shown: it is a secret)';
}

/** DingTalk custom robot: webhook URL with access_token, optional signing secret (加签). */
const dingtalkConfig = z
  .strictObject({
    ...notifierCommon,
    url: secretUrl.optional(),
    url_file: z.string().optional(),
    secret: secret.optional(),
    secret_file: z.string().optional(),
    message_type: z.enum(['markdown', 'text', 'actionCard']).default('markdown'),
    title: z.string().optional(),
    text: z.string().optional(),
    at_mobiles: z.array(z.string()).default([]),
    at_user_ids: z.array(z.string()).default([]),
    at_all: z.boolean().default(false),
    /** The mentions (at_*) are made only when a firing alert has one of these severities. */
    at_severities: z.array(z.string()).default(['critical']),
    language: language.optional(),
    http_config: httpClientConfig.optional(),
  })
  .superRefine((o, ctx) => {
    robotUrl(o, ctx, (u) => (u.searchParams.get('access_token') ? null : 'the DingTalk robot address has no access_token= parameter (copy the whole address from the robot\'s settings)'));
    const problem = o.secret ? dingtalkSecretProblem(o.secret.reveal()) : null;
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['secret'] });
    if (o.secret && o.secret_file) ctx.addIssue({ code: 'custom', message: 'at most one of secret and secret_file', path: ['secret'] });
  });

/** WeCom (企业微信) group robot: webhook URL with key. */
const wecomConfig = z
  .strictObject({
    ...notifierCommon,
    url: secretUrl.optional(),
    url_file: z.string().optional(),
    message_type: z.enum(['markdown', 'text']).default('markdown'),
    text: z.string().optional(),
    mentioned_list: z.array(z.string()).default([]),
    mentioned_mobile_list: z.array(z.string()).default([]),
    /** The mentions are made only when a firing alert has one of these severities. */
    mention_severities: z.array(z.string()).default(['critical']),
    language: language.optional(),
    http_config: httpClientConfig.optional(),
  })
  .superRefine((o, ctx) => robotUrl(o, ctx, wecomKeyProblem));

/** Alertmanager's wechat_configs: WeCom application messages through the corp API. */
const wechatConfig = z.strictObject({
  ...notifierCommon,
  api_secret: secret.optional(),
  api_secret_file: z.string().optional(),
  api_url: url.optional(),
  corp_id: z.string().optional(),
  agent_id: z.string().optional(),
  to_user: z.string().optional(),
  to_party: z.string().optional(),
  to_tag: z.string().optional(),
  message: z.string().optional(),
  message_type: z.enum(['text', 'markdown']).default('text'),
  language: language.optional(),
  http_config: httpClientConfig.optional(),
});

/** Feishu / Lark custom bot: webhook URL, optional signature secret. */
const feishuConfig = z
  .strictObject({
    ...notifierCommon,
    url: secretUrl.optional(),
    url_file: z.string().optional(),
    secret: secret.optional(),
    secret_file: z.string().optional(),
    message_type: z.enum(['interactive', 'text', 'post']).default('interactive'),
    title: z.string().optional(),
    text: z.string().optional(),
    language: language.optional(),
    http_config: httpClientConfig.optional(),
  })
  .superRefine((o, ctx) => robotUrl(o, ctx));

/** Telegram bot (Alertmanager's keys). */
const telegramConfig = z
  .strictObject({
    ...notifierCommon,
    api_url: url.optional(),
    bot_token: secret.optional(),
    bot_token_file: z.string().optional(),
    chat_id: z.union([z.number().int(), z.string()]).transform((v) => Number(v)).refine((v) => Number.isSafeInteger(v) && v !== 0, { error: 'chat_id must be a non-zero integer' }),
    message_thread_id: z.number().int().optional(),
    message: z.string().optional(),
    disable_notifications: z.boolean().default(false),
    parse_mode: z.enum(['', 'HTML', 'Markdown', 'MarkdownV2']).default('HTML'),
    http_config: httpClientConfig.optional(),
  })
  .refine((t) => (t.bot_token !== undefined) !== (t.bot_token_file !== undefined), { error: 'exactly one of bot_token or bot_token_file is required' });

/** PagerDuty Events API v2 (routing_key) or v1 (service_key), Alertmanager's keys. */
const pagerdutyConfig = z
  .strictObject({
    ...notifierCommon,
    routing_key: secret.optional(),
    routing_key_file: z.string().optional(),
    service_key: secret.optional(),
    service_key_file: z.string().optional(),
    url: url.optional(),
    client: z.string().optional(),
    client_url: z.string().optional(),
    description: z.string().optional(),
    details: z.record(z.string(), z.string()).optional(),
    images: z.array(z.strictObject({ src: z.string().optional(), alt: z.string().optional(), href: z.string().optional() })).optional(),
    links: z.array(z.strictObject({ href: z.string().optional(), text: z.string().optional() })).optional(),
    source: z.string().optional(),
    severity: z.string().optional(),
    class: z.string().optional(),
    component: z.string().optional(),
    group: z.string().optional(),
    timeout: duration.optional(),
    http_config: httpClientConfig.optional(),
  })
  .refine((p) => [p.routing_key, p.routing_key_file, p.service_key, p.service_key_file].filter((k) => k !== undefined).length === 1, {
    error: 'exactly one of routing_key, routing_key_file (Events API v2), service_key or service_key_file (v1) is required',
  });

/** Microsoft Teams through a Workflows webhook (Adaptive Card). */
const msteamsv2Config = z
  .strictObject({
    ...notifierCommon,
    webhook_url: secretUrl.optional(),
    webhook_url_file: z.string().optional(),
    title: z.string().optional(),
    text: z.string().optional(),
    http_config: httpClientConfig.optional(),
  })
  .refine((t) => t.webhook_url !== undefined || t.webhook_url_file !== undefined, { error: 'one of webhook_url or webhook_url_file is required' });

/** SMS and voice paging through Aliyun or Tencent Cloud (Patrol's own). */
const smsConfig = z
  .strictObject({
    ...notifierCommon,
    provider: z.enum(['aliyun', 'tencent']),
    /** sms (text message) or voice (text-to-speech call). */
    kind: z.enum(['sms', 'voice']).default('sms'),
    access_key_id: secret.optional(),
    access_key_id_file: z.string().optional(),
    access_key_secret: secret.optional(),
    access_key_secret_file: z.string().optional(),
    /** API endpoint; the provider's public one by default (tests and proxies point it elsewhere). */
    url: url.optional(),
    region: z.string().optional(),
    phone_numbers: z.array(z.string().regex(/^\+?\d{5,20}$/, { error: 'phone numbers are digits, optionally with a leading +' })).min(1),
    sign_name: z.string().optional(),
    template_code: z.string().min(1),
    /** Template parameters, each value a notification template. */
    template_params: z.record(z.string(), z.string()).default({}),
    /** Each rendered parameter is cut to this many characters (Aliyun SMS allows 35; 0: no cut). */
    param_max_length: z.number().int().nonnegative().optional(),
    /** Voice: how many times the message is played (1 to 3). */
    play_times: z.number().int().min(1).max(3).default(2),
    /** Tencent: SmsSdkAppId (SMS) or VoiceSdkAppid (voice). */
    app_id: z.string().optional(),
    /** Aliyun voice: the caller number shown (CalledShowNumber). */
    called_show_number: z.string().optional(),
    timeout: duration.optional(),
    http_config: httpClientConfig.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.access_key_id === undefined && c.access_key_id_file === undefined) ctx.addIssue({ code: 'custom', message: 'access_key_id or access_key_id_file is required' });
    if (c.access_key_secret === undefined && c.access_key_secret_file === undefined) ctx.addIssue({ code: 'custom', message: 'access_key_secret or access_key_secret_file is required' });
    if (c.provider === 'tencent' && !c.app_id) ctx.addIssue({ code: 'custom', message: 'app_id is required for Tencent Cloud', path: ['app_id'] });
    if (c.kind === 'sms' && !c.sign_name) ctx.addIssue({ code: 'custom', message: 'sign_name is required for SMS', path: ['sign_name'] });
  });

/** Integrations Patrol accepts with their Alertmanager keys but validates loosely. */
const looseIntegration = z.array(z.record(z.string(), z.unknown())).optional();


export const receiver = z.strictObject({
  name: z.string().min(1),
  language: language.optional(),
  email_configs: z.array(emailConfig).optional(),
  webhook_configs: z.array(webhookConfig).optional(),
  slack_configs: z.array(slackConfig).optional(),
  dingtalk_configs: z.array(dingtalkConfig).optional(),
  wecom_configs: z.array(wecomConfig).optional(),
  feishu_configs: z.array(feishuConfig).optional(),
  pagerduty_configs: z.array(pagerdutyConfig).optional(),
  opsgenie_configs: looseIntegration,
  wechat_configs: z.array(wechatConfig).optional(),
  telegram_configs: z.array(telegramConfig).optional(),
  msteams_configs: looseIntegration,
  msteamsv2_configs: z.array(msteamsv2Config).optional(),
  discord_configs: looseIntegration,
  sns_configs: looseIntegration,
  victorops_configs: looseIntegration,
  pushover_configs: looseIntegration,
  webex_configs: looseIntegration,
  jira_configs: looseIntegration,
  rocketchat_configs: looseIntegration,
  incidentio_configs: looseIntegration,
  sms_configs: z.array(smsConfig).optional(),
});

export type ReceiverConfig = z.infer<typeof receiver>;

const legacyMatch = z.record(labelName, z.string());

export interface RouteConfig {
  /** Patrol's own key (Alertmanager has none): names a child route for the config API. */
  name?: string | undefined;
  receiver?: string | undefined;
  group_by?: string[] | undefined;
  continue: boolean;
  matchers: z.infer<typeof matcherList>;
  match?: Record<string, string> | undefined;
  match_re?: Record<string, string> | undefined;
  group_wait?: number | undefined;
  group_interval?: number | undefined;
  repeat_interval?: number | undefined;
  mute_time_intervals: string[];
  active_time_intervals: string[];
  routes: RouteConfig[];
}

export const route: z.ZodType<RouteConfig, unknown> = z.lazy(() =>
  z.strictObject({
    name: z.string().min(1).max(200).optional(),
    receiver: z.string().optional(),
    group_by: z.array(z.string()).optional(),
    continue: z.boolean().default(false),
    matchers: matcherList.default([]),
    match: legacyMatch.optional(),
    match_re: legacyMatch.optional(),
    group_wait: duration.optional(),
    group_interval: duration.optional(),
    repeat_interval: duration.optional(),
    mute_time_intervals: z.array(z.string()).default([]),
    active_time_intervals: z.array(z.string()).default([]),
    routes: z.array(route).default([]),
  }),
);

const inhibitRule = z.strictObject({
  source_matchers: matcherList.default([]),
  target_matchers: matcherList.default([]),
  source_match: legacyMatch.optional(),
  source_match_re: legacyMatch.optional(),
  target_match: legacyMatch.optional(),
  target_match_re: legacyMatch.optional(),
  equal: z.array(z.string()).default([]),
});

const clock = /^([01]?\d|2[0-4]):[0-5]\d$/;
const timeRange = z.strictObject({
  start_time: z.string().regex(clock, { error: (iss) => `${JSON.stringify(iss.input)} is not a time of day (HH:MM)` }),
  end_time: z.string().regex(clock, { error: (iss) => `${JSON.stringify(iss.input)} is not a time of day (HH:MM)` }),
});

const timeInterval = z.strictObject({
  times: z.array(timeRange).optional(),
  weekdays: z.array(z.string()).optional(),
  days_of_month: z.array(z.string()).optional(),
  months: z.array(z.string()).optional(),
  years: z.array(z.string()).optional(),
  location: z.string().optional(),
});

const namedTimeInterval = z.strictObject({
  name: z.string().min(1),
  time_intervals: z.array(timeInterval),
});

const amGlobal = z.strictObject({
  resolve_timeout: duration.default(5 * 60_000),
  language: language.optional(),
  /** Patrol: the time zone of times in the default messages (default: this machine's). */
  time_zone: timeZone.optional(),
  http_config: httpClientConfig.optional(),
  smtp_from: z.string().optional(),
  smtp_hello: z.string().default('localhost'),
  smtp_smarthost: z.string().optional(),
  smtp_auth_username: z.string().optional(),
  smtp_auth_password: secret.optional(),
  smtp_auth_password_file: z.string().optional(),
  smtp_auth_secret: secret.optional(),
  smtp_auth_identity: z.string().optional(),
  smtp_require_tls: z.boolean().default(true),
  smtp_tls_config: tlsConfig.optional(),
  slack_api_url: secretUrl.optional(),
  slack_api_url_file: z.string().optional(),
  pagerduty_url: url.optional(),
  opsgenie_api_url: url.optional(),
  opsgenie_api_key: secret.optional(),
  wechat_api_url: url.optional(),
  wechat_api_secret: secret.optional(),
  wechat_api_corp_id: z.string().optional(),
  telegram_api_url: url.optional(),
  webex_api_url: url.optional(),
  victorops_api_url: url.optional(),
  victorops_api_key: secret.optional(),
});

/** What Alertmanager checks when loading: keys an integration takes from `global` when it has none. */
function checkGlobalDefaults(r: ReceiverConfig, g: z.infer<typeof amGlobal> | undefined, add: (message: string, path: (string | number)[]) => void): void {
  r.email_configs?.forEach((e, j) => {
    const at = ['email_configs', j];
    if (!e.to.trim()) add('missing to address in email config', [...at, 'to']);
    if (!e.from && !g?.smtp_from) add('no global SMTP from set', [...at, 'from']);
    const host = e.smarthost ?? g?.smtp_smarthost;
    if (!host) add('no global SMTP smarthost set', [...at, 'smarthost']);
    else if (!/^(\[[^\]]+\]|[^:]*):\d+$/.test(host)) add(`smarthost ${JSON.stringify(host)} is not host:port`, [...at, 'smarthost']);
    if (e.auth_password !== undefined && e.auth_password_file !== undefined) add('at most one of auth_password & auth_password_file must be configured', at);
  });
  r.slack_configs?.forEach((c, j) => {
    if (!c.api_url && !c.api_url_file && !g?.slack_api_url && !g?.slack_api_url_file) add('no global Slack API URL set either inline or in a file', ['slack_configs', j]);
  });
}

export const alertingConfig = z
  .strictObject({
    // Alertmanager's own keys.
    global: amGlobal.optional(),
    route: route.optional(),
    receivers: z.array(receiver).default([]),
    inhibit_rules: z.array(inhibitRule).default([]),
    time_intervals: z.array(namedTimeInterval).default([]),
    mute_time_intervals: z.array(namedTimeInterval).default([]),
    templates: z.array(z.string()).default([]),
    // Prometheus's keys (forwarding alerts to external Alertmanagers).
    alertmanagers: z.array(alertmanagerTargetConfig).default([]),
    alert_relabel_configs: z.array(relabelConfig).default([]),
    // Patrol's own: history, acknowledgement and escalation, digests, dependencies.
    patrol: patrolAlertingConfig.default(patrolAlertingConfig.parse({})),
  })
  .superRefine((a, ctx) => {
    const names = new Map<string, number>();
    a.receivers.forEach((r, i) => {
      // A name defined twice is reported by semantic.ts.
      names.set(r.name, i);
    });
    a.receivers.forEach((r, i) => checkGlobalDefaults(r, a.global, (message, path) => ctx.addIssue({ code: 'custom', message, path: ['receivers', i, ...path] })));
    checkPatrolAlerting(a.patrol, new Set(names.keys()), (message, path) => ctx.addIssue({ code: 'custom', message, path }));
    const intervals = new Set([...a.time_intervals, ...a.mute_time_intervals].map((t) => t.name));
    // The same parsing as the running dispatcher, so `check config` rejects what `start` would.
    for (const key of ['time_intervals', 'mute_time_intervals'] as const) {
      a[key].forEach((n, i) =>
        n.time_intervals.forEach((t, j) => {
          try {
            parsePeriod(t);
          } catch (e) {
            ctx.addIssue({ code: 'custom', message: `time interval ${JSON.stringify(n.name)}: ${(e as Error).message}`, path: [key, i, 'time_intervals', j] });
          }
        }),
      );
    }
    if (a.route) {
      if (!a.route.receiver) ctx.addIssue({ code: 'custom', message: 'root route must specify a default receiver', path: ['route'] });
      if (a.route.matchers.length > 0 || a.route.match || a.route.match_re) {
        ctx.addIssue({ code: 'custom', message: 'root route must not have any matchers', path: ['route'] });
      }
      const walk = (r: RouteConfig, path: (string | number)[]) => {
        if (r.receiver !== undefined && !names.has(r.receiver)) {
          ctx.addIssue({ code: 'custom', message: `undefined receiver ${JSON.stringify(r.receiver)} used in route`, path: [...path, 'receiver'] });
        }
        for (const key of ['mute_time_intervals', 'active_time_intervals'] as const) {
          r[key].forEach((n, i) => {
            if (!intervals.has(n)) ctx.addIssue({ code: 'custom', message: `undefined time interval ${JSON.stringify(n)} used in route`, path: [...path, key, i] });
          });
        }
        r.routes.forEach((c, i) => walk(c, [...path, 'routes', i]));
      };
      walk(a.route, ['route']);
    } else if (a.receivers.length > 0) {
      ctx.addIssue({ code: 'custom', message: 'receivers are defined but there is no route', path: ['receivers'] });
    }
  });

export type AlertingConfig = z.infer<typeof alertingConfig>;
