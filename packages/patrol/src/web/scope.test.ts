// Per-team scoping, endpoint by endpoint: users of two teams (a password login each, writes with
// the CSRF token), a team-scoped API token and an unscoped admin, against a real Patrol with its
// alert dispatcher holding alerts of both teams and of none.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { hashPassword } from './auth_store.js';
import { SCOPED_READS } from './scope.js';

interface Who {
  cookie: string;
  csrf: string;
}

describe('per-team scoping by label', () => {
  let patrol: Patrol;
  let base: string;
  const who: Record<string, Who> = {};
  let webToken = '';

  const call = async (as: Who | string, method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = typeof as === 'string' ? { authorization: `Bearer ${as}` } : { cookie: as.cookie, 'x-csrf-token': as.csrf };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: r.status, json: json as never, text };
  };
  const silence = (matchers: [string, string][], extra: object = {}) => ({
    matchers: matchers.map(([name, value]) => ({ name, value, isRegex: false, isEqual: true })),
    startsAt: new Date().toISOString(),
    endsAt: new Date(Date.now() + 3600_000).toISOString(),
    createdBy: 'test',
    comment: 'scoping',
    ...extra,
  });
  const teams = (alerts: { labels: Record<string, string> }[]) => [...new Set(alerts.map((a) => a.labels.squad ?? '-'))].sort();

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-scope-'));
    const configFile = join(dir, 'patrol.yml');
    const hash = await hashPassword('pw');
    writeFileSync(
      configFile,
      `server:\n  auth:\n    team_label: squad\n    users:\n` +
        `      pay1: {password_hash: '${hash}', role: operator, team: payments}\n` +
        `      web1: {password_hash: '${hash}', role: admin, team: web}\n` +
        `      root: {password_hash: '${hash}', role: admin}\n` +
        `alerting:\n  route: {receiver: ops, group_by: [alertname, squad]}\n  receivers: [{name: ops}]\n`,
    );
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()), uiDir: null });
    await patrol.start();
    base = `http://${patrol.listen}`;
    for (const u of ['pay1', 'web1', 'root']) {
      const r = await fetch(`${base}/api/patrol/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: u, password: 'pw' }) });
      assert.equal(r.status, 200);
      who[u] = { cookie: (r.headers.get('set-cookie') ?? '').split(';')[0], csrf: ((await r.json()) as { data: { csrf_token: string } }).data.csrf_token };
    }
    const now = new Date().toISOString();
    const alerts = [
      { labels: { alertname: 'Down', squad: 'payments' }, startsAt: now },
      { labels: { alertname: 'Down', squad: 'web' }, startsAt: now },
      { labels: { alertname: 'Disk' }, startsAt: now },
    ];
    assert.equal((await call(who.root, 'POST', '/api/v2/alerts', alerts)).status, 200);
    // web1 is an admin of team web: its token is scoped to web whatever it asks.
    const t = await call(who.web1, 'POST', '/api/patrol/v1/auth/tokens', { name: 'web-ci', role: 'viewer' });
    assert.equal(t.status, 201, t.text);
    webToken = (t.json as { data: { token: string; team: string } }).data.token;
    assert.equal((t.json as { data: { team: string } }).data.team, 'web');
  });
  after(async () => {
    await patrol.stop();
  });

  it('GET /api/v2/alerts: each team sees its alerts, an unscoped admin all', async () => {
    assert.deepEqual(teams((await call(who.pay1, 'GET', '/api/v2/alerts')).json), ['payments']);
    assert.deepEqual(teams((await call(webToken, 'GET', '/api/v2/alerts')).json), ['web']);
    assert.deepEqual(teams((await call(who.root, 'GET', '/api/v2/alerts')).json), ['-', 'payments', 'web']);
  });

  it('GET /api/v2/alerts/groups: groups hold only the team\'s alerts', async () => {
    const groups = (await call(who.pay1, 'GET', '/api/v2/alerts/groups')).json as { alerts: { labels: Record<string, string> }[] }[];
    assert.equal(groups.length, 1);
    assert.deepEqual(teams(groups.flatMap((g) => g.alerts)), ['payments']);
    assert.equal(((await call(who.root, 'GET', '/api/v2/alerts/groups')).json as unknown[]).length, 3);
  });

  it('GET /api/patrol/v1/alerts and /api/v1/alerts are filtered too', async () => {
    assert.deepEqual(teams((await call(who.pay1, 'GET', '/api/patrol/v1/alerts')).json['data']), ['payments']);
    const v1 = (await call(who.pay1, 'GET', '/api/v1/alerts')).json as { data: { alerts: unknown[] } };
    assert.deepEqual(v1.data.alerts, []);
  });

  let paySilence = '';
  let webSilence = '';
  it('POST /api/v2/silences: a scoped user must pin its team label', async () => {
    let r = await call(who.pay1, 'POST', '/api/v2/silences', silence([['alertname', 'Down']]));
    assert.equal(r.status, 403);
    assert.match(r.text, /team payments may only create silences with the matcher squad=\\?"payments\\?"/);
    r = await call(who.pay1, 'POST', '/api/v2/silences', silence([['alertname', 'Down'], ['squad', 'web']]));
    assert.equal(r.status, 403);
    // A regex or != matcher on the label does not pin it.
    r = await call(who.pay1, 'POST', '/api/v2/silences', { ...silence([]), matchers: [{ name: 'squad', value: 'payments|web', isRegex: true, isEqual: true }] });
    assert.equal(r.status, 403);
    r = await call(who.pay1, 'POST', '/api/v2/silences', silence([['alertname', 'Down'], ['squad', 'payments']]));
    assert.equal(r.status, 200, r.text);
    paySilence = (r.json as { silenceID: string }).silenceID;
    r = await call(who.web1, 'POST', '/api/v2/silences', silence([['squad', 'web']]));
    assert.equal(r.status, 200, r.text);
    webSilence = (r.json as { silenceID: string }).silenceID;
    assert.equal((await call(who.root, 'POST', '/api/v2/silences', silence([['alertname', 'Disk']]))).status, 200);
    // Changing another team's silence by its id is refused.
    r = await call(who.pay1, 'POST', '/api/v2/silences', silence([['squad', 'payments']], { id: webSilence }));
    assert.equal(r.status, 403);
    assert.match(r.text, /is not team payments's/);
  });

  it('GET /api/v2/silences and /api/v2/silence/:id show only the team\'s silences', async () => {
    const mine = (await call(who.pay1, 'GET', '/api/v2/silences')).json as { id: string }[];
    assert.deepEqual(mine.map((s) => s.id), [paySilence]);
    assert.equal(((await call(who.root, 'GET', '/api/v2/silences')).json as unknown[]).length, 3);
    assert.equal((await call(who.pay1, 'GET', `/api/v2/silence/${paySilence}`)).status, 200);
    assert.equal((await call(who.pay1, 'GET', `/api/v2/silence/${webSilence}`)).status, 404);
  });

  it('DELETE /api/v2/silence/:id: only the team\'s own', async () => {
    const r = await call(who.pay1, 'DELETE', `/api/v2/silence/${webSilence}`);
    assert.equal(r.status, 403);
    assert.equal((await call(who.pay1, 'DELETE', `/api/v2/silence/${paySilence}`)).status, 200);
  });

  it('POST /api/v2/alerts: a scoped user posts only alerts with its label', async () => {
    const now = new Date().toISOString();
    const r = await call(who.pay1, 'POST', '/api/v2/alerts', [{ labels: { alertname: 'X', squad: 'web' }, startsAt: now }]);
    assert.equal(r.status, 403);
    assert.match(r.text, /may only post alerts with the label squad/);
    assert.equal((await call(who.pay1, 'POST', '/api/v2/alerts', [{ labels: { alertname: 'X', squad: 'payments' }, startsAt: now }])).status, 200);
  });

  it('acknowledging another team\'s alert is refused', async () => {
    const all = (await call(who.root, 'GET', '/api/v2/alerts')).json as { fingerprint: string; labels: Record<string, string> }[];
    const web = all.find((a) => a.labels.squad === 'web')!;
    const pay = all.find((a) => a.labels.squad === 'payments')!;
    assert.equal((await call(who.pay1, 'POST', `/api/patrol/v1/alerts/${web.fingerprint}/ack`, { by: 'p', comment: 'x' })).status, 403);
    const r = await call(who.pay1, 'POST', `/api/patrol/v1/alerts/${pay.fingerprint}/ack`, { by: 'p', comment: 'x' });
    assert.equal(r.status, 200, r.text);
  });

  it('GET /api/patrol/v1/alerts/history: only the team\'s events', async () => {
    const all = (await call(who.root, 'GET', '/api/patrol/v1/alerts/history')).json as { data: { labels: Record<string, string> }[] };
    const mine = (await call(who.pay1, 'GET', '/api/patrol/v1/alerts/history')).json as { data: { labels: Record<string, string> }[] };
    assert.ok(all.data.length > 0, 'the history has events (the acknowledgement at least)');
    assert.deepEqual(teams(mine.data), all.data.some((e) => e.labels.squad === 'payments') ? ['payments'] : []);
    assert.ok(teams(all.data).length > teams(mine.data).length || all.data.every((e) => e.labels.squad === 'payments'));
  });

  it('a scoped admin cannot make a token for another team', async () => {
    const r = await call(who.web1, 'POST', '/api/patrol/v1/auth/tokens', { name: 'x', role: 'viewer', team: 'payments' });
    assert.equal(r.status, 403);
  });

  it('every filtered route is a registered GET route', () => {
    for (const url of Object.keys(SCOPED_READS)) assert.ok(patrol.routeList.some((r) => r.url === url && r.method === 'GET'), url);
  });
});
