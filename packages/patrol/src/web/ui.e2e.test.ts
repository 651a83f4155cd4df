// The dashboard end to end in Debian's Chromium (playwright-core, headless): a real Patrol on a
// random port with probes against a local target server, every page in English and Chinese, the
// silence flow (pre-filled form, preview, invalid matcher refused, create, expire), an
// acknowledgement reaching another open dashboard live, and the "reconnecting" banner. Skips visibly without chromium; fails under CI=true.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import type { Browser } from 'playwright-core';
import { createLogger } from '../logger.js';
import { startHttp } from '../probe/testdata/servers.js';
import { Patrol } from '../server.js';
import { jsErrors, openPage } from '../testing/browser.js';
import { findBinary, needBinary } from '../testing/shared.js';
import { defaultUiDir } from './ui.js';

const skip = needBinary('chromium');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Every wait in the browser is bounded. */
const T = 15_000;

const TEXT = {
  en: { down: 'Down', alerts: 'Active alerts', silence: 'Silence', rules: 'Rules', targets: 'Targets', lastFailure: 'Last failure', events: 'State changes', newSilence: 'New silence', invalid: 'Invalid matcher', reconnecting: 'reconnecting' },
  'zh-CN': { down: '故障', alerts: '活动告警', silence: '静默', rules: '规则', targets: '采集目标', lastFailure: '最近失败', events: '状态变化', newSilence: '新建静默', invalid: '无效的匹配器', reconnecting: '正在重新连接' },
} as const;

describe('dashboard in Chromium', { skip, timeout: 240_000 }, () => {
  let dir: string;
  let patrol: Patrol;
  let target: Awaited<ReturnType<typeof startHttp>>;
  let base: string;
  let browser: Browser;
  /** The `flip` probe's target answers 500 while set (the live-update test). */
  let flipDown = false;

  before(async () => {
    assert.ok(defaultUiDir(), 'the dashboard is not built: run `npm run build` (npm ci builds it)');
    target = await startHttp((req, res) => {
      const bad = req.url === '/bad' || (req.url === '/flip' && flipDown);
      res.writeHead(bad ? 500 : 200, { 'content-type': 'text/plain' });
      res.end(bad ? 'broken' : 'ok');
    });
    dir = mkdtempSync(join(tmpdir(), 'patrol-ui-e2e-'));
    const configFile = join(dir, 'patrol.yml');
    writeFileSync(
      configFile,
      `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - {job_name: self, static_configs: [{targets: ["127.0.0.1:1"]}]}
probes:
  - {name: web-ok, type: http, target: "${target.url}/", interval: 1s, timeout: 1s, labels: {team: web}}
  - {name: api-bad, type: http, target: "${target.url}/bad", interval: 1s, timeout: 1s, failure_threshold: 1, labels: {team: api}}
  - {name: flip, type: http, target: "${target.url}/flip", interval: 1s, timeout: 1s, failure_threshold: 1, labels: {team: live}}
alerting:
  route: {receiver: ops, group_by: [alertname]}
  receivers: [{name: ops}]
`,
    );
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()) });
    await patrol.start();
    base = `http://${patrol.listen}`;
    // An alert in the dispatcher, as a rule or another Prometheus would send it.
    const r = await fetch(`${base}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ labels: { alertname: 'ProbeDown', probe: 'api-bad', severity: 'page' }, annotations: { summary: 'api-bad is down' }, startsAt: new Date().toISOString() }]),
    });
    assert.equal(r.status, 200, await r.text());
    const end = Date.now() + T;
    for (;;) {
      const ov = (await (await fetch(`${base}/api/patrol/v1/overview`)).json()) as {
        data: { counts: { down: number; up: number }; probes: { name: string; last_failure: { reason: string } | null }[] };
      };
      // Settled, and api-bad's last failure is the 500 (its first run can time out on a loaded
      // machine; the live stream tells state changes, not a new reason in the same state).
      const bad = ov.data.probes.find((p) => p.name === 'api-bad');
      if (ov.data.counts.down === 1 && ov.data.counts.up === 2 && /\b500\b/.test(bad?.last_failure?.reason ?? '')) break;
      if (Date.now() > end) assert.fail(`probes did not settle: ${JSON.stringify(ov.data.counts)}`);
      await sleep(100);
    }
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: findBinary('chromium'), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
  });

  after(async () => {
    await browser?.close();
    await patrol?.stop();
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = (lang: 'en' | 'zh-CN') => openPage(browser, lang, { timeout: T });

  for (const lang of ['en', 'zh-CN'] as const) {
    const tx = TEXT[lang];
    it(`${lang}: overview shows states, counts and filters; probe detail shows the failure and events`, async () => {
      const page = await open(lang);
      try {
        await page.goto(base + '/');
        await page.locator('[data-probe="api-bad"]').waitFor();
        assert.equal(await page.locator('html').getAttribute('lang'), lang);
        const downChip = page.locator('.chip.s-down');
        assert.match(await downChip.innerText(), new RegExp(`1\\s*${tx.down}`));
        // The failure reason (a run can time out on a loaded machine; a later one shows the 500).
        await page.locator('[data-probe="api-bad"]', { hasText: /\b500\b/ }).waitFor();
        // Group by team: a header per team, the team with a probe down first, kept in the URL.
        await page.selectOption('[data-testid=group-by]', 'team');
        await page.locator('[data-group="team=api"]').waitFor();
        assert.equal(await page.locator('.ghead').first().getAttribute('data-group'), 'team=api');
        assert.match(await page.locator('[data-group="team=api"]').innerText(), new RegExp(`1\\s*${tx.down}`));
        assert.equal(await page.locator('.ghead').count(), 3);
        assert.match(page.url(), /group=team/);
        await page.selectOption('[data-testid=group-by]', '');
        await page.locator('.ghead').first().waitFor({ state: 'detached' });
        // 90 daily cells (from the state changes) instead of 24 hourly ones: today's is red for the
        // probe down since it first ran, green for the one up; the span is kept in the URL.
        await page.selectOption('[data-testid=bars]', '90d');
        const days = page.locator('[data-probe="api-bad"] .ubar.days i');
        await days.first().waitFor();
        assert.equal(await days.count(), 90);
        assert.equal(await days.last().getAttribute('class'), 'r');
        assert.match((await days.last().getAttribute('title'))!, /^\d{4}-\d{2}-\d{2} 0(\.0+)?\s?%$/);
        assert.equal(await days.first().getAttribute('class'), 'n');
        assert.equal(await page.locator('[data-probe="web-ok"] .ubar.days i').last().getAttribute('class'), 'g');
        assert.match(page.url(), /bars=90d/);
        await page.reload();
        await page.locator('[data-probe="api-bad"] .ubar.days i').first().waitFor();
        assert.equal(await page.locator('[data-testid=bars]').inputValue(), '90d');
        await page.selectOption('[data-testid=bars]', '24h');
        await page.locator('.ubar.days').first().waitFor({ state: 'detached' });
        // Filter by a label: one of three probes left.
        await page.fill('input.filter', 'team=web');
        await page.locator('[data-probe="api-bad"]').waitFor({ state: 'detached' });
        assert.equal((await page.locator('[data-testid=shown-count]').innerText()).replace(/\s/g, ''), '1/3');
        assert.equal(await page.locator('[data-probe="web-ok"]').count(), 1);
        // Keyboard: focus the list, Enter opens the selected probe.
        await page.fill('input.filter', 'state:down');
        await page.locator('[data-probe="web-ok"]').waitFor({ state: 'detached' });
        await page.focus('.vlist');
        await page.keyboard.press('Enter');
        await page.waitForURL(/\/probes\/api-bad$/);
        await page.locator('[data-testid=last-failure]').waitFor();
        assert.match(await page.locator('[data-testid=last-failure]').innerText(), new RegExp(`${tx.lastFailure}[\\s\\S]*500`));
        await page.getByText(tx.events).waitFor();
        await page.locator('table.tbl td', { hasText: 'down' }).first().waitFor();
        // The chart is drawn (uPlot loaded on demand).
        await page.locator('.chart canvas').first().waitFor();
        // Run now: the probe runs and the page shows no error.
        const runs = () => fetch(`${base}/api/patrol/v1/probes/api-bad`).then(async (r) => ((await r.json()) as { data: { last_result: { time: number } } }).data.last_result.time);
        const before = await runs();
        const reqDone = page.waitForResponse((r) => r.url().endsWith('/api/patrol/v1/probes/api-bad/run') && r.status() === 200);
        await page.locator('[data-testid=run-now]').click();
        await reqDone;
        assert.ok((await runs()) >= before);
        assert.equal(await page.locator('.error').count(), 0);
        assert.deepEqual(jsErrors(page), []);
      } finally {
        await page.context().close();
      }
    });

    it(`${lang}: a probe going down shows without a reload (live updates), and coming back up`, async () => {
      const page = await open(lang);
      try {
        await page.goto(base + '/');
        await page.locator('[data-probe="flip"] .s-up').waitFor();
        // A mark in the page: still there after the change means no reload happened.
        await page.evaluate('window.__noReload = true');
        flipDown = true;
        // Within T (15 s): the delta read runs every 30 s, so only the event stream can bring it.
        const badge = page.locator('[data-probe="flip"] .s-down');
        await badge.waitFor();
        assert.equal(await badge.innerText(), tx.down);
        assert.match(await page.locator('.chip.s-down').innerText(), new RegExp(`2\\s*${tx.down}`));
        assert.match(await page.locator('[data-probe="flip"]').innerText(), /500/);
        flipDown = false;
        await page.locator('[data-probe="flip"] .s-up').waitFor();
        assert.equal(await page.evaluate('window.__noReload'), true);
        assert.deepEqual(jsErrors(page), []);
      } finally {
        flipDown = false;
        await page.context().close();
      }
    });

    it(`${lang}: alerts, the silence flow, rules and targets`, async () => {
      const page = await open(lang);
      try {
        await page.goto(base + '/alerts');
        await page.getByRole('heading', { name: tx.alerts }).waitFor();
        const alert = page.locator('[data-alert="ProbeDown"]');
        await alert.waitFor();
        await alert.getByRole('link', { name: tx.silence }).click();
        await page.waitForURL(/\/silences\/new/);
        const area = page.locator('textarea');
        assert.match(await area.inputValue(), /alertname="ProbeDown"/);
        // The preview lists the alert the matchers would silence.
        await page.locator('[data-testid=affected] li', { hasText: 'ProbeDown' }).waitFor();
        // An invalid matcher: the reason is shown and the form cannot be saved.
        await area.fill('alertname="ProbeDown"\nprobe=~"(unclosed"');
        await page.locator('[data-testid=matcher-errors]', { hasText: tx.invalid }).waitFor();
        assert.match(await page.locator('[data-testid=matcher-errors]').innerText(), /regular expression/);
        const inputs = page.locator('form input');
        await inputs.nth(0).fill('e2e');
        await inputs.nth(1).fill(`maintenance ${lang}`);
        assert.equal(await page.locator('button[type=submit]').isDisabled(), true);
        await area.fill('alertname="ProbeDown"\nprobe="api-bad"');
        await page.locator('[data-testid=matcher-errors]').waitFor({ state: 'detached' });
        await page.locator('[data-testid=affected] li', { hasText: 'ProbeDown' }).waitFor();
        await page.locator('button[type=submit]:not([disabled])').click();
        await page.waitForURL(/\/silences$/);
        const row = page.locator('tr[data-silence]', { hasText: `maintenance ${lang}` });
        await row.waitFor();
        assert.match(await row.innerText(), /active/);
        // The alert now shows as silenced, and so does the probe on the overview.
        await page.goto(base + '/alerts');
        await page.locator('[data-alert="ProbeDown"] .s-silenced').waitFor();
        await page.goto(base + '/');
        await page.locator('[data-probe="api-bad"] .s-silenced').waitFor();
        assert.equal(await page.locator('[data-probe="web-ok"] .s-up').count(), 1);
        // Expire it.
        await page.goto(base + '/silences');
        await row.getByRole('button').click();
        await page.locator('tr[data-silence]', { hasText: `maintenance ${lang}` }).filter({ hasText: 'expired' }).waitFor();
        // Rules and targets answer in the language, without an error box.
        await page.getByRole('link', { name: tx.rules, exact: true }).click();
        await page.getByRole('heading', { name: tx.rules }).waitFor();
        await page.getByRole('link', { name: tx.targets, exact: true }).click();
        await page.getByRole('heading', { name: tx.targets }).waitFor();
        await page.locator('td', { hasText: '127.0.0.1:1' }).first().waitFor();
        assert.equal(await page.locator('.error').count(), 0);
        assert.deepEqual(jsErrors(page), []);
      } finally {
        await page.context().close();
      }
    });
  }

  for (const lang of ['en', 'zh-CN'] as const)
    it(`${lang}: acknowledging an alert in one dashboard shows on another's overview without a reload (the event stream)`, async () => {
      const watcher = await open(lang);
      const actor = await open(lang);
      try {
        await watcher.goto(base + '/');
        await watcher.locator('[data-probe="api-bad"] .s-down').waitFor();
        await watcher.evaluate('window.__noReload = true');
        await actor.goto(base + '/alerts');
        const alert = actor.locator('[data-alert="ProbeDown"]');
        await alert.locator('[data-testid=ack]').click();
        await actor.locator('[data-testid=ack-form] input').first().fill(`oncall-${lang}`);
        await actor.locator('[data-testid=ack-form] button[type=submit]').click();
        await alert.locator('[data-testid=acked]').waitFor();
        // The other dashboard learns it from the stream (its own reread is every 30 s, past T).
        await watcher.locator('[data-probe="api-bad"] .s-ack').waitFor();
        assert.match(await watcher.locator('[data-probe="api-bad"] [data-testid=acked-by]').innerText(), new RegExp(`oncall-${lang}`));
        await watcher.locator('.chip.s-ack').waitFor();
        // The probe's own page says so too.
        await actor.goto(base + '/probes/api-bad');
        await actor.locator('[data-testid=probe-acked]', { hasText: `oncall-${lang}` }).waitFor();
        await actor.goto(base + '/alerts');
        // Taken back: down again there too.
        await alert.locator('[data-testid=unack]').click();
        await watcher.locator('[data-probe="api-bad"] .s-down').waitFor();
        assert.equal(await watcher.locator('[data-testid=acked-by]').count(), 0);
        assert.equal(await watcher.evaluate('window.__noReload'), true);
        assert.deepEqual(jsErrors(watcher), []);
        assert.deepEqual(jsErrors(actor), []);
      } finally {
        await watcher.context().close();
        await actor.context().close();
      }
    });

  it('shows an API error in the page and "reconnecting" while the server is unreachable, then recovers', async () => {
    const page = await open('en');
    try {
      await page.goto(base + '/probes/no-such-probe');
      await page.locator('.error', { hasText: 'not configured' }).waitFor();
      await page.goto(base + '/');
      await page.locator('[data-probe="api-bad"]').waitFor();
      await page.locator('[data-probe="flip"]').waitFor();
      // The connection is lost: the live stream ends and the server cannot be reached again.
      await page.route('**/api/**', (route) => route.abort('connectionrefused'));
      patrol.events!.disconnectAll();
      await page.getByText(TEXT.en.reconnecting).waitFor();
      // A change while disconnected is picked up once the stream is back.
      flipDown = true;
      const end = Date.now() + T;
      while (((await (await fetch(`${base}/api/patrol/v1/probes/flip`)).json()) as { data: { state: string } }).data.state !== 'down') {
        if (Date.now() > end) assert.fail('flip did not go down');
        await sleep(100);
      }
      await page.unroute('**/api/**');
      await page.getByText(TEXT.en.reconnecting).waitFor({ state: 'detached' });
      await page.locator('[data-probe="flip"] .s-down').waitFor();
      flipDown = false;
      await page.locator('[data-probe="flip"] .s-up').waitFor();
      assert.equal(await page.locator('[data-probe="api-bad"]').count(), 1);
    } finally {
      flipDown = false;
      await page.context().close();
    }
  });
});
