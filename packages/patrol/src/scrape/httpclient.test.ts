import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../config/load.js';
import { ScrapeClient } from './client.js';
import type { TargetGroup } from './discovery.js';
import { HttpDiscovery } from './discovery_http.js';
import { config, serve, type TestServer } from './testutil.js';

const log = pino({ level: 'silent' });

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => resolve(b));
  });
}

interface TokenRequest {
  auth: string | undefined;
  form: Record<string, string>;
  contentType: string | undefined;
}

describe('oauth2 client credentials in the scrape client', () => {
  let tokens: TestServer;
  let target: TestServer;
  const tokenRequests: TokenRequest[] = [];
  const seenAuth: (string | undefined)[] = [];
  let answer: { status: number; body: Record<string, unknown> | string; contentType?: string } = { status: 200, body: {} };
  let bodyOnly = false;
  let issued = 0;
  const dir = mkdtempSync(join(tmpdir(), 'patrol-oauth2-'));

  before(async () => {
    tokens = await serve((req, res) => {
      void readBody(req).then((b) => {
        const form = Object.fromEntries(new URLSearchParams(b));
        tokenRequests.push({ auth: req.headers.authorization, form, contentType: req.headers['content-type'] });
        if (bodyOnly && req.headers.authorization) {
          res.statusCode = 401;
          res.setHeader('content-type', 'application/json');
          res.end('{"error":"invalid_client"}');
          return;
        }
        res.statusCode = answer.status;
        res.setHeader('content-type', answer.contentType ?? 'application/json');
        if (typeof answer.body === 'string') res.end(answer.body);
        else res.end(JSON.stringify({ ...answer.body, access_token: `tok${++issued}` }));
      });
    });
    target = await serve((req, res) => {
      seenAuth.push(req.headers.authorization);
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('up_metric 1\n');
    });
  });
  after(async () => {
    await tokens.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (oauth2: string): ScrapeClient => new ScrapeClient(config(`scrape_configs:\n  - job_name: j\n    oauth2: ${oauth2}\n`).scrape_configs[0], dir);
  const reset = (): void => {
    tokenRequests.length = 0;
    seenAuth.length = 0;
  };

  it('fetches a token with the client credentials, scopes and endpoint_params, and reuses it until it expires', async () => {
    reset();
    answer = { status: 200, body: { token_type: 'bearer', expires_in: 3600 } };
    const c = client(`{client_id: "my id", client_secret: "s3cret", token_url: "${tokens.url}/token", scopes: [read, write], endpoint_params: {audience: metrics}}`);
    try {
      for (let i = 0; i < 3; i++) await c.scrape(new URL(`${target.url}/metrics`), 5000);
    } finally {
      await c.close();
    }
    assert.equal(tokenRequests.length, 1, 'one token for three scrapes');
    const t = tokenRequests[0];
    assert.equal(t.auth, 'Basic ' + Buffer.from('my%20id:s3cret').toString('base64'));
    assert.equal(t.contentType, 'application/x-www-form-urlencoded');
    assert.deepEqual(t.form, { grant_type: 'client_credentials', scope: 'read write', audience: 'metrics' });
    const tok = `tok${issued}`;
    assert.deepEqual(seenAuth, [`Bearer ${tok}`, `Bearer ${tok}`, `Bearer ${tok}`]);
  });

  it('fetches a new token when the current one is within 10s of expiring', async () => {
    reset();
    answer = { status: 200, body: { token_type: 'Bearer', expires_in: 5 } };
    const c = client(`{client_id: id, client_secret: s, token_url: "${tokens.url}/token"}`);
    try {
      await c.scrape(new URL(`${target.url}/metrics`), 5000);
      await c.scrape(new URL(`${target.url}/metrics`), 5000);
    } finally {
      await c.close();
    }
    assert.equal(tokenRequests.length, 2);
    assert.notEqual(seenAuth[0], seenAuth[1]);
  });

  it('reads client_secret_file on each use and fetches a new token when it changes', async () => {
    reset();
    answer = { status: 200, body: { expires_in: 3600 } };
    const file = join(dir, 'secret');
    writeFileSync(file, 'first\n');
    const c = client(`{client_id: id, client_secret_file: secret, token_url: "${tokens.url}/token"}`);
    try {
      await c.scrape(new URL(`${target.url}/metrics`), 5000);
      await c.scrape(new URL(`${target.url}/metrics`), 5000);
      writeFileSync(file, 'second\n');
      await c.scrape(new URL(`${target.url}/metrics`), 5000);
    } finally {
      await c.close();
    }
    assert.deepEqual(
      tokenRequests.map((t) => Buffer.from(t.auth!.slice(6), 'base64').toString()),
      ['id:first', 'id:second'],
    );
    assert.equal(seenAuth[0], seenAuth[1]);
    assert.notEqual(seenAuth[1], seenAuth[2]);
  });

  it('sends the credentials in the body to a server that refuses Basic auth, and remembers', async () => {
    reset();
    bodyOnly = true;
    answer = { status: 200, body: { expires_in: 5 } };
    const c = client(`{client_id: id, client_secret: s, token_url: "${tokens.url}/token"}`);
    try {
      await c.scrape(new URL(`${target.url}/metrics`), 5000);
      await c.scrape(new URL(`${target.url}/metrics`), 5000);
    } finally {
      bodyOnly = false;
      await c.close();
    }
    assert.deepEqual(
      tokenRequests.map((t) => [t.auth !== undefined, t.form.client_id, t.form.client_secret]),
      [
        [true, undefined, undefined],
        [false, 'id', 's'],
        [false, 'id', 's'],
      ],
    );
    assert.match(String(seenAuth[1]), /^Bearer tok\d+$/);
  });

  it('accepts a form-encoded token response', async () => {
    reset();
    answer = { status: 200, body: 'access_token=formtok&token_type=bearer&expires_in=3600', contentType: 'application/x-www-form-urlencoded' };
    const c = client(`{client_id: id, client_secret: s, token_url: "${tokens.url}/token"}`);
    try {
      await c.scrape(new URL(`${target.url}/metrics`), 5000);
    } finally {
      await c.close();
    }
    assert.deepEqual(seenAuth, ['Bearer formtok']);
  });

  it('fails the scrape with the token endpoint error, without reaching the target', async () => {
    reset();
    answer = { status: 500, body: 'token service down', contentType: 'text/plain' };
    const c = client(`{client_id: id, client_secret: s, token_url: "${tokens.url}/token"}`);
    try {
      await assert.rejects(c.scrape(new URL(`${target.url}/metrics`), 5000), (e: Error) => {
        assert.equal(e.name, 'ScrapeError');
        assert.match(e.message, new RegExp(`oauth2: cannot fetch token from ${tokens.url}/token: HTTP status 500 Internal Server Error: token service down`));
        return true;
      });
      answer = { status: 200, body: '{"token_type": "bearer"}' };
      await assert.rejects(c.scrape(new URL(`${target.url}/metrics`), 5000), /has no access_token/);
    } finally {
      await c.close();
    }
    assert.deepEqual(seenAuth, []);
  });

  it('rejects an oauth2 block with both secrets, or with basic_auth', () => {
    const errs = (y: string) => {
      const r = parseConfig(`scrape_configs:\n  - job_name: j\n${y}`, 'p.yml');
      return r.ok ? '' : r.errors.join('\n');
    };
    assert.match(errs('    oauth2: {client_id: a, client_secret: b, client_secret_file: c, token_url: "http://t/"}\n'), /oauth2\.client_secret_file: at most one of oauth2 client_secret and client_secret_file may be set/);
    assert.match(errs('    oauth2: {client_id: a, token_url: "http://t/"}\n    basic_auth: {username: u}\n'), /at most one of basic_auth, authorization, oauth2 and bearer_token may be set/);
    assert.match(errs('    oauth2: {client_id: a, token_url: "not a url"}\n'), /oauth2\.token_url: "not a url" is not a URL/);
    const r = parseConfig('alerting:\n  route: {receiver: r}\n  receivers:\n    - name: r\n      webhook_configs: [{url: "http://h/", http_config: {bearer_token: t, basic_auth: {username: u}}}]\n', 'p.yml');
    assert.match(r.ok ? '' : r.errors.join('\n'), /webhook_configs\[0\]\.http_config\.bearer_token: at most one of basic_auth, authorization, oauth2 and bearer_token may be set/);
  });
});

describe('http_headers', () => {
  let target: TestServer;
  let seen: IncomingMessage['headersDistinct'] = {};
  const dir = mkdtempSync(join(tmpdir(), 'patrol-headers-'));
  before(async () => {
    target = await serve((req, res) => {
      seen = req.headersDistinct;
      res.setHeader('content-type', 'application/json');
      res.end('[]');
    });
  });
  after(async () => {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const headersYaml = `    http_headers:
      X-Tenant: {values: [a, b]}
      x-api-key: {secrets: [k3y], files: [key-file]}
`;

  it('adds values, secrets and file contents as header lines to scrapes', async () => {
    writeFileSync(join(dir, 'key-file'), 'from-file\n');
    const c = new ScrapeClient(config(`scrape_configs:\n  - job_name: j\n${headersYaml}`).scrape_configs[0], dir);
    try {
      await c.scrape(new URL(`${target.url}/metrics`), 5000);
    } finally {
      await c.close();
    }
    assert.deepEqual(seen['x-tenant'], ['a', 'b']);
    assert.deepEqual(seen['x-api-key'], ['k3y', 'from-file']);
    const cfg = config(`scrape_configs:\n  - job_name: j\n${headersYaml}`).scrape_configs[0];
    assert.ok(!JSON.stringify(cfg).includes('k3y'), 'header secrets are masked');
  });

  it('adds them to http_sd requests too', async () => {
    writeFileSync(join(dir, 'key-file'), 'sd-file\n');
    const yaml = `scrape_configs:
  - job_name: j
    http_sd_configs:
      - url: ${target.url}/sd
        http_headers: {x-api-key: {secrets: [k3y], files: [key-file]}}
`;
    const cfg = config(yaml).scrape_configs[0].http_sd_configs[0];
    let got: TargetGroup[] | null = null;
    const d = new HttpDiscovery(cfg, dir, (g) => (got = g), log);
    await d.start();
    d.stop();
    assert.equal(d.lastError, '');
    assert.deepEqual(got, []);
    assert.deepEqual(seen['x-api-key'], ['k3y', 'sd-file']);
  });

  it('a missing header file fails the scrape naming it', async () => {
    const c = new ScrapeClient(config(`scrape_configs:\n  - job_name: j\n    http_headers: {X-Key: {files: [nope]}}\n`).scrape_configs[0], dir);
    try {
      await assert.rejects(c.scrape(new URL(`${target.url}/metrics`), 5000), /unable to read header file for X-Key: .*nope/);
    } finally {
      await c.close();
    }
  });

  it('refuses headers Prometheus reserves, in any case', () => {
    for (const [name, canon] of [
      ['Authorization', 'Authorization'],
      ['user-agent', 'User-Agent'],
      ['x-prometheus-scrape-timeout-seconds', 'X-Prometheus-Scrape-Timeout-Seconds'],
    ]) {
      const r = parseConfig(`scrape_configs:\n  - job_name: j\n    http_headers: {${name}: {values: [x]}}\n`, 'p.yml');
      assert.match(r.ok ? '' : r.errors.join('\n'), new RegExp(`http_headers\\.${name}: setting header "${canon}" is not allowed`));
    }
    const bad = parseConfig('scrape_configs:\n  - job_name: j\n    http_headers: {X-A: {value: [x]}}\n', 'p.yml');
    assert.match(bad.ok ? '' : bad.errors.join('\n'), /http_headers\.X-A\.value: unknown key "value"/);
  });
});
