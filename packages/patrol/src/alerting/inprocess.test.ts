// Patrol's own alerting rules reach the in-process dispatcher (through the notifier's AlertSink)
// and come out of a webhook receiver.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { waitFor, WebhookSink } from './testutil.js';

describe('rules to the in-process dispatcher', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-inprocess-'));
  const sink = new WebhookSink();
  let patrol: Patrol;

  before(async () => {
    await sink.start();
    writeFileSync(
      join(dir, 'rules.yml'),
      `groups:
  - name: g
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: critical}
        annotations: {summary: 'value {{ $value }}'}
`,
    );
    writeFileSync(
      join(dir, 'patrol.yml'),
      `rule_files: [rules.yml]
alerting:
  route:
    receiver: hook
    group_by: [alertname]
    group_wait: 50ms
    group_interval: 1h
  receivers:
    - name: hook
      webhook_configs: [{url: '${sink.url}/hook'}]
`,
    );
    patrol = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('silent') });
    await patrol.start();
  });
  after(async () => {
    await patrol.stop();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('notifies a firing rule through the webhook receiver', async () => {
    await waitFor('the webhook notification', () => sink.on('/hook').length > 0, 60_000);
    const m = sink.on('/hook')[0];
    assert.equal(m.groupKey, '{}:{alertname="AlwaysFiring"}');
    assert.deepEqual(m.alerts[0].labels, { alertname: 'AlwaysFiring', severity: 'critical' });
    assert.equal(m.alerts[0].annotations.summary, 'value 1');
    assert.match(m.alerts[0].generatorURL, /\/graph\?g0\.expr=/);
  });
});
