// The Feishu bot integration against a faithful Feishu server: signature in the body,
// interactive cards, 19021 permanent, 11232 held and merged, the 20 KB body limit.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROBOT_RATES } from '../chat/base.js';
import { FaithfulFeishu } from '../chat/faithful.js';
import { integrationsOf, notifyContext, sampleAlert } from '../chat/testkit.js';
import { feishuSign } from './feishu.js';

const cardText = (b: Record<string, unknown>) => ((b.card as { elements: { text: { content: string } }[] }).elements[0].text.content);

describe('feishu_configs', () => {
  it('signs as Feishu checks (a vector computed with openssl)', () => {
    // printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\nabc')" -binary | base64
    assert.equal(feishuSign(1700000000, 'abc'), 'VIS10b0EBvzzSdFnuk4tznEmK5wHaruvf/WnViv2yR4=');
  });

  it('sends a signed interactive card coloured by severity', async () => {
    const srv = await new FaithfulFeishu().start();
    try {
      const [r] = integrationsOf(`{name: team, feishu_configs: [{url: "${srv.url}", secret: "${srv.secret}", language: zh-CN}]}`);
      assert.deepEqual(await r.notify(notifyContext('g1'), [sampleAlert({ alertname: 'PodCrashLooping', severity: 'critical' }, { annotations: { summary: '重启 12 次' } })]), { ok: true });
      const b = srv.received[0].body;
      assert.equal(b.msg_type, 'interactive');
      const card = b.card as { header: { template: string; title: { content: string } } };
      assert.equal(card.header.template, 'red');
      assert.match(card.header.title.content, /告警中:1\] PodCrashLooping（严重）/);
      assert.match(cardText(b), /重启 12 次/);
      // Resolved: green.
      await r.notify(notifyContext('g1'), [sampleAlert({ alertname: 'PodCrashLooping', severity: 'critical' }, { endsAt: Date.now() - 1000 })]);
      assert.equal((srv.received[1].body.card as { header: { template: string } }).header.template, 'green');
      await r.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('19021 (bad signature) is permanent with its reason; text and post messages', async () => {
    const srv = await new FaithfulFeishu().start();
    try {
      const [bad] = integrationsOf(`{name: team, feishu_configs: [{url: "${srv.url}", secret: "not-the-secret"}]}`);
      const res = await bad.notify(notifyContext('g1'), [sampleAlert({ alertname: 'A' })]);
      assert.ok(!res.ok && !res.retry && /19021/.test(res.error) && /secret/.test(res.error) && !res.error.includes(srv.token), JSON.stringify(res));
      const [t] = integrationsOf(`{name: team, feishu_configs: [{url: "${srv.url}", secret: "${srv.secret}", message_type: text}]}`);
      assert.deepEqual(await t.notify(notifyContext('g2'), [sampleAlert({ alertname: 'B' })]), { ok: true });
      const [p] = integrationsOf(`{name: team, feishu_configs: [{url: "${srv.url}", secret: "${srv.secret}", message_type: post}]}`);
      assert.deepEqual(await p.notify(notifyContext('g3'), [sampleAlert({ alertname: 'C' })]), { ok: true });
      for (const i of [bad, t, p]) await i.close?.();
    } finally {
      await srv.stop();
    }
  });

  it('11232 holds and merges; bodies stay within 20 KB', async () => {
    const saved = ROBOT_RATES.feishu;
    ROBOT_RATES.feishu = { limit: 100, windowMs: 400 };
    const srv = await new FaithfulFeishu({ limit: 2, windowMs: 400 }).start();
    try {
      const [r] = integrationsOf(`{name: team, feishu_configs: [{url: "${srv.url}", secret: "${srv.secret}"}]}`);
      const res = await Promise.all(Array.from({ length: 6 }, (_, i) => r.notify(notifyContext(`g${i}`), [sampleAlert({ alertname: `F${i}` })])));
      assert.ok(res.every((x) => x.ok), JSON.stringify(res));
      assert.ok(srv.count(11232) >= 1);
      const delivered = srv.received.filter((x) => x.code === 0).map((x) => cardText(x.body)).join('\n');
      for (let i = 0; i < 6; i++) assert.ok(delivered.includes(`**F${i}**`), `F${i}`);
      // Quotes and newlines grow under JSON escaping: still within 20 KB.
      const big = Array.from({ length: 500 }, (_, i) => sampleAlert({ alertname: `"Q${i}"`, severity: 'warning' }, { annotations: { summary: '"quoted"\n'.repeat(10) } }));
      await new Promise((r2) => setTimeout(r2, 500));
      assert.deepEqual(await r.notify(notifyContext('big'), big), { ok: true });
      assert.ok(srv.received.at(-1)!.bytes <= 20 * 1024);
      await r.close?.();
    } finally {
      ROBOT_RATES.feishu = saved;
      await srv.stop();
    }
  });
});
