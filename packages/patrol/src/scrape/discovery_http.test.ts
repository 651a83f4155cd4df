import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import pino from 'pino';
import { registerTargetsAPI } from '../api/targets.js';
import { parseConfig } from '../config/load.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN } from '../model/value.js';
import { makeCerts, type CertSet } from '../probe/testdata/servers.js';
import { MemoryStorage } from '../storage/memory.js';
import type { TargetGroup } from './discovery.js';
import { HttpDiscovery, parseHttpSD } from './discovery_http.js';
import { ScrapeManager } from './manager.js';
import { binaryMissing, config, PROMETHEUS_BIN, read, serve, startPrometheus, waitFor, type TestServer } from './testutil.js';

const log = pino({ level: 'silent' });

function sdConfig(yaml: string) {
  const c = config(`scrape_configs:\n  - job_name: j\n    http_sd_configs:\n${yaml}`);
  return c.scrape_configs[0].http_sd_configs[0];
}

function configErrors(yaml: string): string[] {
  const r = parseConfig(`scrape_configs:\n  - job_name: j\n    http_sd_configs:\n${yaml}`, 'p.yml');
  return r.ok ? [] : r.errors.map(String);
}

describe('http_sd: answer decoding', () => {
  it('adds __meta_url and the group labels to every target', () => {
    const gs = parseHttpSD(JSON.stringify([{ targets: ['a:1', 'b:2'], labels: { env: 'prod' } }, { targets: ['c:3'] }]), 'http://sd/x');
    assert.deepEqual(gs, [
      {
        source: 'http://sd/x:0',
        targets: [
          { env: 'prod', __meta_url: 'http://sd/x', __address__: 'a:1' },
          { env: 'prod', __meta_url: 'http://sd/x', __address__: 'b:2' },
        ],
      },
      { source: 'http://sd/x:1', targets: [{ __meta_url: 'http://sd/x', __address__: 'c:3' }] },
    ]);
    assert.deepEqual(parseHttpSD('[]', 'http://sd/x'), []);
  });
  it('rejects what Prometheus rejects, naming the problem', () => {
    assert.throws(() => parseHttpSD('{"targets": []}', 'http://sd'), /^Error: http:\/\/sd: expected a list of target groups$/);
    assert.throws(() => parseHttpSD('[null]', 'http://sd'), /http:\/\/sd: group 0 is null/);
    assert.throws(() => parseHttpSD('[{"targets": "a:1"}]', 'http://sd'), /group 0: targets must be a list of strings/);
    assert.throws(() => parseHttpSD('[{"targets": ["a:1"], "labels": {"bad-name": "x"}}]', 'http://sd'), /"bad-name" is not a valid label name/);
    assert.throws(() => parseHttpSD('[{"targets": ["a:1"], "labels": {"n": 1}}]', 'http://sd'), /label n must be a string/);
    assert.throws(() => parseHttpSD('[{"targets": [', 'http://sd'), /http:\/\/sd: invalid JSON/);
  });
});

describe('http_sd: configuration', () => {
  it('defaults refresh_interval to 60s and takes the HTTP client fields', () => {
    const c = sdConfig('      - url: http://127.0.0.1:1/sd\n        basic_auth: {username: u, password: p}\n');
    assert.equal(c.refresh_interval, 60_000);
    assert.equal(c.basic_auth?.username, 'u');
  });
  it('rejects a missing URL, a URL that is not http(s), and conflicting auth', () => {
    assert.match(configErrors('      - refresh_interval: 1m\n').join('\n'), /p\.yml:4:9: scrape_configs\[0\]\.http_sd_configs\[0\]\.url: missing required key/);
    assert.match(configErrors('      - url: ftp://host/sd\n').join('\n'), /http_sd_configs\[0\]\.url: URL scheme must be 'http' or 'https'/);
    assert.match(configErrors('      - url: not a url\n').join('\n'), /http_sd_configs\[0\]\.url: "not a url" is not a URL/);
    assert.match(configErrors('      - url: http://h/sd\n        bearer_token: t\n        basic_auth: {username: u}\n').join('\n'), /at most one of basic_auth, authorization, oauth2 and bearer_token may be set/);
    assert.match(configErrors('      - url: http://h/sd\n        unknown: 1\n').join('\n'), /http_sd_configs\[0\]\.unknown: unknown key "unknown"/);
  });
  it('is no longer reported as unsupported', () => {
    const r = parseConfig('scrape_configs:\n  - job_name: j\n    http_sd_configs: [{url: "http://h/sd"}]\n    dns_sd_configs: [{names: [a.example]}]\n    consul_sd_configs: [{server: x}]\n');
    assert.ok(r.ok);
    assert.deepEqual(r.warnings, ['scrape_configs[0].consul_sd_configs: not supported yet; the job gets no targets from it']);
  });
});

describe('http_sd: against a local endpoint', () => {
  let sd: TestServer;
  let answer: { status: number; type: string; body: string } = { status: 200, type: 'application/json', body: '[]' };
  const requests: IncomingMessage['headers'][] = [];

  before(async () => {
    sd = await serve((req: IncomingMessage, res: ServerResponse) => {
      requests.push(req.headers);
      if (req.headers.authorization !== 'Basic ' + Buffer.from('sd:secret').toString('base64')) {
        res.statusCode = 401;
        res.end('no');
        return;
      }
      res.statusCode = answer.status;
      res.setHeader('content-type', answer.type);
      res.end(answer.body);
    });
  });
  after(async () => {
    await sd.close();
  });

  it('sends Prometheus headers, keeps the last good groups on every kind of failure, recovers', async () => {
    const url = `${sd.url}/targets`;
    const cfg = sdConfig(`      - url: ${url}\n        refresh_interval: 90s\n        basic_auth: {username: sd, password: secret}\n`);
    const seen: TargetGroup[][] = [];
    const d = new HttpDiscovery(cfg, '.', (g) => seen.push(g), log);
    answer = { status: 200, type: 'application/json; charset=utf-8', body: JSON.stringify([{ targets: ['10.0.0.1:9100'], labels: { dc: 'a' } }]) };
    try {
      await d.start();
      assert.equal(d.lastError, '');
      assert.deepEqual(seen, [[{ source: `${url}:0`, targets: [{ dc: 'a', __meta_url: url, __address__: '10.0.0.1:9100' }] }]]);
      const h = requests[requests.length - 1];
      assert.equal(h['x-prometheus-refresh-interval-seconds'], '90');
      assert.equal(h.accept, 'application/json');
      assert.match(String(h['user-agent']), /^Patrol\//);

      const failures: [typeof answer, RegExp][] = [
        [{ status: 500, type: 'application/json', body: '[]' }, /server returned HTTP status 500 Internal Server Error$/],
        [{ status: 200, type: 'text/plain', body: '[]' }, /unsupported content type "text\/plain"/],
        [{ status: 200, type: 'application/json', body: '[{"targets": [' }, /invalid JSON/],
        [{ status: 200, type: 'application/json', body: '{"targets": []}' }, /expected a list of target groups/],
      ];
      for (const [a, want] of failures) {
        answer = a;
        await d.refresh();
        assert.match(d.lastError, want);
        assert.ok(d.lastError.startsWith(url), d.lastError);
      }
      assert.equal(seen.length, 1, 'failures do not replace the last good groups');

      answer = { status: 200, type: 'application/json', body: '[]' };
      await d.refresh();
      assert.equal(d.lastError, '');
      assert.deepEqual(seen[seen.length - 1], [], 'an empty list removes every target');
    } finally {
      d.stop();
    }
  });

  it('reports a wrong password as the HTTP status', async () => {
    const cfg = sdConfig(`      - url: ${sd.url}/targets\n        basic_auth: {username: sd, password: wrong}\n`);
    const d = new HttpDiscovery(cfg, '.', () => undefined, log);
    try {
      await d.start();
      assert.match(d.lastError, /server returned HTTP status 401 Unauthorized/);
    } finally {
      d.stop();
    }
  });
});

describe('http_sd: TLS', () => {
  let certs: CertSet;
  before(() => {
    certs = makeCerts();
  });
  after(() => certs.cleanup());

  it('verifies the endpoint with tls_config.ca_file and fails without it', async () => {
    const server = createHttpsServer({ cert: certs.good.cert, key: certs.good.key }, (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('[{"targets": ["x:1"]}]');
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      let got: TargetGroup[] = [];
      const ok = new HttpDiscovery(sdConfig(`      - url: https://localhost:${port}/\n        tls_config: {ca_file: ${certs.caFile}}\n`), '.', (g) => (got = g), log);
      await ok.start();
      ok.stop();
      assert.equal(ok.lastError, '');
      assert.equal(got[0].targets[0].__address__, 'x:1');

      const bad = new HttpDiscovery(sdConfig(`      - url: https://localhost:${port}/\n`), '.', () => undefined, log);
      await bad.start();
      bad.stop();
      assert.match(bad.lastError, /certificate/i);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('http_sd: in the scrape manager', () => {
  it('scrapes what the endpoint lists, relabels with __meta_url, keeps targets while the endpoint fails', async () => {
    const target = await serve((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('sd_scraped 1\n');
    });
    let fail = false;
    const sd = await serve((_req, res) => {
      if (fail) {
        res.statusCode = 503;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([{ targets: [`127.0.0.1:${target.port}`], labels: { team: 'db' } }]));
    });
    const storage = new MemoryStorage();
    const m = new ScrapeManager({ storage, logger: log });
    const yaml = `scrape_configs:
  - job_name: httpsd
    scrape_interval: 100ms
    scrape_timeout: 90ms
    http_sd_configs: [{url: '${sd.url}/sd', refresh_interval: 200ms}]
    relabel_configs:
      - {source_labels: [__meta_url], regex: 'http://([^/]+)/sd', target_label: sd_host}
`;
    try {
      await m.applyConfig(config(yaml), { dir: '.' });
      const s = await waitFor(() => read(storage, 'sd_scraped')[0], 'first scrape of the discovered target');
      assert.deepEqual(s.labels, { __name__: 'sd_scraped', instance: `127.0.0.1:${target.port}`, job: 'httpsd', team: 'db', sd_host: `127.0.0.1:${sd.port}` });
      fail = true;
      // A refresh can also time out on a loaded machine (200 ms); wait for the endpoint's 503.
      await waitFor(() => (m.discoveryErrors().some((e) => /HTTP status 503/.test(e.error)) ? true : undefined), 'failed refresh reported');
      assert.deepEqual(m.discoveryErrors().map((e) => [e.pool, e.provider]), [['httpsd', 'http_sd_configs[0]']]);
      assert.match(m.discoveryErrors()[0].error, /HTTP status 503/);
      const before = read(storage, 'sd_scraped')[0].values.length;
      await waitFor(() => (read(storage, 'sd_scraped')[0].values.length > before + 2 ? true : undefined), 'scrapes continue while the SD endpoint fails');
      assert.equal(m.activeTargets().length, 1);
      // No stale marker from dropping the target while the endpoint fails. (A scrape that timed
      // out under load writes one legitimately: then `up` is 0 at that instant; a dropped target
      // would have a stale `up` there.)
      const scraped = read(storage, 'sd_scraped', new Matcher('=', 'team', 'db'))[0];
      const up = read(storage, 'up', new Matcher('=', 'job', 'httpsd'))[0];
      const upAt = new Map(up.ts.map((t, i) => [t, up.values[i]]));
      scraped.values.forEach((v, i) => {
        if (v === 1) return;
        assert.ok(isStaleNaN(v), `sd_scraped is 1 or a stale marker, got ${v}`);
        assert.equal(upAt.get(scraped.ts[i]), 0, `no stale marker while the endpoint fails, except after a failed scrape (at ${scraped.ts[i]})`);
      });
      assert.ok(up.values.every((v) => !isStaleNaN(v)), 'the target was never dropped');
    } finally {
      await m.stop();
      await sd.close();
      await target.close();
    }
  });
});

describe('http_sd: reload', () => {
  it('a changed URL replaces the targets; the old ones go stale', async () => {
    const target = await serve((req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(`reload_sd 1\n`);
    });
    const sd = await serve((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([{ targets: [`127.0.0.1:${target.port}`], labels: { list: req.url === '/a' ? 'a' : 'b' } }]));
    });
    const storage = new MemoryStorage();
    const m = new ScrapeManager({ storage, logger: log });
    const yaml = (path: string) => `scrape_configs:\n  - job_name: r\n    scrape_interval: 100ms\n    scrape_timeout: 90ms\n    http_sd_configs: [{url: '${sd.url}${path}', refresh_interval: 1h}]\n`;
    try {
      await m.applyConfig(config(yaml('/a')), { dir: '/' });
      await waitFor(() => read(storage, 'reload_sd', new Matcher('=', 'list', 'a'))[0], 'list a scraped');
      await m.applyConfig(config(yaml('/b')), { dir: '/' });
      await waitFor(() => read(storage, 'reload_sd', new Matcher('=', 'list', 'b'))[0], 'list b scraped');
      await waitFor(() => {
        const v = read(storage, 'reload_sd', new Matcher('=', 'list', 'a'))[0].values;
        return isStaleNaN(v[v.length - 1]) ? true : undefined;
      }, 'target of list a stale');
      assert.deepEqual(m.activeTargets().map((t) => t.target.publicLabels.find((l) => l.name === 'list')?.value), ['b']);
    } finally {
      await m.stop();
      await sd.close();
      await target.close();
    }
  });
});

describe('http_sd: a slow endpoint', () => {
  it('does not hold up applyConfig; its targets arrive when it answers', async () => {
    const target = await serve((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('slow_sd_scraped 1\n');
    });
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    const sd = await serve((_req, res) => {
      void released.then(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify([{ targets: [`127.0.0.1:${target.port}`] }]));
      });
    });
    const storage = new MemoryStorage();
    const m = new ScrapeManager({ storage, logger: log });
    try {
      // Resolves after the discoverer's start wait (5s) although the endpoint has not answered.
      await m.applyConfig(config(`scrape_configs:\n  - job_name: slow\n    scrape_interval: 100ms\n    scrape_timeout: 90ms\n    http_sd_configs: [{url: '${sd.url}/', refresh_interval: 1m}]\n`), { dir: '/' });
      assert.equal(m.activeTargets().length, 0);
      release();
      await waitFor(() => read(storage, 'slow_sd_scraped')[0], 'target from the late answer scraped');
    } finally {
      release();
      await m.stop();
      await sd.close();
      await target.close();
    }
  });
});

describe('http_sd: a bad TLS file fails the reload', () => {
  it('names the job and provider, and keeps the running pools', async () => {
    const m = new ScrapeManager({ storage: new MemoryStorage(), logger: log });
    try {
      await m.applyConfig(config('scrape_configs:\n  - job_name: keep\n    static_configs: [{targets: ["127.0.0.1:1"]}]\n    scrape_interval: 1h\n'), { dir: '/' });
      const bad = config('scrape_configs:\n  - job_name: j\n    http_sd_configs: [{url: "https://127.0.0.1:1/", tls_config: {ca_file: /nonexistent/ca.pem}}]\n');
      await assert.rejects(m.applyConfig(bad, { dir: '/' }), /^Error: job j: http_sd_configs\[0\]: ENOENT.*\/nonexistent\/ca\.pem/);
      assert.deepEqual(m.poolNames(), ['keep']);
    } finally {
      await m.stop();
    }
  });
});

describe('http_sd side by side with Prometheus', { skip: binaryMissing(PROMETHEUS_BIN) }, () => {
  it('same discovered labels and SD request headers, targets kept alike while the endpoint fails', async () => {
    const headers = new Map<string, IncomingMessage['headers']>();
    let fail = false;
    const sd = await serve((req, res) => {
      headers.set(String(req.headers['user-agent']).split('/')[0], req.headers);
      if (fail) {
        res.statusCode = 500;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([{ targets: ['127.0.0.1:1', '127.0.0.1:2'], labels: { team: 'a', __metrics_path__: '/m' } }, { targets: ['127.0.0.1:3'] }, { labels: { empty: 'group' } }]));
    });
    const yaml = `global: {scrape_interval: 1h, scrape_timeout: 1s}
scrape_configs:
  - job_name: sd
    http_sd_configs: [{url: '${sd.url}/targets?x=1', refresh_interval: 1s}]
    relabel_configs:
      - {source_labels: [__meta_url], target_label: from}
`;
    const prom = await startPrometheus(yaml);
    const m = new ScrapeManager({ storage: new MemoryStorage(), logger: log });
    const app = Fastify();
    type Body = { data: { activeTargets: { discoveredLabels: Record<string, string>; labels: Record<string, string> }[] } };
    const targetsOf = (b: Body) => b.data.activeTargets.map((t) => JSON.stringify([t.discoveredLabels, t.labels])).sort();
    try {
      await m.applyConfig(config(yaml), { dir: '/' });
      registerTargetsAPI(app, m);
      const theirs = await waitFor(async () => {
        const b = (await (await fetch(`${prom.url}/api/v1/targets`)).json()) as Body;
        return b.data.activeTargets.length === 3 ? b : undefined;
      }, 'prometheus to discover');
      const ours = (await app.inject({ method: 'GET', url: '/api/v1/targets' })).json() as Body;
      assert.deepEqual(targetsOf(ours), targetsOf(theirs));
      const p = headers.get('Prometheus')!;
      const o = headers.get('Patrol')!;
      for (const h of ['accept', 'x-prometheus-refresh-interval-seconds']) assert.equal(o[h], p[h], h);

      assert.equal(ours.data.activeTargets.length, 3);
      assert.equal(ours.data.activeTargets.find((t) => t.labels.instance === '127.0.0.1:1')?.discoveredLabels.__meta_url, `${sd.url}/targets?x=1`);

      fail = true;
      headers.clear();
      await waitFor(() => (headers.has('Prometheus') && headers.has('Patrol') ? true : undefined), 'both to ask again and fail');
      const theirsAfter = (await (await fetch(`${prom.url}/api/v1/targets`)).json()) as Body;
      const oursAfter = (await app.inject({ method: 'GET', url: '/api/v1/targets' })).json() as Body;
      assert.deepEqual(targetsOf(oursAfter), targetsOf(theirsAfter));
      assert.equal(oursAfter.data.activeTargets.length, 3);
    } finally {
      await app.close();
      await m.stop();
      await prom.stop();
      await sd.close();
    }
  });
});
