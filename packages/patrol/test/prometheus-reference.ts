// Side-by-side helpers: one synthetic data set loaded both into a Patrol Storage and into a real
// Debian Prometheus (backfilled with `promtool tsdb create-blocks-from openmetrics`), and a
// Prometheus process started on a free port with a temporary data directory.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labelsFromRecord, type Labels } from '../src/model/labels.js';
import type { Appender } from '../src/storage/interface.js';
import { binaryPath, needBinary } from '../src/testing/shared.js';

export const PROMETHEUS_BIN = binaryPath('prometheus');
export const PROMTOOL_BIN = binaryPath('promtool');

/** A skip reason when Prometheus or promtool is missing (a failure under CI=true). */
export function referenceMissing(): string | false {
  return needBinary('prometheus') || needBinary('promtool');
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  series: { labels: Record<string, string>; value: (i: number) => number }[];
}

export interface DataSet {
  families: Family[];
  /** First sample, milliseconds; samples every `intervalMs`, `points` per series. */
  start: number;
  intervalMs: number;
  points: number;
}

/**
 * A data set shaped like a service's metrics: request counters by job/instance/code, a request
 * duration histogram, an up gauge, and a gauge carrying awkward values and label values.
 */
export function serviceDataSet(opts: { start: number; intervalMs: number; points: number; instances: number; jobs?: number }): DataSet {
  const jobs = opts.jobs ?? 2;
  const codes = ['200', '404', '500'];
  const les = ['0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'];
  const requests: Family = { name: 'http_requests_total', type: 'counter', help: 'Requests served.', series: [] };
  const buckets: Family = { name: 'http_request_duration_seconds', type: 'histogram', help: 'Request latency.', series: [] };
  const up: Family = { name: 'up', type: 'gauge', help: 'Target is up.', series: [] };
  for (let j = 0; j < jobs; j++) {
    for (let n = 0; n < opts.instances; n++) {
      const base = { job: `job${j}`, instance: `host${n}:9100` };
      const seed = j * 7919 + n * 104729;
      up.series.push({ labels: base, value: (i) => ((i + seed) % 97 === 0 ? 0 : 1) });
      codes.forEach((code, c) => {
        const rate = code === '200' ? 10 + (seed % 13) : code === '404' ? 1 + (seed % 3) : 0.2 + (seed % 5) / 10;
        // Counters with an occasional reset.
        requests.series.push({ labels: { ...base, code }, value: (i) => Math.floor(((i + c) % 1000) * rate * 15) });
      });
      les.forEach((le, b) => {
        buckets.series.push({ labels: { ...base, le }, value: (i) => Math.floor(i * (b + 1) * (3 + (seed % 4))) });
      });
    }
  }
  const odd: Family = {
    name: 'odd_values',
    type: 'gauge',
    help: 'Values that test number formatting.',
    series: [
      { labels: { k: 'tiny' }, value: () => 1e-7 },
      { labels: { k: 'huge' }, value: () => 1.5e21 },
      { labels: { k: 'neg' }, value: (i) => -0.5 - i },
      { labels: { k: 'inf' }, value: () => Infinity },
      { labels: { k: 'nan' }, value: () => NaN },
      { labels: { k: 'a<b&c>"q"' }, value: (i) => i / 3 },
      { labels: { k: 'ünï' }, value: () => 0.1 },
    ],
  };
  return { families: [requests, buckets, up, odd], start: opts.start, intervalMs: opts.intervalMs, points: opts.points };
}

function seriesName(f: Family): string {
  return f.type === 'histogram' ? `${f.name}_bucket` : f.name;
}

export function seriesLabels(f: Family, labels: Record<string, string>): Labels {
  return labelsFromRecord({ __name__: seriesName(f), ...labels });
}

/** Appends the data set, committing every `batch` samples. */
export function loadInto(appender: () => Appender, ds: DataSet, batch = 50_000): number {
  let n = 0;
  let app = appender();
  for (const f of ds.families) {
    for (const s of f.series) {
      const ls = seriesLabels(f, s.labels);
      let ref = 0;
      for (let i = 0; i < ds.points; i++) {
        ref = app.append(ref, ls, ds.start + i * ds.intervalMs, s.value(i));
        if (++n % batch === 0) {
          app.commit();
          app = appender();
          ref = 0;
        }
      }
    }
  }
  app.commit();
  return n;
}

function omValue(v: number): string {
  if (v !== v) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function omLabels(labels: Record<string, string>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k].replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** The data set as OpenMetrics text (families contiguous, each series in time order). */
export function toOpenMetrics(ds: DataSet): string {
  const out: string[] = [];
  for (const f of ds.families) {
    // OpenMetrics names a counter family without its _total suffix; the classic buckets go in as
    // a plain gauge family (no _sum/_count needed, and no le normalisation).
    const name = seriesName(f);
    const family = f.type === 'counter' ? f.name.replace(/_total$/, '') : name;
    out.push(`# HELP ${family} ${f.help}`, `# TYPE ${family} ${f.type === 'histogram' ? 'gauge' : f.type}`);
    for (const s of f.series) {
      const l = omLabels(s.labels);
      for (let i = 0; i < ds.points; i++) {
        const t = ds.start + i * ds.intervalMs;
        out.push(`${name}${l} ${omValue(s.value(i))} ${t / 1000}`);
      }
    }
  }
  out.push('# EOF', '');
  return out.join('\n');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = a && typeof a === 'object' ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ReferencePrometheus {
  url: string;
  version: string;
  stop(): Promise<void>;
}

/**
 * Backfills the data set with promtool and starts Prometheus on it. Rejects (and cleans up) when
 * Prometheus is not ready within `readyTimeoutMs`.
 */
export async function startReferencePrometheus(ds: DataSet, readyTimeoutMs = 60_000): Promise<ReferencePrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-promref-'));
  const dataDir = join(dir, 'data');
  const om = join(dir, 'data.om');
  writeFileSync(om, toOpenMetrics(ds));
  const backfill = spawnSync(PROMTOOL_BIN, ['tsdb', 'create-blocks-from', 'openmetrics', om, dataDir], { encoding: 'utf8', timeout: 300_000 });
  rmSync(om);
  if (backfill.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`promtool backfill failed: ${backfill.stderr || backfill.stdout}`);
  }
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, 'global:\n  scrape_interval: 1h\n');
  const version = (spawnSync(PROMETHEUS_BIN, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '').replace(/^prometheus, version /, '');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=100y',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 10_000) stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}: ${stderr}`);
    }
    try {
      const r = await fetch(`${url}/-/ready`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within ${readyTimeoutMs} ms: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, version, stop };
}
