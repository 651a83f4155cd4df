// SMS and voice paging (sms_configs) through Aliyun (dysmsapi SendSms, dyvmsapi
// SingleCallByTts) or Tencent Cloud (sms SendSms 2021-01-11, vms SendTtsVoice 2020-09-02), each
// request signed as the provider documents (sign.ts). Template parameters are notification
// templates. Both providers answer errors in the body: signature, key and template errors fail
// for good with the provider's code; throttling and internal errors are retried.

import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { readSecretFile } from '../../scrape/httpclient.js';
import type { Alert } from '../../model/alert.js';
import { registerIntegration, type Integration, type IntegrationContext, type NotifyContext, type NotifyResult } from '../notifier.js';
import { excerpt, JsonPoster, networkError, redact, templateError, truncateRunes } from '../post.js';
import { defaultTemplates, notifyData, type NotifyTemplates } from '../tmpl.js';
import { aliyunSignature, aliyunTimestamp, tc3Authorization } from './sign.js';

export type SmsConfig = NonNullable<z.infer<typeof receiver>['sms_configs']>[number];

const ENDPOINTS = {
  aliyun: { sms: 'https://dysmsapi.aliyuncs.com/', voice: 'https://dyvmsapi.aliyuncs.com/' },
  tencent: { sms: 'https://sms.tencentcloudapi.com/', voice: 'https://vms.tencentcloudapi.com/' },
} as const;

/** Aliyun codes worth trying again: throttling and the service's own trouble. */
function aliyunRetryable(code: string): boolean {
  return /^Throttling/.test(code) || code === 'isv.BUSINESS_LIMIT_CONTROL' || code === 'ServiceUnavailable' || code === 'InternalError' || code === 'isp.SYSTEM_ERROR' || code === 'isp.RAM_PERMISSION_DENY_TEMP';
}

/** Tencent codes worth trying again. */
function tencentRetryable(code: string): boolean {
  return code === 'RequestLimitExceeded' || code.startsWith('LimitExceeded.PhoneNumberThirtySecondLimit') || code.startsWith('LimitExceeded.PhoneNumberOneHourLimit') || code === 'InternalError' || code.startsWith('InternalError.') || code === 'ResourceUnavailable';
}

export function classifyAliyun(status: number, text: string): NotifyResult {
  let j: { Code?: string; Message?: string } = {};
  try {
    j = JSON.parse(text) as typeof j;
  } catch {
    // Not Aliyun's JSON (a gateway's page).
  }
  if (status >= 200 && status < 300 && j.Code === 'OK') return { ok: true };
  const code = j.Code ?? `HTTP ${status}`;
  // The provider's message may quote the string to sign: keep only its first sentence.
  const msg = (j.Message ?? excerpt(text)).split(/ server string to sign is:/)[0];
  const retry = status >= 500 || aliyunRetryable(code);
  return { ok: false, retry, reason: status >= 500 ? 'serverError' : 'clientError', error: `aliyun ${code}: ${msg}` };
}

interface TencentResponse {
  Response?: { Error?: { Code?: string; Message?: string }; SendStatusSet?: { PhoneNumber?: string; Code?: string; Message?: string }[]; RequestId?: string };
}

export function classifyTencent(status: number, text: string): NotifyResult {
  let j: TencentResponse = {};
  try {
    j = JSON.parse(text) as TencentResponse;
  } catch {
    // Not Tencent's JSON.
  }
  if (status >= 500) return { ok: false, retry: true, reason: 'serverError', error: `tencent HTTP ${status}: ${excerpt(text)}` };
  const r = j.Response;
  if (!r) return { ok: false, retry: status >= 500, reason: 'other', error: `tencent HTTP ${status}: ${excerpt(text)}` };
  if (r.Error) {
    const code = r.Error.Code ?? 'unknown';
    return { ok: false, retry: tencentRetryable(code), reason: 'clientError', error: `tencent ${code}: ${r.Error.Message ?? ''}` };
  }
  const failed = (r.SendStatusSet ?? []).filter((s) => s.Code !== 'Ok');
  if (failed.length === 0) return { ok: true };
  return {
    ok: false,
    retry: failed.some((s) => tencentRetryable(s.Code ?? '')),
    reason: 'clientError',
    error: `tencent: ${failed.map((s) => `${s.PhoneNumber ?? '?'} ${s.Code ?? ''}: ${s.Message ?? ''}`).join('; ')}`,
  };
}

export class SmsIntegration implements Integration {
  readonly name = 'sms';
  readonly index: number;
  readonly sendResolved: boolean;
  private readonly poster: JsonPoster;
  private readonly templates: NotifyTemplates;

  constructor(
    private readonly conf: SmsConfig,
    private readonly ctx: IntegrationContext,
  ) {
    this.index = ctx.index;
    // Paging is for what fires: resolved notices only when asked.
    this.sendResolved = conf.send_resolved ?? false;
    this.poster = new JsonPoster(conf.http_config, ctx);
    this.templates = ctx.templates ?? defaultTemplates();
  }

  private credentials(): { id: string; secret: string } {
    const c = this.conf;
    return {
      id: c.access_key_id ? c.access_key_id.reveal() : readSecretFile(c.access_key_id_file!, this.ctx.baseDir),
      secret: c.access_key_secret ? c.access_key_secret.reveal() : readSecretFile(c.access_key_secret_file!, this.ctx.baseDir),
    };
  }

  /** The template parameters rendered, in their configured order, each cut to its limit. */
  private async params(data: unknown): Promise<[string, string][]> {
    const max = this.conf.param_max_length ?? (this.conf.provider === 'aliyun' && this.conf.kind === 'sms' ? 35 : 0);
    const out = await this.templates.renderAll(this.conf.template_params, data);
    return Object.entries(out).map(([k, v]) => [k, max > 0 ? truncateRunes(v, max).text : v]);
  }

  async notify(ctx: NotifyContext, alerts: readonly Alert[]): Promise<NotifyResult> {
    let params: [string, string][];
    try {
      params = await this.params(notifyData(ctx, alerts));
    } catch (e) {
      return templateError(e);
    }
    let creds = { id: '', secret: '' };
    try {
      creds = this.credentials();
      const url = this.conf.url ?? ENDPOINTS[this.conf.provider][this.conf.kind];
      if (this.conf.provider === 'aliyun') return await this.aliyun(url, creds, params, ctx.signal);
      return await this.tencent(url, creds, params, ctx.signal);
    } catch (e) {
      return networkError(e, [creds.id, creds.secret]);
    }
  }

  private async aliyun(url: string, creds: { id: string; secret: string }, params: [string, string][], signal: AbortSignal): Promise<NotifyResult> {
    const c = this.conf;
    const common = (action: string): Record<string, string> => ({
      AccessKeyId: creds.id,
      Action: action,
      Format: 'JSON',
      RegionId: c.region ?? 'cn-hangzhou',
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: randomUUID(),
      SignatureVersion: '1.0',
      Timestamp: aliyunTimestamp(Date.now()),
      Version: '2017-05-25',
    });
    const send = async (p: Record<string, string>): Promise<NotifyResult> => {
      const { signature } = aliyunSignature('POST', p, creds.secret);
      const body = new URLSearchParams({ ...p, Signature: signature }).toString();
      const res = await this.poster.post(url, body, signal, { timeout: c.timeout, contentType: 'application/x-www-form-urlencoded' });
      const r = classifyAliyun(res.status, res.text);
      return r.ok ? r : { ...r, error: redact(r.error, [creds.id, creds.secret]) };
    };
    const json = JSON.stringify(Object.fromEntries(params));
    if (c.kind === 'sms') {
      return send({ ...common('SendSms'), PhoneNumbers: c.phone_numbers.join(','), SignName: c.sign_name!, TemplateCode: c.template_code, ...(params.length ? { TemplateParam: json } : {}) });
    }
    // One call per number; the first failure is reported, the other numbers are still called.
    let first: NotifyResult = { ok: true };
    for (const n of c.phone_numbers) {
      const p: Record<string, string> = { ...common('SingleCallByTts'), CalledNumber: n, TtsCode: c.template_code, PlayTimes: String(c.play_times) };
      if (c.called_show_number) p.CalledShowNumber = c.called_show_number;
      if (params.length) p.TtsParam = json;
      const r = await send(p);
      if (!r.ok && first.ok) first = r;
    }
    return first;
  }

  private async tencent(url: string, creds: { id: string; secret: string }, params: [string, string][], signal: AbortSignal): Promise<NotifyResult> {
    const c = this.conf;
    const host = new URL(url).host;
    const contentType = 'application/json; charset=utf-8';
    const send = async (service: string, action: string, version: string, payload: unknown): Promise<NotifyResult> => {
      const body = JSON.stringify(payload);
      const timestamp = Math.floor(Date.now() / 1000);
      const headers = {
        authorization: tc3Authorization({ secretId: creds.id, secretKey: creds.secret, service, host, contentType, body, timestamp }),
        'x-tc-action': action,
        'x-tc-version': version,
        'x-tc-timestamp': String(timestamp),
        'x-tc-region': c.region ?? 'ap-guangzhou',
        host,
      };
      const res = await this.poster.post(url, body, signal, { timeout: c.timeout, contentType, headers });
      const r = classifyTencent(res.status, res.text);
      return r.ok ? r : { ...r, error: redact(r.error, [creds.id, creds.secret]) };
    };
    const values = params.map(([, v]) => v);
    if (c.kind === 'sms') {
      return send('sms', 'SendSms', '2021-01-11', { PhoneNumberSet: c.phone_numbers, SmsSdkAppId: c.app_id, SignName: c.sign_name, TemplateId: c.template_code, TemplateParamSet: values });
    }
    let first: NotifyResult = { ok: true };
    for (const n of c.phone_numbers) {
      const r = await send('vms', 'SendTtsVoice', '2020-09-02', { TemplateId: c.template_code, TemplateParamSet: values, CalledNumber: n, VoiceSdkAppid: c.app_id, PlayTimes: c.play_times });
      if (!r.ok && first.ok) first = r;
    }
    return first;
  }

  close(): Promise<void> {
    return this.poster.close();
  }
}

registerIntegration<SmsConfig>({
  configKey: 'sms_configs',
  name: 'sms',
  build: (conf, ctx) => new SmsIntegration(conf, ctx),
});
