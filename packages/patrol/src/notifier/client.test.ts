// The per-Alertmanager queue against real HTTP servers on 127.0.0.1: batches, a bounded queue
// whose drops are counted while an Alertmanager never answers, a dead Alertmanager, timeouts,
// and discovery of Alertmanager URLs from target groups.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { Agent } from 'undici';
import { relabelConfig } from '../config/prometheus.js';
import { createLogger } from '../logger.js';
import type { PostableAlert } from '../model/alert.js';
import { RequestHeaders } from '../scrape/httpclient.js';
import { compileRelabel } from '../scrape/relabel.js';
import { freePort } from '../testing/net.js';
import { AlertmanagerClient } from './client.js';
import { notifierMetrics } from './metrics.js';
import { alertmanagersFromGroups, alertsPath, type AlertmanagerConfig } from './set.js';
import { alertingConfig } from '../config/alertmanager.js';

const log = createLogger('silent');

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}/api/v2/alerts` };
}

async function until(what: string, f: () => boolean | Promise<boolean>, tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function client(url: string, o: { capacity: number; batch: number; timeoutMs: number }) {
  const registry = new Registry();
  const metrics = notifierMetrics(registry, o.capacity, () => 1);
  const dispatcher = new Agent();
  const c = new AlertmanagerClient(url, { dispatcher, headers: new RequestHeaders({ follow_redirects: true, enable_http2: true }, '.', 'test'), timeoutMs: o.timeoutMs }, { capacity: o.capacity, maxBatchSize: o.batch }, metrics, log);
  const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.alertmanager === url)?.value ?? 0;
  return { c, value, close: () => dispatcher.close() };
}

const alerts = (n: number, from = 0): PostableAlert[] => Array.from({ length: n }, (_, i) => ({ labels: { alertname: 'A', i: String(from + i) }, annotations: {} }));

describe('AlertmanagerClient', () => {
  it('posts batches of at most maxBatchSize to the Alertmanager, in order', async () => {
    const bodies: PostableAlert[][] = [];
    const { server, url } = await listen((req, res) => {
      let b = '';
      req.on('data', (d: Buffer) => (b += d.toString()));
      req.on('end', () => {
        assert.equal(req.method, 'POST');
        assert.equal(req.headers['content-type'], 'application/json');
        bodies.push(JSON.parse(b) as PostableAlert[]);
        res.writeHead(200).end();
      });
    });
    const { c, value, close } = client(url, { capacity: 1000, batch: 64, timeoutMs: 10_000 });
    c.send(alerts(150));
    await until('150 alerts posted', async () => (await value('patrol_notifications_sent_total')) === 150);
    assert.deepEqual(bodies.map((b) => b.length), [64, 64, 22]);
    assert.deepEqual(bodies.flat().map((a) => a.labels.i), alerts(150).map((a) => a.labels.i));
    assert.equal(await value('patrol_notifications_dropped_total'), 0);
    await c.stop();
    await close();
    server.closeAllConnections();
    server.close();
  });

  it('an Alertmanager that never answers: send() returns at once, the queue stays bounded, drops are counted', async () => {
    let requests = 0;
    const { server, url } = await listen(() => {
      requests++; // never answers
    });
    const { c, value, close } = client(url, { capacity: 10, batch: 4, timeoutMs: 3_600_000 });
    c.send(alerts(1)); // taken at once as the batch in flight
    for (let i = 1; i < 30; i++) c.send(alerts(1, i));
    assert.equal(c.queueLength, 10);
    assert.equal(await value('patrol_notifications_dropped_total'), 19, 'the 19 oldest queued alerts made room');
    assert.equal(await value('patrol_notifications_queue_length'), 10);
    c.send(alerts(25, 100)); // larger than the queue: only the newest 10 are kept
    assert.equal(await value('patrol_notifications_dropped_total'), 19 + 15 + 10);
    await until('the POST reached the server', () => requests === 1);
    assert.equal(requests, 1, 'one POST in flight at a time');
    await c.stop();
    await close();
    server.closeAllConnections();
    server.close();
  });

  it('a timeout ends the POST: the batch is dropped and counted as errors, later alerts are sent', async () => {
    let n = 0;
    const got: string[] = [];
    const { server, url } = await listen((req, res) => {
      let b = '';
      req.on('data', (d: Buffer) => (b += d.toString()));
      req.on('end', () => {
        if (n++ === 0) return; // the first POST hangs
        got.push(...(JSON.parse(b) as PostableAlert[]).map((a) => a.labels.i));
        res.writeHead(200).end();
      });
    });
    const { c, value, close } = client(url, { capacity: 100, batch: 64, timeoutMs: 300 });
    c.send(alerts(3));
    c.send(alerts(2, 3));
    await until('the second batch delivered', async () => (await value('patrol_notifications_sent_total')) === 2);
    assert.deepEqual(got, ['3', '4']);
    assert.equal(await value('patrol_notifications_errors_total'), 3);
    assert.equal(await value('patrol_notifications_dropped_total'), 3);
    await c.stop();
    await close();
    server.closeAllConnections();
    server.close();
  });

  it('a dead Alertmanager (connection refused) and a non-2xx answer count errors and drops', async () => {
    const dead = `http://127.0.0.1:${await freePort()}/api/v2/alerts`;
    const a = client(dead, { capacity: 100, batch: 64, timeoutMs: 10_000 });
    a.c.send(alerts(2));
    await until('the failure counted', async () => (await a.value('patrol_notifications_dropped_total')) === 2);
    assert.equal(await a.value('patrol_notifications_errors_total'), 2);
    assert.equal(await a.value('patrol_notifications_sent_total'), 0);
    await a.c.stop();
    await a.close();

    const { server, url } = await listen((_req, res) => res.writeHead(400).end('bad alert'));
    const b = client(url, { capacity: 100, batch: 64, timeoutMs: 10_000 });
    b.c.send(alerts(5));
    await until('the 400 counted', async () => (await b.value('patrol_notifications_errors_total')) === 5);
    assert.equal(await b.value('patrol_notifications_dropped_total'), 5);
    await b.c.stop();
    await b.close();
    server.close();
  });
});

describe('Alertmanager URLs from target groups', () => {
  const cfg = (o: Record<string, unknown>): AlertmanagerConfig => alertingConfig.parse({ alertmanagers: [o] }).alertmanagers[0];

  it('scheme, path_prefix and the v2 endpoint; duplicates once', () => {
    const c = cfg({ scheme: 'https', path_prefix: '/am/' });
    const r = alertmanagersFromGroups([{ source: 's', targets: [{ __address__: 'a:9093' }, { __address__: 'b:9093' }, { __address__: 'a:9093' }] }], c, []);
    assert.deepEqual(r, { active: ['https://a:9093/am/api/v2/alerts', 'https://b:9093/am/api/v2/alerts'], dropped: [], errors: [] });
    assert.equal(alertsPath('/'), '/api/v2/alerts');
    assert.equal(alertsPath('prefix'), '/prefix/api/v2/alerts');
  });

  it('relabel_configs see __scheme__ and __alerts_path__, may rewrite or drop targets', () => {
    const steps = compileRelabel([
      { action: 'drop', source_labels: ['dc'], regex: 'old' },
      { source_labels: ['__address__'], regex: '(.*):9093', target_label: '__address__', replacement: '$1:19093' },
      { target_label: '__alerts_path__', replacement: '/x/api/v2/alerts' },
    ].map((s) => relabelConfig.parse(s)));
    const r = alertmanagersFromGroups([{ source: 's', targets: [{ __address__: 'a:9093', dc: 'new' }, { __address__: 'b:9093', dc: 'old' }, { __address__: 'bad/host' }] }], cfg({}), steps);
    assert.deepEqual(r.active, ['http://a:19093/x/api/v2/alerts']);
    assert.deepEqual(r.dropped, ['http://b:9093/api/v2/alerts']);
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0], /"bad\/host" is not a valid hostname/);
  });
});
