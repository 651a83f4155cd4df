// amtool (Alertmanager 0.25's command line client) against Patrol: alert add/query, silence
// add/query/expire, through Patrol's real HTTP server.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { waitFor, WebhookSink } from '../alerting/testutil.js';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { binaryPath, needBinary } from '../testing/shared.js';

const run = promisify(execFile);

describe('amtool against Patrol', { skip: needBinary('amtool') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-amtool-'));
  const sink = new WebhookSink();
  let patrol: Patrol;
  let url = '';
  const amtool = async (...args: string[]) => (await run(binaryPath('amtool'), [`--alertmanager.url=${url}`, ...args], { timeout: 60_000 })).stdout;

  before(async () => {
    await sink.start();
    const configFile = join(dir, 'patrol.yml');
    writeFileSync(
      configFile,
      `
alerting:
  route:
    receiver: hook
    group_by: [alertname]
    group_wait: 50ms
    group_interval: 200ms
  receivers:
    - name: hook
      webhook_configs: [{url: '${sink.url}/hook'}]
`,
    );
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger(process.env.AMTOOL_DEBUG ? 'debug' : 'silent') });
    await patrol.start();
    url = `http://${patrol.listen}`;
  });
  after(async () => {
    await patrol.stop();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds and queries alerts', async () => {
    await amtool('alert', 'add', 'alertname=AmtoolTest', 'severity=critical', 'instance=a', '--annotation=summary=from amtool');
    await waitFor('the webhook notification', () => sink.on('/hook').length > 0);
    assert.equal(sink.on('/hook')[0].alerts[0].annotations.summary, 'from amtool');
    const list = JSON.parse(await amtool('alert', 'query', '-o', 'json')) as { labels: Record<string, string>; status: { state: string } }[];
    assert.equal(list.length, 1);
    assert.equal(list[0].labels.alertname, 'AmtoolTest');
    assert.equal(list[0].status.state, 'active');
    const simple = await amtool('alert', 'query', 'alertname=AmtoolTest');
    assert.match(simple, /AmtoolTest/);
    assert.equal((await amtool('alert', 'query', 'alertname=Nothing')).includes('AmtoolTest'), false);
  });

  it('adds, queries and expires silences; the alert shows silencedBy', async () => {
    const id = (await amtool('silence', 'add', 'alertname=AmtoolTest', '--comment=maintenance', '--author=ops', '--duration=1h')).trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    const sils = JSON.parse(await amtool('silence', 'query', '-o', 'json')) as { id: string; createdBy: string; status: { state: string } }[];
    assert.deepEqual(
      sils.map((s) => [s.id, s.createdBy, s.status.state]),
      [[id, 'ops', 'active']],
    );
    assert.equal((await amtool('silence', 'query', '-q')).trim(), id);
    const alerts = JSON.parse(await amtool('alert', 'query', '-o', 'json', '--silenced')) as { status: { state: string; silencedBy: string[] } }[];
    assert.deepEqual(alerts[0].status, { inhibitedBy: [], silencedBy: [id], state: 'suppressed' });
    await amtool('silence', 'expire', id);
    const expired = JSON.parse(await amtool('silence', 'query', '--expired', '-o', 'json')) as { id: string; status: { state: string } }[];
    assert.deepEqual(
      expired.map((s) => [s.id, s.status.state]),
      [[id, 'expired']],
    );
    // Expiring it twice is refused, as Alertmanager 0.25 refuses it.
    await assert.rejects(amtool('silence', 'expire', id), /already expired/);
  });

  it('keeps silences across a restart', async () => {
    const id = (await amtool('silence', 'add', 'alertname=Kept', '--comment=survives', '--author=ops', '--duration=2h')).trim();
    await patrol.stop();
    patrol = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('silent') });
    await patrol.start();
    url = `http://${patrol.listen}`;
    const sils = JSON.parse(await amtool('silence', 'query', '-o', 'json', 'alertname=Kept')) as { id: string; comment: string }[];
    assert.deepEqual(
      sils.map((s) => [s.id, s.comment]),
      [[id, 'survives']],
    );
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^alertmanager_silences\{state="active"\} 1$/m);
    assert.match(metrics, /^alertmanager_silences\{state="expired"\} 1$/m);
    assert.match(metrics, /^alertmanager_notifications_total\{integration="webhook"\} \d+$/m);
  });
});
