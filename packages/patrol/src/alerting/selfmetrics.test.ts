// The dispatcher's self-metrics against Debian's Alertmanager 0.25's own /metrics: the same
// names, types and label names, the same values where both must agree (configured receivers and
// integrations, groups, alerts by state), and each moving as it should in Patrol (requests
// failed on a 503 receiver, query and write timings, the configuration hash and reload outcome).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { ALERTMANAGER, startAlertmanager, type Alertmanager } from '../testing/alertmanager.js';
import { needBinary } from '../testing/shared.js';
import { waitFor, WebhookSink } from './testutil.js';

/** The families this test holds Patrol to, as Alertmanager exposes them. */
const FAMILIES = [
  'alertmanager_nflog_query_duration_seconds',
  'alertmanager_nflog_snapshot_duration_seconds',
  'alertmanager_silences_query_duration_seconds',
  'alertmanager_silences_snapshot_duration_seconds',
  'alertmanager_silences_queries_total',
  'alertmanager_silences_query_errors_total',
  'alertmanager_silences_snapshot_size_bytes',
  'alertmanager_silences',
  'alertmanager_notifications_total',
  'alertmanager_notification_requests_total',
  'alertmanager_notification_requests_failed_total',
  'alertmanager_notification_latency_seconds',
  'alertmanager_dispatcher_aggregation_groups',
  'alertmanager_alerts',
  'alertmanager_marked_alerts',
  'alertmanager_integrations',
  'alertmanager_receivers',
  'alertmanager_config_hash',
  'alertmanager_config_last_reload_successful',
  'alertmanager_config_last_reload_success_timestamp_seconds',
];

function alertingYaml(hook: string, groupWait = '50ms'): string {
  return `
route:
  receiver: hook
  group_by: [alertname]
  group_wait: ${groupWait}
  group_interval: 300ms
  repeat_interval: 1h
  routes:
    - receiver: flaky
      matchers: ['flaky="yes"']
receivers:
  - name: hook
    webhook_configs: [{url: '${hook}/hook'}, {url: '${hook}/hook2'}]
  - name: flaky
    webhook_configs: [{url: '${hook}/flaky'}]
  - name: unused
    webhook_configs: [{url: '${hook}/unused'}]
`;
}

const indent = (s: string) =>
  s
    .split('\n')
    .map((l) => (l ? '  ' + l : l))
    .join('\n');

interface Family {
  type: string;
  /** Label names of the samples (le and quantile left out), sorted and joined. */
  labels: Set<string>;
  /** Sample line (name{labels}) → value. */
  samples: Map<string, number>;
}

function parseMetrics(text: string): Map<string, Family> {
  const out = new Map<string, Family>();
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      current = { type: t[2], labels: new Set(), samples: new Map() };
      out.set(t[1], current);
      continue;
    }
    if (!line || line.startsWith('#') || !current) continue;
    const m = /^(\S+?)(\{.*\})? (\S+)$/.exec(line);
    if (!m) continue;
    const names = [...(m[2] ?? '').matchAll(/(\w+)="/g)].map((x) => x[1]).filter((n) => n !== 'le' && n !== 'quantile');
    current.labels.add(names.sort().join(','));
    current.samples.set(m[1] + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}

describe('dispatcher self-metrics, side by side with Alertmanager', { skip: needBinary(ALERTMANAGER) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-selfmetrics-'));
  const sink = new WebhookSink();
  let am: Alertmanager | null = null;
  let amURL = '';
  let patrol: Patrol;
  let patrolURL = '';
  const flakyFailures = { am: 0, patrol: 0 };

  const metrics = async (base: string) => parseMetrics(await (await fetch(`${base}/metrics`)).text());
  const value = async (base: string, sample: string) => (await metrics(base)).get(sample.replace(/\{.*$/, '').replace(/_(sum|count|bucket)$/, ''))?.samples.get(sample);
  const post = async (base: string, path: string, body: unknown) => {
    const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 200, `${base}${path}: ${await r.text()}`);
  };

  before(async () => {
    await sink.start();
    // Each server's flaky receiver answers 503 twice, then 200.
    sink.respond = (path) => {
      const who = path.startsWith('/am/') ? 'am' : 'patrol';
      if (path.endsWith('/flaky') && flakyFailures[who] < 2) {
        flakyFailures[who]++;
        return 503;
      }
      return 200;
    };
    am = await startAlertmanager(dir, alertingYaml(`${sink.url}/am`));
    amURL = am.url;
    writeFileSync(join(dir, 'patrol.yml'), `alerting:\n${indent(alertingYaml(`${sink.url}/patrol`))}`);
    patrol = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'patrol-data'), listen: '127.0.0.1:0', logger: createLogger('silent') });
    await patrol.start();
    patrolURL = `http://${patrol.listen}`;
  });

  after(async () => {
    await am?.stop();
    await patrol?.stop();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exposes the same families with the same types and label names', async () => {
    const [a, p] = await Promise.all([metrics(amURL), metrics(patrolURL)]);
    for (const name of FAMILIES) {
      const fa = a.get(name);
      const fp = p.get(name);
      assert.ok(fa, `Alertmanager exposes ${name}`);
      assert.ok(fp, `Patrol exposes ${name}`);
      assert.equal(fp.type, fa.type, `type of ${name}`);
      assert.deepEqual([...fp.labels].sort(), [...fa.labels].sort(), `label names of ${name}`);
    }
    // Series are there before the first notification, for every integration Alertmanager lists.
    assert.deepEqual(
      [...p.get('alertmanager_notification_requests_failed_total')!.samples.keys()].sort(),
      [...a.get('alertmanager_notification_requests_failed_total')!.samples.keys()].sort(),
    );
  });

  it('counts configured receivers and integrations as Alertmanager does (those the routes use)', async () => {
    for (const base of [amURL, patrolURL]) {
      assert.equal(await value(base, 'alertmanager_receivers'), 2, base);
      assert.equal(await value(base, 'alertmanager_integrations'), 3, base);
      assert.equal(await value(base, 'alertmanager_config_last_reload_successful'), 1, base);
      assert.ok((await value(base, 'alertmanager_config_hash'))! > 0, base);
      assert.ok((await value(base, 'alertmanager_config_last_reload_success_timestamp_seconds'))! > Date.now() / 1000 - 3600, base);
    }
  });

  it('moves groups, alerts, requests and timings with the same alerts', async () => {
    const alerts = [
      { labels: { alertname: 'A', instance: '1' } },
      { labels: { alertname: 'A', instance: '2' } },
      { labels: { alertname: 'B' } },
      { labels: { alertname: 'F', flaky: 'yes' } },
    ];
    const silence = { matchers: [{ name: 'alertname', value: 'Nothing', isRegex: false, isEqual: true }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3600_000).toISOString(), createdBy: 'test', comment: 'metrics' };
    for (const base of [amURL, patrolURL]) {
      await post(base, '/api/v2/silences', silence);
      await post(base, '/api/v2/alerts', alerts);
    }
    const sent = (who: string, path: string) => sink.received.filter((r) => r.path === `/${who}/${path}`).length;
    await waitFor('both notified every group', () => ['am', 'patrol'].every((w) => sent(w, 'hook') >= 2 && sent(w, 'hook2') >= 2 && sent(w, 'flaky') >= 1), 60_000);
    const webhook = '{integration="webhook"}';
    for (const base of [amURL, patrolURL]) {
      assert.equal(await value(base, 'alertmanager_dispatcher_aggregation_groups'), 3, base);
      assert.equal(await value(base, 'alertmanager_marked_alerts{state="active"}'), 4, base);
      assert.equal(await value(base, 'alertmanager_alerts{state="active"}'), 4, base);
      assert.equal(await value(base, 'alertmanager_silences{state="active"}'), 1, base);
      // Two groups × two integrations and the flaky one; its two 503s are failed requests, not failed notifications.
      assert.equal(await value(base, `alertmanager_notifications_total${webhook}`), 5, base);
      assert.equal(await value(base, `alertmanager_notification_requests_total${webhook}`), 7, base);
      assert.equal(await value(base, `alertmanager_notification_requests_failed_total${webhook}`), 2, base);
      assert.equal(await value(base, `alertmanager_notification_latency_seconds_count${webhook}`), 7, base);
      assert.ok((await value(base, 'alertmanager_nflog_query_duration_seconds_count'))! >= 5, base);
      assert.ok((await value(base, 'alertmanager_silences_queries_total'))! >= 4, base);
    }
    // Patrol writes each change through (Alertmanager snapshots every 15 minutes): timed at once.
    assert.ok((await value(patrolURL, 'alertmanager_nflog_snapshot_duration_seconds_count'))! >= 5);
    assert.ok((await value(patrolURL, 'alertmanager_silences_snapshot_duration_seconds_count'))! >= 1);
    assert.ok((await value(patrolURL, 'alertmanager_silences_query_duration_seconds_count'))! >= 4);
    assert.ok((await value(patrolURL, 'alertmanager_silences_snapshot_size_bytes'))! > 0);
  });

  it('changes the hash on a reload and reports a rejected one', async () => {
    const before = await value(patrolURL, 'alertmanager_config_hash');
    writeFileSync(join(dir, 'patrol.yml'), `alerting:\n${indent(alertingYaml(`${sink.url}/patrol`, '60ms'))}`);
    assert.equal((await patrol.reload()).ok, true);
    const changed = await value(patrolURL, 'alertmanager_config_hash');
    assert.notEqual(changed, before);
    assert.equal(await value(patrolURL, 'alertmanager_config_last_reload_successful'), 1);
    writeFileSync(join(dir, 'patrol.yml'), `alerting:\n${indent(alertingYaml(`${sink.url}/patrol`).replace('receiver: flaky', 'receiver: nobody'))}`);
    assert.equal((await patrol.reload()).ok, false);
    assert.equal(await value(patrolURL, 'alertmanager_config_last_reload_successful'), 0);
    assert.equal(await value(patrolURL, 'alertmanager_config_hash'), changed, 'the running configuration is unchanged');
  });
});
