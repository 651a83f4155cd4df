// Backup while running and restore into a fresh data directory: a Patrol with series, a silence,
// an API token, audit entries and alert history is backed up through the admin API while it
// keeps taking writes; the backup is restored into a new folder with `patrol restore`'s code
// and a second Patrol started there answers the same.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { snappy, WriteRequestType } from '../api/remote_write.testutil.js';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { hashPassword } from '../web/auth_store.js';
import { MANIFEST, restoreBackup, RestoreError } from './backup.js';

describe('backup and restore', () => {
  let dir: string;
  let configFile: string;
  const running: Patrol[] = [];
  let token = '';

  const boot = async (dataDir: string) => {
    const p = new Patrol({ configFile, dataDir, listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()), uiDir: null });
    await p.start();
    running.push(p);
    return `http://${p.listen}`;
  };
  const call = async (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...headers, ...(body === undefined || Buffer.isBuffer(body) ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> & { data: unknown } };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patrol-backup-'));
    configFile = join(dir, 'patrol.yml');
    writeFileSync(
      configFile,
      `server:\n  auth:\n    users:\n      root:\n        password_hash: '${await hashPassword('pw')}'\n        role: admin\nalerting:\n  route: {receiver: main, group_wait: 0s}\n  receivers:\n    - name: main\n`,
    );
  });
  after(async () => {
    for (const p of running) await p.stop();
  });

  it('restores series, silences, tokens, audit entries and history into a fresh data directory', async () => {
    const base = await boot(join(dir, 'data'));
    const login = await fetch(`${base}/api/patrol/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'root', password: 'pw' }) });
    const { data } = (await login.json()) as { data: { csrf_token: string } };
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const made = await fetch(`${base}/api/patrol/v1/auth/tokens`, { method: 'POST', headers: { cookie, 'x-csrf-token': data.csrf_token, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'backup', role: 'admin' }) });
    assert.equal(made.status, 201);
    token = ((await made.json()) as { data: { token: string } }).data.token;

    // Series: 30 samples a minute apart, through remote write.
    const now = Date.now();
    const samples = Array.from({ length: 30 }, (_, i) => ({ timestamp: now - (30 - i) * 60_000, value: i * 1.5 }));
    const write = (name: string, ss: typeof samples) =>
      call(base, 'POST', '/api/v1/write', Buffer.from(snappy.compress(WriteRequestType.encode(WriteRequestType.fromObject({ timeseries: [{ labels: [{ name: '__name__', value: name }, { name: 'job', value: 'b' }], samples: ss }] })).finish())), {
        'content-type': 'application/x-protobuf',
        'content-encoding': 'snappy',
      });
    assert.equal((await write('backed_up', samples)).status, 204);
    const silence = await call(base, 'POST', '/api/v2/silences', { matchers: [{ name: 'alertname', value: 'Quiet', isRegex: false }], startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3600_000).toISOString(), createdBy: 'root', comment: 'kept' });
    assert.equal(silence.status, 200);
    assert.equal((await call(base, 'POST', '/api/v2/alerts', [{ labels: { alertname: 'Loud', job: 'b' }, startsAt: new Date(now).toISOString() }])).status, 200);
    let history: unknown[] = [];
    for (let i = 0; i < 200 && history.length === 0; i++) {
      history = ((await call(base, 'GET', '/api/patrol/v1/alerts/history?match[]={alertname=%22Loud%22}')).body.data as unknown[]);
      if (history.length === 0) await new Promise((ok) => setTimeout(ok, 50));
    }
    assert.ok(history.length > 0, 'the alert is in the history');

    const range = `/api/v1/query_range?query=backed_up&start=${(now - 3600_000) / 1000}&end=${now / 1000}&step=60`;
    const seriesBefore = (await call(base, 'GET', range)).body.data;
    const silencesBefore = (await call(base, 'GET', '/api/v2/silences')).body;
    const tokensBefore = (await call(base, 'GET', '/api/patrol/v1/auth/tokens')).body.data;

    // The backup runs while writes go on.
    const more = write('written_during', samples);
    const backup = await call(base, 'POST', '/api/patrol/v1/admin/backup');
    assert.equal((await more).status, 204);
    assert.equal(backup.status, 200, JSON.stringify(backup.body));
    const from = (backup.body.data as { path: string }).path;
    const files = (backup.body.data as { files: { path: string }[] }).files.map((f) => f.path);
    for (const f of ['alerting.db', 'auth.db', 'silences.db', 'tsdb/chunks.db']) assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
    const auditBefore = ((await call(base, 'GET', '/api/patrol/v1/audit?limit=1000')).body.data as { id: number; path: string }[]).filter((e) => !e.path.startsWith('/api/patrol/v1/admin/backup'));

    const fresh = join(dir, 'restored');
    await restoreBackup(from, fresh);
    const base2 = await boot(fresh);
    assert.deepEqual((await call(base2, 'GET', range)).body.data, seriesBefore);
    assert.equal(((await call(base2, 'GET', range)).body.data as { result: unknown[] }).result.length, 1);
    assert.deepEqual((await call(base2, 'GET', '/api/v2/silences')).body, silencesBefore);
    assert.deepEqual((await call(base2, 'GET', '/api/patrol/v1/auth/tokens')).body.data, tokensBefore);
    const audit2 = (await call(base2, 'GET', '/api/patrol/v1/audit?limit=1000')).body.data as { id: number }[];
    for (const e of auditBefore) assert.deepEqual(audit2.find((x) => x.id === e.id), e);
    const history2 = ((await call(base2, 'GET', '/api/patrol/v1/alerts/history?match[]={alertname=%22Loud%22}')).body.data as unknown[]);
    assert.deepEqual(history2.slice(-history.length), history);
  });

  it('refuses to restore over a data directory in use, or a damaged backup', async () => {
    const backups = join(dir, 'data', 'backups');
    const from = join(backups, readdirSync(backups)[0]);
    assert.match(readFileSync(join(from, MANIFEST), 'utf8'), /"format": 1/);
    await assert.rejects(restoreBackup(from, join(dir, 'data')), (e: unknown) => e instanceof RestoreError && /not empty/.test(e.message));
    const damaged = join(dir, 'damaged');
    mkdirSync(damaged);
    writeFileSync(join(damaged, MANIFEST), JSON.stringify({ format: 1, created_at: '', files: [{ path: 'auth.db', bytes: 5 }, { path: 'tsdb/chunks.db', bytes: 1 }] }));
    writeFileSync(join(damaged, 'auth.db'), 'short');
    await assert.rejects(restoreBackup(damaged, join(dir, 'nowhere')), (e: unknown) => e instanceof RestoreError && /auth\.db fails SQLite's check/.test(e.message));
    writeFileSync(join(damaged, MANIFEST), JSON.stringify({ format: 1, created_at: '', files: [{ path: '../x.db', bytes: 5 }] }));
    await assert.rejects(restoreBackup(damaged, join(dir, 'nowhere')), (e: unknown) => e instanceof RestoreError && /bad path/.test(e.message));
  });
});
