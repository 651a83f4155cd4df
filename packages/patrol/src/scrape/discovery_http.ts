// http_sd_configs: GET a URL every refresh_interval for a JSON list of target groups, as
// Prometheus's HTTP SD does (same headers, same content type rule, `__meta_url` on every group).

import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import { interceptors, request, type Dispatcher } from 'undici';
import type { HttpSDConfig } from '../config/prometheus.js';
import { VERSION } from '../version.js';
import { RefreshDiscovery, targetGroupsFrom, type TargetGroup } from './discovery.js';
import { clientDispatcher, RequestHeaders } from './httpclient.js';

const USER_AGENT = `Patrol/${VERSION}`;

/** Prometheus accepts exactly this (case-insensitive, surrounding spaces trimmed). */
const JSON_CONTENT_TYPE = /^application\/json(;\s*charset=("utf-8"|utf-8))?$/i;

/** The most Patrol reads of one answer, so a broken endpoint cannot exhaust memory. */
export const HTTP_SD_BODY_LIMIT = 64 * 1024 * 1024;

/** Decodes an HTTP SD answer; throws naming the problem. `url` becomes `__meta_url`. */
export function parseHttpSD(body: string, url: string): TargetGroup[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    throw new Error(`${url}: invalid JSON: ${(e as Error).message}`);
  }
  if (Array.isArray(doc) && doc.some((g) => g === null)) throw new Error(`${url}: group ${doc.indexOf(null)} is null`);
  return targetGroupsFrom(doc, url, { __meta_url: url });
}

/**
 * One http_sd_config. Requests carry `X-Prometheus-Refresh-Interval-Seconds` and time out after
 * the refresh interval. Construction throws when a TLS file cannot be read.
 */
export class HttpDiscovery extends RefreshDiscovery {
  private readonly agent: Dispatcher;
  private readonly dispatcher: Dispatcher;
  private readonly extra: RequestHeaders;

  constructor(
    private readonly cfg: HttpSDConfig,
    baseDir: string,
    onChange: (groups: TargetGroup[]) => void,
    log?: Logger,
  ) {
    super('http_sd', cfg.refresh_interval, onChange, log);
    this.agent = clientDispatcher(cfg, baseDir);
    this.dispatcher = cfg.follow_redirects ? this.agent.compose(interceptors.redirect({ maxRedirections: 10 })) : this.agent;
    this.extra = new RequestHeaders(cfg, baseDir, USER_AGENT);
  }

  protected async fetch(stop: AbortSignal): Promise<{ groups: TargetGroup[]; errors: string[] }> {
    const url = this.cfg.url;
    const headers: Record<string, string | string[]> = {
      accept: 'application/json',
      'user-agent': USER_AGENT,
      'x-prometheus-refresh-interval-seconds': String(this.cfg.refresh_interval / 1000),
    };
    const signal = AbortSignal.any([stop, AbortSignal.timeout(this.cfg.refresh_interval)]);
    let res: Dispatcher.ResponseData;
    try {
      if (this.extra.apply(headers)) await this.extra.addToken(headers, signal);
      res = await request(url, { method: 'GET', headers, dispatcher: this.dispatcher, signal });
    } catch (e) {
      throw new Error(`Get "${url}": ${describe(e, signal)}`);
    }
    if (res.statusCode !== 200) {
      res.body.resume();
      res.body.on('error', () => undefined);
      throw new Error(`${url}: server returned HTTP status ${res.statusCode} ${STATUS_CODES[res.statusCode] ?? ''}`.trimEnd());
    }
    const ct = String(res.headers['content-type'] ?? '').trim();
    if (!JSON_CONTENT_TYPE.test(ct)) {
      res.body.resume();
      res.body.on('error', () => undefined);
      throw new Error(`${url}: unsupported content type ${JSON.stringify(ct)} (expected application/json)`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of res.body as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > HTTP_SD_BODY_LIMIT) {
          res.body.destroy();
          throw new Error(`answer larger than ${HTTP_SD_BODY_LIMIT} bytes`);
        }
        chunks.push(c);
      }
    } catch (e) {
      throw new Error(`${url}: reading the answer: ${describe(e, signal)}`);
    }
    return { groups: parseHttpSD(Buffer.concat(chunks).toString('utf8'), url), errors: [] };
  }

  override stop(): void {
    super.stop();
    void this.agent.close().catch(() => undefined);
    void this.extra.close();
  }
}

function describe(e: unknown, signal: AbortSignal): string {
  if (signal.aborted) return (signal.reason as Error | undefined)?.name === 'TimeoutError' ? 'timed out (refresh_interval)' : 'cancelled';
  const err = e as Error & { code?: string; cause?: Error & { code?: string } };
  const detail = err.cause?.message ?? err.message;
  const code = err.code ?? err.cause?.code;
  return `${detail}${code && !detail.includes(code) ? ` (${code})` : ''}`;
}
