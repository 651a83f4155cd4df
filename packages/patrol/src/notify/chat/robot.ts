// What every chat robot integration shares: its HTTP client (the receiver's http_config, or the
// global one), a bounded POST of JSON that reads a bounded answer, and errors that never repeat
// the robot's address or key.

import { createHash } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import type { HttpClientConfig } from '../../config/fields.js';
import { clientDispatcher, readSecretFile } from '../../scrape/httpclient.js';
import { VERSION } from '../../version.js';
import type { Secret } from '../../config/secret.js';

/** A robot's answer: the HTTP status and the body (parsed JSON when it is JSON). */
export interface RobotAnswer {
  status: number;
  body: unknown;
  text: string;
}

/** Requests give up after this long unless the flush's signal ends them first. */
export const ROBOT_TIMEOUT_MS = 15_000;
const MAX_ANSWER = 64 * 1024;

export class RobotClient {
  readonly dispatcher: Dispatcher;
  private readonly secrets: string[];

  constructor(http: HttpClientConfig | undefined, baseDir: string, secrets: readonly (string | undefined)[]) {
    this.dispatcher = clientDispatcher(http ?? { follow_redirects: true, enable_http2: true }, baseDir);
    this.secrets = secrets.filter((s): s is string => !!s && s.length >= 4);
  }

  /** `msg` with every secret (and each URL's query) replaced. */
  redact(msg: string): string {
    let out = msg;
    for (const s of this.secrets) {
      out = out.split(s).join('<secret>');
      try {
        const u = new URL(s);
        if (u.search) out = out.split(u.search.slice(1)).join('<secret>');
      } catch {
        // Not a URL.
      }
    }
    return out;
  }

  async post(url: string, payload: unknown, signal: AbortSignal, method: 'POST' | 'GET' = 'POST'): Promise<RobotAnswer> {
    const s = AbortSignal.any([signal, AbortSignal.timeout(ROBOT_TIMEOUT_MS)]);
    const res = await request(url, {
      method,
      body: method === 'POST' ? JSON.stringify(payload) : undefined,
      headers: method === 'POST' ? { 'content-type': 'application/json; charset=utf-8', 'user-agent': `Patrol/${VERSION}` } : { 'user-agent': `Patrol/${VERSION}` },
      dispatcher: this.dispatcher,
      signal: s,
    });
    let text = '';
    try {
      for await (const chunk of res.body) {
        text += (chunk as Buffer).toString('utf8');
        if (text.length >= MAX_ANSWER) break;
      }
    } catch {
      // A cut-off answer is judged on what arrived.
    }
    res.body.destroy();
    let body: unknown = undefined;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: the status decides.
    }
    return { status: res.statusCode, body, text: this.redact(text.slice(0, 512)) };
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** The value of a secret field or of its `_file` twin. */
export function secretValue(v: Secret | undefined, file: string | undefined, baseDir: string): string | undefined {
  if (v) return v.reveal();
  if (file) return readSecretFile(file, baseDir).trim();
  return undefined;
}

/** A robot's identity for the limiter: a hash of its address without the signing query. */
export function robotId(kind: string, url: string): string {
  let base = url;
  try {
    const u = new URL(url);
    u.searchParams.delete('timestamp');
    u.searchParams.delete('sign');
    base = u.toString();
  } catch {
    // Not a URL: the text itself.
  }
  return kind + ':' + createHash('sha256').update(base).digest('hex').slice(0, 16);
}

/** A network error's message, for a result. */
export function networkError(e: unknown, client: RobotClient): string {
  const err = e as Error & { cause?: Error };
  const m = err.name === 'TimeoutError' || err.name === 'AbortError' ? `request timed out or was canceled` : err.message;
  return client.redact(err.cause?.message ? `${m}: ${err.cause.message}` : m);
}
