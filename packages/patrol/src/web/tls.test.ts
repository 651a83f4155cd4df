import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { createLogger } from '../logger.js';
import { makeCerts, type CertSet } from '../probe/testdata/servers.js';
import { Patrol, StartupError } from '../server.js';
import { needBinary } from '../testing/shared.js';

interface Answer {
  status: number;
  body: string;
}

interface Opts {
  method?: string;
  auth?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** One HTTPS request; rejects when the connection fails (handshake refused, reset). */
function get(addr: string, path: string, o: Opts): Promise<Answer> {
  const [host, port] = addr.split(':');
  return new Promise((ok, fail) => {
    const req = httpsRequest(
      { host, port: Number(port), path, method: o.method ?? 'GET', ca: o.ca, cert: o.cert, key: o.key, servername: 'localhost', headers: o.auth ? { authorization: o.auth } : {}, timeout: 10_000 },
      (res) => {
        // The live event stream never ends: its status is the answer.
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          req.destroy();
          return ok({ status: res.statusCode ?? 0, body: '' });
        }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

function logSink() {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  return { stream, lines };
}

/** A route pattern made concrete: parameters get a plausible value. */
function concrete(url: string): string {
  return url.replace(/:[A-Za-z_]+/g, 'job').replace(/\*/g, 'x');
}

describe('server.tls', { skip: needBinary('openssl') }, () => {
  let certs: CertSet;
  const dirs: string[] = [];
  const started: Patrol[] = [];
  const hash = bcrypt.hashSync('s3cret pass', 4);
  const auth = 'Basic ' + Buffer.from('alice:s3cret pass').toString('base64');

  before(() => {
    certs = makeCerts();
  });
  after(async () => {
    for (const p of started) await p.stop();
    certs?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function start(server: string, extra = ''): Promise<{ patrol: Patrol; file: string; logs: string[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-tls-'));
    dirs.push(dir);
    const file = join(dir, 'patrol.yml');
    writeFileSync(file, `server:\n${server}\n${extra}`);
    const sink = logSink();
    const patrol = new Patrol({ configFile: file, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('info', sink.stream) });
    started.push(patrol);
    await patrol.start();
    return { patrol, file, logs: sink.lines };
  }

  const tlsBlock = (more = '') => `  tls:\n    cert_file: ${join(certs.dir, 'good.pem')}\n    key_file: ${join(certs.dir, 'good.key')}\n${more}`;

  describe('with basic auth, on every endpoint', () => {
    let patrol: Patrol;
    let file: string;
    before(async () => {
      ({ patrol, file } = await start(`${tlsBlock()}  enable_admin_api: true\n  basic_auth_users:\n    alice: '${hash}'`));
    });

    it('answers every route over HTTPS only with credentials', async () => {
      const routes = patrol.routeList.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
      assert.ok(routes.length >= 20, `expected the whole API, got ${routes.length} routes`);
      for (const r of routes) {
        const path = concrete(r.url);
        const without = await get(patrol.listen, path, { method: r.method, ca: certs.ca });
        assert.equal(without.status, 401, `${r.method} ${path} without credentials`);
        // The agents' routes take a location token instead (they answer 401 without one).
        if (path.startsWith('/api/patrol/v1/agent/')) continue;
        const withAuth = await get(patrol.listen, path, { method: r.method, ca: certs.ca, auth });
        assert.notEqual(withAuth.status, 401, `${r.method} ${path} with credentials`);
      }
    });

    it('refuses plain HTTP on the TLS port', async () => {
      const [host, port] = patrol.listen.split(':');
      const outcome = await new Promise<string>((ok) => {
        const req = httpRequest({ host, port: Number(port), path: '/-/healthy', headers: { authorization: auth }, timeout: 10_000 }, (res) => {
          res.resume();
          ok(`answered ${res.statusCode}`);
        });
        req.on('error', (e) => ok(`failed: ${e.message}`));
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.end();
      });
      assert.match(outcome, /^failed: /);
    });

    it('refuses a client that does not trust the certificate', async () => {
      await assert.rejects(get(patrol.listen, '/-/healthy', { auth }), /self[- ]signed|unable to (get|verify)/i);
    });

    it('scrapes itself over HTTPS with basic auth', async () => {
      const port = patrol.listen.split(':')[1];
      writeFileSync(
        file,
        `global: {scrape_interval: 1s, scrape_timeout: 1s}\nserver:\n${tlsBlock()}  basic_auth_users:\n    alice: '${hash}'\n` +
          `scrape_configs:\n  - job_name: self\n    scheme: https\n    tls_config: {ca_file: ${certs.caFile}, server_name: localhost}\n    basic_auth: {username: alice, password: 's3cret pass'}\n    static_configs: [{targets: ['127.0.0.1:${port}']}]\n`,
      );
      const r = await patrol.reload();
      assert.deepEqual(r.errors, []);
      let health = '';
      for (let i = 0; i < 100 && health !== 'up'; i++) {
        await new Promise((res) => setTimeout(res, 100));
        const t = JSON.parse((await get(patrol.listen, '/api/v1/targets', { ca: certs.ca, auth })).body) as { data: { activeTargets: { health: string; lastError: string }[] } };
        health = t.data.activeTargets[0]?.health ?? '';
      }
      assert.equal(health, 'up');
      const q = JSON.parse((await get(patrol.listen, '/api/v1/query?query=up%7Bjob%3D%22self%22%7D', { ca: certs.ca, auth })).body) as { data: { result: { value: [number, string] }[] } };
      assert.equal(q.data.result[0]?.value[1], '1');
    });

    it('rejects a reload whose key file is missing, naming it, and keeps serving', async () => {
      writeFileSync(file, `server:\n  tls:\n    cert_file: ${join(certs.dir, 'good.pem')}\n    key_file: ${join(certs.dir, 'nope.key')}\n  basic_auth_users:\n    alice: '${hash}'\n`);
      const r = await patrol.reload();
      assert.equal(r.ok, false);
      assert.match(r.errors.join('\n'), /server\.tls\.key_file ".*nope\.key": no such file/);
      assert.equal((await get(patrol.listen, '/-/healthy', { ca: certs.ca, auth })).status, 200);
    });
  });

  it('names the bad file at start', async () => {
    await assert.rejects(start(`  tls:\n    cert_file: ${join(certs.dir, 'missing.pem')}\n    key_file: ${join(certs.dir, 'good.key')}`), (e: unknown) => {
      assert.ok(e instanceof StartupError);
      assert.match(e.message, /server\.tls\.cert_file ".*missing\.pem": no such file/);
      return true;
    });
    await assert.rejects(start(`  tls:\n    cert_file: ${join(certs.dir, 'good.pem')}\n    key_file: ${join(certs.dir, 'self.key')}`), /key_file ".*self\.key" does not belong to the certificate in cert_file ".*good\.pem"/);
  });

  it('needs a client CA for the verifying client_auth_types', async () => {
    await assert.rejects(start(tlsBlock('    client_auth_type: RequireAndVerifyClientCert')), /needs client_ca_file/);
  });

  const client = () => ({ cert: certs.good.cert, key: certs.good.key });
  const stranger = () => ({ cert: certs.selfSigned.cert, key: certs.selfSigned.key });
  const cases: [string, { none: boolean; trusted: boolean; untrusted: boolean }][] = [
    ['NoClientCert', { none: true, trusted: true, untrusted: true }],
    ['RequestClientCert', { none: true, trusted: true, untrusted: true }],
    ['RequireAnyClientCert', { none: false, trusted: true, untrusted: true }],
    ['VerifyClientCertIfGiven', { none: true, trusted: true, untrusted: false }],
    ['RequireAndVerifyClientCert', { none: false, trusted: true, untrusted: false }],
  ];
  for (const [type, want] of cases) {
    it(`client_auth_type ${type}`, async () => {
      const { patrol } = await start(tlsBlock(`    client_auth_type: ${type}\n    client_ca_file: ${certs.caFile}\n`));
      const outcome = async (o: Partial<Opts>) => {
        try {
          return (await get(patrol.listen, '/-/healthy', { ca: certs.ca, ...o })).status === 200;
        } catch {
          return false;
        }
      };
      assert.deepEqual({ none: await outcome({}), trusted: await outcome(client()), untrusted: await outcome(stranger()) }, want);
    });
  }

  it('min_version TLS13 refuses a TLS 1.2 client', async () => {
    const { patrol } = await start(tlsBlock('    min_version: TLS13\n'));
    const [host, port] = patrol.listen.split(':');
    const tls12 = await new Promise<string>((ok) => {
      const req = httpsRequest({ host, port: Number(port), path: '/-/healthy', ca: certs.ca, servername: 'localhost', maxVersion: 'TLSv1.2' }, (res) => {
        res.resume();
        ok(`answered ${res.statusCode}`);
      });
      req.on('error', (e) => ok(`failed: ${e.message}`));
      req.end();
    });
    assert.match(tls12, /^failed: .*(version|protocol)/i);
    assert.equal((await get(patrol.listen, '/-/healthy', { ca: certs.ca })).status, 200);
  });

  it('refuses an unknown cipher suite by name', async () => {
    await assert.rejects(start(tlsBlock('    cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_NOPE]\n')), /cipher_suites: unknown "TLS_NOPE"/);
  });
});
