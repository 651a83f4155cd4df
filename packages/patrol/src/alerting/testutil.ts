// Test helpers for the alerting plane: a webhook sink that records what it receives, a
// condition wait, and a dispatcher built from configuration text.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { createLogger } from '../logger.js';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { WebhookMessage } from '../notify/webhook/webhook.js';
import { killed } from '../testing/patrolproc.js';
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

/** POSTs `body` as JSON, expects 200, and returns the parsed answer (undefined when empty). */
export async function postJson(base: string, path: string, body: unknown): Promise<unknown> {
  const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  assert.equal(r.status, 200, `${path}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** The scene of a kill -9 test, for use inside describe(): a temporary directory, a webhook sink
 * (not started), and a list of processes; after the suite the processes are killed, the sink
 * stopped and the directory removed. */
export function killScene(prefix: string): { dir: string; sink: WebhookSink; procs: ChildProcess[] } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const sink = new WebhookSink();
  const procs: ChildProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => killed(p)));
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, sink, procs };
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
