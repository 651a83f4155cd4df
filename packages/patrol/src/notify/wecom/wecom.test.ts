// WeCom group robot and application messages (wechat_configs) against faithful WeCom servers:
// key, body shapes and byte limits, mentions, 45009 held and merged, access token cached and
// got again on 40014 / 42001.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { receiver } from '../../config/alertmanager.js';
import { ROBOT_RATES, type ChatRobot } from '../chat/base.js';
import { FaithfulWechat, FaithfulWecom } from '../chat/faithful.js';
import { integrationsOf, notifyContext, sampleAlert } from '../chat/testkit.js';
import type { WechatIntegration } from '../wechat/wechat.js';

const content = (b: Record<string, unknown>) => ((b.markdown ?? b.text) as { content: string }).content;

describe('wecom_configs', () => {
  it('sends markdown within 4,096 bytes and mentions for critical alerts', async () => {
    const srv = await new FaithfulWecom().start();
    try {
      const [r] = integrationsOf(`{name: team, wecom_configs: [{url: "${srv.url}", mentioned_list: [zhangsan]}]}`);
      assert.deepEqual(await r.notify(notifyContext('g1'), [sampleAlert({ alertname: 'HighErrorRate', severity: 'critical' }, { annotations: { summary: '5xx 12%' } })]), { ok: true });
      const b = srv.received[0].body;
      assert.equal(b.msgtype, 'markdown');
      assert.match(content(b), /<font color="warning">FIRING · critical<\/font>/);
      assert.match(content(b), /<@zhangsan>/);
      // 300 alerts in Chinese: cut to 4,096 bytes, the robot takes it.
      const many = Array.from({ length: 300 }, (_, i) => sampleAlert({ alertname: `接口错误率过高${i}`, severity: 'warning' }, { annotations: { summary: '错误率超过百分之五' } }));
      assert.deepEqual(await r.notify(notifyContext('g2'), many), { ok: true });
      const text = content(srv.received[1].body);
      assert.ok(Buffer.byteLength(text) <= 4096);
      assert.match(text, /more alerts left out/);
      await r.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('text messages take 2,048 bytes and carry mentioned_mobile_list', async () => {
    const srv = await new FaithfulWecom().start();
    try {
      const [r] = integrationsOf(`{name: team, wecom_configs: [{url: "${srv.url}", message_type: text, mentioned_mobile_list: ["13800001111"], language: zh-CN}]}`);
      const many = Array.from({ length: 100 }, (_, i) => sampleAlert({ alertname: `A${i}`, severity: 'critical' }));
      assert.deepEqual(await r.notify(notifyContext('g1'), many), { ok: true });
      const t = srv.received[0].body.text as { content: string; mentioned_mobile_list: string[] };
      assert.ok(Buffer.byteLength(t.content) <= 2048);
      assert.deepEqual(t.mentioned_mobile_list, ['13800001111']);
      assert.match(t.content, /还有 \d+ 条告警/);
      await r.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('45009 holds and merges; a wrong key (93000) is permanent; the key is a UUID', async () => {
    const saved = ROBOT_RATES.wecom;
    ROBOT_RATES.wecom = { limit: 20, windowMs: 400 };
    const srv = await new FaithfulWecom({ limit: 2, windowMs: 400 }).start();
    try {
      const [r] = integrationsOf(`{name: team, wecom_configs: [{url: "${srv.url}"}]}`);
      const res = await Promise.all(Array.from({ length: 6 }, (_, i) => r.notify(notifyContext(`g${i}`), [sampleAlert({ alertname: `W${i}` })])));
      assert.ok(res.every((x) => x.ok));
      assert.ok(srv.count(45009) >= 1);
      const delivered = srv.received.filter((x) => x.code === 0).map((x) => content(x.body)).join('\n');
      for (let i = 0; i < 6; i++) assert.ok(delivered.includes(`**W${i}**`), `W${i}`);
      const [bad] = integrationsOf(`{name: team, wecom_configs: [{url: "${srv.base}/cgi-bin/webhook/send?key=00000000-0000-4000-8000-000000000000"}]}`);
      const b = await bad.notify(notifyContext('x'), [sampleAlert({ alertname: 'A' })]);
      assert.ok(!b.ok && !b.retry && /93000/.test(b.error) && !b.error.includes('00000000-0000'), JSON.stringify(b));
      await r.close?.();
      await bad.close?.();
    } finally {
      ROBOT_RATES.wecom = saved;
      await srv.stop();
    }
    assert.throws(() => receiver.parse({ name: 'x', wecom_configs: [{ url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=not-a-uuid' }] }), /not a UUID/);
    assert.throws(() => receiver.parse({ name: 'x', wecom_configs: [{ url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send' }] }), /no key=/);
  });
});

describe('wechat_configs', () => {
  it('gets an access token once, caches it, and gets a new one on 40014 and 42001', async () => {
    const srv = await new FaithfulWechat().start();
    try {
      const yaml = `{name: team, wechat_configs: [{api_url: "${srv.base}/cgi-bin/", corp_id: "${srv.corpId}", api_secret: "${srv.secret}", agent_id: "${srv.agentId}", to_party: "2"}]}`;
      const [w] = integrationsOf(yaml) as WechatIntegration[];
      assert.deepEqual(await w.notify(notifyContext('g1'), [sampleAlert({ alertname: 'A', severity: 'critical' })]), { ok: true });
      assert.deepEqual(await w.notify(notifyContext('g2'), [sampleAlert({ alertname: 'B' })]), { ok: true });
      assert.equal(srv.tokensIssued, 1, 'the token is cached');
      const sent = srv.received.filter((x) => x.path === '/cgi-bin/message/send');
      assert.equal(sent[0].body.toparty, '2');
      assert.equal(sent[0].body.msgtype, 'text');
      assert.match(content(sent[0].body), /\[FIRING:1\] A/);
      srv.revokeTokens();
      assert.deepEqual(await w.notify(notifyContext('g3'), [sampleAlert({ alertname: 'C' })]), { ok: true });
      assert.equal(srv.count(40014), 1);
      assert.equal(srv.tokensIssued, 2);
      // A token that lapsed early: 42001, then a new token.
      srv.expireTokens();
      assert.deepEqual(await w.notify(notifyContext('g4'), [sampleAlert({ alertname: 'D' })]), { ok: true });
      assert.equal(srv.count(42001), 1);
      assert.equal(srv.tokensIssued, 3);
      assert.equal(w.tokensFetched, 3);
      await w.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('a wrong secret is permanent and never shown', async () => {
    const srv = await new FaithfulWechat().start();
    try {
      const [w] = integrationsOf(`{name: team, wechat_configs: [{api_url: "${srv.base}/cgi-bin/", corp_id: "${srv.corpId}", api_secret: "wrong-secret-value", agent_id: "${srv.agentId}"}]}`);
      const res = await w.notify(notifyContext('g1'), [sampleAlert({ alertname: 'A' })]);
      assert.ok(!res.ok && !res.retry && /40001/.test(res.error) && !res.error.includes('wrong-secret-value'), JSON.stringify(res));
      await w.close?.();
    } finally {
      await srv.stop();
    }
  });
});

export type { ChatRobot };
