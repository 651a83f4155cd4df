import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { makeCerts, startHttp, startHttps, closedPort, type CertSet } from './testdata/servers.js';
import { needBinary } from '../testing/shared.js';
import { runOne, sample } from './testdata/helpers.js';

describe('http probe against a real server', () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  const seen: { method?: string; auth?: string; body: string; headers: Record<string, unknown> }[] = [];
  before(async () => {
    srv = await startHttp((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, auth: req.headers.authorization, body, headers: req.headers });
        const u = new URL(req.url ?? '/', 'http://x');
        switch (u.pathname) {
          case '/health':
            res.writeHead(200, { 'content-type': 'application/json', 'x-version': '1.2.3' });
            res.end('{"status":"up","data":{"items":[{"id":7,"name":"a"}],"count":3,"ok":true}}');
            return;
          case '/down':
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end('{"status":"down"}');
            return;
          case '/ready':
            // The body @patrol/sdk's health() serves when a critical dependency is down.
            res.writeHead(503, { 'content-type': 'application/json; charset=utf-8' });
            res.end('{"status":"down","checks":{"cache":{"status":"up","critical":false,"latency_ms":1},"db":{"status":"down","critical":true,"latency_ms":2000,"error":"timed out after 2000ms"}}}');
            return;
          case '/503':
            res.writeHead(503);
            res.end('unavailable');
            return;
          case '/notjson':
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end('{"status": up');
            return;
          case '/redirect':
            res.writeHead(302, { location: '/health' });
            res.end();
            return;
          case '/loop':
            res.writeHead(302, { location: '/loop' });
            res.end();
            return;
          case '/hang':
            return; // accept, never answer
          case '/trickle': {
            res.writeHead(200, { 'content-type': 'text/plain' });
            const t = setInterval(() => res.write('.'), 100);
            res.on('close', () => clearInterval(t));
            return;
          }
          case '/huge': {
            // Claims nothing, streams forever: must be cut at body_size_limit.
            res.writeHead(200, { 'content-type': 'application/octet-stream' });
            const chunk = Buffer.alloc(64 * 1024, 120);
            const pump = () => {
              while (res.write(chunk)) {
                if (res.destroyed) return;
              }
              res.once('drain', pump);
            };
            pump();
            return;
          }
          case '/huge-declared':
            res.writeHead(200, { 'content-length': String(5 * 1024 * 1024 * 1024) });
            res.write('x');
            return;
          case '/reset':
            res.writeHead(200, { 'content-length': '1000' });
            res.write('partial');
            setTimeout(() => res.socket?.destroy(), 20);
            return;
          case '/gzip':
            res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
            res.end(gzipSync('{"status":"up"}'));
            return;
          case '/to-https':
            res.writeHead(301, { location: String(u.searchParams.get('to')) });
            res.end();
            return;
          case '/echo':
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end(`${req.method} ${body}`);
            return;
          default:
            res.writeHead(404);
            res.end('not found');
        }
      });
    });
  });
  after(() => srv.close());

  it('succeeds on 2xx with no conditions and writes blackbox metrics', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/health` });
    assert.equal(r.success, true, r.reason);
    assert.equal(r.reason, '');
    assert.equal(sample(r, 'probe_http_status_code'), 200);
    assert.equal(sample(r, 'probe_http_ssl'), 0);
    assert.equal(sample(r, 'probe_http_redirects'), 0);
    assert.equal(sample(r, 'probe_http_content_length'), -1); // chunked: unknown, as blackbox_exporter reports
    assert.ok(sample(r, 'probe_http_uncompressed_body_length')! > 10);
    for (const phase of ['resolve', 'connect', 'tls', 'processing', 'transfer']) {
      assert.notEqual(sample(r, 'probe_http_duration_seconds', phase), undefined, phase);
    }
  });

  it('fails on 503 with a precise reason', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/503` });
    assert.equal(r.success, false);
    assert.equal(r.reason, 'status 503 not in [2xx]');
  });

  it("asserts on a health body field by field and names the failing dependency", async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/ready`, conditions: ['$.checks.*.status == up', '[STATUS] == 2xx'] });
    assert.equal(r.success, false);
    assert.equal(r.reason, '$.checks.db.status is "down", expected "up"');
    const e = await runOne({ type: 'http', target: `${srv.url}/ready`, conditions: ['$.checks.*.error !exists'] });
    assert.equal(e.reason, '$.checks.db.error exists ("timed out after 2000ms"), expected none');
    const c = await runOne({ type: 'http', target: `${srv.url}/ready`, conditions: ['$.checks.cache.status == up', '$.checks.cache.latency_ms < 100'] });
    assert.equal(c.success, true, c.reason);
  });

  it('status lists and classes', async () => {
    assert.equal((await runOne({ type: 'http', target: `${srv.url}/503`, conditions: ['[STATUS] in [200, 503]'] })).success, true);
    assert.equal((await runOne({ type: 'http', target: `${srv.url}/nope`, conditions: ['[STATUS] == 4xx'] })).success, true);
    const r = await runOne({ type: 'http', target: `${srv.url}/nope`, conditions: ['[STATUS] in [200, 3xx]'] });
    assert.equal(r.reason, 'status 404 not in [200, 3xx]');
  });

  it('JSON field conditions', async () => {
    const ok = await runOne({
      type: 'http',
      target: `${srv.url}/health`,
      conditions: ['[BODY].status == up', '$.data.items[0].id == 7', '[BODY].data.items[0].name == "a"', '$.data.count > 2', '$.data.count < 4', '$.data.ok == true', '$.data exists', '$.missing !exists', '$.data.count != 5'],
    });
    assert.equal(ok.success, true, ok.reason);
    const down = await runOne({ type: 'http', target: `${srv.url}/down`, conditions: ['[BODY].status == up'] });
    assert.equal(down.reason, '$.status is "down", expected "up"');
    const missing = await runOne({ type: 'http', target: `${srv.url}/health`, conditions: ['$.data.items[3].id exists'] });
    assert.equal(missing.reason, '$.data.items[3].id does not exist');
    const cmp = await runOne({ type: 'http', target: `${srv.url}/health`, conditions: ['$.data.count > 5'] });
    assert.equal(cmp.reason, '$.data.count is 3, expected > 5');
  });

  it('invalid JSON is a failed result, not a crash', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/notjson`, conditions: ['$.status == up'] });
    assert.equal(r.success, false);
    assert.match(r.reason, /^\$\.status: body is not valid JSON/);
  });

  it('body contains / matches / does not match, with probe_failed_due_to_regex', async () => {
    const ok = await runOne({ type: 'http', target: `${srv.url}/health`, conditions: ['[BODY] contains "up"', '[BODY] =~ "\\"status\\":\\\\s*\\"up\\""', '[BODY] !~ "error|down"'] });
    assert.equal(ok.success, true, ok.reason);
    assert.equal(ok.failedDueToRegex, false);
    const r = await runOne({ type: 'http', target: `${srv.url}/down`, conditions: ['[BODY] !~ "down"'] });
    assert.equal(r.success, false);
    assert.equal(r.reason, 'body matches /down/');
    assert.equal(r.failedDueToRegex, true);
    const c = await runOne({ type: 'http', target: `${srv.url}/down`, conditions: ['[BODY] contains "up"'] });
    assert.equal(c.reason, 'body does not contain "up"');
  });

  it('header conditions', async () => {
    const ok = await runOne({ type: 'http', target: `${srv.url}/health`, conditions: ['[HEADER:Content-Type] =~ json', '[HEADER:X-Version] == 1.2.3', '[HEADER:x-version] exists', '[HEADER:X-Nope] !exists'] });
    assert.equal(ok.success, true, ok.reason);
    const r = await runOne({ type: 'http', target: `${srv.url}/health`, conditions: ['[HEADER:Content-Type] =~ "^text/html"'] });
    assert.equal(r.reason, 'header content-type does not match /^text/html/');
  });

  it('latency budget and body size', async () => {
    assert.equal((await runOne({ type: 'http', target: `${srv.url}/health`, conditions: ['[RESPONSE_TIME] < 2s', '[BODY_SIZE] < 1KB'] })).success, true);
    const r = await runOne({ type: 'http', target: `${srv.url}/health`, conditions: ['[BODY_SIZE] < 10'] });
    assert.match(r.reason, /^body size \d+B, expected < 10B$/);
    const t = await runOne({ type: 'http', target: `${srv.url}/trickle`, timeout: '3s', conditions: ['[RESPONSE_TIME] < 1ms'] });
    assert.equal(t.success, false);
  });

  it('method, headers, body, basic and bearer auth', async () => {
    seen.length = 0;
    const r = await runOne({ type: 'http', target: `${srv.url}/echo`, method: 'post', body: '{"a":1}', headers: { 'X-Test': 'yes' }, basic_auth: { username: 'u', password: 'p' }, conditions: ['[BODY] == "POST {\\"a\\":1}"'] });
    assert.equal(r.success, true, r.reason);
    assert.equal(seen[0].auth, 'Basic ' + Buffer.from('u:p').toString('base64'));
    assert.equal(seen[0].headers['x-test'], 'yes');
    seen.length = 0;
    await runOne({ type: 'http', target: `${srv.url}/echo`, bearer_token: 'tok' });
    assert.equal(seen[0].auth, 'Bearer tok');
  });

  it('follows redirects, counts them, or not', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/redirect`, conditions: ['[STATUS] == 200', '[REDIRECTS] == 1', '$.status == up'] });
    assert.equal(r.success, true, r.reason);
    assert.equal(sample(r, 'probe_http_redirects'), 1);
    const no = await runOne({ type: 'http', target: `${srv.url}/redirect`, follow_redirects: false, conditions: ['[STATUS] == 302'] });
    assert.equal(no.success, true, no.reason);
    const loop = await runOne({ type: 'http', target: `${srv.url}/loop`, max_redirects: 5 });
    assert.equal(loop.reason, 'stopped after 5 redirects (redirect loop)');
  });

  it('a configured Host header is sent (virtual hosts)', async () => {
    seen.length = 0;
    const r = await runOne({ type: 'http', target: `${srv.url}/echo`, headers: { Host: 'api.example.com' } });
    assert.equal(r.success, true, r.reason);
    assert.equal(seen[0].headers.host, 'api.example.com');
  });

  it('a compressed body asked for with Accept-Encoding is decoded for conditions', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/gzip`, headers: { 'Accept-Encoding': 'gzip' }, conditions: ['$.status == up'] });
    assert.equal(r.success, true, r.reason);
  });

  it('body_size_limit 0 means no limit', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/health`, body_size_limit: 0 });
    assert.equal(r.success, true, r.reason);
  });

  it('IP protocol preference and fallback', async () => {
    // localhost resolves to 127.0.0.1 only here: ip6 falls back to ip4 unless fallback is off.
    const port = srv.port;
    const fb = await runOne({ type: 'http', target: `http://localhost:${port}/health`, preferred_ip_protocol: 'ip6' });
    assert.equal(fb.success, true, fb.reason);
    assert.equal(sample(fb, 'probe_ip_protocol'), 4);
    const strict = await runOne({ type: 'http', target: `http://localhost:${port}/health`, preferred_ip_protocol: 'ip6', ip_protocol_fallback: false });
    if (!strict.success) assert.equal(strict.reason, 'DNS lookup of localhost returned no ip6 address (ip_protocol_fallback is off)');
    const v6 = await new Promise<import('node:http').Server | null>((resolve) => {
      const s = createServer((_q, res) => res.end('v6'));
      s.once('error', () => resolve(null));
      s.listen(0, '::1', () => resolve(s));
    });
    if (v6) {
      const r = await runOne({ type: 'http', target: `http://[::1]:${(v6.address() as import('node:net').AddressInfo).port}/`, conditions: ['[BODY] == v6'] });
      assert.equal(r.success, true, r.reason);
      assert.equal(sample(r, 'probe_ip_protocol'), 6);
      await new Promise((res) => v6.close(res));
    }
  });

  it('connection refused', async () => {
    const port = await closedPort();
    const r = await runOne({ type: 'http', target: `http://127.0.0.1:${port}/` });
    assert.equal(r.reason, `connection refused by 127.0.0.1:${port}`);
  });

  it('DNS failure', async () => {
    const r = await runOne({ type: 'http', target: 'http://no-such-host.invalid/' });
    assert.equal(r.success, false);
    assert.match(r.reason, /^DNS lookup of no-such-host\.invalid failed/);
  });

  it('a target that accepts and never answers is cut off at the timeout', async () => {
    const t0 = Date.now();
    const r = await runOne({ type: 'http', target: `${srv.url}/hang`, timeout: '1s' });
    assert.equal(r.reason, 'timeout after 1s during waiting for the response');
    assert.ok(Date.now() - t0 < 5000);
  });

  it('a trickling body is cut off at the timeout', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/trickle`, timeout: '1s' });
    assert.equal(r.reason, 'timeout after 1s during reading the body');
  });

  it('an endless body stops at body_size_limit', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/huge`, body_size_limit: '1MB', timeout: '5s' });
    assert.equal(r.reason, 'body exceeds body_size_limit 1MiB');
    const d = await runOne({ type: 'http', target: `${srv.url}/huge-declared` });
    assert.equal(d.reason, 'body of 5GiB exceeds body_size_limit 10MiB');
  });

  it('reset mid-body', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/reset` });
    assert.equal(r.success, false);
    assert.match(r.reason, /^connection (closed by 127\.0\.0\.1:\d+ before the body was complete|reset by 127\.0\.0\.1:\d+ during reading the body)$/);
  });

  it('an assertion that cannot be evaluated fails the run with a reason', async () => {
    const r = await runOne({ type: 'http', target: `${srv.url}/health`, conditions: ['$.status > 3'] });
    assert.equal(r.reason, '$.status is "up", not a number (expected > 3)');
  });
});

describe('https probe', { skip: needBinary('openssl') }, () => {
  let certs: CertSet;
  const servers: Awaited<ReturnType<typeof startHttps>>[] = [];
  const handler = (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(200);
    res.end('ok');
  };
  before(() => {
    certs = makeCerts();
  });
  after(async () => {
    for (const s of servers) await s.close();
    certs.cleanup();
  });
  const serve = async (c: { cert: string; key: string }) => {
    const s = await startHttps(c, handler);
    servers.push(s);
    return s;
  };

  it('trusted chain: success, TLS phase and expiry metrics', async () => {
    const s = await serve(certs.good);
    const r = await runOne({ type: 'http', target: `https://localhost:${s.port}/`, tls_config: { ca_file: certs.caFile }, conditions: ['[STATUS] == 200', '[CERTIFICATE_EXPIRATION] > 14d'] });
    assert.equal(r.success, true, r.reason);
    assert.equal(sample(r, 'probe_http_ssl'), 1);
    const exp = sample(r, 'probe_ssl_earliest_cert_expiry')!;
    assert.ok(exp > Date.now() / 1000 + 20 * 86400 && exp < Date.now() / 1000 + 31 * 86400, String(exp));
    assert.ok(sample(r, 'probe_http_duration_seconds', 'tls')! > 0);
  });

  it('a redirect from http to https is followed on a new TLS connection', async () => {
    const s = await serve(certs.good);
    const plain = await startHttp((_req, res) => {
      res.writeHead(301, { location: `https://localhost:${s.port}/` });
      res.end();
    });
    try {
      const r = await runOne({ type: 'http', target: `${plain.url}/`, tls_config: { ca_file: certs.caFile }, conditions: ['[STATUS] == 200', '[REDIRECTS] == 1', '[BODY] == ok', '[CERTIFICATE_EXPIRATION] > 14d'] });
      assert.equal(r.success, true, r.reason);
      assert.equal(sample(r, 'probe_http_ssl'), 1);
    } finally {
      await plain.close();
    }
  });

  it('certificate expiring in 6 days with a 14 day minimum', async () => {
    const s = await serve(certs.short);
    const r = await runOne({ type: 'http', target: `https://127.0.0.1:${s.port}/`, tls_config: { ca: certs.ca }, conditions: ['[CERTIFICATE_EXPIRATION] > 14d'] });
    assert.match(r.reason, /^certificate expires in [56] days, minimum 14$/);
  });

  it('expired certificate', async () => {
    const s = await serve(certs.expired);
    const r = await runOne({ type: 'http', target: `https://localhost:${s.port}/`, tls_config: { ca_file: certs.caFile } });
    assert.equal(r.reason, 'TLS: certificate has expired');
  });

  it('self-signed certificate', async () => {
    const s = await serve(certs.selfSigned);
    const r = await runOne({ type: 'http', target: `https://localhost:${s.port}/` });
    assert.equal(r.reason, 'TLS: self-signed certificate');
    const skip = await runOne({ type: 'http', target: `https://localhost:${s.port}/`, tls_config: { insecure_skip_verify: true } });
    assert.equal(skip.success, true, skip.reason);
  });

  it('wrong host name', async () => {
    const s = await serve(certs.wrongHost);
    const r = await runOne({ type: 'http', target: `https://localhost:${s.port}/`, tls_config: { ca_file: certs.caFile } });
    assert.match(r.reason, /^TLS: certificate does not match the host name/);
    const sni = await runOne({ type: 'http', target: `https://localhost:${s.port}/`, tls_config: { ca_file: certs.caFile, server_name: 'other.example' } });
    assert.equal(sni.success, true, sni.reason);
  });

  it('client certificates (mutual TLS)', async () => {
    const { createServer } = await import('node:https');
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const server = createServer({ cert: certs.good.cert, key: certs.good.key, ca: certs.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      res.writeHead(200);
      res.end('hello client');
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('node:net').AddressInfo).port;
    try {
      writeFileSync(join(certs.dir, 'client.pem'), certs.short.cert);
      writeFileSync(join(certs.dir, 'client.key'), certs.short.key);
      const ok = await runOne({ type: 'http', target: `https://localhost:${port}/`, tls_config: { ca_file: 'ca.pem', cert_file: 'client.pem', key_file: 'client.key' }, conditions: ['[BODY] == "hello client"'] }, certs.dir);
      assert.equal(ok.success, true, ok.reason);
      const no = await runOne({ type: 'http', target: `https://localhost:${port}/`, tls_config: { ca_file: 'ca.pem' } }, certs.dir);
      assert.equal(no.success, false);
      assert.notEqual(no.reason, '');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a missing ca_file is a configuration error naming the probe', async () => {
    await assert.rejects(runOne({ type: 'http', target: 'https://localhost/', tls_config: { ca_file: '/nonexistent/ca.pem' } }), /probe "t": tls_config\.ca_file: cannot read "\/nonexistent\/ca\.pem": ENOENT/);
  });
});
