import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareAlerts, goTimeJSON, labelSetFingerprint, labelSetString, type Alert } from '../model/alert.js';
import { goQuote } from '../model/goquote.js';
import { MemoryNotificationLog } from './nflog.js';
import { needsUpdate } from './pipeline.js';
import { alertFromPostable } from './postable.js';
import { Route } from './route.js';
import { AlertStore, mergeAlerts } from './store.js';
import { configFrom } from './testutil.js';

function alert(labels: Record<string, string>, o: Partial<Alert> = {}): Alert {
  return { labels, annotations: {}, startsAt: 1000, endsAt: 0, generatorURL: '', updatedAt: 1000, timeout: false, fingerprint: labelSetFingerprint(labels), ...o };
}

describe('alert identity and formats', () => {
  it('fingerprints label sets as Alertmanager does', () => {
    // Fingerprints Alertmanager 0.25 reported for these label sets.
    assert.equal(labelSetFingerprint({ alertname: 'A', env: 'prod', instance: 'i2', team: 'x' }), '41bc6ebbef980a92');
    assert.equal(labelSetFingerprint({ severity: 'critical', instance: 'i1', alertname: 'A' }), '498074676852febe');
    // FNV-1a 64's offset basis for the empty set; non-ASCII goes in as UTF-8.
    assert.equal(labelSetFingerprint({}), 'cbf29ce484222325');
    assert.notEqual(labelSetFingerprint({ a: 'é' }), labelSetFingerprint({ a: 'e' }));
    assert.notEqual(labelSetFingerprint({ a: 'bc' }), labelSetFingerprint({ ab: 'c' }));
  });

  it('formats times, quotes and label sets as Go does', () => {
    assert.equal(goTimeJSON(0), '0001-01-01T00:00:00Z');
    assert.equal(goTimeJSON(Date.UTC(2026, 0, 2, 3, 4, 5, 120)), '2026-01-02T03:04:05.12Z');
    assert.equal(goTimeJSON(Date.UTC(2026, 0, 2, 3, 4, 5)), '2026-01-02T03:04:05Z');
    assert.equal(goQuote('a"b\\c\nd\x01'), '"a\\"b\\\\c\\nd\\x01"');
    assert.equal(labelSetString({ team: 'x', alertname: 'A' }), '{alertname="A", team="x"}');
  });

  it('orders alerts by job, instance, then label set', () => {
    const as = [alert({ a: '1', b: '2' }), alert({ instance: 'b' }), alert({ z: '1' }), alert({ job: 'j', instance: 'z' }), alert({ instance: 'a' })];
    assert.deepEqual(
      as.sort(compareAlerts).map((a) => a.labels),
      [{ job: 'j', instance: 'z' }, { instance: 'a' }, { instance: 'b' }, { z: '1' }, { a: '1', b: '2' }],
    );
  });
});

describe('postable alerts', () => {
  it('fills times and validates as Alertmanager', () => {
    const a = alertFromPostable({ labels: { a: 'b', empty: '' }, annotations: {} }, 5000, 300_000) as Alert;
    assert.equal(a.startsAt, 5000);
    assert.equal(a.endsAt, 305_000);
    assert.equal(a.timeout, true);
    assert.deepEqual(a.labels, { a: 'b' });
    const ended = alertFromPostable({ labels: { a: 'b' }, annotations: {}, endsAt: '2026-01-01T00:00:00Z' }, 5000, 1) as Alert;
    assert.equal(ended.startsAt, ended.endsAt);
    assert.equal(ended.timeout, false);
    assert.equal(alertFromPostable({ labels: {}, annotations: {} }, 0, 1), 'at least one label pair required');
    assert.equal(alertFromPostable({ labels: { a: '' }, annotations: {} }, 0, 1), 'at least one label pair required');
    assert.equal(alertFromPostable({ labels: { 'a-b': 'x' }, annotations: {} }, 0, 1), 'invalid label set: invalid name "a-b"');
    assert.equal(alertFromPostable({ labels: { a: 'x' }, annotations: { 'no good': 'x' } }, 0, 1), 'invalid annotations: invalid name "no good"');
    assert.equal(
      alertFromPostable({ labels: { a: 'x' }, annotations: {}, startsAt: '2026-01-02T00:00:00Z', endsAt: '2026-01-01T00:00:00Z' }, 0, 1),
      'start time must be before end time',
    );
    assert.equal(alertFromPostable({ labels: { a: 'x' }, annotations: {}, startsAt: 'yesterday' }, 0, 1), 'invalid startsAt "yesterday"');
  });
});

describe('alert store', () => {
  it('merges overlapping updates: earliest start, explicit end wins over a timeout', () => {
    const now = 10_000;
    const old = alert({ a: '1' }, { startsAt: 1000, endsAt: 20_000, updatedAt: 1000 });
    const young = alert({ a: '1' }, { startsAt: 5000, endsAt: 30_000, updatedAt: 2000, timeout: true });
    assert.deepEqual([mergeAlerts(old, young, now).startsAt, mergeAlerts(old, young, now).endsAt], [1000, 30_000]);
    // An older explicit end later than a younger timeout end is kept.
    const explicit = alert({ a: '1' }, { startsAt: 1000, endsAt: 50_000, updatedAt: 1000 });
    assert.equal(mergeAlerts(explicit, young, now).endsAt, 50_000);
    // Argument order does not matter: the younger is chosen by updatedAt.
    assert.equal(mergeAlerts(young, explicit, now).endsAt, 50_000);
  });

  it('keeps one alert per fingerprint, tells listeners, and gc drops resolved ones', () => {
    let now = 10_000;
    const s = new AlertStore(() => now);
    const seen: string[] = [];
    s.subscribe((a) => seen.push(a.fingerprint));
    s.put([alert({ a: '1' }, { startsAt: 1000, endsAt: 20_000 }), alert({ a: '2' }, { startsAt: 1000, endsAt: 11_000 })]);
    s.put([alert({ a: '1' }, { startsAt: 5000, endsAt: 30_000, updatedAt: 2000 })]);
    assert.equal(s.size, 2);
    assert.equal(seen.length, 3);
    assert.equal(s.get(labelSetFingerprint({ a: '1' }))!.startsAt, 1000);
    now = 12_000;
    assert.deepEqual(s.gc().map((a) => a.labels), [{ a: '2' }]);
    assert.equal(s.size, 1);
  });
});

describe('route tree', () => {
  const cfg = configFrom(`
alerting:
  route:
    receiver: root
    group_by: [alertname]
    group_wait: 10s
    routes:
      - receiver: crit
        match_re: {severity: "crit.*"}
        continue: true
        group_by: ['...']
        group_interval: 1m
      - receiver: team
        matchers: ['team="x"', 'env=~"p.*"']
        repeat_interval: 2h
        routes:
          - receiver: db
            match: {service: db}
      - receiver: other
        matchers: ['team="x"']
  receivers: [{name: root}, {name: crit}, {name: team}, {name: db}, {name: other}]
`);
  const root = new Route(cfg.alerting.route!);

  it('matches depth first, stopping at the first match unless continue', () => {
    const recv = (l: Record<string, string>) => root.match(l).map((r) => r.opts.receiver);
    assert.deepEqual(recv({ alertname: 'A' }), ['root']);
    assert.deepEqual(recv({ severity: 'critical', team: 'x', env: 'prod' }), ['crit', 'team']);
    assert.deepEqual(recv({ team: 'x', env: 'prod', service: 'db' }), ['db']);
    assert.deepEqual(recv({ team: 'x', env: 'dev' }), ['other']);
    assert.deepEqual(recv({ severity: 'critical' }), ['crit']);
  });

  it('inherits options and names groups as Alertmanager', () => {
    const [crit, team, other] = root.routes;
    const db = team.routes[0];
    assert.equal(crit.opts.groupByAll, true);
    assert.equal(crit.opts.groupWait, 10_000);
    assert.equal(crit.opts.groupInterval, 60_000);
    assert.equal(db.opts.repeatInterval, 2 * 3600_000);
    assert.deepEqual([...db.opts.groupBy], ['alertname']);
    assert.equal(other.opts.groupInterval, 5 * 60_000);
    // Keys as Alertmanager 0.25 printed them in webhook payloads.
    assert.equal(crit.key, '{}/{severity=~"^(?:crit.*)$"}');
    assert.equal(team.key, '{}/{env=~"p.*",team="x"}');
    assert.equal(db.key, '{}/{env=~"p.*",team="x"}/{service="db"}');
    assert.deepEqual(crit.groupLabels({ a: '1', b: '2' }), { a: '1', b: '2' });
    assert.deepEqual(team.groupLabels({ alertname: 'X', b: '2' }), { alertname: 'X' });
  });
});

describe('dedup against the notification log', () => {
  it('notifies new firing alerts, resolutions, and repeats after repeat_interval', () => {
    const log = new MemoryNotificationLog();
    const f = (...x: string[]) => new Set(x);
    assert.equal(needsUpdate(undefined, f(), f('a'), true, 1000, 0), false, 'only resolved, never notified');
    assert.equal(needsUpdate(undefined, f('a'), f(), true, 1000, 0), true);
    log.log('r/webhook/0', 'g', ['a', 'b'], [], 100);
    const e = log.query('r/webhook/0', 'g');
    assert.equal(needsUpdate(e, f('a', 'b'), f(), true, 1000, 500), false);
    assert.equal(needsUpdate(e, f('a'), f(), true, 1000, 500), false, 'a subset already notified');
    assert.equal(needsUpdate(e, f('a', 'c'), f(), true, 1000, 500), true);
    assert.equal(needsUpdate(e, f('a'), f('b'), true, 1000, 500), true, 'a resolution with send_resolved');
    assert.equal(needsUpdate(e, f('a'), f('b'), false, 1000, 500), false);
    assert.equal(needsUpdate(e, f(), f('a', 'b'), false, 1000, 500), true, 'all resolved clears the log');
    assert.equal(needsUpdate(e, f('a', 'b'), f(), true, 1000, 1101), true, 'repeat interval passed');
    assert.equal(log.gc(100 + 120 * 3600_000), 1);
    assert.equal(log.query('r/webhook/0', 'g'), undefined);
  });
});
