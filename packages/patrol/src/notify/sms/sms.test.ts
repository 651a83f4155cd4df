// SMS and voice against faithful Aliyun and Tencent Cloud endpoints. Each server recomputes the
// signature from what it received, written here from the providers' documentation (not with the
// client's code), checks the timestamp window, nonce reuse and keys, validates numbers, sign
// names, templates and parameter lengths, rate-limits per number, and answers with the
// provider's real error codes. The signers are also checked against published known answers.

import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { receiver } from '../../config/alertmanager.js';
import { integrationCtx, notifyCtx, sampleAlerts } from '../testdata/alerts.js';
import { httpSink, type Seen } from '../testdata/httpsink.js';
import { aliyunSignature, tc3Authorization } from './sign.js';
import { SmsIntegration } from './sms.js';

const AK = 'LTAI5tPatrolTestKey01';
const SK = 'PatrolTestSecret/+=0123456789abcd';

/** RFC 3986 percent-encoding byte by byte, as Aliyun's documentation specifies. */
function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function aliyunServer() {
  const nonces = new Set<string>();
  const lastSent = new Map<string, number>();
  const err = (status: number, Code: string, Message: string) => ({ status, body: { RequestId: 'F655A8D5-B967-440B-8683-DAD6FF8DE990', HostId: 'dysmsapi.aliyuncs.com', Code, Message } });
  return (s: Seen) => {
    const p = Object.fromEntries(new URLSearchParams(s.method === 'POST' ? s.body : (s.url.split('?')[1] ?? '')));
    for (const k of ['AccessKeyId', 'Action', 'SignatureMethod', 'SignatureNonce', 'SignatureVersion', 'Timestamp', 'Version', 'Signature']) {
      if (!p[k]) return err(400, 'MissingParameter', `The input parameter "${k}" that is mandatory for processing this request is not supplied.`);
    }
    if (p.SignatureMethod !== 'HMAC-SHA1' || p.SignatureVersion !== '1.0') return err(400, 'InvalidParameter', 'SignatureMethod or SignatureVersion is invalid.');
    if (p.AccessKeyId !== AK) return err(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    const ts = Date.parse(p.Timestamp);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(p.Timestamp) || Math.abs(Date.now() - ts) > 15 * 60_000) return err(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    const canonical = Object.keys(p)
      .filter((k) => k !== 'Signature')
      .sort()
      .map((k) => pct(k) + '=' + pct(p[k]))
      .join('&');
    const sts = s.method + '&' + pct('/') + '&' + pct(canonical);
    const want = createHmac('sha1', SK + '&').update(sts).digest('base64');
    if (want !== p.Signature) return err(400, 'SignatureDoesNotMatch', `Specified signature is not matched with our calculation. server string to sign is:${sts}`);
    if (nonces.has(p.SignatureNonce)) return err(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    nonces.add(p.SignatureNonce);
    const ok = (extra: object) => ({ status: 200, body: { Message: 'OK', RequestId: 'A1B2', Code: 'OK', ...extra } });
    const biz = (Code: string, Message: string) => ({ status: 200, body: { Message, RequestId: 'A1B2', Code } });
    if (p.Action === 'SendSms') {
      const numbers = p.PhoneNumbers.split(',');
      if (numbers.some((n) => !/^(\+?86)?1\d{10}$/.test(n))) return biz('isv.MOBILE_NUMBER_ILLEGAL', '非法手机号');
      if (p.SignName !== 'Patrol监控') return biz('isv.SMS_SIGNATURE_ILLEGAL', '该账号下找不到对应签名');
      if (p.TemplateCode !== 'SMS_154950909') return biz('isv.SMS_TEMPLATE_ILLEGAL', '该账号下找不到对应模板');
      let tp: Record<string, string>;
      try {
        tp = JSON.parse(p.TemplateParam ?? '{}') as Record<string, string>;
      } catch {
        return biz('isv.INVALID_JSON_PARAM', 'JSON参数不合法，只接受字符串值');
      }
      if (!tp.alert || !tp.severity) return biz('isv.TEMPLATE_MISSING_PARAMETERS', '模板缺少变量');
      if (Object.values(tp).some((v) => [...v].length > 35)) return biz('isv.PARAM_LENGTH_LIMIT', '参数超出长度限制');
      for (const n of numbers) {
        if (Date.now() - (lastSent.get(n) ?? 0) < 60_000) return biz('isv.BUSINESS_LIMIT_CONTROL', '触发号码天级流控Permits:1');
      }
      for (const n of numbers) lastSent.set(n, Date.now());
      return ok({ BizId: '900619746936498440^0' });
    }
    if (p.Action === 'SingleCallByTts') {
      if (!/^1\d{10}$/.test(p.CalledNumber ?? '')) return biz('isv.MOBILE_NUMBER_ILLEGAL', '号码格式非法');
      if (p.TtsCode !== 'TTS_10001') return biz('isv.TTS_TEMPLATE_ILLEGAL', '该账号下找不到对应模板');
      if (!['1', '2', '3'].includes(p.PlayTimes ?? '3')) return biz('isv.INVALID_PARAMETERS', 'PlayTimes非法');
      return ok({ CallId: `116012354148^${p.CalledNumber}` });
    }
    return err(404, 'InvalidAction.NotFound', `Specified api is not found, please check your url and method.`);
  };
}

const TID = 'AKIDPatrolTestSecretId0123456789';
const TKEY = 'PatrolTencentSecretKey0123456789';

function tencentServer(service: 'sms' | 'vms') {
  const lastSent = new Map<string, number>();
  const fail = (Code: string, Message: string) => ({ status: 200, body: { Response: { Error: { Code, Message }, RequestId: 'b1c2' } } });
  return (s: Seen) => {
    const auth = String(s.headers.authorization ?? '');
    const m = /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d\d-\d\d)\/([a-z]+)\/tc3_request, SignedHeaders=([a-z;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return fail('AuthFailure.InvalidAuthorization', 'Authorization header format error.');
    const [, id, date, svc, signed, sig] = m;
    const ts = Number(s.headers['x-tc-timestamp']);
    if (!Number.isFinite(ts) || Math.abs(Date.now() / 1000 - ts) > 300) return fail('AuthFailure.SignatureExpire', 'Signature expired. Timestamp is 5 minutes away from server time.');
    if (id !== TID) return fail('AuthFailure.SecretIdNotFound', 'The SecretId is not found, please ensure that your SecretId is correct.');
    if (svc !== service || date !== new Date(ts * 1000).toISOString().slice(0, 10)) return fail('AuthFailure.SignatureFailure', 'The provided credentials could not be validated. Please check your signature is correct.');
    const names = signed.split(';');
    const hdrs = names.map((n) => `${n}:${String(s.headers[n] ?? '').trim().toLowerCase()}\n`).join('');
    const hash = (x: string) => createHash('sha256').update(x).digest('hex');
    const creq = `POST\n/\n\n${hdrs}\n${signed}\n${hash(s.body)}`;
    const sts = `TC3-HMAC-SHA256\n${ts}\n${date}/${svc}/tc3_request\n${hash(creq)}`;
    let k: Buffer = createHmac('sha256', 'TC3' + TKEY).update(date).digest();
    k = createHmac('sha256', k).update(svc).digest();
    k = createHmac('sha256', k).update('tc3_request').digest();
    if (createHmac('sha256', k).update(sts).digest('hex') !== sig) return fail('AuthFailure.SignatureFailure', 'The provided credentials could not be validated. Please check your signature is correct.');
    const body = JSON.parse(s.body) as Record<string, unknown>;
    if (service === 'sms') {
      if (s.headers['x-tc-action'] !== 'SendSms' || s.headers['x-tc-version'] !== '2021-01-11') return fail('InvalidAction', 'The action is invalid.');
      if (body.SmsSdkAppId !== '1400006666') return fail('FailedOperation.SmsSdkAppIdVerifyFail', 'SdkAppId verification failed.');
      if (body.TemplateId !== '449739') return fail('FailedOperation.TemplateIncorrectOrUnapproved', 'The template is not approved or its content is incorrect.');
      if (body.SignName !== 'Patrol') return fail('FailedOperation.SignatureIncorrectOrUnapproved', 'The signature is not approved or its format is incorrect.');
      const params = body.TemplateParamSet as string[];
      if (!Array.isArray(params) || params.length !== 2) return fail('FailedOperation.TemplateParamSetNotMatchApprovedTemplate', 'The request content does not match the approved template.');
      const set = (body.PhoneNumberSet as string[]).map((n) => {
        const base = { SerialNo: '2645:1', PhoneNumber: n, Fee: 1, SessionContext: '', IsoCode: 'CN' };
        if (!/^\+\d{8,15}$/.test(n)) return { ...base, Fee: 0, Code: 'InvalidParameterValue.IncorrectPhoneNumber', Message: 'The mobile number format is incorrect.' };
        if (Date.now() - (lastSent.get(n) ?? 0) < 30_000) return { ...base, Fee: 0, Code: 'LimitExceeded.PhoneNumberThirtySecondLimit', Message: 'The number of SMS messages sent to the same mobile number within 30 seconds exceeds the upper limit.' };
        lastSent.set(n, Date.now());
        return { ...base, Code: 'Ok', Message: 'send success' };
      });
      return { status: 200, body: { Response: { SendStatusSet: set, RequestId: 'a0aabda6' } } };
    }
    if (s.headers['x-tc-action'] !== 'SendTtsVoice' || s.headers['x-tc-version'] !== '2020-09-02') return fail('InvalidAction', 'The action is invalid.');
    if (body.VoiceSdkAppid !== '1400000000') return fail('InvalidParameterValue.SdkAppidNotExist', 'SdkAppid does not exist.');
    if (!/^\+?\d{8,15}$/.test(String(body.CalledNumber))) return fail('InvalidParameterValue.IncorrectPhoneNumber', 'The mobile number format is incorrect.');
    return { status: 200, body: { Response: { SendStatus: { CallId: '8b7d6f3e', SessionContext: '' }, RequestId: 'c3d4' } } };
  };
}

const mk = (c: Record<string, unknown>) => new SmsIntegration(receiver.parse({ name: 'r', sms_configs: [c] }).sms_configs![0], integrationCtx());
const aliyunBase = (url: string) => ({
  provider: 'aliyun',
  url,
  access_key_id: AK,
  access_key_secret: SK,
  phone_numbers: ['13800138000', '13900139000'],
  sign_name: 'Patrol监控',
  template_code: 'SMS_154950909',
  template_params: { severity: '{{ .CommonLabels.severity | toUpper }}', alert: '{{ template "sms.zh-CN.text" . }}' },
});

describe('signers against published known answers', () => {
  it('Aliyun RPC signature: the documentation example', () => {
    const p = { AccessKeyId: 'testid', Action: 'DescribeRegions', Format: 'XML', SignatureMethod: 'HMAC-SHA1', SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf', SignatureVersion: '1.0', Timestamp: '2016-02-23T12:46:24Z', Version: '2014-05-26' };
    assert.equal(aliyunSignature('GET', p, 'testsecret').signature, 'OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });
  it('Tencent TC3-HMAC-SHA256: a published example', () => {
    const a = tc3Authorization({ secretId: 'GebjUWWJJVnL1en1gtgb52CmNJN8CqdKC0ne', secretKey: 'QtXXc6HftX/LEwrSi+MR4OyVEnEslwyg', service: 'nlp', host: 'nlp.tencentcloudapi.com', contentType: 'application/json; charset=utf-8', body: '{"Query":"你好，红领巾，我叫白胡子"}', timestamp: 1632706407 });
    assert.equal(a, 'TC3-HMAC-SHA256 Credential=GebjUWWJJVnL1en1gtgb52CmNJN8CqdKC0ne/2021-09-27/nlp/tc3_request, SignedHeaders=content-type;host, Signature=3ec0d092a50635e6bdfcf051750d55dca5bc39e270348d8e46f928d50d3ed833');
  });
});

describe('Aliyun SMS and voice', () => {
  it('SendSms is signed, parameters rendered and cut to 35 characters; a second page within the minute is throttled (retried)', async () => {
    const sink = await httpSink(aliyunServer());
    try {
      const integ = mk(aliyunBase(sink.url));
      assert.deepEqual(await integ.notify(notifyCtx(), sampleAlerts), { ok: true });
      const p = Object.fromEntries(new URLSearchParams(sink.seen[0].body));
      assert.equal(p.PhoneNumbers, '13800138000,13900139000');
      const tp = JSON.parse(p.TemplateParam) as Record<string, string>;
      assert.equal(tp.severity, 'CRITICAL');
      assert.equal([...tp.alert].length, 35);
      assert.ok(tp.alert.endsWith('…'), 'cut marked');
      assert.ok(tp.alert.startsWith('【Patrol】[告警:2] CRITICAL HighLatenc'), tp.alert);
      const r = await integ.notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && r.retry && r.error.startsWith('aliyun isv.BUSINESS_LIMIT_CONTROL'), JSON.stringify(r));
    } finally {
      await sink.close();
    }
  });

  it('a wrong secret is SignatureDoesNotMatch (permanent, no secret, no string to sign); unknown key, sign name, template, number', async () => {
    const sink = await httpSink(aliyunServer());
    try {
      const cases: [Record<string, unknown>, string][] = [
        [{ access_key_secret: 'WrongSecret-123456' }, 'aliyun SignatureDoesNotMatch: Specified signature is not matched with our calculation.'],
        [{ access_key_id: 'LTAI-unknown-id' }, 'aliyun InvalidAccessKeyId.NotFound: Specified access key is not found.'],
        [{ sign_name: '别的签名' }, 'aliyun isv.SMS_SIGNATURE_ILLEGAL: 该账号下找不到对应签名'],
        [{ template_code: 'SMS_1' }, 'aliyun isv.SMS_TEMPLATE_ILLEGAL: 该账号下找不到对应模板'],
        [{ phone_numbers: ['12345'] }, 'aliyun isv.MOBILE_NUMBER_ILLEGAL: 非法手机号'],
        [{ template_params: { alert: 'x' } }, 'aliyun isv.TEMPLATE_MISSING_PARAMETERS: 模板缺少变量'],
      ];
      for (const [over, want] of cases) {
        const r = await mk({ ...aliyunBase(sink.url), ...over }).notify(notifyCtx(), sampleAlerts);
        assert.ok(!r.ok && !r.retry, JSON.stringify(r));
        assert.equal(!r.ok && r.error, want);
        assert.ok(!r.ok && !r.error.includes('WrongSecret') && !r.error.includes(SK));
      }
    } finally {
      await sink.close();
    }
  });

  it('voice: SingleCallByTts once per number, signed', async () => {
    const sink = await httpSink(aliyunServer());
    try {
      const integ = mk({ ...aliyunBase(sink.url), kind: 'voice', template_code: 'TTS_10001', sign_name: undefined, called_show_number: '057188773344', play_times: 3 });
      assert.deepEqual(await integ.notify(notifyCtx(), sampleAlerts), { ok: true });
      assert.equal(sink.seen.length, 2);
      const p = Object.fromEntries(new URLSearchParams(sink.seen[1].body));
      assert.equal(p.Action, 'SingleCallByTts');
      assert.equal(p.CalledNumber, '13900139000');
      assert.equal(p.PlayTimes, '3');
      assert.equal((JSON.parse(p.TtsParam) as Record<string, string>).severity, 'CRITICAL');
    } finally {
      await sink.close();
    }
  });
});

const tencentBase = (url: string) => ({
  provider: 'tencent',
  url,
  access_key_id: TID,
  access_key_secret: TKEY,
  app_id: '1400006666',
  phone_numbers: ['+8613800138000'],
  sign_name: 'Patrol',
  template_code: '449739',
  template_params: { '1': '{{ .CommonLabels.alertname }}', '2': '{{ len .Alerts.Firing }}' },
});

describe('Tencent Cloud SMS and voice', () => {
  it('SendSms signed with TC3; parameters in order; per-number status codes checked', async () => {
    const sink = await httpSink(tencentServer('sms'));
    try {
      const integ = mk(tencentBase(sink.url));
      assert.deepEqual(await integ.notify(notifyCtx(), sampleAlerts), { ok: true });
      const b = JSON.parse(sink.seen[0].body) as { TemplateParamSet: string[] };
      assert.deepEqual(b.TemplateParamSet, ['HighLatency', '2']);
      // Same number within 30 s: the per-number status says so; retried.
      let r = await integ.notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && r.retry && r.error.includes('+8613800138000 LimitExceeded.PhoneNumberThirtySecondLimit'), JSON.stringify(r));
      r = await mk({ ...tencentBase(sink.url), phone_numbers: ['13800138000'] }).notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && !r.retry && r.error.includes('InvalidParameterValue.IncorrectPhoneNumber'), JSON.stringify(r));
    } finally {
      await sink.close();
    }
  });

  it('wrong secret key: AuthFailure.SignatureFailure (permanent); unknown id; bad template', async () => {
    const sink = await httpSink(tencentServer('sms'));
    try {
      const cases: [Record<string, unknown>, string][] = [
        [{ access_key_secret: 'WrongTencentKey-0123' }, 'tencent AuthFailure.SignatureFailure: The provided credentials could not be validated. Please check your signature is correct.'],
        [{ access_key_id: 'AKIDunknown' }, 'tencent AuthFailure.SecretIdNotFound: The SecretId is not found, please ensure that your SecretId is correct.'],
        [{ template_code: '1' }, 'tencent FailedOperation.TemplateIncorrectOrUnapproved: The template is not approved or its content is incorrect.'],
      ];
      for (const [over, want] of cases) {
        const r = await mk({ ...tencentBase(sink.url), ...over }).notify(notifyCtx(), sampleAlerts);
        assert.ok(!r.ok && !r.retry, JSON.stringify(r));
        assert.equal(!r.ok && r.error, want);
      }
    } finally {
      await sink.close();
    }
  });

  it('voice: SendTtsVoice on vms', async () => {
    const sink = await httpSink(tencentServer('vms'));
    try {
      const integ = mk({ ...tencentBase(sink.url), kind: 'voice', app_id: '1400000000', sign_name: undefined });
      assert.deepEqual(await integ.notify(notifyCtx(), sampleAlerts), { ok: true });
      assert.equal(sink.seen[0].headers['x-tc-action'], 'SendTtsVoice');
    } finally {
      await sink.close();
    }
  });

  it('config: provider credentials, app_id and sign_name are checked', () => {
    assert.equal(receiver.safeParse({ name: 'r', sms_configs: [{ provider: 'tencent', access_key_id: 'a', access_key_secret: 'b', phone_numbers: ['+86138'], sign_name: 'x', template_code: '1' }] }).success, false);
    assert.equal(receiver.safeParse({ name: 'r', sms_configs: [{ provider: 'aliyun', access_key_id: 'a', phone_numbers: ['13800138000'], sign_name: 'x', template_code: '1' }] }).success, false);
    assert.equal(receiver.safeParse({ name: 'r', sms_configs: [{ provider: 'aliyun', access_key_id: 'a', access_key_secret: 'b', phone_numbers: ['not a number'], sign_name: 'x', template_code: '1' }] }).success, false);
  });
});
