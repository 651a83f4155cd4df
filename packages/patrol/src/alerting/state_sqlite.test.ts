import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { labelSetFingerprint } from '../model/alert.js';
import { SqliteAlertingState } from './state_sqlite.js';
import { startDispatcher, WebhookSink, waitFor } from './testutil.js';

describe('alerting.db: notification log and alerts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-alerting-db-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps log entries across reopen and drops them after the retention', () => {
    const file = join(dir, 'retention.db');
    let s = new SqliteAlertingState(file, 10_000);
    const now = Date.now();
    s.log('r/webhook/0', 'g1', ['a', 'b'], ['c'], now - 20_000);
    s.log('r/webhook/0', 'g2', ['d'], [], now);
    s.close();
    s = new SqliteAlertingState(file, 10_000);
    // g1 expired while closed: not loaded.
    assert.equal(s.query('r/webhook/0', 'g1'), undefined);
    assert.deepEqual([...s.query('r/webhook/0', 'g2')!.firing], ['d']);
    assert.equal(s.lastNotified('g2'), now);
    assert.equal(s.gc(now + 10_000), 1);
    s.close();
    s = new SqliteAlertingState(file, 10_000);
    assert.equal(s.size, 0);
    s.close();
  });

  it('keeps alerts until gc drops them resolved', () => {
    const file = join(dir, 'alerts.db');
    const s = new SqliteAlertingState(file);
    const a = { labels: { alertname: 'X' }, annotations: {}, startsAt: 1, endsAt: 2, generatorURL: '', updatedAt: 1, timeout: false, fingerprint: labelSetFingerprint({ alertname: 'X' }) };
    s.saveAlerts([a]);
    s.close();
    const t = new SqliteAlertingState(file);
    assert.deepEqual(t.loadAlerts(), [a]);
    t.deleteAlerts([a.fingerprint]);
    assert.deepEqual(t.loadAlerts(), []);
    t.close();
  });

  for (const [name, ago] of [
    ['the next tick is 300 ms away', 3600_000 - 300],
    ['ticks were missed while stopped: flushed at once', 5 * 3600_000],
  ] as const) {
    it(`a restored group resumes its group_interval from the last notification instead of waiting group_wait again (${name})`, async () => {
      const sink = await new WebhookSink().start();
      const file = join(dir, `resume-${ago}.db`);
      const labels = { alertname: 'Resumed', instance: 'a' };
      const s = new SqliteAlertingState(file);
      const now = Date.now();
      // Notified (another alert) `ago` ms ago; group_interval is 1h.
      s.log('sink/webhook/0', '{}:{alertname="Resumed"}', ['0000000000000000'], [], now - ago);
      s.saveAlerts([{ labels, annotations: {}, startsAt: now, endsAt: now + 3600_000, generatorURL: '', updatedAt: now, timeout: false, fingerprint: labelSetFingerprint(labels) }]);
      s.close();
      // group_wait 1h: a group started from zero would not flush during this test.
      const d = await startDispatcher(
        `alerting:
  route: {receiver: sink, group_by: [alertname], group_wait: 1h, group_interval: 1h, repeat_interval: 4h}
  receivers: [{name: sink, webhook_configs: [{url: '${sink.url}/hook'}]}]
  `,
        { state: new SqliteAlertingState(file) },
      );
      try {
        await waitFor('the resumed group flushed', () => sink.received.length >= 1, 20_000);
        assert.deepEqual(sink.on('/hook')[0].alerts.map((a) => a.labels), [labels]);
      } finally {
        await d.stop();
        await sink.stop();
      }
    });
  }
});
