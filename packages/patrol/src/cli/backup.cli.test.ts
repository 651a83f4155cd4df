// `patrol backup` and `patrol restore` end to end, every step a real process: a `patrol start`
// with series, a silence, alert history, an API token, a session and audit entries; `patrol
// backup --to` against it while it runs (with the token from PATROL_TOKEN); `patrol restore` into a
// fresh data directory; a second `patrol start` on that directory answers the same, and the
// token and the session still authenticate there.

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { snappy, WriteRequestType } from '../api/remote_write.testutil.js';
import { killed, runCli, startPatrol, until, type PatrolProcess } from '../testing/patrolproc.js';
import { hashPassword } from '../web/auth_store.js';

describe('patrol backup and patrol restore (separate processes)', { timeout: 480_000 }, () => {
  let dir: string;
  const procs: PatrolProcess[] = [];
  let token = '';
  let cookie = '';

  const call = async (base: string, path: string, init: RequestInit = {}, auth: Record<string, string> = { authorization: `Bearer ${token}` }) => {
    const r = await fetch(`${base}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> & { data: unknown } };
  };
  const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patrol-backup-cli-'));
    mkdirSync(join(dir, 'first'));
    writeFileSync(
      join(dir, 'first', 'patrol.yml'),
      `server:\n  auth:\n    users:\n      root:\n        password_hash: '${await hashPassword('pw')}'\n        role: admin\nalerting:\n  route: {receiver: main, group_wait: 0s}\n  receivers:\n    - name: main\n`,
    );
  });
  after(async () => {
    for (const p of procs) await killed(p.proc, 'SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('backs up a running Patrol with the CLI, restores it into a fresh data directory and starts there with everything back', async () => {
    const first = await startPatrol(join(dir, 'first'));
    procs.push(first);
    const base = first.base;
    // Auth data: a session (cookie) and an admin token made with it.
    const login = await fetch(`${base}/api/patrol/v1/auth/login`, json({ username: 'root', password: 'pw' }));
    assert.equal(login.status, 200);
    const csrf = ((await login.json()) as { data: { csrf_token: string } }).data.csrf_token;
    cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const made = await call(base, '/api/patrol/v1/auth/tokens', { ...json({ name: 'backup-cli', role: 'admin' }) }, { cookie, 'x-csrf-token': csrf });
    assert.equal(made.status, 201);
    token = (made.body.data as { token: string }).token;

    // Series: an hour of samples a minute apart, through remote write.
    const now = Date.now();
    const samples = Array.from({ length: 60 }, (_, i) => ({ timestamp: now - (60 - i) * 60_000, value: i * 0.5 }));
    const body = Buffer.from(snappy.compress(WriteRequestType.encode(WriteRequestType.fromObject({ timeseries: [{ labels: [{ name: '__name__', value: 'cli_backed_up' }, { name: 'job', value: 'b' }], samples }] })).finish()));
    const w = await call(base, '/api/v1/write', { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' } });
    assert.equal(w.status, 204, JSON.stringify(w.body));
    // A silence and an alert with history.
    const sil = await call(base, '/api/v2/silences', json({ matchers: [{ name: 'alertname', value: 'Quiet', isRegex: false }], startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3600_000).toISOString(), createdBy: 'root', comment: 'kept by the CLI backup' }));
    assert.equal(sil.status, 200);
    assert.equal((await call(base, '/api/v2/alerts', json([{ labels: { alertname: 'Loud', job: 'b' }, startsAt: new Date(now).toISOString() }]))).status, 200);
    const historyPath = `/api/patrol/v1/alerts/history?match[]=${encodeURIComponent('{alertname="Loud"}')}`;
    const history = await until('the alert in the history', async () => {
      const h = (await call(base, historyPath)).body.data as unknown[];
      return h.length > 0 ? h : undefined;
    });

    const range = `/api/v1/query_range?query=cli_backed_up&start=${(now - 3600_000) / 1000}&end=${now / 1000}&step=60`;
    const series = (await call(base, range)).body.data as { result: { values: unknown[] }[] };
    assert.equal(series.result.length, 1);
    assert.ok(series.result[0].values.length >= 50, `${series.result[0].values.length} points`);
    const silences = (await call(base, '/api/v2/silences')).body;
    const tokens = (await call(base, '/api/patrol/v1/auth/tokens')).body.data;
    const audit = (await call(base, '/api/patrol/v1/audit?limit=1000')).body.data as { id: number; path: string }[];
    assert.ok(audit.some((e) => e.path === '/api/v2/silences'));

    // Without the token the CLI says why and exits 1; with it, the backup lands in --to.
    const refused = await runCli(['backup', '--server', base, '--to', join(dir, 'never')], { PATROL_TOKEN: '' });
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /^backup: 401 /);
    assert.equal(existsSync(join(dir, 'never')), false);
    const to = join(dir, 'backup');
    const b = await runCli(['backup', '--server', base, '--to', to], { PATROL_TOKEN: token });
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.match(b.stdout, new RegExp(`^backup of \\d+ files written to ${to.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`));
    const manifest = JSON.parse(readFileSync(join(to, 'patrol-backup.json'), 'utf8')) as { files: { path: string }[] };
    for (const f of ['alerting.db', 'auth.db', 'silences.db', 'tsdb/chunks.db']) assert.ok(manifest.files.some((x) => x.path === f), f);

    // Restore into a fresh data directory; not over one in use.
    mkdirSync(join(dir, 'second'));
    copyFileSync(join(dir, 'first', 'patrol.yml'), join(dir, 'second', 'patrol.yml'));
    const r = await runCli(['restore', '--from', to, '--data-dir', join(dir, 'second', 'data')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^restored \d+ files of the backup of \S+ into /);
    const over = await runCli(['restore', '--from', to, '--data-dir', join(dir, 'first', 'data')]);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /^restore: .*not empty/);

    const second = await startPatrol(join(dir, 'second'));
    procs.push(second);
    const base2 = second.base;
    assert.deepEqual((await call(base2, range)).body.data, series);
    assert.deepEqual((await call(base2, '/api/v2/silences')).body, silences);
    assert.deepEqual((await call(base2, '/api/patrol/v1/auth/tokens')).body.data, tokens);
    const audit2 = (await call(base2, '/api/patrol/v1/audit?limit=1000')).body.data as { id: number }[];
    for (const e of audit) assert.deepEqual(audit2.find((x) => x.id === e.id), e);
    const history2 = (await call(base2, historyPath)).body.data as unknown[];
    assert.deepEqual(history2.slice(-history.length), history);
    // The session made on the first Patrol is valid on the restored one (sessions are in auth.db).
    const who = await call(base2, '/api/patrol/v1/auth/whoami', {}, { cookie });
    assert.equal(who.status, 200);
    assert.equal((who.body.data as { name: string }).name, 'root');
  });
});
