// Test helpers for the alerting plane: a webhook sink that records what it receives, a
// condition wait, and a dispatcher built from configuration text.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createLogger } from '../logger.js';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { WebhookMessage } from '../notify/webhook/webhook.js';
import { AlertDispatcher, type DispatcherOptions } from './dispatcher.js';

export interface Received {
  path: string;
  body: WebhookMessage;
  headers: IncomingMessage['headers'];
}

/** An HTTP server on 127.0.0.1 that records webhook posts; `respond` decides each answer. */
export class WebhookSink {
  readonly received: Received[] = [];
  attempts = 0;
  respond: (path: string, attempt: number) => Promise<number> | number = () => 200;
  private server: Server | null = null;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const addr = this.server.address();
    if (!addr || typeof addr !== 'object') throw new Error('no port');
    this.url = `http://127.0.0.1:${addr.port}`;
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const c of req) text += String(c);
    this.attempts++;
    const code = await this.respond(req.url ?? '', this.attempts);
    if (code === 200) this.received.push({ path: req.url ?? '', body: JSON.parse(text) as WebhookMessage, headers: req.headers });
    res.statusCode = code;
    res.end(code === 200 ? 'ok' : 'failed on purpose');
  }

  on(path: string): WebhookMessage[] {
    return this.received.filter((r) => r.path === path).map((r) => r.body);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** Waits until cond() holds, polling; throws after `ms` naming what was awaited. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function configFrom(yaml: string): Config {
  const r = parseConfig(yaml, '<test>');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.config;
}

export async function startDispatcher(yaml: string, o: Partial<DispatcherOptions> = {}): Promise<AlertDispatcher> {
  const d = new AlertDispatcher({ logger: createLogger('silent'), defaultExternalURL: () => 'http://patrol.test:9310', backoff: { initial: 20, max: 100 }, ...o });
  await d.applyConfig(configFrom(yaml), { dir: '.' });
  return d;
}
