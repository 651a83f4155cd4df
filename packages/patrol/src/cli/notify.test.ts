// `patrol notify test` against faithful robot servers: each remote's answer printed, exit 0
// when every integration took the sample, 1 otherwise, and no secret in what is printed.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FaithfulDingtalk, FaithfulFeishu } from '../notify/chat/faithful.js';
import { notifyTest } from './notify.js';

describe('patrol notify test', () => {
  it('prints each remote answer; exit 0 when all took it, 1 when one refused', async () => {
    const ding = await new FaithfulDingtalk().start();
    const feishu = await new FaithfulFeishu().start();
    const dir = mkdtempSync(join(tmpdir(), 'patrol-notify-'));
    try {
      process.env.PATROL_TEST_DING_SECRET = ding.secret;
      const file = join(dir, 'patrol.yml');
      writeFileSync(
        file,
        `alerting:
  route: {receiver: ops}
  receivers:
    - name: ops
      dingtalk_configs: [{url: "${ding.url}", secret: "\${PATROL_TEST_DING_SECRET}"}]
      feishu_configs: [{url: "${feishu.url}", secret: "${feishu.secret}"}]
    - name: broken
      feishu_configs: [{url: "${feishu.url}", secret: "wrong"}]
`,
      );
      const lines: string[] = [];
      assert.equal(await notifyTest(file, 'ops', (s) => lines.push(s)), 0, lines.join('\n'));
      assert.match(lines[0], /^dingtalk\[0\]: OK \(HTTP 200, code 0: ok\)/);
      assert.match(lines[1], /^feishu\[0\]: OK \(HTTP 200, code 0: success\)/);
      assert.equal(ding.received.length, 1);
      const bad: string[] = [];
      assert.equal(await notifyTest(file, 'broken', (s) => bad.push(s)), 1);
      assert.match(bad[0], /feishu\[0\]: FAILED \(HTTP 200, code 19021: sign match fail/);
      const all = [...lines, ...bad].join('\n');
      for (const s of [ding.secret, ding.token, feishu.token, feishu.secret]) assert.ok(!all.includes(s));
      assert.equal(await notifyTest(file, 'nobody', () => {}), 1);
    } finally {
      delete process.env.PATROL_TEST_DING_SECRET;
      await ding.stop();
      await feishu.stop();
    }
  });
});
