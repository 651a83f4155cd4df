// The HTTP side of a scrape: one undici Agent per scrape pool carrying its TLS settings, auth
// headers, content negotiation, gzip, the timeout and the body size limit. Returns the raw body;
// parsing is the loop's business.

import { STATUS_CODES } from 'node:http';
import { createGunzip, createInflate } from 'node:zlib';
import { interceptors, request, type Dispatcher } from 'undici';
import type { ScrapeConfig } from '../config/prometheus.js';
import { formatDuration } from '../model/duration.js';
import { clientDispatcher, RequestHeaders } from './httpclient.js';

/** What Prometheus 2.42 sends: OpenMetrics preferred, then the 0.0.4 text format, then anything. */
export const DEFAULT_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const PROTOCOL_MEDIA: Record<string, string | undefined> = {
  'OpenMetricsText1.0.0': 'application/openmetrics-text;version=1.0.0',
  'OpenMetricsText0.0.1': 'application/openmetrics-text;version=0.0.1',
  'PrometheusText1.0.0': 'text/plain;version=1.0.0',
  'PrometheusText0.0.4': 'text/plain;version=0.0.4',
  // Protobuf is not implemented; it is left out of the Accept header.
  PrometheusProto: undefined,
};

/** Builds the Accept header from scrape_protocols as Prometheus does (decreasing q, then any). */
export function acceptHeader(protocols: readonly string[] | undefined): string {
  if (!protocols || protocols.length === 0) return DEFAULT_ACCEPT;
  const parts: string[] = [];
  let w = protocols.length + 1;
  for (const p of protocols) {
    const media = PROTOCOL_MEDIA[p];
    if (!media) continue;
    parts.push(w === protocols.length + 1 ? media : `${media};q=0.${w}`);
    w--;
  }
  parts.push('*/*;q=0.1');
  return parts.join(',');
}

/** Patrol reads at most this much even without body_size_limit, so one target cannot exhaust memory. */
export const HARD_BODY_LIMIT = 256 * 1024 * 1024;

export class ScrapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScrapeError';
  }
}

export interface ScrapeResponse {
  body: Buffer;
  contentType: string;
}

export class ScrapeClient {
  private readonly agent: Dispatcher;
  private readonly dispatcher: Dispatcher;
  readonly accept: string;
  private readonly bodyLimit: number;
  private readonly extra: RequestHeaders;

  /** Throws (naming the file) when a TLS file cannot be read. */
  constructor(
    private readonly cfg: ScrapeConfig,
    private readonly baseDir: string,
  ) {
    // No cap on connections per origin: targets behind one host:port (an exporter with
    // ?target= params) are scraped in parallel, as Prometheus does.
    this.agent = clientDispatcher(cfg, baseDir, { keepAliveTimeout: Math.max(cfg.scrape_interval * 2, 30_000) });
    this.dispatcher = cfg.follow_redirects ? this.agent.compose(interceptors.redirect({ maxRedirections: 10 })) : this.agent;
    this.accept = acceptHeader(cfg.scrape_protocols);
    this.bodyLimit = cfg.body_size_limit > 0 ? cfg.body_size_limit : HARD_BODY_LIMIT;
    this.extra = new RequestHeaders(cfg, baseDir, 'Patrol');
  }

  /**
   * Fetches `url` within `timeoutMs`. Throws ScrapeError with the reason Prometheus would give
   * (status, timeout, body size limit, connection errors).
   */
  async scrape(url: URL, timeoutMs: number, stop?: AbortSignal): Promise<ScrapeResponse> {
    const headers: Record<string, string | string[]> = {
      accept: this.accept,
      'user-agent': 'Patrol',
      'x-prometheus-scrape-timeout-seconds': String(timeoutMs / 1000),
    };
    if (this.cfg.enable_compression) headers['accept-encoding'] = 'gzip';
    let needsToken: boolean;
    try {
      needsToken = this.extra.apply(headers);
    } catch (e) {
      throw new ScrapeError((e as Error).message);
    }
    const ctrl = new AbortController();
    // The abort waits for setImmediate, i.e. until I/O that already arrived has been processed:
    // after an event-loop stall a response that came in time is not reported as a timeout.
    const timer = setTimeout(() => setImmediate(() => ctrl.abort(new ScrapeError(`scrape timed out after ${formatDuration(timeoutMs)} (scrape_timeout)`))), timeoutMs);
    const onStop = (): void => ctrl.abort(new ScrapeError('scrape cancelled'));
    stop?.addEventListener('abort', onStop);
    try {
      let res: Dispatcher.ResponseData;
      if (needsToken) {
        try {
          await this.extra.addToken(headers, ctrl.signal);
        } catch (e) {
          throw e instanceof ScrapeError ? e : new ScrapeError(`Get "${url.toString()}": ${(e as Error).message}`);
        }
      }
      try {
        res = await request(url, { method: 'GET', headers, dispatcher: this.dispatcher, signal: ctrl.signal });
      } catch (e) {
        throw this.explain(e, ctrl.signal, url);
      }
      if (res.statusCode !== 200) {
        res.body.resume();
        res.body.on('error', () => undefined);
        throw new ScrapeError(`server returned HTTP status ${res.statusCode} ${STATUS_CODES[res.statusCode] ?? ''}`.trimEnd());
      }
      const ct = String(res.headers['content-type'] ?? '');
      const enc = String(res.headers['content-encoding'] ?? '').toLowerCase();
      try {
        const body = await this.readBody(res.body, enc);
        return { body, contentType: ct };
      } catch (e) {
        throw this.explain(e, ctrl.signal, url);
      }
    } finally {
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
    }
  }

  private explain(e: unknown, signal: AbortSignal, url: URL): ScrapeError {
    if (e instanceof ScrapeError) return e;
    if (signal.aborted && signal.reason instanceof ScrapeError) return signal.reason;
    const err = e as Error & { code?: string; cause?: Error & { code?: string } };
    const detail = err.cause?.message ?? err.message;
    const code = err.code ?? err.cause?.code;
    return new ScrapeError(`Get "${url.toString()}": ${detail}${code && !detail.includes(code) ? ` (${code})` : ''}`);
  }

  private async readBody(body: Dispatcher.ResponseData['body'], encoding: string): Promise<Buffer> {
    const limit = this.bodyLimit;
    const chunks: Buffer[] = [];
    let size = 0;
    const over = (): ScrapeError =>
      new ScrapeError(limit === HARD_BODY_LIMIT && this.cfg.body_size_limit === 0 ? `body larger than ${limit} bytes, the most Patrol reads without body_size_limit` : `body size limit exceeded: more than ${limit} bytes (body_size_limit)`);
    if (encoding === 'gzip' || encoding === 'deflate') {
      const z = encoding === 'gzip' ? createGunzip() : createInflate();
      body.on('error', (e) => z.destroy(e));
      body.pipe(z);
      try {
        for await (const c of z as AsyncIterable<Buffer>) {
          size += c.length;
          if (size > limit) throw over();
          chunks.push(c);
        }
      } catch (e) {
        body.destroy();
        z.destroy();
        if (e instanceof ScrapeError) throw e;
        if ((e as { code?: string }).code?.startsWith('Z_')) throw new ScrapeError(`invalid ${encoding} body: ${(e as Error).message}`);
        throw e;
      }
    } else {
      try {
        for await (const c of body as AsyncIterable<Buffer>) {
          size += c.length;
          if (size > limit) throw over();
          chunks.push(c);
        }
      } catch (e) {
        body.destroy();
        throw e;
      }
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
  }

  async close(): Promise<void> {
    await this.extra.close();
    await this.agent.close().catch(() => undefined);
  }
}
