// The host collector: the machine Patrol runs on, read from procfs and statfs on an interval and
// stored under node_exporter's metric names, labelled job="host" (configurable) and
// instance=<hostname>. A file that cannot be read skips its section for that cycle
// (node_scrape_collector_success{collector} says which), the rest is still stored. Each cycle
// also writes what Prometheus writes for a scraped target: `up` (1 when every section was read,
// 0 when one failed or the cycle itself failed), `scrape_duration_seconds` and
// `scrape_samples_scraped`, so `up{job="host"}` reads like any target's.

import { readdir, readFile, statfs } from 'node:fs/promises';
import { hostname, machine } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { Component, Runtime } from '../component.js';
import { resolveInterval, type HostConfig } from '../config/collectors.js';
import type { Config } from '../config/schema.js';
import { labelsFromRecord, type Labels } from '../model/labels.js';
import { SeriesSink, withTargetLabels, type CollectedSample, type WriteOutcome } from '../storage/sink.js';
import type { Storage } from '../storage/interface.js';
import { guarded } from '../producer.js';
import { filesystemSamples, parseDiskstats, parseFileNr, parseLoadavg, parseMeminfo, parseMounts, parseNetDev, parseStat, type FsStats, type HostSample, type Mount } from './procfs.js';
import { componentLogger } from '../logger.js';

/** A statfs that has not answered in this long is skipped until it does (hung NFS mounts). */
const STATFS_TIMEOUT_MS = 5_000;

export interface HostSettings {
  interval: number;
  job: string;
  labels: Record<string, string>;
  procfs: string;
  sysfs: string;
}

export interface HostCollectResult {
  timestamp: number;
  samples: number;
  /** Sections that failed, with the reason. */
  failures: { collector: string; error: string }[];
  write: WriteOutcome;
}

export interface HostStatus {
  enabled: boolean;
  job: string | null;
  intervalSeconds: number | null;
  /**
   * 'down' when a section (or the whole cycle) failed in the last cycle; the `up` series is 0
   * then, and lastError gives each failure as "section: reason".
   */
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastCollect: string | null;
  lastDurationSeconds: number;
  samples: number;
}

/** Reads the host's samples; the collector's default is readHostSamples (tests inject failures). */
export type HostReader = (procfs: string, sysfs: string, stuck: Set<string>) => Promise<{ samples: HostSample[]; failures: { collector: string; error: string }[] }>;

/** The series a scrape adds about itself, written for the host collector too. */
export const TARGET_HEALTH_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'] as const;

export function hostSettings(host: HostConfig, globalScrapeInterval: number): HostSettings {
  return { interval: resolveInterval(host.interval, globalScrapeInterval), job: host.job, labels: host.labels, procfs: host.procfs, sysfs: host.sysfs };
}

/**
 * Reads every section once and returns the samples (without job/instance). Exposed for tests and
 * benchmarks; the collector wraps it with storage and the timer.
 */
export async function readHostSamples(procfs: string, sysfs = '/sys', stuck: Set<string> = new Set()): Promise<{ samples: HostSample[]; failures: { collector: string; error: string }[] }> {
  const samples: HostSample[] = [];
  const failures: { collector: string; error: string }[] = [];
  const sections: [string, () => Promise<void>][] = [
    ['stat', async () => parseStat(await readFile(join(procfs, 'stat'), 'latin1'), samples)],
    ['meminfo', async () => parseMeminfo(await readFile(join(procfs, 'meminfo'), 'latin1'), samples)],
    ['loadavg', async () => parseLoadavg(await readFile(join(procfs, 'loadavg'), 'latin1'), samples)],
    ['filefd', async () => parseFileNr(await readFile(join(procfs, 'sys/fs/file-nr'), 'latin1'), samples)],
    ['diskstats', async () => parseDiskstats(await readFile(join(procfs, 'diskstats'), 'latin1'), samples)],
    ['netdev', async () => parseNetDev(await readFile(join(procfs, 'net/dev'), 'latin1'), samples)],
    ['filesystem', async () => filesystems(procfs, stuck, samples)],
    ['netclass', async () => netclass(sysfs, samples)],
    ['uname', async () => uname(procfs, samples)],
  ];
  const results = await Promise.allSettled(sections.map(([, run]) => run()));
  results.forEach((r, i) => {
    const collector = sections[i][0];
    if (r.status === 'rejected') failures.push({ collector, error: (r.reason as Error).message });
    samples.push({ name: 'node_scrape_collector_success', labels: { collector }, value: r.status === 'fulfilled' ? 1 : 0 });
  });
  samples.push({ name: 'node_time_seconds', value: Date.now() / 1000 });
  return { samples, failures };
}

async function filesystems(procfs: string, stuck: Set<string>, out: HostSample[]): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(procfs, '1/mounts'), 'utf8');
  } catch {
    text = await readFile(join(procfs, 'self/mounts'), 'utf8');
  }
  const mounts = parseMounts(text);
  const stats = await Promise.all(mounts.map((m) => statMount(m, stuck)));
  mounts.forEach((m, i) => {
    const s = stats[i];
    if (s !== 'stuck') filesystemSamples(m, s, out);
  });
}

async function statMount(m: Mount, stuck: Set<string>): Promise<FsStats | null | 'stuck'> {
  if (stuck.has(m.mountpoint)) return 'stuck';
  const call = statfs(m.mountpoint).then(
    (s): FsStats => ({ bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree }),
    () => null,
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'stuck'>((resolve) => {
    timer = setTimeout(() => resolve('stuck'), STATFS_TIMEOUT_MS);
    timer.unref();
  });
  const r = await Promise.race([call, timeout]);
  clearTimeout(timer);
  if (r === 'stuck') {
    stuck.add(m.mountpoint);
    void call.then(() => stuck.delete(m.mountpoint));
  }
  return r;
}

/** /sys/class/net: link state per interface (node_exporter's netclass collector, main series). */
async function netclass(sysfs: string, out: HostSample[]): Promise<void> {
  const base = join(sysfs, 'class/net');
  const devices = (await readdir(base)).sort();
  const per = await Promise.all(
    devices.map(async (device) => {
      const attr = (name: string) => readFile(join(base, device, name), 'utf8').then((t) => t.trim(), () => null);
      const [operstate, mtu, address, broadcast, txq, carrier, speed, duplex, ifalias] = await Promise.all(
        ['operstate', 'mtu', 'address', 'broadcast', 'tx_queue_len', 'carrier', 'speed', 'duplex', 'ifalias'].map(attr),
      );
      return { device, operstate, mtu, address, broadcast, txq, carrier, speed, duplex, ifalias };
    }),
  );
  for (const d of per) {
    const labels = { device: d.device };
    out.push({
      name: 'node_network_info',
      labels: { device: d.device, address: d.address ?? '', broadcast: d.broadcast ?? '', duplex: d.duplex ?? '', ifalias: d.ifalias ?? '', operstate: d.operstate ?? '' },
      value: 1,
    });
    out.push({ name: 'node_network_up', labels, value: d.operstate === 'up' ? 1 : 0 });
    const num = (name: string, v: string | null, scale = 1) => {
      if (v !== null && v !== '' && Number.isFinite(Number(v))) out.push({ name, labels, value: Number(v) * scale });
    };
    num('node_network_mtu_bytes', d.mtu);
    num('node_network_transmit_queue_length', d.txq);
    num('node_network_carrier', d.carrier);
    // Mbit/s to bytes/s, as node_exporter reports it (-1 "unknown" included).
    num('node_network_speed_bytes', d.speed, 125_000);
  }
}

async function readTrim(path: string, fallback: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return fallback;
  }
}

async function uname(procfs: string, out: HostSample[]): Promise<void> {
  const k = join(procfs, 'sys/kernel');
  const [sysname, release, version, nodename, domainname] = await Promise.all([
    readTrim(join(k, 'ostype'), 'Linux'),
    readTrim(join(k, 'osrelease'), ''),
    readTrim(join(k, 'version'), ''),
    readTrim(join(k, 'hostname'), hostname()),
    readTrim(join(k, 'domainname'), '(none)'),
  ]);
  out.push({ name: 'node_uname_info', labels: { sysname, release, version, machine: machine(), nodename, domainname }, value: 1 });
}

export class HostCollector implements Component {
  readonly name = 'host';
  private readonly storage: Storage;
  private readonly log: Logger;
  private sink: SeriesSink;
  private settings: HostSettings | null = null;
  private targetLabels: Labels = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;
  private generation = 0;
  private readonly stuck = new Set<string>();
  private readonly duration: Gauge;
  private readonly failuresTotal: Counter;
  /** The outcome of the last cycle, for status pages. */
  last: HostCollectResult | null = null;
  private lastDuration = 0;

  constructor(
    rt: Runtime,
    private readonly read: HostReader = readHostSamples,
  ) {
    this.storage = rt.storage;
    this.log = componentLogger(rt.logger, 'host');
    this.sink = new SeriesSink(rt.storage);
    this.duration = new Gauge({ name: 'patrol_host_collection_duration_seconds', help: 'How long the last host collection took.', registers: [rt.registry] });
    this.failuresTotal = new Counter({
      name: 'patrol_host_collection_failures_total',
      help: 'Host collector sections that could not be read, by section.',
      labelNames: ['collector'],
      registers: [rt.registry],
    });
  }

  async applyConfig(cfg: Config): Promise<void> {
    if (this.stopped) return;
    if (!cfg.host.enabled) {
      this.stopTimer();
      await this.running;
      if (this.settings) this.sink.markAllStale(Date.now());
      this.settings = null;
      return;
    }
    const next = hostSettings(cfg.host, cfg.global.scrape_interval);
    const labelsChanged = JSON.stringify(next.labels) !== JSON.stringify(this.settings?.labels) || next.job !== this.settings?.job;
    const intervalChanged = next.interval !== this.settings?.interval;
    if (labelsChanged && this.settings) {
      // The series identities change: end the old ones now.
      await this.running;
      this.sink.markAllStale(Date.now());
    }
    this.settings = next;
    this.targetLabels = labelsFromRecord({ job: next.job, instance: hostname(), ...next.labels });
    if (intervalChanged || !this.timer) {
      this.stopTimer();
      this.schedule(0);
    }
  }

  /** The collector's state, for the API and dashboard. */
  status(): HostStatus {
    const last = this.last;
    return {
      enabled: this.settings !== null,
      job: this.settings?.job ?? null,
      intervalSeconds: this.settings ? this.settings.interval / 1000 : null,
      health: !last ? 'unknown' : last.failures.length > 0 ? 'down' : 'up',
      lastError: last ? last.failures.map((f) => `${f.collector}: ${f.error}`).join('; ') : '',
      lastCollect: last ? new Date(last.timestamp).toISOString() : null,
      lastDurationSeconds: this.lastDuration,
      samples: last?.samples ?? 0,
    };
  }

  /** Runs one collection now and stores it. */
  async collectOnce(): Promise<HostCollectResult> {
    const settings = this.settings;
    if (!settings) throw new Error('host collector is disabled');
    const started = performance.now();
    let samples: HostSample[];
    let failures: { collector: string; error: string }[];
    try {
      ({ samples, failures } = await this.read(settings.procfs, settings.sysfs, this.stuck));
    } catch (e) {
      // The whole cycle failed: like a failed scrape, up is 0 and the other series go stale.
      samples = [];
      failures = [{ collector: 'host', error: e instanceof Error ? e.message : String(e) }];
    }
    const t = Date.now();
    const target = this.targetLabels;
    const collected = samples.map((s): CollectedSample => ({ labels: withTargetLabels(labelsFromRecord({ ...s.labels, __name__: s.name }), target), value: s.value }));
    const health = (name: string, value: number): CollectedSample => ({ labels: withTargetLabels(labelsFromRecord({ __name__: name }), target), value });
    collected.push(
      health('up', failures.length === 0 ? 1 : 0),
      health('scrape_duration_seconds', (performance.now() - started) / 1000),
      health('scrape_samples_scraped', samples.length),
    );
    const write = this.sink.write(t, collected);
    for (const f of failures) this.failuresTotal.inc({ collector: f.collector });
    if (failures.length > 0 && (this.last === null || this.last.failures.length === 0)) {
      this.log.warn({ job: settings.job, errors: failures.map((f) => `${f.collector}: ${f.error}`) }, 'host collector is down (up 0)');
    } else if (failures.length === 0 && this.last !== null && this.last.failures.length > 0) {
      this.log.info({ job: settings.job }, 'host collector is up again');
    }
    this.lastDuration = (performance.now() - started) / 1000;
    this.duration.set(this.lastDuration);
    if (write.rejected > 0) this.log.warn({ rejected: write.rejected, errors: write.errors }, 'storage rejected host samples');
    this.last = { timestamp: t, samples: samples.length, failures, write };
    return this.last;
  }

  private schedule(delay: number): void {
    if (this.stopped || !this.settings) return;
    const gen = this.generation;
    this.timer = setTimeout(() => {
      const run = guarded('collector', () => this.collectOnce(), this.log, { collector: 'host' });
      this.running = run;
      void run.finally(() => {
        if (this.running === run) this.running = null;
        if (gen === this.generation && this.settings) this.schedule(this.settings.interval);
      });
    }, delay);
    this.timer.unref();
  }

  /** Cancels the pending cycle; a cycle already running finishes but does not reschedule. */
  private stopTimer(): void {
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTimer();
    await this.running;
  }
}
