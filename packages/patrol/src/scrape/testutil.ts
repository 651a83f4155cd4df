// Helpers for the scrape tests: local HTTP servers and Debian's Prometheus side by side.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { binaryPath, needBinary } from '../testing/shared.js';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { labelsToRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { collectSeries, loadSamples, type Storage } from '../storage/interface.js';

export const PROMETHEUS_BIN = binaryPath('prometheus');
export const NODE_EXPORTER_BIN = binaryPath('prometheus-node-exporter');

/** A skip reason when the program is missing (a failure under CI=true); see testing/shared.ts. */
export function binaryMissing(bin: string): string | false {
  return needBinary(basename(bin));
}

export interface TestServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

import { freePort } from '../testing/net.js';

export { freePort };

export interface PrometheusProcess {
  url: string;
  proc: ChildProcess;
  dir: string;
  stop(): Promise<void>;
}

/** Starts Debian's prometheus with `config` (YAML text) in its own temp data dir on a free port. */
export async function startPrometheus(config: string, extraArgs: string[] = []): Promise<PrometheusProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-prom-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const proc = spawn(PROMETHEUS_BIN, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
    try {
      const r = await fetch(`${url}/-/ready`);
      if (r.ok) return { url, proc, dir, stop };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await stop();
  throw new Error(`prometheus did not become ready: ${stderr}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a value other than undefined, up to `tries` × `ms`. */
export async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, tries = 600, ms = 50): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(ms);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function config(yaml: string): Config {
  const r = parseConfig(yaml);
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.config;
}

/** Series in storage matching name (and optional extra matchers) → their samples. */
export function read(storage: Pick<Storage, 'querier'>, name: string, ...more: Matcher[]): { labels: Record<string, string>; values: number[]; ts: number[] }[] {
  const q = storage.querier(-Infinity, Infinity);
  const set = q.select({ start: -Infinity, end: Infinity }, [new Matcher('=', '__name__', name), ...more]);
  return collectSeries(set).map((s) => {
    const { timestamps, values } = loadSamples(s.iterator());
    return { labels: labelsToRecord(s.labels), values: [...values], ts: [...timestamps] };
  });
}

