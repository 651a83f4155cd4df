// The dashboard's login page in Debian's Chromium (playwright-core, headless): with server.auth
// users and server.auth.oidc it shows the password form and the OIDC button; clicking the button
// goes through node-oidc-provider's login and consent forms and back to the dashboard with a
// session of the mapped role. Skips visibly without chromium; fails under CI=true.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { findBinary, needBinary } from '../testing/shared.js';
import { hashPassword } from './auth_store.js';
import { OP_CLIENT_SECRET, startOidcProvider } from './oidc.testutil.js';
import { defaultUiDir } from './ui.js';

const skip = needBinary('chromium');
/** Every wait in the browser is bounded. */
const T = 20_000;

describe('login page in Chromium', { skip, timeout: 180_000 }, () => {
  let patrol: Patrol;
  let op: Awaited<ReturnType<typeof startOidcProvider>>;
  let base: string;
  let browser: Browser;

  before(async () => {
    assert.ok(defaultUiDir(), 'the dashboard is not built: run `npm run build` (npm ci builds it)');
    const dir = mkdtempSync(join(tmpdir(), 'patrol-login-e2e-'));
    const configFile = join(dir, 'patrol.yml');
    const local = `server:\n  auth:\n    users:\n      admin1: {password_hash: '${await hashPassword('pw')}', role: admin}\n`;
    writeFileSync(configFile, local);
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()) });
    await patrol.start();
    base = `http://${patrol.listen}`;
    // The provider needs Patrol's address for its redirect URI, Patrol the provider's: configure OIDC by a reload.
    op = await startOidcProvider(`${base}/api/patrol/v1/auth/oidc/callback`, { alice: { groups: ['sre'] } });
    writeFileSync(
      configFile,
      `${local}    oidc:\n      issuer: ${op.base}\n      client_id: patrol\n      client_secret: ${OP_CLIENT_SECRET}\n      redirect_url: ${base}/api/patrol/v1/auth/oidc/callback\n      role_mapping: {sre: operator}\n      button_label: Sign in with Example SSO\n`,
    );
    const r = await patrol.reload();
    assert.ok(r.ok, JSON.stringify(r));
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: findBinary('chromium'), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
  });
  after(async () => {
    await browser?.close();
    await patrol?.stop();
    await op?.close();
  });

  it('shows the OIDC button and the password form; the button logs in through the provider', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.setDefaultTimeout(T);
    await page.goto(`${base}/login`);
    const button = page.getByTestId('oidc-login');
    await button.waitFor();
    assert.equal((await button.textContent())?.trim(), 'Sign in with Example SSO');
    await page.locator('input[type=password]').waitFor();
    await button.click();
    // node-oidc-provider's development forms: any password, then consent.
    await page.locator('input[name=login]').fill('alice');
    await page.locator('input[name=password]').fill('any');
    await page.locator('button[type=submit]').click();
    await page.locator('input[name=prompt][value=consent]').waitFor({ state: 'attached' });
    await page.locator('button[type=submit]').click();
    await page.waitForURL(`${base}/`);
    const who = await page.evaluate(async () => (await (await fetch('/api/patrol/v1/auth/whoami')).json()) as { data: { name: string; role: string } });
    assert.deepEqual({ name: who.data.name, role: who.data.role }, { name: 'oidc:alice', role: 'operator' });
    await ctx.close();
  });

  it('the password form logs in too', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.setDefaultTimeout(T);
    await page.goto(`${base}/login`);
    await page.locator('input[autocomplete=username]').fill('admin1');
    await page.locator('input[type=password]').fill('pw');
    await page.locator('form button[type=submit]').click();
    await page.waitForURL(`${base}/`);
    const who = await page.evaluate(async () => (await (await fetch('/api/patrol/v1/auth/whoami')).json()) as { data: { name: string; role: string } });
    assert.equal(who.data.role, 'admin');
    await ctx.close();
  });

  it('a page opened without a session goes to the login and back; the dashboard writes with the CSRF token', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.setDefaultTimeout(T);
    await page.goto(`${base}/silences/new?matchers=${encodeURIComponent('alertname="LoginE2E"')}`);
    await page.waitForURL(/\/login\?next=/);
    await page.locator('input[autocomplete=username]').fill('admin1');
    await page.locator('input[type=password]').fill('pw');
    await page.locator('form button[type=submit]').click();
    await page.waitForURL(/\/silences\/new\?matchers=/);
    const inputs = page.locator('form input');
    await inputs.nth(0).fill('e2e');
    await inputs.nth(1).fill('created through the dashboard with a session');
    await page.locator('button[type=submit]:not([disabled])').click();
    await page.waitForURL(/\/silences$/);
    const silences = await page.evaluate(async () => (await (await fetch('/api/v2/silences')).json()) as { comment: string; createdBy: string }[]);
    assert.deepEqual(
      silences.filter((x) => x.comment === 'created through the dashboard with a session').map((x) => x.createdBy),
      ['e2e'],
    );
    await ctx.close();
  });
});
