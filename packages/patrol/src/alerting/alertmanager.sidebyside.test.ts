// The same alert stream and configuration sent to Debian's Alertmanager 0.25 and to Patrol,
// each notifying a local webhook sink; the notifications (receiver, group key and labels,
// alerts with their status, truncation) must be the same. Within a phase the order of groups
// depends on timers, so each phase is compared as a multiset.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import type { WebhookMessage } from '../notify/webhook/webhook.js';
import { Patrol } from '../server.js';
import { ALERTMANAGER, startAlertmanager, type Alertmanager } from '../testing/alertmanager.js';
import { needBinary } from '../testing/shared.js';
import { waitFor, WebhookSink } from './testutil.js';

function alertingYaml(hook: string): string {
  return `
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - receiver: crit
      match_re: {severity: "crit.*"}
      continue: true
      group_by: ['...']
    - receiver: team.db
      matchers: ['team="db"']
      group_by: [cluster]
    - receiver: few
      matchers: ['many="yes"']
    - receiver: quiet
      matchers: ['quiet="yes"']
receivers:
  - name: default
    webhook_configs: [{url: '${hook}/default'}]
  - name: crit
    webhook_configs: [{url: '${hook}/crit'}]
  - name: team.db
    webhook_configs: [{url: '${hook}/team.db'}]
  - name: few
    webhook_configs: [{url: '${hook}/few', max_alerts: 2}]
  - name: quiet
    webhook_configs: [{url: '${hook}/quiet', send_resolved: false}]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
`;
}

const indent = (s: string) =>
  s
    .split('\n')
    .map((l) => (l ? '  ' + l : l))
    .join('\n');

/** What must be equal: everything but times and the external URL. */
function normalise(path: string, m: WebhookMessage): string {
  return JSON.stringify({
    path: path.replace(/^\/(am|patrol)/, ''),
    receiver: m.receiver,
    status: m.status,
    groupKey: m.groupKey,
    groupLabels: m.groupLabels,
    commonLabels: m.commonLabels,
    commonAnnotations: m.commonAnnotations,
    truncatedAlerts: m.truncatedAlerts,
    version: m.version,
    alerts: m.alerts.map((a) => ({ status: a.status, labels: a.labels, annotations: a.annotations, fingerprint: a.fingerprint, generatorURL: a.generatorURL, ended: a.endsAt !== '0001-01-01T00:00:00Z' })),
  });
}

interface Harness {
  both: (path: string, body: unknown) => Promise<string[]>;
  comparePhase: (name: string, n: number) => Promise<void>;
  /** The notifications Patrol has sent so far, normalised. */
  patrolSent: () => { path: string; body: WebhookMessage }[];
}

/** One Alertmanager and one Patrol with the same alerting section (`yaml(hook)`), one sink. */
function sideBySide(title: string, yaml: (hook: string) => string, tests: (h: Harness) => void): void {
describe(title, { skip: needBinary(ALERTMANAGER) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-am-sbs-'));
  const sink = new WebhookSink();
  let am: Alertmanager | null = null;
  let amURL = '';
  let patrol: Patrol;
  let patrolURL = '';
  const seen = { am: 0, patrol: 0 };

  const phase = (who: 'am' | 'patrol') => {
    const all = sink.received.filter((r) => r.path.startsWith(`/${who}/`));
    const out = all.slice(seen[who]).map((r) => normalise(r.path, r.body));
    return out.sort();
  };
  const count = (who: 'am' | 'patrol') => sink.received.filter((r) => r.path.startsWith(`/${who}/`)).length;

  /** Waits until both have sent `n` more notifications, compares them, and moves past them. */
  async function comparePhase(name: string, n: number): Promise<void> {
    await waitFor(`${name}: ${n} notifications from each`, () => count('am') >= seen.am + n && count('patrol') >= seen.patrol + n, 60_000);
    const a = phase('am');
    const p = phase('patrol');
    assert.deepEqual(p.map((s) => JSON.parse(s) as unknown), a.map((s) => JSON.parse(s) as unknown), name);
    seen.am += a.length;
    seen.patrol += p.length;
  }

  const post = async (base: string, path: string, body: unknown) => {
    const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await r.text();
    assert.equal(r.status, 200, `${base}${path}: ${text}`);
    return text;
  };
  const both = (path: string, body: unknown) => Promise.all([post(amURL, path, body), post(patrolURL, path, body)]);

  before(async () => {
    await sink.start();
    am = await startAlertmanager(dir, yaml(`${sink.url}/am`));
    amURL = am.url;

    writeFileSync(join(dir, 'patrol.yml'), `alerting:\n${indent(yaml(`${sink.url}/patrol`))}`);
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

  tests({ both, comparePhase, patrolSent: () => sink.received.filter((r) => r.path.startsWith('/patrol/')) });
});
}

sideBySide('side by side with Alertmanager 0.25: notification sequences', alertingYaml, ({ both, comparePhase }) => {
  it('routes, groups, truncates, inhibits, silences and resolves the same way', async () => {
    const now = Date.now();
    // A silence first, on both.
    await both('/api/v2/silences', {
      matchers: [{ name: 'env', value: 'test', isRegex: false }],
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 3600_000).toISOString(),
      createdBy: 'side-by-side',
      comment: 'maintenance',
    });
    const t0 = new Date(now).toISOString();
    const fire = [
      { labels: { alertname: 'DBDown', severity: 'critical', team: 'db', cluster: 'c1' }, annotations: { summary: 'db down' }, startsAt: t0, generatorURL: 'http://prom/g1' },
      { labels: { alertname: 'DBSlow', severity: 'warning', team: 'db', cluster: 'c1' }, annotations: { summary: 'slow' }, startsAt: t0 },
      { labels: { alertname: 'DBSlow', severity: 'warning', team: 'db', cluster: 'c2' }, annotations: { summary: 'slow' }, startsAt: t0 },
      ...[1, 2, 3, 4].map((i) => ({ labels: { alertname: 'Many', many: 'yes', instance: `i${i}` }, annotations: {}, startsAt: t0 })),
      { labels: { alertname: 'Silenced', env: 'test' }, annotations: {}, startsAt: t0 },
      { labels: { alertname: 'Plain', instance: 'x', job: 'j' }, annotations: { a: '1' }, startsAt: t0 },
      { labels: { alertname: 'Plain', instance: 'y', job: 'j' }, annotations: { a: '2' }, startsAt: t0 },
      { labels: { alertname: 'Hush', quiet: 'yes' }, annotations: {}, startsAt: t0 },
    ];
    await both('/api/v2/alerts', fire);
    // crit (DBDown), team.db c1 (DBDown; DBSlow inhibited), team.db c2, few (2 of 4), default Plain, quiet.
    await comparePhase('first notifications', 6);

    const t1 = new Date().toISOString();
    await both('/api/v2/alerts', [
      { ...fire[0], endsAt: t1 },
      { ...fire[8], endsAt: t1 },
      { ...fire[10], endsAt: t1 },
    ]);
    // crit resolved; team.db c1 with DBDown resolved and DBSlow released; Plain x resolved; quiet sends no resolution.
    await comparePhase('resolutions', 3);

    const t2 = new Date().toISOString();
    await both('/api/v2/alerts', [
      { ...fire[9], endsAt: t2 },
      ...[1, 2, 3, 4].map((i) => ({ labels: { alertname: 'Many', many: 'yes', instance: `i${i}` }, annotations: {}, startsAt: t0, endsAt: t2 })),
    ]);
    // Plain all resolved; Many all resolved (still truncated to 2).
    await comparePhase('everything resolved', 2);
  });
});

/** Time intervals, both the top-level `time_intervals` and the older `mute_time_intervals`, as a
 * route's `mute_time_intervals` and `active_time_intervals`, and `global.resolve_timeout`: an
 * interval that always holds (every day, all day) and one that never does (the year 1999). */
function timeIntervalsYaml(hook: string): string {
  return `
global:
  resolve_timeout: 3s
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: muted
      matchers: ['tw="muted"']
      mute_time_intervals: [always]
    - receiver: muted
      matchers: ['tw="oldmuted"']
      mute_time_intervals: [old-always]
    - receiver: inactive
      matchers: ['tw="inactive"']
      active_time_intervals: [never]
    - receiver: active
      matchers: ['tw="active"']
      active_time_intervals: [always]
      mute_time_intervals: [never]
time_intervals:
  - name: always
    time_intervals: [{times: [{start_time: '00:00', end_time: '24:00'}]}]
  - name: never
    time_intervals: [{years: ['1999']}]
mute_time_intervals:
  - name: old-always
    time_intervals: [{weekdays: ['sunday:saturday']}]
receivers:
  - name: default
    webhook_configs: [{url: '${hook}/default'}]
  - name: muted
    webhook_configs: [{url: '${hook}/muted'}]
  - name: inactive
    webhook_configs: [{url: '${hook}/inactive'}]
  - name: active
    webhook_configs: [{url: '${hook}/active', send_resolved: true}]
`;
}

sideBySide('side by side with Alertmanager 0.25: time intervals and resolve_timeout', timeIntervalsYaml, ({ both, comparePhase, patrolSent }) => {
  it('mutes and activates routes by time interval, resolves by resolve_timeout the same way', async () => {
    const t0 = new Date().toISOString();
    // No endsAt: both set it to now + resolve_timeout (3 s).
    await both(
      '/api/v2/alerts',
      ['muted', 'oldmuted', 'inactive', 'active'].map((tw) => ({ labels: { alertname: `TI_${tw}`, tw }, annotations: {}, startsAt: t0 })),
    );
    await comparePhase('only the active route notifies', 1);
    assert.deepEqual(
      patrolSent().map((r) => [r.path, r.body.status]),
      [['/patrol/active', 'firing']],
    );
    await comparePhase('resolved by resolve_timeout', 1);
    assert.deepEqual(
      patrolSent().map((r) => [r.path, r.body.status]),
      [
        ['/patrol/active', 'firing'],
        ['/patrol/active', 'resolved'],
      ],
    );
  });
});
