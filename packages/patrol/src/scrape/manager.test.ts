import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import pino from 'pino';
import { registerTargetsAPI } from '../api/targets.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN } from '../model/value.js';
import { MemoryStorage } from '../storage/memory.js';
import { ScrapeManager } from './manager.js';
import { parseExposition } from '../textparse/parser.js';
import { needBinary } from '../testing/shared.js';
import { binaryMissing, config, freePort, read, NODE_EXPORTER_BIN, PROMETHEUS_BIN, serve, startPrometheus, waitFor, type TestServer } from './testutil.js';

const log = pino({ level: 'silent' });

describe('scrape manager', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'patrol-scrape-'));

  before(async () => {
    server = await serve((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(`# HELP served Which target.\n# TYPE served gauge\nserved{t="${u.searchParams.get('t') ?? ''}"} 1\n`);
    });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes static and file_sd targets, follows file changes, marks removed targets stale, serves /api/v1/targets', async () => {
    const storage = new MemoryStorage();
    const m = new ScrapeManager({ storage, logger: log });
    const sd = join(dir, 'targets.json');
    writeFileSync(sd, JSON.stringify([{ targets: ['a', 'b'], labels: { team: 'ops' } }]));
    const yaml = (extra = '') => `scrape_configs:
  - job_name: static
    scrape_interval: 200ms
    scrape_timeout: 150ms
    static_configs: [{targets: ['127.0.0.1:${server.port}'], labels: {env: test}}]
  - job_name: files
    scrape_interval: 200ms
    scrape_timeout: 150ms
    file_sd_configs: [{files: ['${dir}/*.json'], refresh_interval: 1h}]
    relabel_configs:
      - {source_labels: [__address__], regex: 'drop-me', action: drop}
      - {source_labels: [__address__], target_label: __param_t}
      - {source_labels: [__param_t], target_label: instance}
      - {target_label: __address__, replacement: '127.0.0.1:${server.port}'}
${extra}`;
    await m.applyConfig(config(yaml()), { dir });
    try {
      // Each target starts at its own offset in the interval: wait until all three have been scraped.
      await waitFor(() => (['a', 'b'].every((i) => read(storage, 'served', new Matcher('=', 'instance', i)).length > 0) && read(storage, 'served', new Matcher('=', 'job', 'static')).length > 0 ? true : undefined), 'first scrapes');
      const s = read(storage, 'served', new Matcher('=', 'instance', 'a'))[0];
      assert.deepEqual({ ...s.labels }, { __name__: 'served', instance: 'a', job: 'files', t: 'a', team: 'ops' });

      writeFileSync(sd, JSON.stringify([{ targets: ['a', 'c', 'drop-me'] }]));
      await waitFor(() => (read(storage, 'served', new Matcher('=', 'instance', 'c')).length > 0 ? true : undefined), 'file_sd change picked up by fs.watch');
      await waitFor(() => {
        const b = read(storage, 'served', new Matcher('=', 'instance', 'b'))[0];
        return isStaleNaN(b.values[b.values.length - 1]) ? true : undefined;
      }, 'removed target b marked stale');
      const upB = read(storage, 'up', new Matcher('=', 'instance', 'b'))[0];
      assert.ok(isStaleNaN(upB.values[upB.values.length - 1]), 'report series of a removed target go stale');

      await waitFor(() => (m.activeTargets().every((t) => t.target.health === 'up') ? true : undefined), 'all targets scraped');
      const app = Fastify();
      registerTargetsAPI(app, m);
      const res = await app.inject({ method: 'GET', url: '/api/v1/targets' });
      const body = res.json() as { status: string; data: { activeTargets: Record<string, unknown>[]; droppedTargets: { discoveredLabels: Record<string, string> }[] } };
      assert.equal(body.status, 'success');
      assert.deepEqual(
        body.data.activeTargets.map((t) => [t.scrapePool, (t.labels as Record<string, string>).instance]),
        [
          ['files', 'a'],
          ['files', 'c'],
          ['static', `127.0.0.1:${server.port}`],
        ],
      );
      const a = body.data.activeTargets[0];
      assert.deepEqual(Object.keys(a).sort(), ['discoveredLabels', 'globalUrl', 'health', 'labels', 'lastError', 'lastScrape', 'lastScrapeDuration', 'scrapeInterval', 'scrapePool', 'scrapeTimeout', 'scrapeUrl'].sort());
      assert.equal(a.scrapeUrl, `http://127.0.0.1:${server.port}/metrics?t=a`);
      assert.equal(a.scrapeInterval, '200ms');
      assert.equal(a.scrapeTimeout, '150ms');
      assert.equal(a.health, 'up');
      assert.deepEqual(a.discoveredLabels, { __address__: 'a', __meta_filepath: sd, __metrics_path__: '/metrics', __scheme__: 'http', __scrape_interval__: '200ms', __scrape_timeout__: '150ms', job: 'files' });
      assert.deepEqual(
        body.data.droppedTargets.map((d) => d.discoveredLabels.__address__),
        ['drop-me'],
      );
      assert.deepEqual((body.data as unknown as { droppedTargetCounts: unknown }).droppedTargetCounts, { files: 1, static: 0 });
      const dropped = (await app.inject({ method: 'GET', url: '/api/v1/targets?state=dropped' })).json() as typeof body;
      assert.equal(dropped.data.activeTargets.length, 0);
      assert.equal(dropped.data.droppedTargets.length, 1);
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/targets?state=nonsense' })).statusCode, 400);
      const md = (await app.inject({ method: 'GET', url: '/api/v1/targets/metadata?match_target={job="static"}&metric=served' })).json() as { data: unknown[] };
      assert.deepEqual(md.data, [{ target: { env: 'test', instance: `127.0.0.1:${server.port}`, job: 'static' }, type: 'gauge', help: 'Which target.', unit: '' }]);
      assert.deepEqual(m.metadata().get('served'), [{ type: 'gauge', help: 'Which target.', unit: '' }]);
      await app.close();

      // Reload without the static job: its series go stale; the other job keeps running.
      await m.applyConfig(config(yaml().replace(/ {2}- job_name: static[\s\S]*?(?= {2}- job_name: files)/, '')), { dir });
      const st = read(storage, 'served', new Matcher('=', 'job', 'static'))[0];
      assert.ok(isStaleNaN(st.values[st.values.length - 1]));
      assert.deepEqual(m.poolNames(), ['files']);
    } finally {
      await m.stop();
    }
  });

  it('a reload that fails keeps the running configuration', async () => {
    const m = new ScrapeManager({ storage: new MemoryStorage(), logger: log });
    const ok = `scrape_configs:\n  - job_name: j\n    scrape_interval: 1h\n    static_configs: [{targets: ['127.0.0.1:${server.port}']}]\n`;
    await m.applyConfig(config(ok), { dir });
    const bad = ok + `    tls_config: {ca_file: /nonexistent/ca.pem}\n`;
    await assert.rejects(async () => m.applyConfig(config(bad), { dir }), /job j: .*\/nonexistent\/ca\.pem/);
    assert.equal(m.activeTargets().length, 1);
    await m.stop();
  });

  it('scrapes over TLS with ca_file and server_name', { skip: needBinary('openssl') }, async () => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'patrol-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tlsDir, 'key.pem'), '-out', join(tlsDir, 'cert.pem'), '-days', '1', '-subj', '/CN=exporter.test', '-addext', 'subjectAltName=DNS:exporter.test'], { stdio: 'ignore' });
    const { readFileSync } = await import('node:fs');
    const srv = createHttpsServer({ key: readFileSync(join(tlsDir, 'key.pem')), cert: readFileSync(join(tlsDir, 'cert.pem')) }, (_q, r) => r.end('secure_metric 1\n'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    const storage = new MemoryStorage();
    const m = new ScrapeManager({ storage, logger: log });
    try {
      const job = (tls: string) => `scrape_configs:\n  - job_name: tls\n    scheme: https\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n    tls_config: ${tls}\n    static_configs: [{targets: ['127.0.0.1:${port}']}]\n`;
      await m.applyConfig(config(job(`{ca_file: cert.pem, server_name: exporter.test}`)), { dir: tlsDir });
      await waitFor(() => (read(storage, 'secure_metric').length > 0 ? true : undefined), 'TLS scrape');
      // Without the CA the certificate is rejected, with a reason.
      await m.applyConfig(config(job(`{server_name: exporter.test}`)), { dir: tlsDir });
      const err = await waitFor(() => {
        const t = m.activeTargets()[0]?.target;
        return t && t.lastError !== '' ? t.lastError : undefined;
      }, 'TLS failure');
      assert.match(err, /certificate/i);
    } finally {
      await m.stop();
      srv.closeAllConnections();
      srv.close();
      rmSync(tlsDir, { recursive: true, force: true });
    }
  });
});

describe('scraping Debian prometheus-node-exporter', { skip: binaryMissing(NODE_EXPORTER_BIN) }, () => {
  it('stores its series with the same values a direct parse gives, and up=1', async () => {
    const port = await freePort();
    const proc = spawn(NODE_EXPORTER_BIN, [`--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    const storage = new MemoryStorage();
    const m = new ScrapeManager({ storage, logger: log });
    try {
      await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => null))?.ok ? true : undefined), 'node exporter up');
      await m.applyConfig(config(`scrape_configs:\n  - job_name: node\n    scrape_interval: 1s\n    static_configs: [{targets: ['127.0.0.1:${port}']}]\n`), { dir: '/' });
      await waitFor(() => (read(storage, 'up').length > 0 ? true : undefined), 'first node scrape');
      const t = m.activeTargets()[0].target;
      assert.equal(t.lastError, '');
      assert.equal(read(storage, 'up')[0].values[0], 1);
      const n = read(storage, 'scrape_samples_scraped')[0].values[0];
      assert.ok(n > 200, `node exporter exposes hundreds of samples (got ${n})`);
      const meminfo = read(storage, 'node_memory_MemTotal_bytes');
      assert.equal(meminfo.length, 1);
      assert.ok(meminfo[0].values[0] > 0);
      assert.equal(meminfo[0].labels.job, 'node');
      assert.equal(m.metadata().get('node_cpu_seconds_total')?.[0].type, 'counter');
      // Constant series agree with a direct fetch parsed on its own.
      const direct = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      const total = direct.samples.find((s) => s.labels.some((l) => l.value === 'node_memory_MemTotal_bytes'));
      assert.equal(total?.value, meminfo[0].values[0]);
    } finally {
      await m.stop();
      proc.kill('SIGTERM');
    }
  });
});

describe('/api/v1/targets has the shape Prometheus gives', { skip: binaryMissing(PROMETHEUS_BIN) }, () => {
  it('same keys and value types for active and dropped targets', async () => {
    const yaml = `global: {scrape_interval: 1s, scrape_timeout: 500ms}\nscrape_configs:\n  - job_name: j\n    static_configs: [{targets: ['127.0.0.1:1', 'drop:1']}]\n    relabel_configs: [{source_labels: [__address__], regex: 'drop:1', action: drop}]\n`;
    const prom = await startPrometheus(yaml);
    const m = new ScrapeManager({ storage: new MemoryStorage(), logger: log });
    const app = Fastify();
    try {
      await m.applyConfig(config(yaml), { dir: '/' });
      registerTargetsAPI(app, m);
      type Body = { data: { activeTargets: Record<string, unknown>[]; droppedTargets: Record<string, unknown>[] } };
      const theirs = await waitFor(async () => {
        const b = (await (await fetch(`${prom.url}/api/v1/targets`)).json()) as Body;
        return b.data.activeTargets[0]?.health === 'down' ? b : undefined;
      }, 'prometheus to scrape');
      const ours = await waitFor(async () => {
        const b = (await app.inject({ method: 'GET', url: '/api/v1/targets' })).json() as Body;
        return b.data.activeTargets[0]?.health === 'down' ? b : undefined;
      }, 'patrol to scrape');
      const shape = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v]));
      const ta = theirs.data.activeTargets[0];
      const oa = ours.data.activeTargets[0];
      assert.deepEqual(shape(oa), shape(ta));
      for (const k of ['discoveredLabels', 'labels', 'scrapePool', 'scrapeUrl', 'globalUrl', 'health', 'scrapeInterval', 'scrapeTimeout']) assert.deepEqual(oa[k], ta[k], k);
      assert.match(String(oa.lastError), /ECONNREFUSED|connect/);
      // Prometheus 2.42 lists dropped targets by discoveredLabels; Patrol adds scrapePool as newer versions do.
      assert.deepEqual(ours.data.droppedTargets[0].discoveredLabels, theirs.data.droppedTargets[0].discoveredLabels);
    } finally {
      await app.close();
      await m.stop();
      await prom.stop();
    }
  });
});
