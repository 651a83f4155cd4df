// The chat robots behind Patrol's dispatcher: alerts posted to the dispatcher come out of the
// faithful DingTalk and WeCom servers, grouped, in the configured language; a robot that refuses
// for good does not hold up the other.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startDispatcher, waitFor } from '../../alerting/testutil.js';
import { FaithfulDingtalk, FaithfulWecom } from './faithful.js';

describe('chat robots through the dispatcher', () => {
  it('delivers each group to DingTalk (zh-CN) and WeCom; a refusing robot does not block the other', async () => {
    const ding = await new FaithfulDingtalk().start();
    const wecom = await new FaithfulWecom().start();
    const d = await startDispatcher(`
alerting:
  global: {language: zh-CN}
  route: {receiver: ops, group_by: [alertname], group_wait: 0s, group_interval: 1s}
  receivers:
    - name: ops
      dingtalk_configs: [{url: "${ding.url}", secret: "${ding.secret}"}, {url: "${ding.url}", secret: "SECnot-the-right-one"}]
      wecom_configs: [{url: "${wecom.url}", language: en}]
`);
    try {
      const t0 = new Date(Date.now() - 60_000).toISOString();
      d.send([
        { labels: { alertname: 'Down', instance: 'a', severity: 'critical' }, annotations: { summary: 'a 不可用' }, startsAt: t0 },
        { labels: { alertname: 'Down', instance: 'b', severity: 'critical' }, annotations: { summary: 'b 不可用' }, startsAt: t0 },
        { labels: { alertname: 'Slow', instance: 'a', severity: 'warning' }, annotations: {}, startsAt: t0 },
      ]);
      await waitFor('both groups on DingTalk and WeCom', () => ding.count(0) >= 2 && wecom.count(0) >= 2);
      const texts = ding.received.filter((r) => r.code === 0).map((r) => (r.body.markdown as { title: string; text: string }).title);
      assert.ok(texts.some((t) => /告警中:2\] Down（严重）/.test(t)), texts.join('\n'));
      await waitFor("the wrong secret refused", () => ding.count(310000) >= 1);
      assert.equal(ding.count(0), 2, "the refused integration did not take the good one's groups");
      const w = wecom.received.map((r) => (r.body.markdown as { content: string }).content).join('\n');
      assert.match(w, /\[FIRING:2\] Down \(critical\)/);
      assert.match(w, /\[FIRING:1\] Slow \(warning\)/);
    } finally {
      await d.stop();
      await ding.stop();
      await wecom.stop();
    }
  });
});
