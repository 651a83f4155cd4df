// The chat robots behind Patrol's dispatcher: alerts posted to the dispatcher come out of the
// faithful DingTalk and WeCom servers, grouped, in the configured language; a robot that refuses
// for good does not hold up the other.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PatrolAlerting } from '../../alerting/escalation.js';
import { configFrom, startDispatcher, waitFor } from '../../alerting/testutil.js';
import { createLogger } from '../../logger.js';
import { labelSetFingerprint } from '../../model/alert.js';
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

  it('shows times in global.time_zone and a working acknowledgement link on each firing alert', async () => {
    const ding = await new FaithfulDingtalk().start();
    const dir = mkdtempSync(join(tmpdir(), 'patrol-acklink-'));
    const yaml = `
alerting:
  global: {language: zh-CN, time_zone: Asia/Shanghai}
  route: {receiver: ops, group_by: [alertname], group_wait: 0s, group_interval: 1s}
  receivers:
    - name: ops
      dingtalk_configs: [{url: "${ding.url}", secret: "${ding.secret}"}]
`;
    const d = await startDispatcher(yaml);
    const p = new PatrolAlerting({ dispatcher: d, dbPath: join(dir, 'alerting.db'), logger: createLogger('silent'), tickInterval: 25 });
    p.applyConfig(configFrom(yaml), { dir: '.' });
    try {
      d.send([{ labels: { alertname: 'Down', instance: 'a', severity: 'critical' }, annotations: { summary: 'a 不可用' }, startsAt: '2026-12-04T12:00:05Z' }]);
      await waitFor('the message', () => ding.count(0) >= 1);
      const text = (ding.received.find((r) => r.code === 0)!.body.markdown as { text: string }).text;
      assert.match(text, /开始时间: 2026-12-04 20:00:05 GMT\+8/, text);
      const link = /\[认领\]\((http[^)]+)\)/.exec(text);
      assert.ok(link, text);
      const u = new URL(link[1]);
      const fp = u.pathname.split('/').pop()!;
      assert.equal(u.origin, 'http://patrol.test:9310');
      assert.equal(fp, labelSetFingerprint({ alertname: 'Down', instance: 'a', severity: 'critical' }));
      assert.doesNotThrow(() => p.verifyLink(fp, u.searchParams.get('exp')!, u.searchParams.get('sig')!), 'the link in the message verifies');
    } finally {
      p.stop();
      await d.stop();
      await ding.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
