// Scraping through proxies: a real forward proxy on 127.0.0.1 (absolute-form requests for plain
// HTTP targets, CONNECT tunnels for HTTPS ones) that records what it was asked.

import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { makeCerts, type CertSet } from '../probe/testdata/servers.js';
import { parseConfig } from '../config/load.js';
import { ScrapeClient } from './client.js';
import { config } from './testutil.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

/** A forward proxy recording each request (method, target and headers). */
async function startProxy(): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const up = httpRequest(req.url ?? '', { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.on('connect', (req: IncomingMessage, socket, head: Buffer) => {
    seen.push({ method: 'CONNECT', url: req.url ?? '', headers: req.headers });
    const [host, port] = (req.url ?? '').split(':');
    const up = connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const close = (s: Server) =>
  new Promise<void>((r) => {
    s.closeAllConnections();
    s.close(() => r());
  });

function client(job: string): ScrapeClient {
  const cfg = config(`scrape_configs:\n  - job_name: j\n${job}    static_configs: [{targets: ['x:1']}]\n`);
  return new ScrapeClient(cfg.scrape_configs[0], '/');
}

describe('scraping through a proxy', () => {
  let certs: CertSet;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let plain: Server;
  let secure: Server;
  let plainURL: string;
  let secureURL: string;

  before(async () => {
    certs = makeCerts();
    proxy = await startProxy();
    const handler = (_req: IncomingMessage, res: import('node:http').ServerResponse) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('up_via_proxy 1\n');
    };
    plain = createServer(handler);
    secure = createHttpsServer({ cert: certs.good.cert, key: certs.good.key }, handler);
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
    plainURL = `http://127.0.0.1:${(plain.address() as AddressInfo).port}/metrics`;
    secureURL = `https://localhost:${(secure.address() as AddressInfo).port}/metrics`;
  });
  after(async () => {
    await Promise.all([close(proxy.server), close(plain), close(secure)]);
    certs.cleanup();
  });

  it('sends plain-HTTP scrapes to proxy_url in absolute form', async () => {
    proxy.seen.length = 0;
    const c = client(`    proxy_url: ${proxy.url}\n`);
    const res = await c.scrape(new URL(plainURL), 5000);
    await c.close();
    assert.equal(res.body.toString(), 'up_via_proxy 1\n');
    assert.deepEqual(
      proxy.seen.map((s) => [s.method, s.url]),
      [['GET', plainURL]],
    );
  });

  it('tunnels HTTPS scrapes with CONNECT, sending proxy_connect_header, and still verifies the target', async () => {
    proxy.seen.length = 0;
    const c = client(`    proxy_url: ${proxy.url}\n    proxy_connect_header: {X-Proxy-Token: [s3cret]}\n    tls_config: {ca_file: ${certs.caFile}}\n`);
    const res = await c.scrape(new URL(secureURL), 5000);
    await c.close();
    assert.equal(res.body.toString(), 'up_via_proxy 1\n');
    assert.equal(proxy.seen.length, 1);
    assert.equal(proxy.seen[0].method, 'CONNECT');
    assert.equal(proxy.seen[0].url, new URL(secureURL).host);
    assert.equal(proxy.seen[0].headers['x-proxy-token'], 's3cret');
    // Without the CA the tunnelled TLS handshake fails, as it would directly.
    const strict = client(`    proxy_url: ${proxy.url}\n`);
    await assert.rejects(strict.scrape(new URL(secureURL), 5000), /certificate/i);
    await strict.close();
  });

  it('goes direct for hosts in no_proxy', async () => {
    proxy.seen.length = 0;
    const c = client(`    proxy_url: ${proxy.url}\n    no_proxy: 127.0.0.1,localhost\n`);
    const res = await c.scrape(new URL(plainURL), 5000);
    await c.close();
    assert.equal(res.body.toString(), 'up_via_proxy 1\n');
    assert.deepEqual(proxy.seen, []);
  });

  it('uses HTTP_PROXY from the environment with proxy_from_environment', async () => {
    proxy.seen.length = 0;
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy, http_proxy: process.env.http_proxy };
    process.env.HTTP_PROXY = proxy.url;
    delete process.env.http_proxy;
    delete process.env.NO_PROXY;
    delete process.env.no_proxy;
    try {
      const c = client('    proxy_from_environment: true\n');
      const res = await c.scrape(new URL(plainURL), 5000);
      await c.close();
      assert.equal(res.body.toString(), 'up_via_proxy 1\n');
      assert.deepEqual(
        proxy.seen.map((s) => s.method),
        ['GET'],
      );
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('rejects proxy settings Prometheus rejects, naming the key', () => {
    const errs = (job: string) => {
      const r = parseConfig(`scrape_configs:\n  - job_name: j\n${job}`, 'p.yml');
      return r.ok ? [] : r.errors.map(String);
    };
    assert.match(errs('    no_proxy: localhost\n')[0], /no_proxy: if no_proxy is configured, proxy_url must also be configured/);
    assert.match(errs('    proxy_url: http://p:3128\n    proxy_from_environment: true\n')[0], /proxy_from_environment: if proxy_from_environment is configured, proxy_url and no_proxy must not be configured/);
    assert.match(errs('    proxy_url: ftp://p\n')[0], /proxy_url: proxy_url "ftp:\/\/p" is not an http, https or socks5 URL/);
    assert.match(errs('    proxy_connect_header: {A: [b]}\n')[0], /proxy_connect_header: if proxy_connect_header is configured/);
  });
});
