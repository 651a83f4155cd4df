// One JSON POST for the HTTP integrations (Slack, Teams, Telegram, PagerDuty, SMS): the
// receiver's http_config (or the global one), a bounded read of the answer, and errors that
// never repeat a secret (URLs carry keys and tokens).

import { request, type Dispatcher } from 'undici';
import type { HttpClientConfig } from '../config/fields.js';
import { clientDispatcher, RequestHeaders } from '../scrape/httpclient.js';
import { VERSION } from '../version.js';
import type { IntegrationContext, NotifyResult } from './notifier.js';

export interface PostAnswer {
  status: number;
  /** The body's first 64 KiB. */
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

const MAX_BODY = 64 * 1024;

export class JsonPoster {
  private readonly dispatcher: Dispatcher;
  private readonly headers: RequestHeaders;

  constructor(http: HttpClientConfig | undefined, ctx: Pick<IntegrationContext, 'global' | 'baseDir'>) {
    const cfg = http ?? ctx.global?.http_config ?? ({ follow_redirects: true, enable_http2: true } as HttpClientConfig);
    this.dispatcher = clientDispatcher(cfg, ctx.baseDir);
    this.headers = new RequestHeaders(cfg, ctx.baseDir, `Patrol/${VERSION}`);
  }

  /** POSTs `body` (JSON unless a string is given with its content type); throws on network errors. */
  async post(url: string, body: unknown, signal: AbortSignal, opts: { timeout?: number; headers?: Record<string, string>; contentType?: string } = {}): Promise<PostAnswer> {
    const s = opts.timeout && opts.timeout > 0 ? AbortSignal.any([signal, AbortSignal.timeout(opts.timeout)]) : signal;
    const headers: Record<string, string | string[]> = { 'content-type': opts.contentType ?? 'application/json', 'user-agent': `Patrol/${VERSION}`, ...opts.headers };
    if (this.headers.apply(headers)) await this.headers.addToken(headers, s);
    const res = await request(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers, dispatcher: this.dispatcher, signal: s });
    let text = '';
    try {
      for await (const chunk of res.body) {
        text += (chunk as Buffer).toString('utf8');
        if (text.length >= MAX_BODY) break;
      }
    } catch {
      // A body cut off mid-way: judge by what arrived.
    }
    res.body.destroy();
    return { status: res.statusCode, text, headers: res.headers };
  }

  async close(): Promise<void> {
    await this.headers.close();
    await this.dispatcher.close();
  }
}

/** Replaces every secret in a message by <secret>. */
export function redact(msg: string, secrets: readonly (string | undefined)[]): string {
  let out = msg;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('<secret>');
  return out;
}

/** A network error: retried (Alertmanager retries failed requests). */
export function networkError(e: unknown, secrets: readonly (string | undefined)[]): NotifyResult {
  return { ok: false, retry: true, reason: 'other', error: redact((e as Error).message, secrets) };
}

/** A template that did not render: permanent, names the field. */
export function templateError(e: unknown): NotifyResult {
  return { ok: false, retry: false, reason: 'other', error: `template: ${(e as Error).message}` };
}

/** The start of a body for an error message. */
export function excerpt(text: string): string {
  const t = text.trim();
  return t.length > 512 ? t.slice(0, 512) + '…' : t;
}

/** Cuts to at most `max` characters (code points), marking the cut with an ellipsis. */
export function truncateRunes(s: string, max: number): { text: string; truncated: boolean } {
  const cps = [...s];
  if (cps.length <= max) return { text: s, truncated: false };
  return { text: cps.slice(0, max - 1).join('') + '…', truncated: true };
}
