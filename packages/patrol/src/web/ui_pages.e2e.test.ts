// The dashboard's alerting and data pages end to end in Debian's Chromium (playwright-core,
// headless), in English and Chinese: the alerts page with acknowledge / un-acknowledge and the
// rules' pending alerts, silence edit, history (alert events and notifications with their outcome
// per channel), explore (the PromQL editor's completion, highlighting and linting, graph, table, shareable URL, the parser's error) and hosts
// (the host collector's CPU, memory, disk, network). A real Patrol on a random port; a local
// webhook receiver answers the notifications. Skips visibly without chromium; fails under CI=true.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import type { Browser, Locator } from 'playwright-core';
import { createLogger } from '../logger.js';
import { waitFor } from '../alerting/testutil.js';
import { startHttp } from '../probe/testdata/servers.js';
import { Patrol } from '../server.js';
import { jsErrors, openPage } from '../testing/browser.js';
import { findBinary, needBinary } from '../testing/shared.js';
import { defaultUiDir } from './ui.js';

const skip = needBinary('chromium');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until a form field's value matches. */
async function waitValue(l: Locator, re: RegExp): Promise<void> {
  const end = Date.now() + T;
  while (!re.test(await l.inputValue())) {
    if (Date.now() > end) assert.fail(`value ${JSON.stringify(await l.inputValue())} does not match ${re}`);
    await sleep(100);
  }
}
/** Replaces the editor's text by typing it, as a user would (brackets close themselves). */
async function retype(editor: Locator, text: string): Promise<void> {
  await editor.press('Control+a');
  await editor.press('Backspace');
  await editor.pressSequentially(text);
}

/** Every wait in the browser is bounded. */
const T = 15_000;

const TEXT = {
  en: { alerts: 'Active alerts', acknowledge: 'Acknowledge', acknowledged: 'acknowledged', unack: 'Un-acknowledge', pending: 'pending', history: 'History', silences: 'Silences', edit: 'Edit', explore: 'Explore', hosts: 'Hosts', run: 'Run', table: 'Table', graph: 'Graph' },
  'zh-CN': { alerts: '活动告警', acknowledge: '确认', acknowledged: '已确认', unack: '取消确认', pending: '待定', history: '历史', silences: '静默', edit: '编辑', explore: '探索', hosts: '主机', run: '执行', table: '表格', graph: '图表' },
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

  const open = (lang: 'en' | 'zh-CN', width = 1280) => openPage(browser, lang, { width, timeout: T });

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

    it(`${lang}: silences: edit in place (same id), edit matchers (a new silence replaces it), invalid matcher refused, expire`, async () => {
      const created = await fetch(`${base}/api/v2/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ matchers: [{ name: 'instance', value: 'db-1', isRegex: false, isEqual: true }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3600_000).toISOString(), createdBy: 'bob', comment: `edit me ${lang}` }),
      });
      assert.equal(created.status, 200);
      const { silenceID } = (await created.json()) as { silenceID: string };
      const get = async (id: string) => (await (await fetch(`${base}/api/v2/silence/${id}`)).json()) as { id: string; comment: string; status: { state: string }; matchers: { name: string; value: string }[] };
      const page = await open(lang);
      try {
        await page.goto(base + '/silences');
        const row = page.locator(`tr[data-silence="${silenceID}"]`);
        await row.getByRole('link', { name: tx.edit }).click();
        await page.waitForURL(new RegExp(`/silences/${silenceID}/edit$`));
        const area = page.locator('textarea');
        await waitValue(area, /instance="db-1"/);
        // The preview lists the alert it silences.
        await page.locator('[data-testid=affected] li', { hasText: 'DiskFull' }).waitFor();
        const comment = page.locator('form input:not([type])').nth(1);
        assert.equal(await comment.inputValue(), `edit me ${lang}`);
        await comment.fill(`edited ${lang}`);
        await page.locator('button[type=submit]:not([disabled])').click();
        await page.waitForURL(/\/silences$/);
        await page.locator(`tr[data-silence="${silenceID}"]`, { hasText: `edited ${lang}` }).waitFor();
        assert.equal((await get(silenceID)).comment, `edited ${lang}`);
        // An invalid matcher cannot be saved, and the page says why.
        await page.goto(`${base}/silences/${silenceID}/edit`);
        await waitValue(area, /db-1/);
        await area.fill('instance=~"db-(1"');
        await page.locator('[data-testid=matcher-errors]').waitFor();
        assert.match(await page.locator('[data-testid=matcher-errors]').innerText(), /regular expression/);
        assert.equal(await page.locator('button[type=submit]').isDisabled(), true);
        // Other matchers on an active silence: Alertmanager's rule, the old one expires and a new one is made.
        await area.fill('instance=~"db-.*"');
        await page.locator('[data-testid=matcher-errors]').waitFor({ state: 'detached' });
        await page.locator('button[type=submit]:not([disabled])').click();
        await page.waitForURL(/\/silences$/);
        const list = (await (await fetch(`${base}/api/v2/silences`)).json()) as { id: string; comment: string; status: { state: string }; matchers: { value: string }[] }[];
        const now = list.filter((x) => x.comment === `edited ${lang}` && x.status.state === 'active');
        assert.equal(now.length, 1);
        assert.notEqual(now[0].id, silenceID);
        assert.equal(now[0].matchers[0].value, 'db-.*');
        assert.equal((await get(silenceID)).status.state, 'expired');
        // Expire the new one from the list.
        const newRow = page.locator(`tr[data-silence="${now[0].id}"]`);
        await newRow.getByRole('button').click();
        await newRow.filter({ hasText: 'expired' }).waitFor();
        assert.equal(await page.locator('.error').count(), 0);
        assert.deepEqual(jsErrors(page), []);
      } finally {
        await page.context().close();
      }
    });

    it(`${lang}: explore: complete, highlight and lint in the editor, run a query, graph and table, a custom end time, the URL is shareable, a parse error points at its position`, async () => {
      const page = await open(lang);
      try {
        await page.goto(base + '/explore');
        await page.getByRole('heading', { name: tx.explore }).waitFor();
        // The CodeMirror editor replaces the plain field once its chunk has loaded.
        const editor = page.locator('.cm-content[data-testid=promql]');
        await editor.waitFor();
        // Completion of metric names from Patrol's own API, one picked from the list.
        await editor.click();
        await page.keyboard.type('node_memory_MemT');
        const option = page.locator('.cm-tooltip-autocomplete li', { hasText: 'node_memory_MemTotal_bytes' });
        await option.first().click();
        assert.equal(await editor.innerText(), 'node_memory_MemTotal_bytes');
        await editor.press('Control+Enter');
        await page.waitForURL(/[?&]q=node_memory_MemTotal_bytes/);
        await page.locator('.chart canvas').first().waitFor();
        await page.getByRole('tab', { name: tx.table }).click();
        await page.waitForURL(/tab=table/);
        await page.locator('[data-testid=result-table] td', { hasText: 'node_memory_MemTotal_bytes' }).first().waitFor();
        // The URL holds the view: opened afresh it shows the same table.
        const url = page.url();
        await page.goto('about:blank');
        await page.goto(url);
        await page.locator('[data-testid=result-table] td', { hasText: 'node_memory_MemTotal_bytes' }).first().waitFor();
        assert.equal(await editor.innerText(), 'node_memory_MemTotal_bytes');
        // A custom window: an end time typed in the field goes to the URL and to the queries
        // (the range before it); cleared, the window ends now again.
        const asked: string[] = [];
        page.on('request', (r) => {
          if (/\/api\/v1\/query(_range)?\?/.test(r.url())) asked.push(r.url());
        });
        await page.locator('[data-testid=end-time]').fill('2026-01-02T03:04');
        await page.waitForURL(/[?&]end=2026-01-0/);
        const end = Date.parse(new URL(page.url()).searchParams.get('end')!);
        assert.equal(new Date(end).getMinutes(), 4, 'the time typed, in local time');
        // (No data that long ago: what is shown is an empty result; what matters is what was asked.)
        await waitFor('the table asked at the end time', () => asked.some((u) => new URL(u).searchParams.get('time') === String(end / 1000)));
        await page.getByRole('tab', { name: tx.graph }).click();
        await waitFor('the graph asked for the hour before the end time', () =>
          asked.some((u) => u.includes('query_range') && new URL(u).searchParams.get('end') === String(end / 1000) && new URL(u).searchParams.get('start') === String((end - 3600_000) / 1000)),
        );
        await page.locator('[data-testid=end-time]').fill('');
        await page.waitForURL((u) => !u.searchParams.has('end'));
        await page.getByRole('tab', { name: tx.table }).click();
        // Highlighting and linting as one types: functions and aggregations are coloured as such,
        // and a type error (rate of an instant vector) is underlined before anything is run.
        // (Typed, not filled: Chromium's insertText over coloured text adds style attributes that the
        // page's policy refuses, which only a script can cause.)
        await retype(editor, 'sum(rate(node_cpu_seconds_total))');
        await editor.locator('.pq-fn', { hasText: 'rate' }).waitFor();
        await editor.locator('.pq-kw', { hasText: 'sum' }).waitFor();
        await editor.locator('.cm-lintRange-error').first().waitFor();
        // A syntax error run anyway (unclosed, which the linter leaves alone while one types):
        await retype(editor, 'sum(rate(node_cpu_seconds_total[1m])');
        await editor.press('Delete'); // the parenthesis the editor closed by itself
        assert.equal(await editor.innerText(), 'sum(rate(node_cpu_seconds_total[1m])');
        // the server parser's message and a caret under the column it names.
        await page.getByRole('button', { name: tx.run, exact: true }).click();
        const err = page.locator('[data-testid=parse-error]');
        await err.waitFor();
        const text = await err.innerText();
        const m = /(\d+):(\d+): parse error/.exec(text);
        assert.ok(m, text);
        const caretLine = text.split('\n').find((l) => /^ *\^$/.test(l));
        assert.ok(caretLine, text);
        assert.equal(caretLine.indexOf('^') + 1, Number(m[2]));
        assert.deepEqual(jsErrors(page), []);
      } finally {
        await page.context().close();
      }
    });

    it(`${lang}: hosts: the host collector's CPU, memory, disk and network`, async () => {
      const page = await open(lang, 390);
      try {
        await page.goto(base + '/hosts');
        await page.getByRole('heading', { name: tx.hosts }).waitFor();
        const row = page.locator('tr[data-host]').first();
        await row.waitFor();
        assert.match(await row.locator('[data-metric=memory]').innerText(), /\d%$/);
        assert.match(await row.locator('[data-metric=disk]').innerText(), /\d%$|—/);
        await page.locator('.chart canvas').first().waitFor();
        // A figure opens its query on the explore page.
        await row.locator('[data-metric=memory] a').click();
        await page.waitForURL(/\/explore\?q=/);
        await page.locator('.chart canvas').first().waitFor();
        assert.equal(await page.locator('.error').count(), 0);
        assert.deepEqual(jsErrors(page), []);
      } finally {
        await page.context().close();
      }
    });
  }

  it('explore and hosts: an API error is shown, not a blank page', async () => {
    const page = await open('en');
    try {
      await page.route('**/api/v1/query*', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'storage is closing' }) }));
      await page.goto(base + '/explore?q=up&range=1h');
      await page.locator('.error', { hasText: 'storage is closing' }).waitFor();
      await page.goto(base + '/hosts');
      await page.locator('.error', { hasText: 'storage is closing' }).waitFor();
    } finally {
      await page.context().close();
    }
  });

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

});
