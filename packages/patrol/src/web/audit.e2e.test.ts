// The dashboard's audit page in Debian's Chromium (playwright-core, headless), in English and
// Chinese: an admin sees the page in the navigation, the writes made through the configuration
// API with who made them, filters them by actor and by action, and opens a change into its fields
// before and after; a viewer has no link to the page and is told it is for admins. A real Patrol
// with server.auth on a random port. Skips visibly without chromium; fails under CI=true.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { jsErrors, openPage } from '../testing/browser.js';
import { findBinary, needBinary } from '../testing/shared.js';
import { hashPassword } from './auth_store.js';
import { defaultUiDir } from './ui.js';

const skip = needBinary('chromium');
/** Every wait in the browser is bounded. */
const T = 20_000;

/** Waits (bounded) until the locator matches `n` elements. */
async function rowsAre(rows: Locator, n: number): Promise<void> {
  const end = Date.now() + T;
  while ((await rows.count()) !== n) {
    if (Date.now() > end) assert.fail(`${await rows.count()} rows, not ${n}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TEXT = {
  en: { audit: 'Audit', changed: 'Changed', created: 'Created', adminOnly: 'for admins only', details: 'Details', apply: 'Apply', newest: '← Newest entries' },
  'zh-CN': { audit: '审计', changed: '已修改', created: '已创建', adminOnly: '仅限管理员', details: '详情', apply: '应用', newest: '← 最新记录' },
} as const;

describe('audit page in Chromium', { skip, timeout: 240_000 }, () => {
  let dir: string;
  let patrol: Patrol;
  let base: string;
  let browser: Browser;

  /** Logs in through the API; answers the headers of a session's write. */
  async function session(user: string): Promise<Record<string, string>> {
    const r = await fetch(`${base}/api/patrol/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user, password: 'pw' }) });
    assert.equal(r.status, 200);
    const csrf = ((await r.json()) as { data: { csrf_token: string } }).data.csrf_token;
    return { cookie: r.headers.get('set-cookie')!.split(';')[0], 'x-csrf-token': csrf, 'content-type': 'application/json' };
  }

  async function loginPage(page: Page, user: string): Promise<void> {
    await page.goto(`${base}/login`);
    await page.locator('input[autocomplete=username]').fill(user);
    await page.locator('input[type=password]').fill('pw');
    await page.locator('form button[type=submit]').click();
    await page.waitForURL(`${base}/`);
  }

  before(async () => {
    assert.ok(defaultUiDir(), 'the dashboard is not built: run `npm run build` (npm ci builds it)');
    dir = mkdtempSync(join(tmpdir(), 'patrol-audit-e2e-'));
    const configFile = join(dir, 'patrol.yml');
    const hash = await hashPassword('pw');
    writeFileSync(
      configFile,
      `config_files: ["patrol.d/*.yml"]\nserver:\n  auth:\n    users:\n      admin1: {password_hash: '${hash}', role: admin}\n      editor1: {password_hash: '${hash}', role: editor}\n      viewer1: {password_hash: '${hash}', role: viewer}\nalerting:\n  route: {receiver: main}\n  receivers:\n    - name: main\n`,
    );
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()) });
    await patrol.start();
    base = `http://${patrol.listen}`;
    const h = await session('editor1');
    // More silences than a page holds (100), then an editor creates a probe and changes its
    // interval: two audit entries with before and after, on the first page.
    const now = Date.now();
    for (let i = 0; i < 110; i++) {
      const s = await fetch(`${base}/api/v2/silences`, { method: 'POST', headers: h, body: JSON.stringify({ matchers: [{ name: 'n', value: String(i), isRegex: false }], startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3600_000).toISOString(), createdBy: 'e2e', comment: `s${i}` }) });
      assert.equal(s.status, 200, await s.text());
    }
    const probe = { name: 'audited-probe', type: 'tcp', target: '127.0.0.1:1', interval: '1h', timeout: '1s' };
    const c = await fetch(`${base}/api/patrol/v1/config/probes`, { method: 'POST', headers: h, body: JSON.stringify(probe) });
    assert.equal(c.status, 201, await c.text());
    const p = await fetch(`${base}/api/patrol/v1/config/probes/audited-probe`, { method: 'PUT', headers: h, body: JSON.stringify({ ...probe, interval: '5m' }) });
    assert.equal(p.status, 200, await p.text());
    // A receiver with a secret: the audit page must show it masked, never the value.
    const hook = { name: 'hooks', webhook_configs: [{ url: 'http://127.0.0.1:1/hook', http_config: { basic_auth: { username: 'u', password: 'hunter2-secret' } } }] };
    const rc = await fetch(`${base}/api/patrol/v1/config/receivers`, { method: 'POST', headers: h, body: JSON.stringify(hook) });
    assert.equal(rc.status, 201, await rc.text());
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: findBinary('chromium'), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
  });
  after(async () => {
    await browser?.close();
    await patrol?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const lang of ['en', 'zh-CN'] as const) {
    const tx = TEXT[lang];

    it(`${lang}: an admin sees who changed what, filters by actor and action, and the change's fields before and after`, async () => {
      const page = await openPage(browser, lang, { timeout: T });
      await loginPage(page, 'admin1');
      await page.locator('header nav[data-admin=true]').waitFor();
      await page.locator('header nav a', { hasText: tx.audit }).click();
      await page.waitForURL(`${base}/audit`);
      await page.locator('h1', { hasText: tx.audit }).waitFor();
      const rows = page.getByTestId('audit-row');
      await rows.filter({ hasText: 'PUT /api/patrol/v1/config/probes/audited-probe' }).waitFor();
      await rows.filter({ hasText: 'POST /api/patrol/v1/auth/login' }).first().waitFor();

      // Action: PUT only.
      await page.locator('select[name=method]').selectOption('PUT');
      await page.getByRole('button', { name: tx.apply }).click();
      await page.waitForURL(`${base}/audit?method=PUT`);
      await rows.filter({ hasText: 'POST ' }).first().waitFor({ state: 'detached' });
      const put = rows.filter({ hasText: 'PUT /api/patrol/v1/config/probes/audited-probe' });
      assert.equal(await put.count(), 1);
      assert.match((await put.textContent()) ?? '', /editor1/);

      // Its change: interval 1h → 5m, nothing else.
      await put.getByRole('button', { name: tx.details }).click();
      const diff = page.getByTestId('audit-diff');
      await diff.waitFor();
      assert.match((await diff.locator('caption').textContent()) ?? '', new RegExp(tx.changed));
      const cells = await diff.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      assert.deepEqual(cells, [['interval', '1h', '5m']]);

      // Actor: the login rows are the people who logged in; editor1's creation shows all its fields as new.
      await page.locator('input[name=who]').fill('editor1');
      await page.locator('select[name=method]').selectOption('POST');
      await page.locator('input[name=path]').fill('/api/patrol/v1/config/probes');
      await page.getByRole('button', { name: tx.apply }).click();
      await page.waitForURL(/\/audit\?who=editor1&method=POST&path=/);
      const created = rows.filter({ hasText: 'POST /api/patrol/v1/config/probes' });
      await created.waitFor();
      assert.equal(await rows.count(), 1);
      await created.getByRole('button', { name: tx.details }).click();
      await diff.waitFor();
      assert.match((await diff.locator('caption').textContent()) ?? '', new RegExp(tx.created));
      const created_ = await diff.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      assert.deepEqual(
        created_.find((r) => r[0] === 'target'),
        ['target', '', '127.0.0.1:1'],
      );
      // The filter is in the URL: a reload shows the same rows.
      await page.reload();
      await created.waitFor();
      assert.equal(await rows.count(), 1);
      assert.deepEqual(jsErrors(page), []);
      await page.context().close();
    });

    it(`${lang}: a secret in a change and in the request body is shown masked, never its value`, async () => {
      const page = await openPage(browser, lang, { timeout: T });
      await loginPage(page, 'admin1');
      await page.goto(`${base}/audit?path=${encodeURIComponent('/api/patrol/v1/config/receivers')}`);
      const row = page.getByTestId('audit-row').filter({ hasText: 'POST /api/patrol/v1/config/receivers' });
      await row.getByRole('button', { name: tx.details }).click();
      const diff = page.getByTestId('audit-diff');
      await diff.waitFor();
      const cells = await diff.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
      assert.deepEqual(
        cells.find((r) => r[0] === 'webhook_configs[0].http_config.basic_auth.password'),
        ['webhook_configs[0].http_config.basic_auth.password', '', '<secret>'],
      );
      await page.locator('details summary').click();
      await page.locator('details pre').waitFor();
      assert.doesNotMatch(await page.content(), /hunter2-secret/);
      await page.context().close();
    });

    it(`${lang}: pages through older entries and back to the newest`, async () => {
      const page = await openPage(browser, lang, { timeout: T });
      await loginPage(page, 'admin1');
      await page.goto(`${base}/audit?who=editor1&method=POST&path=${encodeURIComponent('/api/v2/silences')}`);
      const rows = page.getByTestId('audit-row');
      await rows.first().waitFor();
      assert.equal(await rows.count(), 100);
      await page.getByTestId('audit-older').click();
      await page.waitForURL(/before_id=\d+/);
      assert.match(page.url(), /who=editor1&method=POST&path=/);
      await rowsAre(rows, 10);
      assert.equal(await page.getByTestId('audit-older').count(), 0);
      await page.getByRole('link', { name: tx.newest }).click();
      await page.waitForURL((u) => !u.search.includes('before_id'));
      await rowsAre(rows, 100);
      await page.context().close();
    });

    it(`${lang}: a viewer has no audit link and the page says it is for admins`, async () => {
      const page = await openPage(browser, lang, { timeout: T });
      await loginPage(page, 'viewer1');
      // The navigation knows the caller's role once whoami answered.
      await page.locator('header nav[data-admin=false]').waitFor();
      assert.equal(await page.locator('header nav a', { hasText: tx.audit }).count(), 0);
      await page.goto(`${base}/audit`);
      const err = page.locator('.error');
      await err.waitFor();
      assert.match((await err.textContent()) ?? '', new RegExp(tx.adminOnly));
      assert.equal(await page.getByTestId('audit-row').count(), 0);
      await page.context().close();
    });
  }
});
