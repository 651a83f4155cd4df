// End to end against Debian's real Alertmanager: a Patrol rule fires, the alert reaches
// Alertmanager (its /api/v2/alerts and its webhook receiver, a server in this test), then it
// resolves and the resolution arrives. Also: an Alertmanager that never answers holds up no
// evaluation, and the alerts that do not fit its queue are counted as dropped.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import type { PostableAlert } from '../model/alert.js';
import { Patrol } from '../server.js';
import { ALERTMANAGER, startAlertmanager, type Alertmanager } from '../testing/alertmanager.js';
import { needBinary } from '../testing/shared.js';

const skip = needBinary(ALERTMANAGER);

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, tries = 600): Promise<T> {
  for (let i = 0; i < tries; i++) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A scrape target whose `demo_value` the test sets. */
async function demoTarget(series: () => string): Promise<{ server: Server; addr: string }> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(`# TYPE demo_value gauge\n${series()}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, addr: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

async function metric(base: string, name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

interface WebhookAlert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

describe('sending alerts to Debian\'s prometheus-alertmanager', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-am-e2e-'));
  const hooks: { status: string; alerts: WebhookAlert[] }[] = [];
  let hook: Server;
  let am: Alertmanager | undefined;
  let amBase = '';
  let target: Server;
  let value = 3;
  let patrol: Patrol;
  let base = '';

  before(async () => {
    hook = createServer((req, res) => {
      let b = '';
      req.on('data', (d: Buffer) => (b += d.toString()));
      req.on('end', () => {
        hooks.push(JSON.parse(b) as { status: string; alerts: WebhookAlert[] });
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookURL = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
    am = await startAlertmanager(
      dir,
      `route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: ${hookURL}\n        send_resolved: true\n`,
    );
    amBase = am.url;

    const t = await demoTarget(() => `demo_value{svc="a"} ${value}\n`);
    target = t.server;
    writeFileSync(
      join(dir, 'rules.yml'),
      `groups:\n  - name: demo\n    rules:\n      - alert: DemoHigh\n        expr: demo_value > 0\n        labels: {severity: page}\n        annotations: {summary: 'value is {{ $value }}'}\n`,
    );
    writeFileSync(
      join(dir, 'patrol.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels: {cluster: e2e, severity: from-external}\nrule_files: [rules.yml]\nscrape_configs:\n  - job_name: demo\n    static_configs: [{targets: ['${t.addr}']}]\nalerting:\n  alert_relabel_configs:\n    - {action: labeldrop, regex: instance}\n  alertmanagers:\n    - static_configs: [{targets: ['${new URL(amBase).host}']}]\n      timeout: 10s\n`,
    );
    patrol = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'patrol'), listen: '127.0.0.1:0', logger: createLogger('silent') });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });

  after(async () => {
    await patrol?.stop();
    await am?.stop();
    await new Promise((r) => target?.close(r));
    hook?.closeAllConnections();
    await new Promise((r) => hook?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the Alertmanager in /api/v1/alertmanagers', async () => {
    const r = (await (await fetch(`${base}/api/v1/alertmanagers`)).json()) as unknown;
    assert.deepEqual(r, { status: 'success', data: { activeAlertmanagers: [{ url: `${amBase}/api/v2/alerts` }], droppedAlertmanagers: [] } });
  });

  it('a firing alert reaches Alertmanager and its webhook, then its resolution does', async () => {
    const firing = await until('the firing alert at the webhook', () => hooks.find((h) => h.status === 'firing')?.alerts[0]);
    const labels = { alertname: 'DemoHigh', cluster: 'e2e', job: 'demo', severity: 'page', svc: 'a' };
    assert.deepEqual(firing.labels, labels, 'external labels added without overriding, instance dropped by alert_relabel_configs');
    assert.equal(firing.annotations.summary, 'value is 3');
    assert.equal(firing.generatorURL, `${base}/graph?g0.expr=demo_value+%3E+0&g0.tab=1`);

    type AmAlert = { labels: Record<string, string>; startsAt: string; endsAt: string; generatorURL: string; status: { state: string } };
    const inAm = await until('the alert in Alertmanager', async () => ((await (await fetch(`${amBase}/api/v2/alerts`)).json()) as AmAlert[]).find((a) => a.labels.alertname === 'DemoHigh'));
    assert.deepEqual(inAm.labels, labels);
    assert.equal(inAm.status.state, 'active');
    // Prometheus's arithmetic: endsAt = the evaluation time + 4 × max(resend delay 1m, interval 1s),
    // so exactly 4m after startsAt at the first send (a resend, a minute later at the earliest, moves it on).
    const validity = Date.parse(inAm.endsAt) - Date.parse(inAm.startsAt);
    assert.ok(validity === 4 * 60_000 || validity >= 5 * 60_000, `startsAt ${inAm.startsAt} endsAt ${inAm.endsAt}`);

    value = 0;
    const resolved = await until('the resolution at the webhook', () => hooks.find((h) => h.status === 'resolved')?.alerts[0]);
    assert.deepEqual(resolved.labels, labels);
    assert.equal(resolved.status, 'resolved');
    assert.equal(resolved.startsAt, firing.startsAt);
    assert.ok(Date.parse(resolved.endsAt) > Date.parse(resolved.startsAt) && Date.parse(resolved.endsAt) <= Date.now(), `endsAt ${resolved.endsAt} is the resolution time`);
    await until('Alertmanager no longer lists it as active', async () => (((await (await fetch(`${amBase}/api/v2/alerts?active=true`)).json()) as AmAlert[]).some((a) => a.labels.alertname === 'DemoHigh') ? undefined : true));

    const url = `${amBase}/api/v2/alerts`;
    // The firing and the resolved alert (plus a resend if a slow machine took over a minute).
    assert.ok(((await metric(base, 'patrol_notifications_sent_total', `alertmanager="${url}"`)) ?? 0) >= 2);
    assert.equal(await metric(base, 'patrol_notifications_errors_total', `alertmanager="${url}"`), 0);
    assert.equal(await metric(base, 'patrol_notifications_dropped_total', `alertmanager="${url}"`), 0);
    assert.equal(am!.log().includes('level=error'), false, am!.log());
  });
});

describe('an Alertmanager that never answers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-am-hang-'));
  let hang: Server;
  let hangAddr = '';
  let posts = 0;
  let target: Server;
  let patrol: Patrol;
  let base = '';
  const sunk: PostableAlert[] = [];

  before(async () => {
    hang = createServer(() => {
      posts++; // accepts the connection and the request, never answers
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    hangAddr = `127.0.0.1:${(hang.address() as { port: number }).port}`;
    const t = await demoTarget(() => Array.from({ length: 20 }, (_, i) => `demo_value{svc="s${i}"} 1\n`).join(''));
    target = t.server;
    writeFileSync(join(dir, 'rules.yml'), `groups:\n  - name: demo\n    rules:\n      - alert: DemoHigh\n        expr: demo_value > 0\n`);
    writeFileSync(
      join(dir, 'patrol.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nscrape_configs:\n  - job_name: demo\n    static_configs: [{targets: ['${t.addr}']}]\nalerting:\n  alertmanagers:\n    - static_configs: [{targets: ['${hangAddr}']}]\n      timeout: 1h\n`,
    );
    patrol = new Patrol({
      configFile: join(dir, 'patrol.yml'),
      dataDir: join(dir, 'patrol'),
      listen: '127.0.0.1:0',
      logger: createLogger('silent'),
      notifier: { queueCapacity: 5, maxBatchSize: 2 },
      alertSinks: () => [{ name: 'test-double', send: (a) => sunk.push(...a) }],
    });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });

  after(async () => {
    await patrol?.stop();
    await new Promise((r) => target?.close(r));
    hang?.closeAllConnections();
    await new Promise((r) => hang?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('evaluation goes on, one POST hangs, and what does not fit the queue is dropped and counted', async () => {
    const url = `http://${hangAddr}/api/v2/alerts`;
    // The 20 alerts of the first firing evaluation: 15 do not fit the queue of 5; 2 go out as the hanging batch.
    const dropped = await until('drops counted', async () => {
      const v = await metric(base, 'patrol_notifications_dropped_total', `alertmanager="${url}"`);
      return v !== undefined && v > 0 ? v : undefined;
    });
    assert.equal(dropped, 15);
    assert.equal(await metric(base, 'patrol_notifications_queue_length', `alertmanager="${url}"`), 3);
    const iterations = async () => (await metric(base, 'patrol_rule_group_iterations_total', 'rule_group=')) ?? 0;
    const before = await iterations();
    await until('three more evaluations while the POST hangs', async () => ((await iterations()) >= before + 3 ? true : undefined));
    assert.equal(posts, 1, 'one POST in flight, still unanswered');
    assert.equal(await metric(base, 'patrol_notifications_sent_total', `alertmanager="${url}"`), 0);
    assert.equal(new Set(sunk.filter((a) => a.labels.alertname === 'DemoHigh').map((a) => a.labels.svc)).size, 20, 'the in-process sink got every alert');
    const missed = await metric(base, 'patrol_rule_group_iterations_missed_total', 'rule_group=');
    assert.equal(missed ?? 0, 0, 'no evaluation was missed');
  });
});
