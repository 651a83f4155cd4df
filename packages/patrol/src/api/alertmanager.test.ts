import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { parse } from 'yaml';
import type { AlertDispatcher } from '../alerting/dispatcher.js';
import { configFrom, startDispatcher, waitFor, WebhookSink } from '../alerting/testutil.js';
import { registerAlertmanagerAPI } from './alertmanager.js';

const CONFIG = (url: string) => `
alerting:
  route:
    receiver: main
    group_by: [alertname]
    group_wait: 50ms
    group_interval: 1h
    routes:
      - receiver: db
        matchers: ['team="db"']
  receivers:
    - name: main
      webhook_configs: [{url: '${url}/main'}]
    - name: db
      webhook_configs: [{url: '${url}/db'}]
`;

describe('Alertmanager API v2: alerts, groups, status, receivers', () => {
  const sink = new WebhookSink();
  const app = Fastify();
  let d: AlertDispatcher;
  let yaml = '';

  before(async () => {
    await sink.start();
    yaml = CONFIG(sink.url);
    d = await startDispatcher(yaml);
    registerAlertmanagerAPI(app, { dispatcher: d, config: () => configFrom(yaml) });
    await app.ready();
  });
  after(async () => {
    await d.stop();
    await app.close();
    await sink.stop();
  });

  const post = (body: string, type = 'application/json') => app.inject({ method: 'POST', url: '/api/v2/alerts', headers: { 'content-type': type }, body });

  it('takes alerts and routes them to receivers', async () => {
    const r = await post(
      JSON.stringify([
        { labels: { alertname: 'Disk', team: 'db', instance: 'db1' }, annotations: { summary: 'full' }, generatorURL: 'http://prom/g' },
        { labels: { alertname: 'Cpu', instance: 'web1' } },
      ]),
    );
    assert.equal(r.statusCode, 200);
    await waitFor('both receivers', () => sink.on('/main').length === 1 && sink.on('/db').length === 1);
    assert.equal(sink.on('/db')[0].alerts[0].labels.instance, 'db1');
  });

  it('lists alerts with Alertmanager shapes, filters and receivers', async () => {
    const r = await app.inject('/api/v2/alerts');
    assert.equal(r.statusCode, 200);
    const list = r.json() as Record<string, unknown>[];
    assert.equal(list.length, 2);
    const disk = list.find((a) => (a.labels as Record<string, string>).alertname === 'Disk')!;
    assert.deepEqual(Object.keys(disk), ['annotations', 'endsAt', 'fingerprint', 'receivers', 'startsAt', 'status', 'updatedAt', 'generatorURL', 'labels']);
    assert.deepEqual(disk.receivers, [{ name: 'db' }]);
    assert.deepEqual(disk.status, { inhibitedBy: [], silencedBy: [], state: 'active' });
    assert.match(disk.startsAt as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // Sorted by fingerprint.
    const fps = list.map((a) => a.fingerprint as string);
    assert.deepEqual(fps, [...fps].sort());
    const cpu = list.find((a) => (a.labels as Record<string, string>).alertname === 'Cpu')!;
    assert.equal('generatorURL' in cpu, false);

    const filtered = (await app.inject('/api/v2/alerts?filter=team%3D%22db%22')).json() as unknown[];
    assert.equal(filtered.length, 1);
    assert.equal(((await app.inject('/api/v2/alerts?filter=alertname%3D~%22.*%22&filter=instance%3D%22web1%22')).json() as unknown[]).length, 1);
    assert.equal(((await app.inject('/api/v2/alerts?receiver=main')).json() as unknown[]).length, 1);
    assert.equal(((await app.inject('/api/v2/alerts?receiver=ma.*')).json() as unknown[]).length, 1);
    assert.equal(((await app.inject('/api/v2/alerts?active=false')).json() as unknown[]).length, 0);
  });

  it('lists aggregation groups', async () => {
    const groups = (await app.inject('/api/v2/alerts/groups')).json() as { labels: unknown; receiver: { name: string }; alerts: unknown[] }[];
    assert.deepEqual(
      groups.map((g) => [g.receiver.name, g.labels, g.alerts.length]),
      [
        ['main', { alertname: 'Cpu' }, 1],
        ['db', { alertname: 'Disk' }, 1],
      ],
    );
    assert.equal(((await app.inject('/api/v2/alerts/groups?receiver=db')).json() as unknown[]).length, 1);
  });

  it('answers bad input with Alertmanager status codes and messages', async () => {
    const cases: [string, string, number, unknown][] = [
      [JSON.stringify([{ labels: {} }]), 'application/json', 400, 'at least one label pair required'],
      [JSON.stringify([{ labels: { 'a-b': 'x' } }]), 'application/json', 400, 'invalid label set: invalid name "a-b"'],
      [
        JSON.stringify([{ labels: { a: 'x' }, startsAt: '2026-01-02T00:00:00Z', endsAt: '2026-01-01T00:00:00Z' }, { labels: {} }]),
        'application/json',
        400,
        'start time must be before end time; at least one label pair required',
      ],
      [JSON.stringify([{}]), 'application/json', 422, { code: 602, message: '0.labels in body is required' }],
      ['', 'application/json', 422, { code: 602, message: 'alerts in body is required' }],
      ['nope', 'application/json', 400, null],
      ['{}', 'application/json', 400, { code: 400, message: 'parsing alerts body from "" failed, because json: cannot unmarshal object into Go value of type models.PostableAlerts' }],
      [JSON.stringify([{ labels: { a: 5 } }]), 'application/json', 400, { code: 400, message: 'parsing alerts body from "" failed, because json: cannot unmarshal number into Go struct field Alert.labels of type string' }],
      ['[]', 'application/x-www-form-urlencoded', 415, { code: 415, message: 'unsupported media type "application/x-www-form-urlencoded", only [application/json] are allowed' }],
    ];
    for (const [body, type, status, want] of cases) {
      const r = await post(body, type);
      assert.equal(r.statusCode, status, body);
      if (want === null) assert.match((r.json() as { message: string }).message, /^parsing alerts body from "" failed, because .*JSON/, body);
      else assert.deepEqual(r.json(), want, body);
    }
    // The valid alert of a partly bad batch is kept, as Alertmanager does.
    await post(JSON.stringify([{ labels: { alertname: 'Kept' } }, { labels: {} }]));
    assert.ok(((await app.inject('/api/v2/alerts?filter=alertname%3D%22Kept%22')).json() as unknown[]).length === 1);

    const badFilter = await app.inject('/api/v2/alerts?filter=foo');
    assert.equal(badFilter.statusCode, 400);
    assert.equal(badFilter.json(), 'bad matcher format: foo');
    const badReceiver = await app.inject('/api/v2/alerts?receiver=(');
    assert.equal(badReceiver.statusCode, 400);
    assert.match(badReceiver.json() as string, /^failed to parse receiver param: /);
  });

  it('reports status and receivers', async () => {
    const s = (await app.inject('/api/v2/status')).json() as { cluster: unknown; config: { original: string }; versionInfo: Record<string, string>; uptime: string };
    assert.deepEqual(s.cluster, { peers: [], status: 'disabled' });
    const original = parse(s.config.original) as { route: { receiver: string }; receivers: { webhook_configs: { url: string }[] }[] };
    assert.equal(original.route.receiver, 'main');
    // Webhook URLs may carry keys: masked.
    assert.equal(original.receivers[0].webhook_configs[0].url, '<secret>');
    assert.ok(s.versionInfo.version);
    assert.deepEqual((await app.inject('/api/v2/receivers')).json(), [{ name: 'main' }, { name: 'db' }]);
  });

  it('creates, lists, gets and expires silences; alerts show silencedBy', async () => {
    const now = Date.now();
    const sil = (o: Record<string, unknown>) =>
      app.inject({
        method: 'POST',
        url: '/api/v2/silences',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ matchers: [{ name: 'team', value: 'db', isRegex: false }], startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3600_000).toISOString(), createdBy: 'me', comment: 'c', ...o }),
      });
    const r = await sil({});
    assert.equal(r.statusCode, 200);
    const id = (r.json() as { silenceID: string }).silenceID;
    const got = (await app.inject(`/api/v2/silence/${id}`)).json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(got), ['id', 'status', 'updatedAt', 'comment', 'createdBy', 'endsAt', 'matchers', 'startsAt']);
    assert.deepEqual(got.matchers, [{ isEqual: true, isRegex: false, name: 'team', value: 'db' }]);
    assert.deepEqual(got.status, { state: 'active' });
    const pending = (await sil({ startsAt: new Date(now + 600_000).toISOString(), comment: 'later', matchers: [{ name: 'a', value: 'b', isRegex: false, isEqual: false }, { name: 'c', value: 'd', isRegex: false }] })).json() as { silenceID: string };

    const disk = ((await app.inject('/api/v2/alerts?filter=alertname%3D%22Disk%22')).json() as { status: unknown }[])[0];
    assert.deepEqual(disk.status, { inhibitedBy: [], silencedBy: [id], state: 'suppressed' });
    assert.equal(((await app.inject('/api/v2/alerts?silenced=false&filter=alertname%3D%22Disk%22')).json() as unknown[]).length, 0);

    const list = (await app.inject('/api/v2/silences')).json() as { id: string }[];
    assert.deepEqual(
      list.map((s) => s.id),
      [id, pending.silenceID],
      'active before pending',
    );
    assert.deepEqual(((await app.inject('/api/v2/silences?filter=team%3D%22db%22')).json() as { id: string }[]).map((s) => s.id), [id]);

    const del = await app.inject({ method: 'DELETE', url: `/api/v2/silence/${id}` });
    assert.equal(del.statusCode, 200);
    assert.deepEqual(((await app.inject(`/api/v2/silence/${id}`)).json() as { status: unknown }).status, { state: 'expired' });

    const cases: [Record<string, unknown>, number, unknown][] = [
      [{ matchers: [] }, 422, { code: 612, message: 'matchers in body should have at least 1 items' }],
      [{ createdBy: undefined }, 422, { code: 602, message: 'createdBy in body is required' }],
      [{ matchers: [{ name: 'a', value: '(', isRegex: true }] }, 400, null],
      [{ matchers: [{ name: 'a-b', value: 'x', isRegex: false }] }, 400, 'silence invalid: invalid label matcher 0: invalid label name "a-b"'],
      [{ startsAt: new Date(now + 7200_000).toISOString() }, 400, 'Failed to create silence: start time must be before end time'],
      [{ startsAt: new Date(now - 7200_000).toISOString(), endsAt: new Date(now - 3600_000).toISOString() }, 400, "Failed to create silence: end time can't be in the past"],
      [{ id: '5e2d1f1a-0000-4000-8000-000000000000' }, 404, 'silence not found'],
    ];
    // Alertmanager rejects a silence matching every alert; Patrol keeps it and says so.
    const broad = await sil({ matchers: [{ name: 'a', value: '.*', isRegex: true }] });
    assert.equal(broad.statusCode, 200);
    const bj = broad.json() as { silenceID: string; warnings: string[] };
    assert.match(bj.warnings[0], /every matcher of this silence matches the empty string/);
    assert.equal(((await app.inject(`/api/v2/silence/${bj.silenceID}`)).json() as { status: { state: string } }).status.state, 'active');
    for (const [o, status, want] of cases) {
      const res = await sil(o);
      assert.equal(res.statusCode, status, JSON.stringify(o));
      if (want === null) assert.match(res.json() as string, /^silence invalid: invalid label matcher 0: invalid regular expression "\("/);
      else assert.deepEqual(res.json(), want, JSON.stringify(o));
    }
    assert.equal((await app.inject('/api/v2/silence/5e2d1f1a-0000-4000-8000-000000000000')).statusCode, 404);
    const bad = await app.inject('/api/v2/silence/nope');
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.json(), { code: 601, message: 'silenceID in path must be of type uuid: "nope"' });
    const notJson = await app.inject({ method: 'POST', url: '/api/v2/silences', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(notJson.statusCode, 400);
    assert.match((notJson.json() as { message: string }).message, /^parsing silence body from "" failed, because /);
  });
});
