import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from './logger.js';
import { Patrol } from './server.js';

const GOOD = (interval: string) => `global:
  scrape_interval: ${interval}
alerting:
  route: {receiver: hook}
  receivers:
    - name: hook
      webhook_configs:
        - url: https://hooks.example/robot/send?access_token=TOPSECRET-TOKEN-42
scrape_configs:
  - job_name: api
    basic_auth: {username: u, password: SCRAPE-PASSWORD-99}
    static_configs: [{targets: ['127.0.0.1:1']}]
`;

function logSink() {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  return { stream, lines };
}

describe('server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-server-'));
  const configFile = join(dir, 'patrol.yml');
  const sink = logSink();
  let patrol: Patrol;
  let base: string;

  before(async () => {
    writeFileSync(configFile, GOOD('15s'));
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('debug', sink.stream) });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });
  after(async () => {
    await patrol.stop();
  });

  it('is healthy and ready after start', async () => {
    assert.equal((await fetch(`${base}/-/healthy`)).status, 200);
    assert.equal((await fetch(`${base}/-/ready`)).status, 200);
  });

  it('exposes its own metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /^patrol_build_info\{version="[^"]+",/m);
    assert.match(text, /^patrol_config_last_reload_successful 1$/m);
    assert.match(text, /^process_cpu_seconds_total /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });

  it('masks secrets in the config API', async () => {
    const body = await (await fetch(`${base}/api/patrol/v1/status/config`)).text();
    assert.ok(body.includes('"global"'), body.slice(0, 200));
    assert.ok(!body.includes('TOPSECRET-TOKEN-42'));
    assert.ok(!body.includes('SCRAPE-PASSWORD-99'));
    assert.ok(body.includes('<secret>'));
  });

  it('keeps the running config when a reload is bad, and takes a good one', async () => {
    writeFileSync(configFile, GOOD('15s').replace('scrape_interval: 15s', 'scrape_interval: fifteen'));
    const bad = await fetch(`${base}/-/reload`, { method: 'POST' });
    assert.equal(bad.status, 500);
    const body = (await bad.json()) as { errors: string[] };
    assert.match(body.errors[0], /patrol\.yml:2:20: global\.scrape_interval: "fifteen" is not a duration/);
    assert.equal(patrol.currentConfig?.global.scrape_interval, 15_000, 'old config still in force');
    assert.match(await (await fetch(`${base}/metrics`)).text(), /^patrol_config_last_reload_successful 0$/m);

    assert.match(await (await fetch(`${base}/metrics`)).text(), /^patrol_tsdb_retention_limit_seconds 2592000$/m, 'the default 30d retention');

    writeFileSync(configFile, GOOD('30s') + 'storage: {retention: 7d, retention_size: 1GB}\n');
    const good = await fetch(`${base}/-/reload`, { method: 'POST' });
    assert.equal(good.status, 200);
    assert.equal(patrol.currentConfig?.global.scrape_interval, 30_000);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^patrol_config_last_reload_successful 1$/m);
    assert.match(metrics, /^patrol_tsdb_retention_limit_seconds 604800$/m, 'retention changes on reload');
    assert.match(metrics, /^patrol_tsdb_retention_limit_bytes 1073741824$/m);
  });

  it('never writes secrets to the log', async () => {
    // Log the whole config the way a careless caller might.
    createLogger('info', sink.stream).info({ config: patrol.currentConfig }, 'dump');
    await new Promise((r) => setTimeout(r, 50));
    const all = sink.lines.join('\n');
    assert.ok(all.includes('"dump"'));
    assert.ok(all.includes('<secret>'));
    assert.ok(!all.includes('TOPSECRET-TOKEN-42'));
    assert.ok(!all.includes('SCRAPE-PASSWORD-99'));
  });
});

describe('server: TSDB admin API', () => {
  it('is off by default; when enabled, snapshots land under <data>/snapshots and open as a store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-admin-'));
    const configFile = join(dir, 'patrol.yml');
    writeFileSync(configFile, 'scrape_configs: []\n');
    const patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()) });
    await patrol.start();
    const base = `http://${patrol.listen}`;
    try {
      let r = await fetch(`${base}/api/v1/admin/tsdb/snapshot`, { method: 'POST' });
      assert.equal(r.status, 500);
      assert.deepEqual(await r.json(), { status: 'error', errorType: 'unavailable', error: 'admin APIs disabled' });
      writeFileSync(configFile, 'scrape_configs: []\nserver: {enable_admin_api: true}\n');
      assert.equal((await fetch(`${base}/-/reload`, { method: 'POST' })).status, 200);
      r = await fetch(`${base}/api/v1/admin/tsdb/snapshot?skip_head=maybe`, { method: 'POST' });
      assert.equal(r.status, 400);
      r = await fetch(`${base}/api/v1/admin/tsdb/snapshot`, { method: 'POST' });
      assert.equal(r.status, 200);
      const { data } = (await r.json()) as { data: { name: string } };
      assert.match(data.name, /^\d{8}T\d{6}Z-[0-9a-f]{16}$/);
      assert.ok(existsSync(join(dir, 'data', 'snapshots', data.name, 'chunks.db')));
      assert.equal((await fetch(`${base}/api/v1/admin/tsdb/delete_series?match[]=up`, { method: 'POST' })).status, 204);
    } finally {
      await patrol.stop();
    }
  });
});

const repo = new URL('../../../', import.meta.url).pathname;
const cli = join(repo, 'packages/patrol/src/cli/main.ts');

function runCli(args: string[], opts: { input?: string } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(opts.input ?? '');
  const done = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, done, out: () => out, err: () => err };
}

/** Waits for the "Patrol is ready" log line and returns the address it listens on. */
async function waitReady(p: ReturnType<typeof runCli>): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = /"listen":"([^"]+)".*Patrol is ready/.exec(p.out());
    if (m) return m[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never became ready:\n${p.out()}\n${p.err()}`);
}

describe('readiness', () => {
  it('answers 503 on /-/ready until the first config is applied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-ready-'));
    const p = new Patrol({ dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('silent') });
    // Storage open and routes registered, configuration not applied yet.
    await p.prepare();
    const before = await p.app.inject({ method: 'GET', url: '/-/ready' });
    assert.equal(before.statusCode, 503);
    await p.start();
    const after = await p.app.inject({ method: 'GET', url: '/-/ready' });
    assert.equal(after.statusCode, 200);
    await p.stop();
  });
});

describe('patrol command', () => {
  it('reloads on SIGHUP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-sighup-'));
    const f = join(dir, 'patrol.yml');
    writeFileSync(f, GOOD('15s'));
    const p = runCli(['start', '--config', f, '--listen', '127.0.0.1:0', '--data', join(dir, 'data')]);
    const listen = await waitReady(p);
    writeFileSync(f, GOOD('45s'));
    p.child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    let interval = 0;
    while (interval !== 45_000 && Date.now() < deadline) {
      const body = (await (await fetch(`http://${listen}/api/patrol/v1/status/config`)).json()) as { data: { global: { scrape_interval: number } } };
      interval = body.data.global.scrape_interval;
      if (interval !== 45_000) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(interval, 45_000);
    p.child.kill('SIGTERM');
    assert.equal(await p.done, 0);
  });

  it('exits 0 within 10 s of SIGTERM after serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-sigterm-'));
    const p = runCli(['start', '--listen', '127.0.0.1:0', '--data', join(dir, 'data')]);
    const listen = await waitReady(p);
    assert.equal((await fetch(`http://${listen}/-/ready`)).status, 200);
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    const code = await p.done;
    assert.equal(code, 0, p.err());
    assert.ok(Date.now() - t0 < 10_000);
    assert.match(p.out(), /shutdown complete/);
  });

  it('check config: exit 0 and a summary for a valid file, secrets masked with --show', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-check-'));
    const f = join(dir, 'ok.yml');
    writeFileSync(f, GOOD('15s'));
    const p = runCli(['check', 'config', f, '--show']);
    assert.equal(await p.done, 0, p.err());
    assert.match(p.out(), /SUCCESS: .*ok\.yml is valid/);
    assert.match(p.out(), /scrape jobs: 1/);
    assert.ok(p.out().includes('<secret>'));
    assert.ok(!p.out().includes('TOPSECRET-TOKEN-42'));
    assert.ok(!p.out().includes('SCRAPE-PASSWORD-99'));
  });

  it('check config: exit 1 with every error for a bad file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-check-'));
    const f = join(dir, 'bad.yml');
    writeFileSync(f, 'global:\n  scrape_interval: 15\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    bogus: true\n');
    const p = runCli(['check', 'config', f]);
    assert.equal(await p.done, 1);
    assert.match(p.err(), /bad\.yml:2:20: global\.scrape_interval: 15 is not a duration/);
    assert.match(p.err(), /bad\.yml:6:5: scrape_configs\[1\]\.bogus: unknown key "bogus"/);
    assert.match(p.err(), /FAILED: 2 errors/);
  });

  it('start refuses a bad config with exit 2 and the errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-badstart-'));
    const f = join(dir, 'bad.yml');
    writeFileSync(f, 'storage:\n  retention: forever\n');
    const p = runCli(['start', '--config', f, '--listen', '127.0.0.1:0', '--data', join(dir, 'data')]);
    assert.equal(await p.done, 2);
    assert.match(p.err(), /bad\.yml:2:14: storage\.retention: "forever" is not a duration/);
  });

  it('lists every command in --help', async () => {
    const p = runCli(['--help']);
    assert.equal(await p.done, 0);
    for (const cmd of ['start', 'check']) assert.match(p.out(), new RegExp(`^  ${cmd}\\b`, 'm'));
  });
});
