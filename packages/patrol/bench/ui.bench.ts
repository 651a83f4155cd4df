// The dashboard at 10,000 probes, in Debian's Chromium (playwright-core, headless), against a
// real Patrol whose probes a local target server answers. `npm run bench:ui` prints:
//  - initial JavaScript (the scripts index.html loads), gzipped;
//  - overview first contentful paint and time to interactive (the first screen's rows rendered
//    and the main thread idle) from a cold load (fresh browser context, empty cache), and when
//    all rows are in (the full read applied: the list's data-complete), median of RUNS;
//  - filter latency: typing a query until the filtered list is painted, median and max;
//  - scrolling: frame intervals while scrolling the whole list (p50, p95, max);
//  - the Patrol process's CPU while one overview page stays open (its live stream and a delta read every 30 s), against
//    the same span with no page open: the difference is what serving the dashboard costs.
// PROBES (10000), INTERVAL (60s), RUNS (3), CPU_SECONDS (30) override.

import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defaultUiDir } from '../src/web/ui.js';
import { launchChromium, startUiEnv, waitProbed } from './ui_env.js';

const PROBES = Number(process.env.PROBES ?? 10_000);
const INTERVAL = process.env.INTERVAL ?? '60s';
const RUNS = Number(process.env.RUNS ?? 3);
const CPU_SECONDS = Number(process.env.CPU_SECONDS ?? 30);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const f = (n: number) => n.toFixed(0);

function initialJs(): { files: string[]; gzipBytes: number; rawBytes: number } {
  const dir = defaultUiDir();
  if (!dir) throw new Error('the dashboard is not built: npm run build');
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]);
  let gz = 0;
  let raw = 0;
  for (const f of files) {
    const b = readFileSync(join(dir, f));
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  const all = readdirSync(join(dir, 'assets')).filter((n) => n.endsWith('.js'));
  console.log(`assets: ${all.join(', ')}`);
  return { files, gzipBytes: gz, rawBytes: raw };
}

async function main() {
  const js = initialJs();
  console.log(`initial JavaScript: ${js.files.join(', ')}: ${(js.rawBytes / 1024).toFixed(1)} KB, ${(js.gzipBytes / 1024).toFixed(1)} KB gzipped (target <= 250 KB)`);
  console.log(`load before: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (1/5/15 min)`);
  const t0 = Date.now();
  const env = await startUiEnv({ probes: PROBES, interval: INTERVAL });
  const browser = await launchChromium();
  try {
    const counts = await waitProbed(env.base, PROBES, 90_000);
    console.log(`${PROBES} probes configured; after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}`);
    const r0 = await fetch(`${env.base}/api/patrol/v1/overview`, { headers: { 'accept-encoding': 'gzip' } });
    const body = await r0.text();
    console.log(`overview API answer: ${(body.length / 1024).toFixed(0)} KB JSON`);
    // The 90-day bars: computed from the state changes of every probe on first ask (in slices
    // that yield), then cached; the server's /-/healthy answers meanwhile show what it holds up.
    {
      const t1 = performance.now();
      let worst = 0;
      let asking = true;
      const pinger = (async () => {
        while (asking) {
          const p0 = performance.now();
          await fetch(`${env.base}/-/healthy`);
          worst = Math.max(worst, performance.now() - p0);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const u = await (await fetch(`${env.base}/api/patrol/v1/overview/uptime?days=90`)).text();
      const first = performance.now() - t1;
      asking = false;
      await pinger;
      const t2 = performance.now();
      await (await fetch(`${env.base}/api/patrol/v1/overview/uptime?days=90`)).text();
      console.log(`90-day bars of ${PROBES} probes: first answer ${f(first)} ms (/-/healthy slowest ${f(worst)} ms meanwhile), cached ${f(performance.now() - t2)} ms, ${(u.length / 1024).toFixed(0)} KB JSON`);
    }

    const fcp: number[] = [];
    const tti: number[] = [];
    const all: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await ctx.newPage();
      await page.goto(env.base + '/', { waitUntil: 'commit' });
      await page.waitForSelector('[data-probe]', { timeout: 30_000 });
      // Interactive: the rows are in and the main thread has gone idle. (Scripts as strings:
      // tsx would wrap named functions in a helper the page does not have.)
      const m = (await page.evaluate(`new Promise((resolve) => {
        requestAnimationFrame(() => requestIdleCallback(() => {
          const p = performance.getEntriesByName('first-contentful-paint')[0];
          resolve({ fcp: p ? p.startTime : -1, tti: performance.now() });
        }, { timeout: 5000 }));
      })`)) as { fcp: number; tti: number };
      fcp.push(m.fcp);
      tti.push(m.tti);
      await page.waitForSelector('.vlist[data-complete]', { timeout: 30_000 });
      all.push((await page.evaluate(`new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())))`)) as number);
      await ctx.close();
    }
    console.log(`overview cold load (${RUNS} runs): first contentful paint ${f(median(fcp))} ms (runs ${fcp.map(f).join(', ')}; target <= 1000), interactive ${f(median(tti))} ms (runs ${tti.map(f).join(', ')}; target <= 1500), all ${PROBES} rows in ${f(median(all))} ms (runs ${all.map(f).join(', ')})`);

    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(env.base + '/');
    await page.waitForSelector('.vlist[data-complete]');
    const queries = ['team=payments', 'web', 'state:down', 'env=staging team=api', 'svc-0999', 'zzz-no-match', ''];
    const filt: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const q of queries) {
        // Rendered and painted: the frame after the update.
        const ms = (await page.evaluate(`new Promise((resolve) => {
          const input = document.querySelector('input.filter');
          const t = performance.now();
          input.value = ${JSON.stringify(q)};
          input.dispatchEvent(new Event('input', { bubbles: true }));
          requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - t), 0));
        })`)) as number;
        filt.push(ms);
      }
    }
    console.log(`filter over ${PROBES} probes (${filt.length} queries): median ${f(median(filt))} ms, max ${f(Math.max(...filt))} ms (target <= 100)`);

    const frames = (await page.evaluate(`new Promise((resolve) => {
      const list = document.querySelector('.vlist');
      const out = [];
      let last = performance.now();
      const start = last;
      function step() {
        const now = performance.now();
        out.push(now - last);
        last = now;
        list.scrollTop += 400;
        if (now - start < 3000 && list.scrollTop + list.clientHeight < list.scrollHeight) requestAnimationFrame(step);
        else resolve(out.slice(1));
      }
      requestAnimationFrame(step);
    })`)) as number[];
    console.log(`scrolling (400 px a frame, ${frames.length} frames): frame interval p50 ${frames.length ? median(frames).toFixed(1) : '-'} ms, p95 ${frames.length ? pct(frames, 0.95).toFixed(1) : '-'} ms, max ${frames.length ? Math.max(...frames).toFixed(1) : '-'} ms`);

    // Server CPU: the same span with the page open (live stream) and closed.
    const measure = async (seconds: number) => {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const c = process.cpuUsage(c0);
      return ((c.user + c.system) / 1000 / (performance.now() - w0)) * 100;
    };
    const withPage = await measure(CPU_SECONDS); // the page open: its event stream and delta reads
    await ctx.close();
    const without = await measure(CPU_SECONDS);
    console.log(`Patrol process CPU over ${CPU_SECONDS} s: ${withPage.toFixed(1)} % of one core with an overview page open, ${without.toFixed(1)} % without (probes running every ${INTERVAL}); the dashboard's share: ${(withPage - without).toFixed(1)} % (target <= 5 %)`);
    console.log(`load after: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (1/5/15 min)`);
  } finally {
    await browser.close();
    await env.close();
  }
}

await main();
