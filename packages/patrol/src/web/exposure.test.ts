import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { createLogger } from '../logger.js';
import { Patrol, StartupError } from '../server.js';
import { isLoopbackHost } from './exposure.js';
import { inlineScriptHashes } from './ui.js';

const quiet = () => createLogger('error', new PassThrough());

function config(text: string): { configFile: string; dataDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-exposure-'));
  const configFile = join(dir, 'patrol.yml');
  writeFileSync(configFile, text);
  return { configFile, dataDir: join(dir, 'data') };
}

describe('safe defaults: listening beyond loopback', () => {
  it('tells loopback hosts from the others', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '', '10.0.0.1', '128.0.0.1', 'example.com', 'localhost.example.com']) assert.equal(isLoopbackHost(h), false, h);
  });

  it('refuses to start on every interface without authentication, and says why', async () => {
    for (const listen of ['0.0.0.0:0', ':0', '[::]:0']) {
      const patrol = new Patrol({ ...config('{}\n'), listen, logger: quiet(), uiDir: null });
      await assert.rejects(patrol.start(), (e: unknown) => {
        assert.ok(e instanceof StartupError);
        assert.match(e.errors[0], /refusing to listen on every network interface without authentication/);
        assert.match(e.errors[0], /--insecure/);
        return true;
      }, listen);
      await patrol.stop();
    }
  });

  it('starts beyond loopback with --insecure, or with basic auth configured', async () => {
    const hash = bcrypt.hashSync('pw', 4);
    for (const [text, insecure] of [['{}\n', true], [`server:\n  basic_auth_users:\n    a: '${hash}'\n`, false]] as const) {
      const patrol = new Patrol({ ...config(text), listen: '0.0.0.0:0', insecure, logger: quiet(), uiDir: null });
      try {
        await patrol.start();
        const port = patrol.listen.split(':').pop();
        const r = await fetch(`http://127.0.0.1:${port}/-/healthy`);
        await r.arrayBuffer();
        // Listening: open with --insecure, asking for credentials with basic auth.
        assert.equal(r.status, insecure ? 200 : 401);
      } finally {
        await patrol.stop();
      }
    }
  });
});

describe('security headers', () => {
  it('every response forbids framing and sniffing; the dashboard allows only its own inline script by hash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-headers-'));
    const uiDir = join(dir, 'ui');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(uiDir);
    const inline = "document.documentElement.dataset.theme = 'dark';";
    writeFileSync(join(uiDir, 'index.html'), `<!doctype html><script>${inline}</script><script type="module" src="/assets/x.js"></script>`);
    const patrol = new Patrol({ ...config('{}\n'), listen: '127.0.0.1:0', logger: quiet(), uiDir });
    await patrol.start();
    try {
      const base = `http://${patrol.listen}`;
      for (const path of ['/-/healthy', '/api/v1/query?query=1', '/metrics', '/no/such', '/', '/alerts']) {
        const r = await fetch(base + path);
        await r.arrayBuffer();
        assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
        assert.equal(r.headers.get('x-frame-options'), 'DENY', path);
        assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
        assert.equal(r.headers.get('access-control-allow-origin'), null, path);
      }
      const page = await fetch(base + '/');
      await page.arrayBuffer();
      const csp = page.headers.get('content-security-policy') ?? '';
      const [h] = inlineScriptHashes(`<script>${inline}</script>`);
      assert.ok(csp.includes(`'sha256-${h}'`), csp);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      const api = await fetch(base + '/api/v1/query?query=1', { headers: { origin: 'https://evil.example' } });
      await api.arrayBuffer();
      assert.equal(api.headers.get('access-control-allow-origin'), null, 'CORS is off by default');
      assert.match(api.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    } finally {
      await patrol.stop();
    }
  });
});
