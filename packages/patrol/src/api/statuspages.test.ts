// Public status pages: status_pages: validation, daily uptime from state changes, the public
// endpoint against a real Patrol (what it shows of the listed probes and nothing else: no
// target, label, reason or unlisted probe), unknown slugs, and the page itself in Debian's
// Chromium (English and Chinese from the browser, the switch, dark theme, no links, no operator
// bundle). The browser part skips visibly without chromium; fails under CI=true.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { parseConfig } from '../config/load.js';
import { createLogger } from '../logger.js';
import { startHttp } from '../probe/testdata/servers.js';
import { Patrol } from '../server.js';
import { findBinary, needBinary } from '../testing/shared.js';
import { dailyUptime, type StatusPageData } from './statuspages.js';

const DAY = 86_400_000;
const T = 15_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function errorsOf(yaml: string): string {
  const r = parseConfig(yaml, 'p.yml');
  return r.ok ? '' : r.errors.map(String).join('\n');
}

const PROBES = `probes:
  - {name: web, type: http, target: "http://127.0.0.1:1/", labels: {team: web}}
  - {name: api, type: http, target: "http://127.0.0.1:1/api", labels: {team: api}}
`;

describe('status_pages configuration', () => {
  it('accepts names and label matchers, and fills the defaults', () => {
    const r = parseConfig(`${PROBES}status_pages:\n  - slug: public\n    title: Example status\n    groups: [{name: Site, probes: [web, '{team="api"}']}]\n`, 'p.yml');
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    assert.equal(r.config.status_pages[0].description, undefined);
  });

  it('says what is wrong: a bad slug, an unknown probe (with the near name), a bad matcher, a duplicate slug, an unknown key, no groups', () => {
    const page = (s: string) => `${PROBES}status_pages:\n${s}`;
    assert.match(errorsOf(page(`  - {slug: "Bad Slug", title: t, groups: [{name: g, probes: [web]}]}\n`)), /status_pages\[0\]\.slug: is not a slug/);
    assert.match(errorsOf(page(`  - {slug: s, title: t, groups: [{name: g, probes: [wbe]}]}\n`)), /status_pages\[0\]\.groups\[0\]\.probes\[0\]: no probe named "wbe" \(did you mean "web"\?\)/);
    assert.match(errorsOf(page(`  - {slug: s, title: t, groups: [{name: g, probes: ['{team=~"("}']}]}\n`)), /status_pages\[0\]\.groups\[0\]\.probes\[0\]: .*team/);
    assert.match(errorsOf(page(`  - {slug: s, title: t, groups: [{name: g, probes: ['{}']}]}\n`)), /has no matcher/);
    assert.match(errorsOf(page(`  - {slug: s, title: t, groups: [{name: g, probes: [web]}]}\n  - {slug: s, title: u, groups: [{name: g, probes: [api]}]}\n`)), /status_pages\[1\]\.slug: slug "s" is already used by status page 0/);
    assert.match(errorsOf(page(`  - {slug: s, title: t, groups: [{name: g, probes: [web]}], colour: red}\n`)), /colour/);
    assert.match(errorsOf(page(`  - {slug: s, title: t, groups: []}\n`)), /status_pages\[0\]\.groups/);
  });
});

describe('daily uptime from state changes', () => {
  it('splits each state over the UTC days it covers; degraded counts as up; days before any data are null', () => {
    const now = Date.UTC(2026, 0, 10, 12, 0, 0);
    const y = Date.UTC(2026, 0, 9);
    const days = dailyUptime(
      [
        { time: y + 12 * 3600_000, to: 'down' },
        { time: y + 18 * 3600_000, to: 'degraded' },
      ],
      'up',
      now,
    );
    assert.equal(days.length, 90);
    assert.equal(days[89].date, '2026-01-10');
    assert.equal(days[88].date, '2026-01-09');
    assert.equal(days[88].uptime, 0.75);
    assert.equal(days[88].down_minutes, 360);
    assert.equal(days[89].uptime, 1);
    assert.equal(days[89].degraded_minutes, 720);
    assert.equal(days[88].degraded_minutes, 360);
    assert.equal(days[0].uptime, 1, 'the state before the window holds from its start');
    const fresh = dailyUptime([{ time: now - 3600_000, to: 'up' }], null, now);
    assert.equal(fresh[88].uptime, null);
    assert.equal(fresh[89].uptime, 1);
    assert.equal(dailyUptime([], null, now).every((d) => d.uptime === null), true);
    const old = dailyUptime([], 'down', now);
    assert.equal(old[0].uptime, 0);
    assert.equal(old[89].down_minutes, 720);
    assert.equal(now - DAY * 89 > Date.UTC(2025, 9, 12), true);
  });
});

describe('status pages on a running Patrol', { timeout: 240_000 }, () => {
  let dir: string;
  let patrol: Patrol;
  let target: Awaited<ReturnType<typeof startHttp>>;
  let base: string;
  let browser: Browser | null = null;
  const skipBrowser = needBinary('chromium');

  before(async () => {
    target = await startHttp((req, res) => {
      const bad = req.url === '/bad-secret-path';
      res.writeHead(bad ? 500 : 200, { 'content-type': 'text/plain' });
      res.end(bad ? 'internal failure text' : 'ok');
    });
    dir = mkdtempSync(join(tmpdir(), 'patrol-status-'));
    const configFile = join(dir, 'patrol.yml');
    writeFileSync(
      configFile,
      `probes:
  - {name: web, type: http, target: "${target.url}/web-secret-path", interval: 1s, timeout: 1s, labels: {team: web, owner: alice-owner}}
  - {name: slow, type: http, target: "${target.url}/slow-secret-path", interval: 1s, timeout: 1s, labels: {team: web}, degrading_conditions: ['[BODY] == fast']}
  - {name: api, type: http, target: "${target.url}/bad-secret-path", interval: 1s, timeout: 1s, failure_threshold: 1, labels: {team: api}}
  - {name: internal-db, type: http, target: "${target.url}/internal-secret-path", interval: 1s, timeout: 1s, labels: {team: ops}}
status_pages:
  - slug: public
    title: Example Status
    description: Our public services
    groups:
      - {name: Website, probes: ['{team="web"}']}
      - {name: API, probes: [api]}
`,
    );
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()) });
    await patrol.start();
    base = `http://${patrol.listen}`;
    const end = Date.now() + T;
    for (;;) {
      const ov = (await (await fetch(`${base}/api/patrol/v1/overview`)).json()) as { data: { counts: { down: number; up: number; degraded: number } } };
      // Every probe must have run once: web and internal-db up, slow degraded, api down.
      if (ov.data.counts.down === 1 && ov.data.counts.degraded === 1 && ov.data.counts.up === 2) break;
      if (Date.now() > end) assert.fail(`probes did not settle: ${JSON.stringify(ov.data.counts)}`);
      await sleep(100);
    }
    // The page's answers are cached for 10 s: wait past the first settle so they show the states.
    await sleep(200);
  });

  after(async () => {
    await browser?.close();
    await patrol?.stop();
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the endpoint shows the listed probes by group with state, 90 days and incidents, and nothing else', async () => {
    const r = await fetch(`${base}/api/patrol/v1/status-pages/public`);
    assert.equal(r.status, 200);
    const text = await r.text();
    const d = (JSON.parse(text) as { data: StatusPageData }).data;
    assert.deepEqual(Object.keys(d).sort(), ['description', 'generated_at', 'groups', 'incidents', 'slug', 'state', 'title']);
    assert.equal(d.title, 'Example Status');
    assert.equal(d.state, 'down');
    assert.deepEqual(
      d.groups.map((g) => [g.name, g.probes.map((p) => `${p.name}:${p.state}`)]),
      [
        ['Website', ['web:up', 'slow:degraded']],
        ['API', ['api:down']],
      ],
    );
    for (const p of d.groups.flatMap((g) => g.probes)) {
      assert.deepEqual(Object.keys(p).sort(), ['days', 'name', 'since', 'state', 'uptime']);
      assert.equal(p.days.length, 90);
      assert.deepEqual(Object.keys(p.days[0]).sort(), ['date', 'degraded_minutes', 'down_minutes', 'uptime']);
      assert.notEqual(p.days[89].uptime, null);
    }
    assert.ok(d.incidents.some((i) => i.probe === 'api' && i.to === 'down'));
    for (const i of d.incidents) assert.deepEqual(Object.keys(i).sort(), ['from', 'probe', 'time', 'to']);
    // Nothing of the targets, labels, reasons or the unlisted probe.
    for (const secret of [target.url, '127.0.0.1', 'secret-path', 'alice-owner', 'owner', 'team', 'internal', 'http', 'failure text', 'status code', 'interval', 'labels']) {
      assert.ok(!text.includes(secret), `${JSON.stringify(secret)} in ${text.slice(0, 300)}`);
    }
  });

  it('an unknown slug is 404, for the data and the page; the page and its files need no credentials', async () => {
    const r = await fetch(`${base}/api/patrol/v1/status-pages/nope`);
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: string }).error, /no status page "nope"/);
    assert.equal((await fetch(`${base}/status/nope`)).status, 404);
    const page = await fetch(`${base}/status/public`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.doesNotMatch(html, /<a\b|\/assets\//);
    assert.equal((await fetch(`${base}/status-assets/status.js`)).status, 200);
    assert.equal((await fetch(`${base}/status-assets/status.css`)).status, 200);
    assert.equal((await fetch(`${base}/status-assets/index.html`)).status, 404);
    assert.equal((await fetch(`${base}/status-assets/..%2Fpackage.json`)).status, 404);
  });

  describe('the page in Chromium', { skip: skipBrowser }, () => {
    async function open(locale: string, colorScheme: 'light' | 'dark' = 'light'): Promise<{ page: Page; errors: string[]; requests: string[] }> {
      if (!browser) {
        const { chromium } = await import('playwright-core');
        browser = await chromium.launch({ executablePath: findBinary('chromium'), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
      }
      const ctx = await browser.newContext({ locale, colorScheme, viewport: { width: 390, height: 800 } });
      ctx.setDefaultTimeout(T);
      const page = await ctx.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) errors.push(m.text());
      });
      page.on('request', (q) => requests.push(new URL(q.url()).pathname));
      await page.goto(`${base}/status/public`);
      await page.locator('.probe').nth(2).waitFor();
      return { page, errors, requests };
    }

    it('English: current states, 90 bars per probe, incidents, no links, nothing of the operator pages', async () => {
      const { page, errors, requests } = await open('en-US');
      try {
        assert.equal(await page.locator('h1').innerText(), 'Example Status');
        assert.equal(await page.locator('#overall').innerText(), 'Some systems are down');
        assert.deepEqual(await page.locator('.probe .name').allInnerTexts(), ['web', 'slow', 'api']);
        assert.deepEqual(await page.locator('.probe .state').allInnerTexts(), ['Operational', 'Degraded', 'Down']);
        for (let i = 0; i < 3; i++) assert.equal(await page.locator('.probe').nth(i).locator('.bar').count(), 90);
        assert.match(await page.locator('#incidents').innerText(), /api: No data → Down/);
        assert.equal(await page.locator('a').count(), 0);
        assert.deepEqual(
          [...new Set(requests)].sort(),
          ['/api/patrol/v1/status-pages/public', '/status-assets/status.css', '/status-assets/status.js', '/status/public'],
        );
        assert.deepEqual(errors, []);
      } finally {
        await page.context().close();
      }
    });

    it('Chinese from the browser, the switch to English; dark theme', async () => {
      const { page, errors } = await open('zh-CN', 'dark');
      try {
        assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
        assert.equal(await page.locator('#overall').innerText(), '部分系统发生故障');
        assert.deepEqual(await page.locator('.probe .state').allInnerTexts(), ['正常', '性能下降', '故障']);
        const bg = await page.evaluate('getComputedStyle(document.body).backgroundColor');
        assert.equal(bg, 'rgb(17, 20, 24)');
        await page.locator('#lang').click();
        assert.equal(await page.locator('#overall').innerText(), 'Some systems are down');
        assert.equal(await page.locator('html').getAttribute('lang'), 'en');
        assert.deepEqual(errors, []);
      } finally {
        await page.context().close();
      }
      const light = await open('en-US', 'light');
      try {
        assert.equal(await light.page.evaluate('getComputedStyle(document.body).backgroundColor'), 'rgb(247, 248, 250)');
      } finally {
        await light.page.context().close();
      }
    });
  });
});
