// The DingTalk robot integration against a faithful DingTalk server: signing, body shapes,
// mentions, error codes (310000 permanent, 130101 held and merged, 460101 shortened), rate
// limiting without loss, cutting to the size limit.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROBOT_RATES, type ChatRobot } from '../chat/base.js';
import { FaithfulDingtalk } from '../chat/faithful.js';
import { integrationsOf, LogCapture, notifyContext, sampleAlert } from '../chat/testkit.js';
import { receiver } from '../../config/alertmanager.js';
import { dingtalkSign } from './dingtalk.js';

function robot(yaml: string, log?: LogCapture): ChatRobot {
  const [i] = integrationsOf(yaml, { log });
  return i as ChatRobot;
}

function textOf(body: Record<string, unknown>): string {
  const m = (body.markdown ?? body.actionCard) as { text: string } | undefined;
  return m ? m.text : (body.text as { content: string }).content;
}

describe('dingtalk_configs', () => {
  const saved = ROBOT_RATES.dingtalk;
  before(() => {
    // Each faithful server below has its own (shortened) window; the limiter is told the same.
    ROBOT_RATES.dingtalk = { limit: 20, windowMs: 60_000, holdMs: 10 * 60_000 };
  });
  after(() => {
    ROBOT_RATES.dingtalk = saved;
  });

  it('signs as DingTalk checks (a vector computed with openssl)', () => {
    // printf '1700000000000\nSECabc' | openssl dgst -sha256 -hmac SECabc -binary | base64
    assert.equal(dingtalkSign(1700000000000, 'SECabc'), 'jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM=');
  });

  it('sends a signed markdown message; critical alerts mention the configured people', async () => {
    const srv = await new FaithfulDingtalk().start();
    try {
      const r = robot(`{name: team, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}", at_mobiles: ["13800000000"], at_user_ids: [u1]}]}`);
      const res = await r.notify(notifyContext('g1', { groupLabels: { alertname: 'HighLatency' } }), [
        sampleAlert({ alertname: 'HighLatency', severity: 'critical', service: 'api' }, { annotations: { summary: 'p99 latency 2.3s', value: '2.3' } }),
      ]);
      assert.deepEqual(res, { ok: true });
      assert.equal(srv.received.length, 1);
      const b = srv.received[0].body;
      assert.equal(b.msgtype, 'markdown');
      const md = b.markdown as { title: string; text: string };
      assert.match(md.title, /🔴 \[FIRING:1\] HighLatency \(critical\)/);
      assert.match(md.text, /p99 latency 2\.3s/);
      assert.match(md.text, /Value: 2\.3/);
      assert.match(md.text, /@13800000000/);
      assert.deepEqual(b.at, { atMobiles: ['13800000000'], atUserIds: ['u1'], isAtAll: false });
      // A warning mentions nobody.
      await r.notify(notifyContext('g2'), [sampleAlert({ alertname: 'DiskFilling', severity: 'warning' })]);
      assert.deepEqual(srv.received[1].body.at, { atMobiles: [], atUserIds: [], isAtAll: false });
      assert.equal(srv.received[1].code, 0);
      await r.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('a wrong secret is a permanent error naming the reason, without the secret', async () => {
    const srv = await new FaithfulDingtalk().start();
    try {
      const log = new LogCapture();
      const r = robot(`{name: team, dingtalk_configs: [{url: "${srv.url}", secret: "SECwrong0123456789"}]}`, log);
      const res = await r.notify(notifyContext('g1'), [sampleAlert({ alertname: 'A' })]);
      assert.equal(res.ok, false);
      assert.ok(!res.ok && !res.retry);
      assert.ok(!res.ok && /310000/.test(res.error) && /secret/.test(res.error), JSON.stringify(res));
      assert.ok(!res.ok && !res.error.includes(srv.token) && !res.error.includes('SECwrong0123456789'));
      // Unsigned requests to a signing robot fail the same way.
      const u = robot(`{name: team, dingtalk_configs: [{url: "${srv.url}"}]}`);
      const res2 = await u.notify(notifyContext('g2'), [sampleAlert({ alertname: 'A' })]);
      assert.ok(!res2.ok && !res2.retry && /310000/.test(res2.error));
      await r.close?.();
      await u.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('action cards and text messages have the shapes DingTalk accepts', async () => {
    const srv = await new FaithfulDingtalk().start();
    try {
      const a = robot(`{name: team, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}", message_type: actionCard, language: zh-CN}]}`);
      assert.deepEqual(await a.notify(notifyContext('g1'), [sampleAlert({ alertname: 'A', severity: 'critical' }, { generatorURL: 'http://p/graph?g0.expr=up' })]), { ok: true });
      const card = srv.received[0].body.actionCard as { title: string; singleURL: string; singleTitle: string };
      assert.equal(card.singleURL, 'http://p/graph?g0.expr=up');
      assert.equal(card.singleTitle, '查看详情');
      assert.match(card.title, /告警中:1/);
      const t = robot(`{name: team, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}", message_type: text}]}`);
      assert.deepEqual(await t.notify(notifyContext('g2'), [sampleAlert({ alertname: 'B' })]), { ok: true });
      assert.match(textOf(srv.received[1].body), /^⚪ \[FIRING:1\] B/);
      await a.close?.();
      await t.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('queues behind the rate limit merge into one message; nothing is dropped, the robot never refuses', async () => {
    const windowMs = 600;
    ROBOT_RATES.dingtalk = { limit: 3, windowMs };
    const srv = await new FaithfulDingtalk({ limit: 3, windowMs }).start();
    try {
      const r = robot(`{name: team, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}"}]}`);
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => r.notify(notifyContext(`g${i}`), [sampleAlert({ alertname: `Burst${i}` })])));
      assert.ok(results.every((x) => x.ok), JSON.stringify(results.find((x) => !x.ok)));
      assert.equal(srv.count(130101), 0);
      const text = srv.received.map((x) => textOf(x.body)).join('\n');
      for (let i = 0; i < 30; i++) assert.ok(text.includes(`**Burst${i}**`), `Burst${i} missing`);
      assert.ok(srv.received.length <= 6, `${srv.received.length} messages`);
      assert.match(text, /alert groups \(merged/);
      await r.close?.();
    } finally {
      ROBOT_RATES.dingtalk = { limit: 20, windowMs: 60_000, holdMs: 10 * 60_000 };
      await srv.stop();
    }
  });

  it('130101 (another sender spent the budget) holds the message and sends it merged later', async () => {
    const windowMs = 500;
    // The limiter believes in 20 a window; the robot allows 2 (someone else shares it).
    ROBOT_RATES.dingtalk = { limit: 20, windowMs };
    const srv = await new FaithfulDingtalk({ limit: 2, windowMs }).start();
    try {
      const r = robot(`{name: team, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}"}]}`);
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => r.notify(notifyContext(`g${i}`), [sampleAlert({ alertname: `Held${i}` })])));
      assert.ok(results.every((x) => x.ok), JSON.stringify(results));
      assert.ok(srv.count(130101) >= 1, 'the robot refused at least once');
      assert.ok(r.stats.rateLimited >= 1);
      const delivered = srv.received.filter((x) => x.code === 0).map((x) => textOf(x.body)).join('\n');
      for (let i = 0; i < 8; i++) assert.ok(delivered.includes(`**Held${i}**`), `Held${i} missing`);
      await r.close?.();
    } finally {
      ROBOT_RATES.dingtalk = { limit: 20, windowMs: 60_000, holdMs: 10 * 60_000 };
      await srv.stop();
    }
  });

  it('after a 130101 the limiter holds as long as DingTalk blocks the robot, so it is refused once, not again and again', async () => {
    const windowMs = 300;
    const blockMs = 1500;
    // 2 a window, then blocked for 5 windows (DingTalk: 20 a minute, then 10 minutes); another
    // sender has spent this window's budget, so Patrol's first message is refused.
    ROBOT_RATES.dingtalk = { limit: 2, windowMs, holdMs: blockMs };
    const srv = await new FaithfulDingtalk({ limit: 2, windowMs, blockMs, spent: 2 }).start();
    try {
      const r = robot(`{name: team, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}"}]}`);
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => r.notify(notifyContext(`g${i}`), [sampleAlert({ alertname: `Blocked${i}` })])));
      assert.ok(results.every((x) => x.ok), JSON.stringify(results));
      assert.equal(srv.count(130101), 1, 'refused once: the limiter waited out the block');
      const delivered = srv.received.filter((x) => x.code === 0).map((x) => textOf(x.body)).join('\n');
      for (let i = 0; i < 6; i++) assert.ok(delivered.includes(`**Blocked${i}**`), `Blocked${i} missing`);
      await r.close?.();
    } finally {
      ROBOT_RATES.dingtalk = { limit: 20, windowMs: 60_000, holdMs: 10 * 60_000 };
      await srv.stop();
    }
  });

  it('460101 (message too large) is answered by sending a shorter message', async () => {
    // A robot that counts 12,000 bytes where Patrol counts 20,000 (the errcode's reason to be).
    const srv = await new FaithfulDingtalk({ maxBody: 12_000 }).start();
    try {
      // 200 mobiles to mention: the body would pass 20,000 bytes; Patrol leaves alerts out first.
      const mobiles = Array.from({ length: 200 }, (_, i) => `1380000${String(i).padStart(4, '0')}`);
      const r = robot(`{name: team, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}", at_mobiles: ${JSON.stringify(mobiles)}}]}`);
      const alerts = Array.from({ length: 300 }, (_, i) => sampleAlert({ alertname: `Big${i}`, severity: 'critical', instance: `host-${i}.example:9100` }, { annotations: { summary: 'x'.repeat(80) } }));
      assert.deepEqual(await r.notify(notifyContext('g1'), alerts), { ok: true });
      assert.equal(srv.received[0].code, 460101);
      assert.equal(srv.received.at(-1)!.code, 0);
      assert.ok(srv.received.at(-1)!.bytes <= 12_000);
      assert.match(textOf(srv.received.at(-1)!.body), /more alerts left out/);
      await r.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('long messages are cut on a line boundary, never mid-character, saying how many alerts were left out', async () => {
    const srv = await new FaithfulDingtalk().start();
    try {
      const r = robot(`{name: team, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}", language: zh-CN}]}`);
      const alerts = Array.from({ length: 400 }, (_, i) => sampleAlert({ alertname: `磁盘将满${i}`, severity: 'warning' }, { annotations: { summary: '数据盘使用率超过百分之九十，请尽快清理'.repeat(3) } }));
      assert.deepEqual(await r.notify(notifyContext('g1'), alerts), { ok: true });
      const text = textOf(srv.received[0].body);
      assert.ok(srv.received[0].bytes <= 20_000);
      assert.ok(!text.includes('\uFFFD'));
      const shown = (text.match(/\*\*磁盘将满\d+\*\*/g) ?? []).length;
      const m = /还有 (\d+) 条告警因消息长度限制未显示/.exec(text);
      assert.ok(m, 'the cut is announced');
      assert.equal(shown + Number(m[1]), 400);
      await r.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('config: the secret starts with SEC, the URL has an access_token; url_file and secret_file work', async () => {
    assert.throws(() => receiver.parse({ name: 'x', dingtalk_configs: [{ url: 'https://oapi.dingtalk.com/robot/send?access_token=abc', secret: 'nope-123' }] }), /starts with \\"SEC\\"/);
    assert.throws(() => receiver.parse({ name: 'x', dingtalk_configs: [{ url: 'https://oapi.dingtalk.com/robot/send' }] }), /access_token/);
    const err = (() => {
      try {
        receiver.parse({ name: 'x', dingtalk_configs: [{ url: 'https://oapi.dingtalk.com/robot/send?access_token=abc', secret: 'nope-123' }] });
      } catch (e) {
        return String(e);
      }
      return '';
    })();
    assert.ok(!err.includes('nope-123'));
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'patrol-dingtalk-'));
    const srv = await new FaithfulDingtalk().start();
    try {
      writeFileSync(join(dir, 'url'), srv.url + '\n');
      writeFileSync(join(dir, 'secret'), srv.secret + '\n');
      const [r] = integrationsOf(`{name: team, dingtalk_configs: [{url_file: url, secret_file: secret}]}`, { baseDir: dir });
      assert.deepEqual(await r.notify(notifyContext('g1'), [sampleAlert({ alertname: 'A' })]), { ok: true });
      await r.close?.();
    } finally {
      await srv.stop();
    }
  });

  it("users' templates (text, title) run on Alertmanager's data; the receiver's language applies", async () => {
    const srv = await new FaithfulDingtalk().start();
    try {
      const r = robot(`{name: team, language: zh-CN, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}", title: '{{ .Status | toUpper }}', text: '{{ range .Alerts.Firing }}{{ .Labels.alertname }}={{ .Annotations.value }};{{ end }}'}]}`);
      assert.deepEqual(await r.notify(notifyContext('g1'), [sampleAlert({ alertname: 'A' }, { annotations: { value: '1' } }), sampleAlert({ alertname: 'B' }, { annotations: { value: '2' } })]), { ok: true });
      const md = srv.received[0].body.markdown as { title: string; text: string };
      assert.equal(md.title, 'FIRING');
      assert.equal(md.text, 'A=1;B=2;');
      const d = robot(`{name: team, language: zh-CN, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}"}]}`);
      await d.notify(notifyContext('g2'), [sampleAlert({ alertname: 'C' })]);
      assert.match((srv.received[1].body.markdown as { title: string }).title, /告警中:1/);
      await r.close?.();
      await d.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('a network error is retryable and does not show the token', async () => {
    const srv = await new FaithfulDingtalk().start();
    const url = srv.url;
    await srv.stop();
    const r = robot(`{name: team, dingtalk_configs: [{url: "${url}"}]}`);
    const res = await r.notify(notifyContext('g1'), [sampleAlert({ alertname: 'A' })]);
    assert.ok(!res.ok && res.retry, JSON.stringify(res));
    assert.ok(!res.ok && !res.error.includes(srv.token));
    await r.close?.();
  });
});
