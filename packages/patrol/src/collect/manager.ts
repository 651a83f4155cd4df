// Custom collectors: the textfile directory, script collectors and Go expvar endpoints, each run
// on its own interval. Scripts and expvar endpoints behave like scrape targets: their series are
// labelled job=<name>, instance=<host or hostname> plus configured labels, and every run stores
// up, scrape_duration_seconds and scrape_samples_scraped; a failed run stores up=0 and marks the
// source's other series stale. Textfile series carry the host collector's job and instance.

import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Component, ConfigContext, Runtime } from '../component.js';
import { resolveInterval } from '../config/collectors.js';
import type { Config } from '../config/schema.js';
import { labelsFromRecord, type Labels } from '../model/labels.js';
import type { Storage } from '../storage/interface.js';
import { fetchExpvar } from './expvar.js';
import { parseScriptOutput, runScript } from './script.js';
import { SeriesSink, withTargetLabels, type CollectedSample } from '../storage/sink.js';
import { readTextfiles } from './textfile.js';
import { componentLogger } from '../logger.js';
import { guarded } from '../producer.js';

export type CollectorKind = 'textfile' | 'script' | 'expvar';

export interface CollectorStatus {
  kind: CollectorKind;
  name: string;
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  /** Why the last run failed (or, for textfiles, which files were skipped); '' when it did not. */
  lastError: string;
  lastCollect: string | null;
  lastDurationSeconds: number;
  samples: number;
  intervalSeconds: number;
}

interface Collected {
  samples: { labels: Labels; value: number }[];
  /** A partial problem: the run stored what it could. */
  warning?: string;
}

interface SourceSpec {
  kind: CollectorKind;
  name: string;
  interval: number;
  target: Record<string, string>;
  /** Stores up / scrape_duration_seconds / scrape_samples_scraped like a scrape target. */
  targetHealth: boolean;
  /** Configuration identity; a source whose fingerprint changes is restarted. */
  fingerprint: string;
  collect(): Promise<Collected>;
}

class SourceLoop {
  readonly status: CollectorStatus;
  private readonly sink: SeriesSink;
  private readonly target: Labels;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    readonly spec: SourceSpec,
    storage: Storage,
    private readonly log: Logger,
  ) {
    this.sink = new SeriesSink(storage);
    this.target = labelsFromRecord(spec.target);
    this.status = {
      kind: spec.kind,
      name: spec.name,
      labels: spec.target,
      health: 'unknown',
      lastError: '',
      lastCollect: null,
      lastDurationSeconds: 0,
      samples: 0,
      intervalSeconds: spec.interval / 1000,
    };
  }

  start(): void {
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      // The producer edge: whatever escapes one run is counted and logged; the schedule goes on.
      void guarded('collector', () => this.runOnce(), this.log, { collector: this.spec.kind, name: this.spec.name }).then(() => this.schedule(this.spec.interval));
    }, delay);
    this.timer.unref();
  }

  /** One run, stored. Never throws: failures are recorded in the status and as up=0. */
  runOnce(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    const started = performance.now();
    let result: Collected | null = null;
    let error = '';
    try {
      result = await this.spec.collect();
    } catch (e) {
      error = (e as Error).message || String(e);
    }
    if (this.stopped) return;
    const t = Date.now();
    const seconds = (performance.now() - started) / 1000;
    const out: CollectedSample[] = [];
    for (const s of result?.samples ?? []) out.push({ labels: withTargetLabels(s.labels, this.target), value: s.value });
    const scraped = out.length;
    if (this.spec.targetHealth) {
      const meta = (name: string, value: number) => out.push({ labels: labelsFromRecord({ ...this.spec.target, __name__: name }), value });
      meta('up', result ? 1 : 0);
      meta('scrape_duration_seconds', seconds);
      meta('scrape_samples_scraped', scraped);
    }
    try {
      const w = this.sink.write(t, out);
      if (w.rejected > 0 && !error) error = `${w.rejected} samples rejected by storage: ${w.errors.join('; ')}`;
    } catch (e) {
      error ||= `storing samples failed: ${(e as Error).message}`;
    }
    const problem = error || result?.warning || '';
    if (problem && problem !== this.status.lastError) this.log.warn({ collector: this.spec.kind, name: this.spec.name, error: problem }, 'collector run failed');
    Object.assign(this.status, {
      health: result && !error ? 'up' : 'down',
      lastError: problem,
      lastCollect: new Date(t).toISOString(),
      lastDurationSeconds: seconds,
      samples: scraped,
    });
  }

  /**
   * Stops the loop. `markStale` (the source was removed or changed) ends all of its series with
   * staleness markers; at shutdown they are left as they are.
   */
  async stop(markStale: boolean): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    if (!markStale) return;
    try {
      this.sink.markAllStale(Date.now());
    } catch (e) {
      this.log.error({ err: e, collector: this.spec.kind, name: this.spec.name }, 'writing staleness markers failed');
    }
  }
}

function specs(cfg: Config, ctx: ConfigContext): SourceSpec[] {
  const out: SourceSpec[] = [];
  const host = hostname();
  const global = cfg.global.scrape_interval;
  const tf = cfg.collectors.textfile;
  if (tf) {
    const target = { job: cfg.host.job, instance: host, ...cfg.host.labels };
    out.push({
      kind: 'textfile',
      name: 'textfile',
      interval: resolveInterval(tf.interval, global),
      target,
      targetHealth: false,
      fingerprint: JSON.stringify([tf, target, ctx.dir]),
      collect: async () => {
        const dir = tf.directory.startsWith('/') ? tf.directory : `${ctx.dir}/${tf.directory}`;
        const r = await readTextfiles(dir);
        return { samples: r.samples, warning: r.errors.map((e) => `${e.file}: ${e.error}`).join('; ') || undefined };
      },
    });
  }
  for (const s of cfg.collectors.scripts) {
    const target = { job: s.name, instance: host, ...s.labels };
    const interval = resolveInterval(s.interval, global);
    const timeout = Math.min(s.timeout, interval);
    out.push({
      kind: 'script',
      name: s.name,
      interval,
      target,
      targetHealth: true,
      fingerprint: JSON.stringify([s, interval, ctx.dir]),
      collect: async () => {
        const r = await runScript(s.command, s.args, timeout, ctx.dir);
        if (!r.ok) throw new Error(r.error);
        try {
          return { samples: parseScriptOutput(r.stdout) };
        } catch (e) {
          throw new Error(`output is not valid exposition format: ${(e as Error).message}`);
        }
      },
    });
  }
  for (const e of cfg.collectors.expvar) {
    const target = { job: e.name, instance: new URL(e.url).host, ...e.labels };
    const interval = resolveInterval(e.interval, global);
    const timeout = Math.min(e.timeout, interval);
    out.push({
      kind: 'expvar',
      name: e.name,
      interval,
      target,
      targetHealth: true,
      fingerprint: JSON.stringify([e, interval]),
      collect: async () => ({ samples: await fetchExpvar(e.url, timeout) }),
    });
  }
  return out;
}

export class CollectorsManager implements Component {
  readonly name = 'collectors';
  private readonly storage: Storage;
  private readonly log: Logger;
  private loops = new Map<string, SourceLoop>();
  private stopped = false;

  constructor(rt: Runtime) {
    this.storage = rt.storage;
    this.log = componentLogger(rt.logger, 'collectors');
  }

  async applyConfig(cfg: Config, ctx: ConfigContext): Promise<void> {
    if (this.stopped) return;
    const next = new Map<string, SourceSpec>();
    for (const s of specs(cfg, ctx)) next.set(`${s.kind}/${s.name}`, s);
    const stopping: Promise<void>[] = [];
    for (const [key, loop] of this.loops) {
      const spec = next.get(key);
      if (spec && spec.fingerprint === loop.spec.fingerprint) continue;
      this.loops.delete(key);
      stopping.push(loop.stop(true));
    }
    await Promise.all(stopping);
    for (const [key, spec] of next) {
      if (this.loops.has(key)) continue;
      const loop = new SourceLoop(spec, this.storage, this.log);
      this.loops.set(key, loop);
      loop.start();
    }
  }

  /** Runs every collector once now (tests, `patrol run --once`). */
  async collectOnce(): Promise<void> {
    await Promise.all([...this.loops.values()].map((l) => l.runOnce()));
  }

  /** The state of every collector, for the API and dashboard. */
  status(): CollectorStatus[] {
    return [...this.loops.values()].map((l) => ({ ...l.status }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const loops = [...this.loops.values()];
    this.loops.clear();
    await Promise.all(loops.map((l) => l.stop(false)));
  }
}
