// Screenshots of the dashboard for the README (docs/screenshots/*.png): a Patrol with 60 probes
// (a few down or flapping) and a ProbeDown rule, in Chromium at desktop (1280×800) and phone
// (390×844) widths, light and dark, in English (a machine without CJK fonts draws Chinese as
// boxes). `npm run screenshots` rewrites them.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/testing/shared.js';
import { launchChromium, startUiEnv, waitProbed } from './ui_env.js';

const OUT = join(REPO_ROOT, 'docs', 'screenshots');

const SHOTS: { file: string; path: string; theme: 'light' | 'dark'; width: number; height: number; lang?: string; wait: string }[] = [
  { file: 'overview-light.png', path: '/', theme: 'light', width: 1280, height: 800, wait: '.vlist[data-complete]' },
  { file: 'overview-dark.png', path: '/', theme: 'dark', width: 1280, height: 800, wait: '.vlist[data-complete]' },
  { file: 'overview-phone-light.png', path: '/', theme: 'light', width: 390, height: 844, wait: '.vlist[data-complete]' },
  { file: 'overview-phone-dark.png', path: '/', theme: 'dark', width: 390, height: 844, wait: '.vlist[data-complete]' },
  { file: 'probe-light.png', path: '/probes/web-down-00000', theme: 'light', width: 1280, height: 1000, wait: '.chart canvas' },
  { file: 'alerts-dark.png', path: '/alerts', theme: 'dark', width: 1280, height: 800, wait: '[data-alert]' },
  // h17b: alerts, history, explore, hosts
  { file: 'alerts-light.png', path: '/alerts', theme: 'light', width: 1280, height: 800, wait: '[data-alert]' },
  { file: 'alerts-phone-dark.png', path: '/alerts', theme: 'dark', width: 390, height: 844, wait: '[data-alert]' },
  { file: 'history-light.png', path: '/history?range=1h', theme: 'light', width: 1280, height: 800, wait: 'main h1' },
  { file: 'history-dark.png', path: '/history?range=1h', theme: 'dark', width: 1280, height: 800, wait: 'main h1' },
  { file: 'explore-light.png', path: '/explore?q=' + encodeURIComponent('avg by (team) (probe_success)') + '&range=15m', theme: 'light', width: 1280, height: 800, wait: '.chart canvas, .cm-content' },
  { file: 'explore-dark.png', path: '/explore?q=' + encodeURIComponent('avg by (team) (probe_success)') + '&range=15m', theme: 'dark', width: 1280, height: 800, wait: '.chart canvas, .cm-content' },
  { file: 'explore-phone-light.png', path: '/explore?q=' + encodeURIComponent('avg by (team) (probe_success)') + '&range=15m', theme: 'light', width: 390, height: 844, wait: '.chart canvas, .cm-content' },
  { file: 'hosts-light.png', path: '/hosts', theme: 'light', width: 1280, height: 800, wait: 'main h1' },
  { file: 'hosts-phone-dark.png', path: '/hosts', theme: 'dark', width: 390, height: 844, wait: 'main h1' },
  { file: 'silence-light.png', path: '/silences/new?matchers=' + encodeURIComponent('alertname="ProbeDown"\nteam="web"'), theme: 'light', width: 1280, height: 800, wait: '[data-testid=affected] li' },
];

async function main() {
  mkdirSync(OUT, { recursive: true });
  const env = await startUiEnv({ probes: 60, interval: '2s', down: 3, alerting: true });
  const browser = await launchChromium();
  try {
    await waitProbed(env.base, 60, 30_000);
    // A few minutes of runs would look better; 20 s gives sparklines and a firing alert.
    await new Promise((r) => setTimeout(r, 20_000));
    // One probe's alert acknowledged, so the overview shows that state too (h17a).
    const alerts = (await (await fetch(`${env.base}/api/patrol/v1/alerts`)).json()) as { data: { fingerprint: string; labels: Record<string, string> }[] };
    const down = alerts.data.find((a) => a.labels.alertname === 'ProbeDown');
    if (down) await fetch(`${env.base}/api/patrol/v1/alerts/${down.fingerprint}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: 'oncall', comment: 'looking' }) });
    for (const s of SHOTS) {
      const ctx = await browser.newContext({ viewport: { width: s.width, height: s.height }, locale: s.lang ?? 'en', colorScheme: s.theme, deviceScaleFactor: 1 });
      const page = await ctx.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(env.base + s.path);
      // Every selector listed (comma-separated) is waited for.
      for (const sel of s.wait.split(', ')) await page.waitForSelector(sel);
      await page.waitForTimeout(500);
      await page.screenshot({ path: join(OUT, s.file) });
      console.log(`docs/screenshots/${s.file}`);
      await ctx.close();
    }
  } finally {
    await browser.close();
    await env.close();
  }
}

await main();
