// The configuration API against a running Patrol: writes land in patrol.d as YAML that a
// restart reads back, a hand edit shows up after a reload, bad input is refused with the file's
// messages and nothing written, concurrent writes all land, secrets stay masked and kept.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { hashPassword } from '../web/auth_store.js';

const PATROL_YML = `config_files: ["patrol.d/*.yml"]
rule_files: ["patrol.d/rules/*.yml"]
probes:
  - {name: in-main, type: tcp, target: "127.0.0.1:1", interval: 1h, timeout: 1s}
alerting:
  route: {receiver: main}
  receivers:
    - name: main
`;

describe('configuration API', () => {
  let dir: string;
  let patrol: Patrol;
  let base: string;
  const configFile = () => join(dir, 'patrol.yml');
  const probesFile = () => join(dir, 'patrol.d', 'probes.yml');

  const boot = async () => {
    patrol = new Patrol({ configFile: configFile(), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()), uiDir: null });
    await patrol.start();
    base = `http://${patrol.listen}`;
  };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> & { data: unknown } };
  };
  const probe = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'tcp', target: '127.0.0.1:1', interval: '1h', timeout: '1s', ...extra });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patrol-capi-'));
    writeFileSync(configFile(), PATROL_YML);
    await boot();
  });
  after(async () => {
    await patrol.stop();
  });

  it('a probe created through the API is in patrol.d/probes.yml, in the API, and again after a restart', async () => {
    const r = await call('POST', '/api/patrol/v1/config/probes', probe('api-one', { labels: { team: 'db' } }));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.source, join('patrol.d', 'probes.yml'));
    const text = readFileSync(probesFile(), 'utf8');
    assert.match(text, /name: api-one/);
    assert.match(text, /interval: 1h/);
    const got = await call('GET', '/api/patrol/v1/config/probes/api-one');
    assert.equal(got.status, 200);
    assert.deepEqual((got.body.data as Record<string, unknown>).labels, { team: 'db' });
    assert.equal((got.body.data as Record<string, unknown>).interval, '1h');
    // The probe runs: the probes API (which reads the running probes) knows it.
    assert.equal((await fetch(`${base}/api/patrol/v1/probes/api-one`)).status, 200);

    await patrol.stop();
    await boot();
    const again = await call('GET', '/api/patrol/v1/config/probes');
    assert.deepEqual(
      (again.body.data as { name: string }[]).map((p) => p.name),
      ['in-main', 'api-one'],
    );
    assert.deepEqual(again.body.sources, { 'in-main': 'patrol.yml', 'api-one': join('patrol.d', 'probes.yml') });
  });

  it('a hand edit of the managed file shows up in the API after a reload', async () => {
    writeFileSync(probesFile(), readFileSync(probesFile(), 'utf8').replace('interval: 1h', 'interval: 2h'));
    // Not before the reload: the API shows what runs.
    assert.equal(((await call('GET', '/api/patrol/v1/config/probes/api-one')).body.data as Record<string, unknown>).interval, '1h');
    assert.equal((await fetch(`${base}/-/reload`, { method: 'POST' })).status, 200);
    assert.equal(((await call('GET', '/api/patrol/v1/config/probes/api-one')).body.data as Record<string, unknown>).interval, '2h');
  });

  it('refuses invalid input with 400 naming the field and the file’s message, writing nothing', async () => {
    const before = readFileSync(probesFile(), 'utf8');
    const r = await call('POST', '/api/patrol/v1/config/probes', probe('bad', { timeout: '5 minutes' }));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.fields, ['timeout']);
    assert.match(String(r.body.error), /patrol\.d\/probes\.yml:\d+:\d+: probes\[1\]\.timeout: /);
    const dup = await call('PUT', '/api/patrol/v1/config/probes/api-two', probe('api-two', { target: 'no port' }));
    assert.equal(dup.status, 400);
    assert.deepEqual(dup.body.fields, ['target']);
    const unknown = await call('POST', '/api/patrol/v1/config/probes', probe('bad2', { intervall: '1m' }));
    assert.equal(unknown.status, 400);
    assert.match(String(unknown.body.error), /unknown key "intervall" \(did you mean `interval`\?\)/);
    assert.equal(readFileSync(probesFile(), 'utf8'), before);
    assert.equal((await call('GET', '/api/patrol/v1/config/probes/bad')).status, 404);
  });

  it('refuses to change a probe that patrol.yml defines, and a second create of one name', async () => {
    const r = await call('PUT', '/api/patrol/v1/config/probes/in-main', probe('in-main'));
    assert.equal(r.status, 409);
    assert.match(String(r.body.error), /defined in patrol\.yml/);
    assert.equal((await call('POST', '/api/patrol/v1/config/probes', probe('api-one'))).status, 409);
  });

  it('serialises concurrent writes: every one lands', async () => {
    const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    const rs = await Promise.all(names.map((n) => call('POST', '/api/patrol/v1/config/probes', probe(n))));
    assert.deepEqual(
      rs.map((r) => r.status),
      names.map(() => 201),
    );
    const text = readFileSync(probesFile(), 'utf8');
    for (const n of names) assert.match(text, new RegExp(`name: ${n}\\b`));
    const list = (await call('GET', '/api/patrol/v1/config/probes')).body.data as { name: string }[];
    assert.deepEqual(
      list.map((p) => p.name).filter((n) => names.includes(n)),
      names,
    );
    const del = await Promise.all(names.map((n) => call('DELETE', `/api/patrol/v1/config/probes/${n}`)));
    assert.deepEqual(
      del.map((r) => r.status),
      names.map(() => 200),
    );
    assert.doesNotMatch(readFileSync(probesFile(), 'utf8'), /name: c\d/);
  });

  it('masks secrets on read and keeps them when a read item is written back', async () => {
    const hook = { name: 'hooks', webhook_configs: [{ url: 'http://127.0.0.1:1/hook', http_config: { basic_auth: { username: 'u', password: 'hunter2' } } }] };
    assert.equal((await call('POST', '/api/patrol/v1/config/receivers', hook)).status, 201);
    const got = await call('GET', '/api/patrol/v1/config/receivers/hooks');
    const item = got.body.data as { webhook_configs: { send_resolved?: boolean; http_config: { basic_auth: { password: string } } }[] };
    assert.equal(item.webhook_configs[0].http_config.basic_auth.password, '<secret>');
    assert.doesNotMatch(JSON.stringify((await call('GET', '/api/patrol/v1/config/receivers')).body), /hunter2/);
    item.webhook_configs[0].send_resolved = false;
    assert.equal((await call('PUT', '/api/patrol/v1/config/receivers/hooks', item)).status, 200);
    const file = readFileSync(join(dir, 'patrol.d', 'receivers.yml'), 'utf8');
    assert.match(file, /password: hunter2/);
    assert.match(file, /send_resolved: false/);
    // A mask where there was no secret to keep is refused rather than stored.
    const r = await call('POST', '/api/patrol/v1/config/receivers', { name: 'h2', webhook_configs: [{ url: 'http://127.0.0.1:1/', http_config: { basic_auth: { username: 'u', password: '<secret>' } } }] });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.fields, ['webhook_configs[0].http_config.basic_auth.password']);
  });

  it('records each write in the audit log with the value before and after, secrets masked', async () => {
    const r = await call('GET', '/api/patrol/v1/audit?path=/api/patrol/v1/config/receivers/hooks');
    const entries = r.body.data as { method: string; before: Record<string, unknown> | null; after: Record<string, unknown> | null }[];
    const put = entries.find((e) => e.method === 'PUT');
    assert.ok(put, JSON.stringify(entries));
    assert.notEqual((put.before as { webhook_configs: { send_resolved?: boolean }[] }).webhook_configs[0].send_resolved, false);
    assert.equal((put.after as { webhook_configs: { send_resolved: boolean }[] }).webhook_configs[0].send_resolved, false);
    assert.doesNotMatch(JSON.stringify(entries), /hunter2/);
    const create = (await call('GET', '/api/patrol/v1/audit?path=/api/patrol/v1/config/probes')).body.data as { method: string; status: number; before: unknown; after: { name: string } | null }[];
    const c1 = create.find((e) => e.method === 'POST' && e.after?.name === 'c1');
    assert.ok(c1);
    assert.equal(c1.before, null);
    assert.ok(create.some((e) => e.method === 'DELETE' && (e.before as { name?: string } | null)?.name === 'c1' && e.after === null));
    // A refused write changed nothing, and says so.
    assert.ok(create.some((e) => e.status === 400 && e.before === null && e.after === null));
  });

  it('deletes a managed receiver, and not one patrol.yml defines', async () => {
    assert.equal((await call('DELETE', '/api/patrol/v1/config/receivers/main')).status, 409);
    assert.equal((await call('DELETE', '/api/patrol/v1/config/receivers/hooks')).status, 200);
    assert.equal(existsSync(join(dir, 'patrol.d', 'receivers.yml')), true);
    assert.equal((await call('GET', '/api/patrol/v1/config/receivers/hooks')).status, 404);
  });

  it('records a silence created and expired with its value before and after', async () => {
    const now = Date.now();
    const sil = { matchers: [{ name: 'alertname', value: 'X', isRegex: false }], startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3600_000).toISOString(), createdBy: 'me', comment: 'c' };
    const created = await call('POST', '/api/v2/silences', sil);
    const id = (created.body as unknown as { silenceID: string }).silenceID;
    assert.equal((await fetch(`${base}/api/v2/silence/${id}`, { method: 'DELETE' })).status, 200);
    const entries = (await call('GET', '/api/patrol/v1/audit?path=/api/v2/silence')).body.data as { method: string; before: { status: { state: string } } | null; after: { id: string; status: { state: string } } | null }[];
    const post = entries.find((e) => e.method === 'POST');
    const del = entries.find((e) => e.method === 'DELETE');
    assert.equal(post?.before, null);
    assert.equal(post?.after?.id, id);
    assert.equal(del?.before?.status.state, 'active');
    assert.equal(del?.after?.status.state, 'expired');
  });

  it('manages rule groups in patrol.d/rules/groups.yml, which rule_files names', async () => {
    const group = { name: 'api-rules', interval: '1m', rules: [{ alert: 'ProbeDown', expr: 'up == 0', for: '5m', labels: { severity: 'page' } }] };
    const r = await call('POST', '/api/patrol/v1/config/rule_groups', group);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.data, group);
    assert.match(readFileSync(join(dir, 'patrol.d', 'rules', 'groups.yml'), 'utf8'), /alert: ProbeDown/);
    // The rules component runs it.
    const running = (await call('GET', '/api/v1/rules')).body.data as { groups: { name: string; file: string }[] };
    assert.ok(running.groups.some((g) => g.name === 'api-rules'));
    const before = readFileSync(join(dir, 'patrol.d', 'rules', 'groups.yml'), 'utf8');
    const bad = await call('PUT', '/api/patrol/v1/config/rule_groups/api-rules', { ...group, rules: [{ alert: 'X', expr: 'up ==' }] });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /patrol\.d\/rules\/groups\.yml:\d+:\d+: /);
    assert.equal(readFileSync(join(dir, 'patrol.d', 'rules', 'groups.yml'), 'utf8'), before);
    assert.equal((await call('DELETE', '/api/patrol/v1/config/rule_groups/api-rules')).status, 200);
    assert.equal((await call('GET', '/api/patrol/v1/config/rule_groups/api-rules')).status, 404);
  });

  it('manages status pages by slug in patrol.d/status_pages.yml, checked against the probes they name', async () => {
    const page = { slug: 'public', title: 'Our services', groups: [{ name: 'Core', probes: ['in-main'] }] };
    const r = await call('POST', '/api/patrol/v1/config/status_pages', page);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.source, join('patrol.d', 'status_pages.yml'));
    assert.match(readFileSync(join(dir, 'patrol.d', 'status_pages.yml'), 'utf8'), /slug: public/);
    // The page is served.
    const served = await fetch(`${base}/api/patrol/v1/status-pages/public`);
    assert.equal(served.status, 200);
    assert.match(await served.text(), /Our services/);
    // A page naming no probe of the configuration is refused with the field, nothing written.
    const before = readFileSync(join(dir, 'patrol.d', 'status_pages.yml'), 'utf8');
    const bad = await call('PUT', '/api/patrol/v1/config/status_pages/public', { ...page, groups: [{ name: 'Core', probes: ['in-mian'] }] });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.fields, ['groups[0].probes[0]']);
    assert.match(String(bad.body.error), /no probe named "in-mian" \(did you mean "in-main"\?\)/);
    assert.equal(readFileSync(join(dir, 'patrol.d', 'status_pages.yml'), 'utf8'), before);
    // The slug in the URL and the body must agree.
    assert.deepEqual((await call('PUT', '/api/patrol/v1/config/status_pages/other', page)).body.fields, ['slug']);
    const put = await call('PUT', '/api/patrol/v1/config/status_pages/public', { ...page, title: 'Status' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const audit = (await call('GET', '/api/patrol/v1/audit?method=PUT&path=/api/patrol/v1/config/status_pages/public')).body.data as { status: number; before: { title: string } | null; after: { title: string } | null }[];
    const ok = audit.find((e) => e.status === 200);
    assert.deepEqual([ok?.before?.title, ok?.after?.title], ['Our services', 'Status']);
    assert.equal((await call('DELETE', '/api/patrol/v1/config/status_pages/public')).status, 200);
    assert.equal((await fetch(`${base}/api/patrol/v1/status-pages/public`)).status, 404);
  });

  it('manages named child routes of alerting.route in patrol.d/routes.yml, after patrol.yml\'s, checked against the receivers', async () => {
    const route = { name: 'db-team', receiver: 'main', matchers: ['team="db"'], group_by: ['alertname'], continue: false };
    const r = await call('POST', '/api/patrol/v1/config/routes', route);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal((r.body.data as { name: string }).name, 'db-team');
    assert.match(readFileSync(join(dir, 'patrol.d', 'routes.yml'), 'utf8'), /alerting:\n\s+route:\n\s+routes:\n\s+- name: db-team/);
    // The running routing tree has it: Alertmanager's status API shows the configuration in use.
    const status = (await call('GET', '/api/v2/status')).body as unknown as { config: { original: string } };
    assert.match(status.config.original, /db-team/);
    // A route to a receiver that does not exist is refused with the field.
    const bad = await call('PUT', '/api/patrol/v1/config/routes/db-team', { ...route, receiver: 'nobody' });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.deepEqual(bad.body.fields, ['receiver']);
    assert.equal(((await call('GET', '/api/patrol/v1/config/routes/db-team')).body.data as { receiver: string }).receiver, 'main');
    assert.equal((await call('DELETE', '/api/patrol/v1/config/routes/db-team')).status, 200);
    assert.equal((await call('GET', '/api/patrol/v1/config/routes/db-team')).status, 404);
  });

  it('puts the managed file back when the reload fails although the configuration checked out', async () => {
    // A rule file broken by hand after the start: the configuration file checks out, applying it
    // (the rules component reads the rule files) fails.
    const broken = join(dir, 'patrol.d', 'rules', 'broken.yml');
    writeFileSync(broken, 'groups:\n  - name: b\n    rules:\n      - alert: X\n        expr: "up =="\n');
    const before = readFileSync(probesFile(), 'utf8');
    const r = await call('POST', '/api/patrol/v1/config/probes', probe('not-applied'));
    rmSync(broken);
    assert.equal(r.status, 500, JSON.stringify(r.body));
    assert.match(String(r.body.error), /applying it failed; patrol\.d\/probes\.yml is unchanged/);
    assert.equal(readFileSync(probesFile(), 'utf8'), before);
    assert.equal((await call('GET', '/api/patrol/v1/config/probes/not-applied')).status, 404);
    // The next write works again.
    assert.equal((await call('POST', '/api/patrol/v1/config/probes', probe('applied'))).status, 201);
    assert.equal((await call('DELETE', '/api/patrol/v1/config/probes/applied')).status, 200);
  });
});

describe('configuration API: local users', () => {
  let dir: string;
  let patrol: Patrol;
  let base: string;
  let admin: Record<string, string>;

  const login = async (user: string, password: string) => {
    const r = await fetch(`${base}/api/patrol/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user, password }) });
    const body = (await r.json()) as { data?: { csrf_token: string; role: string } };
    return { status: r.status, role: body.data?.role, headers: { cookie: r.headers.get('set-cookie')?.split(';')[0] ?? '', 'x-csrf-token': body.data?.csrf_token ?? '', 'content-type': 'application/json' } };
  };
  const call = async (h: Record<string, string>, method: string, path: string, body?: unknown) => {
    const { 'content-type': _, ...bare } = h;
    const r = await fetch(`${base}${path}`, { method, headers: body === undefined ? bare : h, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> & { data: unknown } };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patrol-capi-users-'));
    writeFileSync(join(dir, 'patrol.yml'), `config_files: ["patrol.d/*.yml"]\nserver:\n  auth:\n    users:\n      root: {password_hash: '${await hashPassword('root-password')}', role: admin}\n`);
    patrol = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()), uiDir: null });
    await patrol.start();
    base = `http://${patrol.listen}`;
    admin = (await login('root', 'root-password')).headers;
  });
  after(async () => {
    await patrol.stop();
  });

  it('creates a user from a password (only its hash is written), who can then log in; a viewer cannot list users', async () => {
    const r = await call(admin, 'POST', '/api/patrol/v1/config/users', { name: 'ann', password: 'ann-password-1', role: 'viewer' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.data, { name: 'ann', password_hash: '<secret>', role: 'viewer' });
    const text = readFileSync(join(dir, 'patrol.d', 'users.yml'), 'utf8');
    assert.match(text, /ann:\n\s+role: viewer\n\s+password_hash: \$scrypt\$/);
    assert.doesNotMatch(text, /ann-password-1/);
    const ann = await login('ann', 'ann-password-1');
    assert.equal(ann.status, 200);
    assert.equal((await call(ann.headers, 'GET', '/api/patrol/v1/config/users')).status, 403);
    const list = await call(admin, 'GET', '/api/patrol/v1/config/users');
    assert.deepEqual(list.body.sources, { root: 'patrol.yml', ann: join('patrol.d', 'users.yml') });
    assert.doesNotMatch(JSON.stringify(list.body), /\$scrypt\$/);
    // Neither the password nor the hash reaches the audit log.
    const audit = JSON.stringify((await call(admin, 'GET', '/api/patrol/v1/audit?path=/api/patrol/v1/config/users')).body);
    assert.doesNotMatch(audit, /ann-password-1|\$scrypt\$/);
    assert.match(audit, /"after":\{"name":"ann"/);
  });

  it('a user read and written back keeps its hash; a role change applies at the next login', async () => {
    const got = (await call(admin, 'GET', '/api/patrol/v1/config/users/ann')).body.data as Record<string, unknown>;
    const r = await call(admin, 'PUT', '/api/patrol/v1/config/users/ann', { ...got, role: 'operator' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const ann = await login('ann', 'ann-password-1');
    assert.deepEqual([ann.status, ann.role], [200, 'operator']);
  });

  it('refuses a bad role with the field, a user patrol.yml defines, and a too short password; deletes a user', async () => {
    const before = readFileSync(join(dir, 'patrol.d', 'users.yml'), 'utf8');
    const bad = await call(admin, 'PUT', '/api/patrol/v1/config/users/ann', { name: 'ann', password: 'ann-password-1', role: 'boss' });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.fields, ['role']);
    assert.match(String(bad.body.error), /patrol\.d\/users\.yml:\d+:\d+: server\.auth\.users\.ann\.role: /);
    assert.equal((await call(admin, 'PUT', '/api/patrol/v1/config/users/ann', { name: 'ann', password: 'short', role: 'viewer' })).body.fields?.toString(), 'password');
    assert.equal(readFileSync(join(dir, 'patrol.d', 'users.yml'), 'utf8'), before);
    const root = await call(admin, 'PUT', '/api/patrol/v1/config/users/root', { name: 'root', password: 'another-password', role: 'admin' });
    assert.equal(root.status, 409);
    assert.match(String(root.body.error), /defined in patrol\.yml/);
    const del = await call(admin, 'DELETE', '/api/patrol/v1/config/users/ann');
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal((await login('ann', 'ann-password-1')).status, 401);
  });
});
