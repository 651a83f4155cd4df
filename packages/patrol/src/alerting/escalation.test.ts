import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createLogger } from '../logger.js';
import { parseConfig } from '../config/load.js';
import { registerPatrolAlertsAPI } from '../api/patrol_alerts.js';
import type { AlertDispatcher } from './dispatcher.js';
import { nextDigestRun, PatrolAlerting } from './escalation.js';
import { configFrom, startDispatcher, waitFor, WebhookSink } from './testutil.js';

function config(url: string): string {
  return `
alerting:
  route:
    receiver: main
    group_by: [alertname]
    group_wait: 50ms
    group_interval: 200ms
    repeat_interval: 300ms
    routes:
      - receiver: nobody
        matchers: ['severity="info"']
  receivers:
    - name: main
      webhook_configs: [{url: '${url}/main'}]
    - name: nobody
    - name: lead
      webhook_configs: [{url: '${url}/lead'}]
    - name: phone
      webhook_configs: [{url: '${url}/phone'}]
    - name: digest
      webhook_configs: [{url: '${url}/digest'}]
  patrol:
    escalations:
      - matchers: ['severity="critical"']
        ack_within: 300ms
        receivers: [lead, phone]
        repeat_interval: 300ms
    digests:
      - name: info
        matchers: ['severity="info"']
        receiver: digest
        schedule: daily
        at: "09:00"
        time_zone: Europe/Berlin
    depends_on:
      - dependent_matchers: ['service="api"']
        dependency_matchers: ['service="db"']
        equal: [cluster]
`;
}

function alert(labels: Record<string, string>, endsAt?: string) {
  return { labels, annotations: {}, startsAt: new Date(Date.now() - 100).toISOString(), ...(endsAt ? { endsAt } : {}) };
}

/** The parts of the API's answers the tests read. */
interface Body {
  data: {
    event: string;
    receiver: string;
    integration: string;
    outcome: string;
    kind: string;
    alerts: { status: string }[];
    acknowledged: { by: string; comment: string };
    escalation: { step: number };
    heldBy: { alertname: string; reason: string }[];
  }[];
}

async function json(app: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; body: Body }> {
  const r = await app.inject({ method, url, ...(body !== undefined ? { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  return { status: r.statusCode, body: r.json<Body>() };
}

describe('Patrol alerting: history, acknowledgement, escalation, digests, dependencies', () => {
  const sink = new WebhookSink();
  let dir: string;
  let d: AlertDispatcher;
  let p: PatrolAlerting;
  let app: FastifyInstance;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patrol-escalate-'));
    await sink.start();
    d = await startDispatcher(config(sink.url));
    p = new PatrolAlerting({ dispatcher: d, dbPath: join(dir, 'alerting.db'), logger: createLogger('silent'), tickInterval: 25 });
    p.applyConfig(configFrom(config(sink.url)), { dir: '.' });
    app = Fastify();
    registerPatrolAlertsAPI(app, { dispatcher: d, patrol: p });
    await app.ready();
  });
  after(async () => {
    await app.close();
    p.stop();
    await d.stop();
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records state changes and notification attempts, queryable by matchers and time', async () => {
    const t0 = Date.now();
    d.post([alert({ alertname: 'Hist', severity: 'warning', team: 'a' })]);
    await waitFor('the firing notification', () => sink.on('/main').some((m) => m.groupLabels.alertname === 'Hist'));
    d.post([alert({ alertname: 'Hist', severity: 'warning', team: 'a' }, new Date(Date.now() - 10).toISOString())]);
    await waitFor('the resolved notification', () => sink.on('/main').some((m) => m.groupLabels.alertname === 'Hist' && m.status === 'resolved'));
    await d.idle();
    const h = await json(app, 'GET', `/api/patrol/v1/alerts/history?filter=${encodeURIComponent('alertname="Hist"')}`);
    assert.equal(h.status, 200);
    assert.deepEqual(
      (h.body).data.map((e) => e.event),
      ['resolved', 'firing'],
    );
    const n = await json(app, 'GET', `/api/patrol/v1/notifications?match[]=${encodeURIComponent('{alertname="Hist"}')}&start=${t0 / 1000}`);
    const ns = (n.body).data;
    assert.ok(ns.length >= 2, JSON.stringify(ns));
    assert.equal(ns[0].receiver, 'main');
    assert.equal(ns[0].integration, 'webhook[0]');
    assert.equal(ns[0].outcome, 'success');
    assert.equal(ns[0].alerts[0].status, 'resolved');
    assert.equal(ns[0].kind, 'group');
    // Other matchers, an empty time range, bad input.
    assert.equal(((await json(app, 'GET', `/api/patrol/v1/alerts/history?filter=${encodeURIComponent('alertname="Nope"')}`)).body).data.length, 0);
    assert.equal(((await json(app, 'GET', `/api/patrol/v1/notifications?end=${t0 / 1000 - 3600}`)).body).data.length, 0);
    assert.equal((await json(app, 'GET', '/api/patrol/v1/alerts/history?filter=%7Bbad')).status, 400);
    assert.equal((await json(app, 'GET', '/api/patrol/v1/alerts/history?limit=-1')).status, 400);
    assert.equal((await json(app, 'GET', '/api/patrol/v1/notifications?start=yesterday')).status, 400);
    assert.equal(((await json(app, 'GET', '/api/patrol/v1/notifications?limit=1')).body).data.length, 1);
  });

  it('records silencing in history', async () => {
    d.silences.set({ matchers: [{ name: 'alertname', value: 'Hushed', isRegex: false, isEqual: true }], startsAt: Date.now() - 1000, endsAt: Date.now() + 3600_000, createdBy: 't', comment: 'c' });
    d.post([alert({ alertname: 'Hushed' })]);
    await waitFor('the silenced event', () => p.db.alertHistory({ matchers: [], start: 0, end: Date.now() + 1000, limit: 100 }).events.some((e) => e.event === 'silenced' && e.labels.alertname === 'Hushed'));
    assert.equal(sink.on('/main').filter((m) => m.groupLabels.alertname === 'Hushed').length, 0);
  });

  it('escalates an unacknowledged critical alert to the next receivers, stops when acknowledged', async () => {
    d.post([alert({ alertname: 'Down', severity: 'critical' }), alert({ alertname: 'Slow', severity: 'warning' })]);
    await waitFor('the first escalation (lead)', () => sink.on('/lead').length >= 1);
    await waitFor('the second escalation (phone)', () => sink.on('/phone').length >= 1);
    await waitFor('the last step repeating', () => sink.on('/phone').length >= 2);
    assert.ok(sink.on('/lead').every((m) => m.alerts.every((a) => a.labels.alertname === 'Down')), 'warnings are not escalated');
    await waitFor('the group repeating', () => sink.on('/main').filter((m) => m.groupLabels.alertname === 'Down').length >= 2);
    const fp = [...d.store.list()].find((a) => a.labels.alertname === 'Down')!.fingerprint;
    // Bad acknowledgements.
    assert.equal((await json(app, 'POST', `/api/patrol/v1/alerts/${fp}/ack`, { comment: 'x' })).status, 400);
    assert.equal((await json(app, 'POST', `/api/patrol/v1/alerts/0000000000000000/ack`, { by: 'ann' })).status, 404);
    const r = await app.inject({ method: 'POST', url: `/api/patrol/v1/alerts/${fp}/ack`, payload: '{nope', headers: { 'content-type': 'application/json' } });
    assert.equal(r.statusCode, 400);
    const ok = await json(app, 'POST', `/api/patrol/v1/alerts/${fp}/ack`, { by: 'ann', comment: 'on it' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    await d.idle();
    const phone = sink.on('/phone').length;
    const main = sink.on('/main').filter((m) => m.groupLabels.alertname === 'Down').length;
    // Long enough for two more escalation steps and two group repeats, had it not been acknowledged.
    await new Promise((res) => setTimeout(res, 900));
    assert.equal(sink.on('/phone').length, phone, 'no escalation after the acknowledgement');
    assert.equal(sink.on('/main').filter((m) => m.groupLabels.alertname === 'Down').length, main, 'no repeat after the acknowledgement');
    const list = (await json(app, 'GET', `/api/patrol/v1/alerts?filter=${encodeURIComponent('alertname="Down"')}`)).body;
    assert.equal(list.data[0].acknowledged.by, 'ann');
    assert.equal(list.data[0].acknowledged.comment, 'on it');
    assert.ok(list.data[0].escalation.step >= 3);
    const events = p.db.alertHistory({ matchers: [], start: 0, end: Date.now() + 1000, limit: 1000 }).events.filter((e) => e.fingerprint === fp).map((e) => e.event);
    assert.ok(events.includes('acknowledged') && events.includes('escalated'), events.join());
    const notifs = p.db.notifications({ matchers: [], start: 0, end: Date.now() + 1000, limit: 1000 }).notifications;
    assert.ok(notifs.some((n) => n.kind === 'escalation' && n.receiver === 'lead'));
    // A new alert in the group is still sent.
    d.post([alert({ alertname: 'Down', severity: 'critical', instance: 'b' })]);
    await waitFor('the new alert', () => sink.on('/main').some((m) => m.groupLabels.alertname === 'Down' && m.alerts.length === 2));
  });

  it('acknowledges through a signed link, and refuses tampered or expired links', async () => {
    d.post([alert({ alertname: 'Linked', severity: 'critical' })]);
    const fp = [...d.store.list()].find((a) => a.labels.alertname === 'Linked')!.fingerprint;
    const url = new URL(p.ackURL(fp));
    assert.ok(url.href.startsWith('http://patrol.test:9310/api/patrol/v1/ack/'));
    const path = url.pathname + url.search;
    const page = await app.inject({ method: 'GET', url: path });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<form method="post"/);
    assert.equal(p.ackOf(d.store.get(fp)!), undefined, 'showing the page does not acknowledge');
    const bad = await app.inject({ method: 'POST', url: path.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`), payload: 'by=eve', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(bad.statusCode, 403);
    const exp = Number(url.searchParams.get('exp'));
    const later = path.replace(`exp=${exp}`, `exp=${exp + 1}`);
    assert.equal((await app.inject({ method: 'POST', url: later })).statusCode, 403, 'the expiry is signed');
    const good = await app.inject({ method: 'POST', url: path, payload: 'by=bob&comment=from+the+phone', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(good.statusCode, 200, good.body);
    assert.equal(p.ackOf(d.store.get(fp)!)?.by, 'bob');
    // An expired link.
    const { signedAckURL } = await import('./escalation.js');
    const secret = p.db.get('ack_secret')!;
    const old = new URL(signedAckURL('http://x', secret, fp, Date.now() - 1000));
    const r = await app.inject({ method: 'POST', url: old.pathname + old.search });
    assert.equal(r.statusCode, 403);
    assert.match(r.body, /expired/);
  });

  it('holds back alerts of a service while its dependency is down, and still sends the recovery', async () => {
    d.post([alert({ alertname: 'ApiErrors', service: 'api', cluster: 'c1' })]);
    await waitFor('the api alert', () => sink.on('/main').some((m) => m.groupLabels.alertname === 'ApiErrors'));
    d.post([alert({ alertname: 'DbDown', service: 'db', cluster: 'c1' }), alert({ alertname: 'ApiLatency', service: 'api', cluster: 'c1' }), alert({ alertname: 'ApiOther', service: 'api', cluster: 'c2' })]);
    await waitFor('the db alert', () => sink.on('/main').some((m) => m.groupLabels.alertname === 'DbDown'));
    await waitFor('the api alert of another cluster', () => sink.on('/main').some((m) => m.groupLabels.alertname === 'ApiOther'));
    await d.idle();
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(sink.on('/main').filter((m) => m.groupLabels.alertname === 'ApiLatency').length, 0, 'held back');
    const list = (await json(app, 'GET', `/api/patrol/v1/alerts?filter=${encodeURIComponent('alertname="ApiLatency"')}`)).body;
    assert.equal(list.data[0].heldBy[0].alertname, 'DbDown');
    assert.match(list.data[0].heldBy[0].reason, /depends on "DbDown"/);
    // The api alert that had been sent resolves while the db is still down: the recovery goes out.
    d.post([alert({ alertname: 'ApiErrors', service: 'api', cluster: 'c1' }, new Date(Date.now() - 10).toISOString())]);
    await waitFor('the recovery', () => sink.on('/main').some((m) => m.groupLabels.alertname === 'ApiErrors' && m.status === 'resolved'));
    assert.ok(p.db.alertHistory({ matchers: [], start: 0, end: Date.now() + 1000, limit: 1000 }).events.some((e) => e.event === 'held' && e.labels.alertname === 'ApiLatency'));
  });

  it('sends collected info alerts as a digest, and keeps still-firing ones for the next', async () => {
    d.post([alert({ alertname: 'Disk70', severity: 'info' }), alert({ alertname: 'Cert30d', severity: 'info' })]);
    await d.idle();
    assert.equal(await p.runDigest('info'), 2);
    await waitFor('the digest', () => sink.on('/digest').length === 1);
    const m = sink.on('/digest')[0];
    assert.deepEqual(m.alerts.map((a) => a.labels.alertname).sort(), ['Cert30d', 'Disk70']);
    assert.deepEqual(m.groupLabels, { digest: 'info' });
    assert.equal(sink.on('/main').filter((x) => x.alerts.some((a) => a.labels.severity === 'info')).length, 0);
    d.post([alert({ alertname: 'Disk70', severity: 'info' }, new Date(Date.now() - 10).toISOString())]);
    assert.equal(await p.runDigest('info'), 2);
    assert.equal(await p.runDigest('info'), 1, 'the resolved one was reported once more, then dropped');
  });

  it('computes digest schedules in a time zone', () => {
    const t = Date.parse('2026-03-28T10:00:00Z');
    // Daily at 09:00 in Berlin: 08:00 UTC in winter; the next day is after the DST change (07:00 UTC).
    assert.equal(new Date(nextDigestRun({ schedule: 'daily', at: '09:00', time_zone: 'Europe/Berlin' }, t)).toISOString(), '2026-03-29T07:00:00.000Z');
    assert.equal(new Date(nextDigestRun({ schedule: 'daily', at: '09:00', time_zone: 'Europe/Berlin' }, Date.parse('2026-03-28T07:59:00Z'))).toISOString(), '2026-03-28T08:00:00.000Z');
    assert.equal(new Date(nextDigestRun({ schedule: 'hourly', at: '09:00', time_zone: 'Asia/Kolkata' }, t)).toISOString(), '2026-03-28T10:30:00.000Z');
    assert.equal(new Date(nextDigestRun({ schedule: 'daily', at: '09:00', time_zone: 'UTC' }, Date.parse('2026-03-28T09:00:00Z'))).toISOString(), '2026-03-29T09:00:00.000Z');
  });

  it('keeps acknowledgements and escalation steps across a restart', async () => {
    const down = [...d.store.list()].find((a) => a.labels.alertname === 'Down' && !a.labels.instance)!;
    const step = p.escalationOf(down.fingerprint)!.step;
    p.stop();
    p = new PatrolAlerting({ dispatcher: d, dbPath: join(dir, 'alerting.db'), logger: createLogger('silent'), tickInterval: 25 });
    p.applyConfig(configFrom(config(sink.url)), { dir: '.' });
    assert.equal(p.ackOf(down)?.by, 'ann');
    assert.equal(p.escalationOf(down.fingerprint)?.step, step);
    await app.close();
    app = Fastify();
    registerPatrolAlertsAPI(app, { dispatcher: d, patrol: p });
    await app.ready();
    assert.equal((await json(app, 'DELETE', `/api/patrol/v1/alerts/${down.fingerprint}/ack`)).status, 200);
    assert.equal(p.ackOf(down), undefined);
  });
});

describe('alerting.patrol configuration', () => {
  const base = `
alerting:
  route: {receiver: main}
  receivers: [{name: main}]
`;
  it('accepts an alertmanager.yml without it, and checks receivers, matchers, times and zones', () => {
    assert.ok(parseConfig(base, 't').ok);
    const bad = parseConfig(
      base +
        `  patrol:
    escalations: [{matchers: ['severity="critical"'], ack_within: 10m, receivers: [lead]}]
    digests: [{name: d, matchers: ['severity="info"'], receiver: main, at: "25:00", time_zone: Mars/Olympus}]
    depends_on: [{dependent_matchers: [], dependency_matchers: ['x=~"("']}]
    history: {retention: forever}
`,
      't',
    );
    assert.equal(bad.ok, false);
    const text = bad.ok ? '' : bad.errors.map(String).join('\n');
    for (const want of ['"25:00" is not a time of day', '"Mars/Olympus" is not a time zone', '"forever" is not a duration', 'dependent_matchers must not be empty']) {
      assert.ok(text.includes(want), `${want} in:\n${text}`);
    }
    const r = parseConfig(base + `  patrol:\n    escalations: [{matchers: ['severity="critical"'], ack_within: 10m, receivers: [main, lead]}]\n`, 't');
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.errors.map(String).join('\n'), /alerting\.patrol\.escalations\[0\]\.receivers\[1\]: undefined receiver "lead" used in escalation/);
  });
});
