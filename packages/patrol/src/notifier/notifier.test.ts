// The Notifier as a component: fan-out to in-process sinks and external Alertmanagers, reload
// replacing the set of Alertmanagers (an unchanged entry keeps its queue), file discovery,
// and a configuration that cannot be built leaving the running one in place.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { registerAlertmanagersAPI } from '../api/notifier.js';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../logger.js';
import type { PostableAlert } from '../model/alert.js';
import { makeCerts } from '../probe/testdata/servers.js';
import { MemoryStorage } from '../storage/memory.js';
import { Notifier } from './notifier.js';

function config(text: string): Config {
  const r = parseConfig(text, 'patrol.yml');
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config;
}

async function until(what: string, f: () => boolean, tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('Notifier', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-notifier-'));
  const received: { port: number; alerts: PostableAlert[] }[] = [];
  const servers: Server[] = [];
  const listen = async (): Promise<number> => {
    const s = createServer((req, res) => {
      let b = '';
      req.on('data', (d: Buffer) => (b += d.toString()));
      req.on('end', () => {
        received.push({ port: (s.address() as { port: number }).port, alerts: JSON.parse(b) as PostableAlert[] });
        res.end();
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    return (s.address() as { port: number }).port;
  };
  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const rt = (registry = new Registry()) => ({ storage: new MemoryStorage(), logger: createLogger('silent'), registry, listen: '127.0.0.1:9310', dataDir: dir });

  it('sends to in-process sinks and every Alertmanager; reload replaces the set; file_sd finds Alertmanagers', async () => {
    const [a, b, c] = [await listen(), await listen(), await listen()];
    const n = new Notifier(rt());
    const sunk: PostableAlert[] = [];
    n.addSink({ name: 'double', send: (x) => sunk.push(...x) });
    const am = (port: number) => `    - static_configs: [{targets: ['127.0.0.1:${port}']}]\n`;
    await n.applyConfig(config(`global:\n  external_labels: {site: x}\nalerting:\n  alertmanagers:\n${am(a)}${am(b)}`), { dir });
    assert.deepEqual(n.alertmanagers(), { active: [`http://127.0.0.1:${a}/api/v2/alerts`, `http://127.0.0.1:${b}/api/v2/alerts`], dropped: [] });
    n.send([{ labels: { alertname: 'X' }, annotations: {} }]);
    await until('both Alertmanagers got the alert', () => received.length === 2);
    assert.deepEqual(received.map((r) => r.port).sort(), [a, b].sort());
    assert.deepEqual(received[0].alerts[0].labels, { alertname: 'X', site: 'x' });
    assert.deepEqual(sunk.map((s) => s.labels), [{ alertname: 'X', site: 'x' }]);

    // b stays, a goes, c comes from a file_sd file.
    writeFileSync(join(dir, 'am.json'), JSON.stringify([{ targets: [`127.0.0.1:${c}`] }]));
    await n.applyConfig(config(`alerting:\n  alertmanagers:\n${am(b)}    - file_sd_configs: [{files: ['am.json']}]\n      alert_relabel_configs: [{action: drop, source_labels: [alertname], regex: Y}]\n`), { dir });
    assert.deepEqual(n.alertmanagers().active, [`http://127.0.0.1:${b}/api/v2/alerts`, `http://127.0.0.1:${c}/api/v2/alerts`]);
    received.length = 0;
    n.send([{ labels: { alertname: 'Y' }, annotations: {} }]);
    n.send([{ labels: { alertname: 'Z' }, annotations: {} }]);
    // Each Alertmanager's queue is in order: once both have Z, any Y would have arrived.
    await until('b got Y and Z, c got Z', () => received.length === 3);
    const withY = received.filter((r) => r.alerts.some((x) => x.labels.alertname === 'Y'));
    assert.deepEqual(withY.map((r) => r.port), [b], "c's alert_relabel_configs dropped Y");
    assert.deepEqual(withY[0].alerts[0].labels, { alertname: 'Y' }, 'external labels follow the config');

    // A configuration that cannot be built throws, and the running set stays.
    assert.throws(() => n.prepareConfig(config(`alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['127.0.0.1:1']}]\n      tls_config: {ca_file: missing-ca.pem}\n`), { dir }), /alerting\.alertmanagers\[0\].*missing-ca\.pem/);
    assert.equal(n.alertmanagers().active.length, 2);
    await n.stop();
    assert.deepEqual(n.alertmanagers(), { active: [], dropped: [] });
  });

  it('/api/v1/alertmanagers lists active and dropped Alertmanagers in Prometheus\'s shape', async () => {
    const n = new Notifier(rt());
    const cfg = `alerting:\n  alertmanagers:\n    - path_prefix: /am\n      static_configs: [{targets: ['127.0.0.1:1', '127.0.0.1:2']}]\n      relabel_configs: [{action: drop, source_labels: [__address__], regex: '.*:2'}]\n`;
    await n.applyConfig(config(cfg), { dir });
    const app = Fastify();
    registerAlertmanagersAPI(app, () => n.alertmanagers());
    const r = await app.inject({ method: 'GET', url: '/api/v1/alertmanagers' });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), {
      status: 'success',
      data: { activeAlertmanagers: [{ url: 'http://127.0.0.1:1/am/api/v2/alerts' }], droppedAlertmanagers: [{ url: 'http://127.0.0.1:2/am/api/v2/alerts' }] },
    });
    await app.close();
    await n.stop();
  });

  it('HTTPS with tls_config.ca_file, basic_auth and authorization from the shared HTTP client settings', async () => {
    const certs = makeCerts();
    const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
    const tls = createHttpsServer({ cert: certs.good.cert, key: certs.good.key }, (req, res) => {
      seen.push({ path: req.url ?? '', headers: req.headers });
      req.resume();
      req.on('end', () => res.end());
    });
    tls.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    const port = (tls.address() as { port: number }).port;
    writeFileSync(join(dir, 'pass.txt'), 's3cret\n');
    const registry = new Registry();
    const n = new Notifier(rt(registry));
    await n.applyConfig(
      config(
        `alerting:\n  alertmanagers:\n` +
          `    - {scheme: https, path_prefix: /a, tls_config: {ca_file: ${certs.caFile}}, basic_auth: {username: patrol, password_file: pass.txt}, static_configs: [{targets: ['localhost:${port}']}]}\n` +
          `    - {scheme: https, path_prefix: /b, tls_config: {ca_file: ${certs.caFile}}, authorization: {credentials: tok}, static_configs: [{targets: ['localhost:${port}']}]}\n` +
          `    - {scheme: https, path_prefix: /c, static_configs: [{targets: ['localhost:${port}']}]}\n`,
      ),
      { dir },
    );
    n.send([{ labels: { alertname: 'T' }, annotations: {} }]);
    await until('both trusted Alertmanagers got the alert', () => seen.length === 2);
    const by = new Map(seen.map((s) => [s.path, s.headers]));
    assert.equal(by.get('/a/api/v2/alerts')?.authorization, `Basic ${Buffer.from('patrol:s3cret').toString('base64')}`);
    assert.equal(by.get('/b/api/v2/alerts')?.authorization, 'Bearer tok');
    assert.match(String(by.get('/a/api/v2/alerts')?.['user-agent']), /^Patrol\//);
    const url = `https://localhost:${port}/c/api/v2/alerts`;
    const errors = async () => (await registry.getSingleMetric('patrol_notifications_errors_total')!.get()).values.find((v) => v.labels.alertmanager === url)?.value ?? 0;
    for (let i = 0; i < 200 && (await errors()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await errors(), 1, 'without the CA the certificate is refused');
    assert.equal(seen.length, 2);
    await n.stop();
    tls.close();
    certs.cleanup();
  });
});
