// /federate: Patrol scrapes an exporter; Debian's Prometheus, with honor_labels: true, scrapes
// Patrol's /federate and must answer queries with Patrol's series under their original labels
// (job, instance) plus Patrol's external labels.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { freePort } from '../../test/prometheus-reference.js';
import { labelsFromRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { STALE_NAN } from '../model/value.js';
import { MemoryStorage } from '../storage/memory.js';
import { Patrol } from '../server.js';
import { binaryPath, needBinary } from '../testing/shared.js';
import { federate } from './federate.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, get: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`${what}: not reached in time`);
    await sleep(200);
  }
}

describe('federate() on storage', () => {
  const now = 1_700_000_000_000;
  const st = new MemoryStorage();
  const app = st.appender();
  const put = (rec: Record<string, string>, t: number, v: number) => app.append(0, labelsFromRecord(rec), t, v);
  put({ __name__: 'b_metric', job: 'x', instance: 'h:1' }, now - 20_000, 1);
  put({ __name__: 'b_metric', job: 'x', instance: 'h:1' }, now - 10_000, 1234567);
  put({ __name__: 'a_metric', job: 'x', path: 'say "hi"\\\n' }, now - 10_000, 0.00001);
  put({ __name__: 'a_metric', job: 'x', site: 'own' }, now - 10_000, 2);
  put({ __name__: 'old_metric', job: 'x' }, now - 600_000, 5);
  put({ __name__: 'gone_metric', job: 'x' }, now - 20_000, 1);
  put({ __name__: 'gone_metric', job: 'x' }, now - 10_000, STALE_NAN);
  app.commit();

  it('latest sample per series with its timestamp, grouped by name, external labels added where missing', () => {
    const text = federate(st, [[new Matcher('=', 'job', 'x')]], now - 300_000, now, { site: 'patrol-a' });
    assert.equal(
      text,
      '# TYPE a_metric untyped\n' +
        `a_metric{job="x",path="say \\"hi\\"\\\\\\n",instance="",site="patrol-a"} 1e-05 ${now - 10_000}\n` +
        `a_metric{job="x",site="own",instance=""} 2 ${now - 10_000}\n` +
        '# TYPE b_metric untyped\n' +
        `b_metric{instance="h:1",job="x",site="patrol-a"} 1.234567e+06 ${now - 10_000}\n`,
    );
  });

  it('several match[] sets are merged without duplicates; none gives an empty answer', () => {
    const text = federate(st, [[new Matcher('=', '__name__', 'b_metric')], [new Matcher('=', 'instance', 'h:1')]], now - 300_000, now, {});
    assert.equal(text.split('\n').filter((l) => l.startsWith('b_metric')).length, 1);
    assert.equal(federate(st, [], now - 300_000, now, {}), '');
  });
});

const missingPrometheus = needBinary('prometheus');

describe('/federate scraped by Debian Prometheus with honor_labels', { skip: missingPrometheus }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-federate-'));
  let exporter: Server;
  let exporterAddr = '';
  let patrol: Patrol;
  let base = '';
  let prom: ChildProcess | undefined;
  let promUrl = '';
  let promLog = '';

  before(async () => {
    exporter = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# TYPE app_requests_total counter\napp_requests_total{code="200"} 42\napp_requests_total{code="500"} 3\n# TYPE app_temperature_celsius gauge\napp_temperature_celsius 21.5\n');
    });
    await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
    exporterAddr = `127.0.0.1:${(exporter.address() as { port: number }).port}`;
    const patrolConfig = join(dir, 'patrol.yml');
    writeFileSync(
      patrolConfig,
      `global:\n  scrape_interval: 1s\n  external_labels: {site: patrol-a}\nscrape_configs:\n  - job_name: app\n    static_configs: [{targets: ['${exporterAddr}']}]\n`,
    );
    patrol = new Patrol({ configFile: patrolConfig, dataDir: join(dir, 'patrol-data'), listen: '127.0.0.1:0', logger: pino({ level: 'silent' }) });
    await patrol.start();
    base = `http://${patrol.listen}`;
    // Patrol has scraped the exporter at least once.
    await until('Patrol scraped the exporter', async () => {
      const t = await (await fetch(`${base}/federate?match[]=${encodeURIComponent('{job="app"}')}`)).text();
      return t.includes('app_requests_total') ? t : undefined;
    });
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const promConfig = join(dir, 'prometheus.yml');
    writeFileSync(
      promConfig,
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1m\nscrape_configs:\n  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n    params:\n      'match[]': ['{job="app"}']\n    static_configs: [{targets: ['${patrol.listen}']}]\n`,
    );
    prom = spawn(binaryPath('prometheus'), [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(dir, 'prom-data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    prom.stderr!.on('data', (d: Buffer) => {
      if (promLog.length < 20_000) promLog += d.toString();
    });
  });

  after(async () => {
    if (prom && prom.exitCode === null && prom.signalCode === null) {
      const exited = new Promise((r) => prom!.once('exit', r));
      prom.kill('SIGTERM');
      const t = setTimeout(() => prom!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    await patrol?.stop();
    await new Promise<void>((r) => exporter.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the text format with timestamps and the series own labels', async () => {
    const r = await fetch(`${base}/federate?match[]=${encodeURIComponent('{job="app"}')}&match[]=${encodeURIComponent('up{job="app"}')}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    assert.match(text, new RegExp(`^app_requests_total\\{code="200",instance="${exporterAddr}",job="app",site="patrol-a"\\} 42 \\d{13}$`, 'm'));
    assert.match(text, new RegExp(`^up\\{instance="${exporterAddr}",job="app",site="patrol-a"\\} 1 \\d{13}$`, 'm'));
    assert.equal(text.match(/^# TYPE app_requests_total untyped$/gm)?.length, 1);
  });

  it('a bad selector is a 400 naming the problem', async () => {
    const r = await fetch(`${base}/federate?match[]=${encodeURIComponent('{job=}')}`);
    assert.equal(r.status, 400);
    assert.match(await r.text(), /parse error/);
    const empty = await fetch(`${base}/federate?match[]=${encodeURIComponent('{job=~".*"}')}`);
    assert.equal(empty.status, 400);
  });

  it("Prometheus's query API returns Patrol's series with their original labels", async () => {
    type Result = { metric: Record<string, string>; value: [number, string] }[];
    const result = await until(`Prometheus federated from Patrol (log: ${promLog})`, async () => {
      try {
        const j = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent('app_requests_total')}`)).json()) as { data?: { result: Result } };
        return j.data && j.data.result.length === 2 ? j.data.result : undefined;
      } catch {
        return undefined; // not listening yet
      }
    }, 60_000);
    const byCode = new Map(result.map((s) => [s.metric.code, s]));
    assert.deepEqual(byCode.get('200')!.metric, { __name__: 'app_requests_total', code: '200', instance: exporterAddr, job: 'app', site: 'patrol-a' });
    assert.equal(byCode.get('200')!.value[1], '42');
    assert.equal(byCode.get('500')!.value[1], '3');
    // The federation scrape itself is a healthy target of Prometheus's.
    const up = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent('up{job="federate"}')}`)).json()) as { data: { result: Result } };
    assert.equal(up.data.result[0]?.value[1], '1');
  });
});
