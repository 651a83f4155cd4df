// A Chromium page for the dashboard's browser tests, recording what must not happen: a script
// error, or anything the Content-Security-Policy blocked (Chromium reports those on the console).

import type { Browser, Page } from 'playwright-core';

const errorsOf = new WeakMap<Page, string[]>();

export async function openPage(browser: Browser, lang: 'en' | 'zh-CN', opts: { width?: number; timeout: number }): Promise<Page> {
  const ctx = await browser.newContext({ locale: lang, viewport: { width: opts.width ?? 1280, height: 800 } });
  ctx.setDefaultTimeout(opts.timeout);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
  errorsOf.set(page, errors);
  return page;
}

/** The script errors and CSP violations seen on a page opened by openPage(). */
export function jsErrors(page: Page): string[] {
  return errorsOf.get(page) ?? [];
}
