// The probe engine as a server component: compiles the `probes:` section, schedules every probe,
// writes each result to storage under blackbox_exporter's names, tracks UP/DOWN state with the
// configured thresholds and records state changes in <dataDir>/probe_events.db. Read methods
// (list, history, events) serve the API.

import { join } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Component, ConfigContext, Runtime } from '../component.js';
import type { Config } from '../config/schema.js';
import { Matcher } from '../model/matchers.js';
import type { Appender, Storage } from '../storage/interface.js';
import { ProbeStateChanges, type ProbeEvent, type ProbeState, type ProbeStateListener } from '../model/probestate.js';
import { ProbeEventStore } from './events.js';
import { ResultWriter } from './metrics.js';
import { compileProbe, runProbe, type CompiledProbe, type ProbeResult } from './run.js';
import { Scheduler, type Job } from './scheduler.js';
import { ProbeStatsAccumulator, type ProbeFigures } from './stats.js';
import { ProbeStateMachine } from './state.js';
import { Abort } from './types.js';
import { componentLogger } from '../logger.js';
import type { AgentsConfig } from '../config/agents.js';
import { labelsFromRecord, METRIC_NAME } from '../model/labels.js';
import { locationOfToken, probeSource, quorumState, type LocationView, type RemoteResult } from './remote.js';

export interface ProbeManagerOptions {
  /** Runs in flight at once, over all probes. */
  maxConcurrency?: number;
  /** Runs in flight at once against one host. */
  perHostConcurrency?: number;
  /** Results kept in memory per probe (with their reasons) for history. */
  recentResults?: number;
  /**
   * 0 (default): each run's results are committed at once. Above 0: results are batched and
   * committed at most this often (ms), for storage where a commit is expensive.
   */
  flushIntervalMs?: number;
  /** How long uptime and latency figures are cached (ms). */
  statsCacheMs?: number;
  /** Event database file; default <dataDir>/probe_events.db. */
  eventsFile?: string;
}

export interface LastResult {
  time: number;
  success: boolean;
  duration_seconds: number;
  reason: string;
  /** The run passed its conditions and failed a degrading condition. */
  degraded: boolean;
  status_code?: number;
}

export interface ProbeStatus {
  name: string;
  type: string;
  target: string;
  labels: Record<string, string>;
  interval_seconds: number;
  timeout_seconds: number;
  failure_threshold: number;
  success_threshold: number;
  state: ProbeState;
  /** When the current state began (ms since the epoch), or null. */
  since: number | null;
  consecutive_failures: number;
  consecutive_successes: number;
  /** Degraded runs in a row (DEGRADED after failure_threshold of them). */
  consecutive_degraded: number;
  last_result: LastResult | null;
  /** Why the last run failed or was degraded ("degraded: …"), or "" when it passed cleanly. */
  reason: string;
  /** Fraction of successful runs; null when there were none in the window. */
  uptime: { '24h': number | null; '7d': number | null; '30d': number | null };
  /**
   * What each uptime ratio covers: the first run counted in the window (ms), the seconds from it
   * to now and the runs counted. "30d: 0.65" with 720 seconds observed is 12 minutes of data.
   */
  uptime_observed: ProbeFigures['observed'];
  /** Seconds, over the last 24 h; null without data. */
  latency: { p50: number | null; p95: number | null; p99: number | null };
  /** Probes run by agents: each location's state, offline flag and last reason; down_when. */
  locations?: Record<string, { state: ProbeState; offline: boolean; reason: string; last_time: number | null }>;
  down_when?: number;
}

/**
 * One probe as the dashboard's overview shows it (GET /api/patrol/v1/overview): compact, so
 * 10,000 of them load fast. Times are ms since the epoch, durations ms.
 */
export interface OverviewRow {
  name: string;
  type: string;
  target: string;
  labels: Record<string, string>;
  state: ProbeState;
  since: number | null;
  /** Failures in a row (below failure_threshold while the state is still up: degraded). */
  failures: number;
  /** Time, success and duration (ms) of the last run, or null before the first run. */
  last: { time: number; success: boolean; ms: number } | null;
  /** The last failed run: when and why (kept after the probe recovers), or null. */
  last_failure: { time: number; reason: string } | null;
  /** Uptime over 24 h (0..1) or null without runs. */
  uptime_24h: number | null;
  /** Success ratio per hour over the last 24 h, oldest first, -1 for an hour without runs. */
  hours: number[];
  /** Durations (ms; whole from 10 ms, else to 0.1 ms) of the most recent runs, oldest first, at most 20. */
  spark: number[];
}

export interface HistoryPoint {
  time: number;
  success: boolean;
  duration_seconds: number | null;
  status_code?: number;
  /** Why the run failed (kept with each failed result, so it survives restarts); absent for successful runs. */
  reason?: string;
}

interface ProbeEntry {
  compiled: CompiledProbe;
  writer: ResultWriter;
  machine: ProbeStateMachine;
  last: ProbeResult | null;
  recent: ProbeResult[];
  stats: ({ at: number } & ProbeFigures) | null;
  /** Removed from the configuration; a run still in flight is discarded. */
  removed: boolean;
  acc: ProbeStatsAccumulator;
  /** The last failed run. */
  lastFailure: { time: number; reason: string } | null;
  /** A run asked for by runNow() and still in flight (a second ask joins it). */
  manual?: Promise<void> | null;
  /** The manager's change counter when this entry last changed (a run or a reload). */
  seq: number;
  /** Probes with `locations:`: each location's own state, from its agent's results. */
  remote?: Map<string, RemoteLocation>;
  /** Time of the last patrol_probe_up/state sample written for a remote probe (kept increasing). */
  stateT?: number;
  /** The last overview row built, reused while nothing it shows can have changed (see overviewRow). */
  row?: { seq: number; statsAt: number; hour: number; row: OverviewRow };
}

interface RemoteLocation {
  machine: ProbeStateMachine;
  writer: ResultWriter;
  last: ProbeResult | null;
  /** The start time, by the agent's clock, of the newest result taken from this location: one at
   * or before it is a batch sent again (the agent did not get the answer), not a new run. */
  lastRun: number;
}

/** How old the overview lets uptime figures get before a full read recomputes them. */
const OVERVIEW_STATS_MS = 5 * 60_000;

/** A run's samples are stored at most this long after their timestamp (its start). */
const SETTLE_MS = 5 * 60_000;

export class UnknownProbeError extends Error {
  readonly code = 'not_found';
  constructor(name: string) {
    super(`probe ${JSON.stringify(name)} is not configured`);
  }
}

export class ProbeManager implements Component {
  readonly name = 'probes';
  private readonly storage: Storage;
  private readonly log: Logger;
  private readonly scheduler: Scheduler;
  private readonly entries = new Map<string, ProbeEntry>();
  private readonly events: ProbeEventStore;
  private readonly restored: Map<string, { state: ProbeState; since: number }>;
  private readonly opts: Required<Omit<ProbeManagerOptions, 'eventsFile'>>;
  private batch: Appender | null = null;
  private batchTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  /** How long state changes and failure reasons are kept (ms); from storage.probe_events_retention. */
  private eventsRetention = 30 * 24 * 3600_000;
  private readonly changes: ProbeStateChanges;
  private stopped = false;
  private agents: AgentsConfig | null = null;
  /** Location → when its agent last reported (ms; 0 never since start). */
  private readonly agentSeen = new Map<string, number>();
  private agentTimer: NodeJS.Timeout | null = null;
  private readonly agentUpRefs = new Map<string, number>();
  /** Counts changes (runs, reloads): the overview's delta reads return entries changed after a value. */
  private seq = 0;
  /** Changes on every reload, so a dashboard knows its list of probes may be out of date. */
  private generation = 0;
  private readonly stopAll = new Abort();
  private readonly metrics: { runs: Counter<'result'>; changes: Counter<'to'>; skipped: Counter; inFlight: Gauge; probes: Gauge<'state'> };
  /** Run counts, exported by patrol_probe_runs_total at scrape time (cheaper than inc per run). */
  readonly counts = { success: 0, failure: 0 };

  constructor(rt: Runtime, opts: ProbeManagerOptions = {}) {
    this.storage = rt.storage;
    this.log = componentLogger(rt.logger, 'probes');
    this.opts = {
      maxConcurrency: opts.maxConcurrency ?? 512,
      perHostConcurrency: opts.perHostConcurrency ?? 128,
      recentResults: opts.recentResults ?? 100,
      flushIntervalMs: opts.flushIntervalMs ?? 0,
      statsCacheMs: opts.statsCacheMs ?? 30_000,
    };
    this.scheduler = new Scheduler({ maxConcurrency: this.opts.maxConcurrency, perHostConcurrency: this.opts.perHostConcurrency });
    this.events = new ProbeEventStore(opts.eventsFile ?? join(rt.dataDir, 'probe_events.db'));
    this.restored = this.events.lastStates();
    this.changes = rt.probeStateChanges ?? new ProbeStateChanges();
    this.metrics = registerSelfMetrics(rt.registry, this);
  }

  /** Compiles every probe first; any error rejects the whole section and keeps the running one. */
  applyConfig(cfg: Config, ctx: ConfigContext): void {
    const compiled: CompiledProbe[] = [];
    const errors: string[] = [];
    for (const p of cfg.probes) {
      try {
        compiled.push(compileProbe(p, ctx.dir));
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length > 0) throw new Error(errors.join('; '));
    const keep = new Set(compiled.map((c) => c.cfg.name));
    // Series of removed probes, and of probes whose labels changed, get staleness markers as
    // Prometheus writes for targets that disappear, so queries stop returning them at once.
    const gone: ResultWriter[] = [];
    for (const [name, e] of this.entries) {
      if (keep.has(name)) continue;
      e.removed = true;
      gone.push(e.writer);
      this.entries.delete(name);
    }
    const jobs: Job[] = [];
    for (const c of compiled) {
      const name = c.cfg.name;
      let e = this.entries.get(name);
      if (e) {
        e.compiled = c;
        const writer = new ResultWriter(c);
        if (writer.identity() !== e.writer.identity()) gone.push(e.writer);
        e.writer = writer;
        e.machine.failureThreshold = c.cfg.failure_threshold;
        e.machine.successThreshold = c.cfg.success_threshold;
        e.stats = null;
        e.seq = ++this.seq;
      } else {
        const prev = this.restored.get(name);
        e = { compiled: c, writer: new ResultWriter(c), machine: new ProbeStateMachine(c.cfg.failure_threshold, c.cfg.success_threshold, prev?.state, prev?.since), last: null, recent: [], stats: null, removed: false, acc: new ProbeStatsAccumulator(name, Math.max(SETTLE_MS, c.cfg.timeout + 60_000)), lastFailure: null, seq: ++this.seq };
        this.entries.set(name, e);
      }
      const entry = e;
      if (c.cfg.locations.length > 0) {
        // Run by agents: each location keeps its state across reloads while it stays listed.
        const prev = entry.remote ?? new Map<string, RemoteLocation>();
        entry.remote = new Map();
        for (const loc of c.cfg.locations) {
          const old = prev.get(loc);
          const machine = old?.machine ?? new ProbeStateMachine(c.cfg.failure_threshold, c.cfg.success_threshold);
          machine.failureThreshold = c.cfg.failure_threshold;
          machine.successThreshold = c.cfg.success_threshold;
          entry.remote.set(loc, { machine, writer: new ResultWriter({ ...c, cfg: { ...c.cfg, labels: { ...c.cfg.labels, location: loc } } }), last: old?.last ?? null, lastRun: old?.lastRun ?? -Infinity });
        }
        continue;
      }
      entry.remote = undefined;
      jobs.push({ key: name, intervalMs: c.cfg.interval, host: c.prepared.host, run: () => this.runEntry(entry) });
    }
    this.scheduler.setJobs(jobs);
    this.generation++;
    if (gone.length > 0) {
      this.flush();
      const app = this.storage.appender();
      const now = Date.now();
      for (const w of gone) w.markStale(app, now);
      try {
        app.commit();
      } catch (err) {
        this.log.warn({ err }, 'writing staleness markers failed');
      }
    }
    this.agents = cfg.agents;
    for (const loc of Object.keys(cfg.agents.tokens)) if (!this.agentSeen.has(loc)) this.agentSeen.set(loc, 0);
    for (const loc of [...this.agentSeen.keys()]) if (!Object.hasOwn(cfg.agents.tokens, loc)) this.agentSeen.delete(loc);
    if (this.agentSeen.size > 0 && !this.agentTimer) {
      this.agentTimer = setInterval(() => this.writeAgentUp(), 5000);
      this.agentTimer.unref();
    }
    this.eventsRetention = cfg.storage.probe_events_retention ?? cfg.storage.retention;
    this.pruneEvents();
    if (!this.pruneTimer) {
      this.pruneTimer = setInterval(() => this.pruneEvents(), 3600_000);
      this.pruneTimer.unref();
    }
    this.log.info({ probes: compiled.length }, 'probes configured');
  }

  private async runEntry(e: ProbeEntry): Promise<void> {
    const compiled = e.compiled;
    let r: ProbeResult;
    try {
      r = await runProbe(compiled, this.stopAll);
    } catch (err) {
      // runProbe does not throw; this guards the scheduler against a bug.
      this.log.error({ err, probe: compiled.cfg.name }, 'probe run threw');
      return;
    }
    // A reload during the run replaced the probe: its result belongs to the old definition.
    if (this.stopped || e.removed || e.compiled !== compiled) return;
    this.record(e, r);
  }

  private record(e: ProbeEntry, r: ProbeResult): void {
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ probe: r.probe, success: r.success, duration_seconds: r.durationMs / 1000, ...(r.success ? {} : { reason: r.reason }) }, 'probe run');
    }
    e.last = r;
    e.seq = ++this.seq;
    if (!r.success) e.lastFailure = { time: r.time, reason: r.reason };
    e.recent.push(r);
    if (e.recent.length > this.opts.recentResults) e.recent.shift();
    if (r.success) this.counts.success++;
    else this.counts.failure++;
    const change = e.machine.observe(r.success, r.time, r.reason, r.degraded);
    try {
      this.batch ??= this.storage.appender();
      e.writer.write(this.batch, r);
      e.writer.writeState(this.batch, r.time, e.machine.state);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, probe: r.probe }, 'probe result not stored');
    }
    if (this.opts.flushIntervalMs <= 0) this.flush();
    else this.batchTimer ??= setTimeout(() => this.flush(), this.opts.flushIntervalMs);
    if (!r.success && r.reason) {
      try {
        this.events.appendReason(r.probe, r.time, r.reason);
      } catch (err) {
        this.log.warn({ err, probe: r.probe }, 'failure reason not stored');
      }
    }
    if (change) this.recordChange(r.probe, change);
  }

  private recordChange(probe: string, change: NonNullable<ReturnType<ProbeStateMachine['observe']>>): void {
    const r = { probe };
    {
      const ev: ProbeEvent = { probe: r.probe, ...change };
      this.metrics.changes.inc({ to: change.to });
      try {
        this.events.append(ev);
      } catch (err) {
        this.log.error({ err, probe: r.probe }, 'probe event not stored');
      }
      const fields = { probe: r.probe, from: change.from, to: change.to, reason: change.reason };
      if (change.to === 'down' || change.to === 'degraded') this.log.warn(fields, `probe ${change.to}`);
      else this.log.info(fields, `probe ${change.to}`);
      this.changes.emit(ev);
    }
  }

  /**
   * Subscribes to state changes of every probe (after they are recorded); returns the function
   * that unsubscribes. The same changes reach subscribers of the runtime's probeStateChanges.
   */
  onStateChange(fn: ProbeStateListener): () => void {
    return this.changes.subscribe(fn);
  }

  // ---- agents (probes with `locations:`) ----

  /** The location an agent's token belongs to, or null (an unknown or empty token). */
  agentLocation(token: string): string | null {
    return this.agents ? locationOfToken(this.agents.tokens, token) : null;
  }

  /** The probes of a location, as configuration its agent parses; `generation` changes on every reload. */
  agentProbes(location: string): { generation: number; probes: Record<string, unknown>[] } {
    const probes: Record<string, unknown>[] = [];
    for (const e of this.entries.values()) if (e.compiled.cfg.locations.includes(location)) probes.push(probeSource(e.compiled.cfg));
    return { generation: this.generation, probes };
  }

  /** The clock skew allowed between an agent and this Patrol (ms). */
  get maxClockSkew(): number {
    return this.agents?.max_clock_skew ?? 60_000;
  }

  /**
   * Takes a location's results: stores them labelled `location`, updates that location's state,
   * and the probe's from the quorum. Returns the results refused, each with its reason. Never throws
   * for a bad result.
   */
  ingest(location: string, results: readonly RemoteResult[], now = Date.now(), skewMs = 0): { accepted: number; rejected: string[]; duplicates: number } {
    this.agentSeen.set(location, now);
    const rejected: string[] = [];
    let accepted = 0;
    let duplicates = 0;
    for (const x of results) {
      const why = badResult(x);
      if (why) {
        rejected.push(why);
        continue;
      }
      const e = this.entries.get(x.probe);
      const loc = e?.remote?.get(location);
      if (!e || !loc) {
        rejected.push(`${JSON.stringify(x.probe)}: not a probe of location ${JSON.stringify(location)}`);
        continue;
      }
      // An agent runs each probe one run at a time and sends results in order, so a start time
      // at or before the last one taken is a result sent again: taken once, never stored twice.
      if (x.time <= loc.lastRun) {
        duplicates++;
        continue;
      }
      loc.lastRun = x.time;
      const r = {
        probe: x.probe,
        // The agent's clock offset (within max_clock_skew) taken out.
        time: Math.round(x.time - skewMs),
        durationMs: x.duration_seconds * 1000,
        reason: x.reason,
        degraded: x.degraded === true,
        failedDueToRegex: false,
        status: x.status_code,
        samples: (x.samples ?? []).filter(goodSample),
        success: x.success,
      } as ProbeResult;
      loc.last = r;
      const locChange = loc.machine.observe(r.success, r.time, r.reason, r.degraded);
      try {
        this.batch ??= this.storage.appender();
        loc.writer.write(this.batch, r);
      } catch (err) {
        rejected.push(`${JSON.stringify(r.probe)} at ${r.time}: not stored (${(err as Error).message})`);
        continue;
      }
      accepted++;
      // The probe's own view: the last result from any location, reasons prefixed by it.
      const shown: ProbeResult = { ...r, reason: r.reason ? `${location}: ${r.reason}` : '' };
      e.last = shown;
      e.seq = ++this.seq;
      if (!r.success) e.lastFailure = { time: r.time, reason: shown.reason };
      e.recent.push(shown);
      if (e.recent.length > this.opts.recentResults) e.recent.shift();
      if (r.success) this.counts.success++;
      else this.counts.failure++;
      if (locChange) this.log.info({ probe: x.probe, location, from: locChange.from, to: locChange.to, reason: locChange.reason }, `probe ${locChange.to} from ${location}`);
      this.updateQuorum(e, now);
    }
    if (this.opts.flushIntervalMs <= 0) this.flush();
    else this.batchTimer ??= setTimeout(() => this.flush(), this.opts.flushIntervalMs);
    return { accepted, rejected, duplicates };
  }

  private locationViews(e: ProbeEntry, now: number): Map<string, LocationView> {
    const views = new Map<string, LocationView>();
    const offlineAfter = this.agents?.offline_after ?? 60_000;
    for (const [name, l] of e.remote ?? []) {
      const seen = this.agentSeen.get(name) ?? 0;
      views.set(name, { state: l.machine.state, offline: seen === 0 || now - seen > offlineAfter, reason: l.last?.reason ?? '' });
    }
    return views;
  }

  private updateQuorum(e: ProbeEntry, now: number): void {
    const q = quorumState(this.locationViews(e, now), e.compiled.cfg.down_when ?? 1);
    const m = e.machine;
    if (q.state !== 'unknown' && q.state !== m.state) {
      const change = { time: now, from: m.state, to: q.state, reason: q.reason };
      m.state = q.state;
      m.since = now;
      this.recordChange(e.compiled.cfg.name, change);
    }
    if (m.state === 'unknown') return;
    const t = Math.max(now, (e.stateT ?? 0) + 1);
    e.stateT = t;
    try {
      this.batch ??= this.storage.appender();
      e.writer.writeState(this.batch, t, m.state);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, probe: e.compiled.cfg.name }, 'probe state not stored');
    }
  }

  /** Writes patrol_agent_up{location} (1 reported within offline_after, else 0) and re-judges the quorums. */
  writeAgentUp(now = Date.now()): void {
    if (this.stopped || this.agentSeen.size === 0) return;
    const offlineAfter = this.agents?.offline_after ?? 60_000;
    try {
      const app = this.storage.appender();
      for (const [loc, seen] of this.agentSeen) {
        const labels = labelsFromRecord({ [METRIC_NAME]: 'patrol_agent_up', location: loc });
        this.agentUpRefs.set(loc, app.append(this.agentUpRefs.get(loc) ?? 0, labels, now, seen > 0 && now - seen <= offlineAfter ? 1 : 0));
      }
      app.commit();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'patrol_agent_up not stored');
    }
    // A location going offline can change a quorum's reason, not its verdict: offline is not DOWN.
  }

  /** Each configured location: whether its agent reports, and when it last did. */
  agentStatus(now = Date.now()): { location: string; up: boolean; last_report: number | null }[] {
    const offlineAfter = this.agents?.offline_after ?? 60_000;
    return [...this.agentSeen].map(([location, seen]) => ({ location, up: seen > 0 && now - seen <= offlineAfter, last_report: seen || null }));
  }

  /** Deletes state changes and failure reasons older than the retention (each probe's last state change stays). */
  pruneEvents(now = Date.now()): number {
    try {
      const n = this.events.prune(now - this.eventsRetention);
      if (n > 0) this.log.debug({ deleted: n }, 'pruned probe events');
      return n;
    } catch (err) {
      this.log.warn({ err }, 'pruning probe events failed');
      return 0;
    }
  }

  /** Commits results written since the last flush. */
  flush(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    const b = this.batch;
    this.batch = null;
    if (!b) return;
    try {
      b.commit();
    } catch (err) {
      this.log.error({ err }, 'committing probe results failed');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.agentTimer) clearInterval(this.agentTimer);
    this.agentTimer = null;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    this.stopAll.abort();
    await this.scheduler.stop();
    this.flush();
    this.events.close();
  }

  get schedulerStats(): { started: number; skippedOverlap: number; running: number } {
    return { ...this.scheduler.stats, running: this.scheduler.running };
  }

  /** The configured probes' names, in configuration order. */
  names(): string[] {
    const out: string[] = [];
    for (const [name, e] of this.entries) if (!e.removed) out.push(name);
    return out;
  }

  /** Every configured probe with its state, in configuration order. */
  list(now = Date.now()): ProbeStatus[] {
    return [...this.entries.values()].map((e) => this.status(e, now));
  }

  /**
   * Like list(), yielding to the event loop between probes: the first call reads up to 30 days
   * of samples per probe, which must not hold up the scheduler.
   */
  async listAsync(now = Date.now()): Promise<ProbeStatus[]> {
    const out: ProbeStatus[] = [];
    for (const e of [...this.entries.values()]) {
      if (e.removed) continue;
      out.push(this.status(e, now));
      await new Promise<void>((r) => setImmediate(r));
    }
    return out;
  }

  get(name: string, now = Date.now()): ProbeStatus {
    const e = this.entries.get(name);
    if (!e) throw new UnknownProbeError(name);
    return this.status(e, now);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** A probe's state and since when, without its figures (the public status pages). */
  stateOf(name: string): { state: ProbeState; since: number } | null {
    const e = this.entries.get(name);
    return e ? { state: e.machine.state, since: e.machine.since } : null;
  }

  private status(e: ProbeEntry, now: number): ProbeStatus {
    const c = e.compiled.cfg;
    const last = e.last;
    if (!e.stats || now - e.stats.at > this.opts.statsCacheMs) e.stats = { at: now, ...e.acc.compute(this.storage, now) };
    return {
      name: c.name,
      type: c.type,
      target: c.target,
      labels: c.labels,
      interval_seconds: c.interval / 1000,
      timeout_seconds: c.timeout / 1000,
      failure_threshold: c.failure_threshold,
      success_threshold: c.success_threshold,
      state: e.machine.state,
      since: e.machine.since || null,
      consecutive_failures: e.machine.consecutiveFailures,
      consecutive_successes: e.machine.consecutiveSuccesses,
      consecutive_degraded: e.machine.consecutiveDegraded,
      last_result: last ? toLast(last) : null,
      reason: last?.reason ?? '',
      uptime: e.stats.uptime,
      uptime_observed: e.stats.observed,
      latency: e.stats.latency,
      ...(e.remote ? { locations: this.locationStatus(e, now), down_when: c.down_when } : {}),
    };
  }

  private locationStatus(e: ProbeEntry, now: number): NonNullable<ProbeStatus['locations']> {
    const out: NonNullable<ProbeStatus['locations']> = {};
    for (const [name, v] of this.locationViews(e, now)) out[name] = { ...v, last_time: e.remote!.get(name)!.last?.time ?? null };
    return out;
  }

  /** Results of one probe in [start, end] (ms) from storage, newest last, at most `limit` (the newest). */
  history(name: string, start: number, end: number, limit = 11_000): HistoryPoint[] {
    const e = this.entries.get(name);
    if (!e) throw new UnknownProbeError(name);
    const byTime = new Map<number, HistoryPoint>();
    const q = this.storage.querier(start, end);
    try {
      const probeM = new Matcher('=', 'probe', name);
      const read = (metric: string, apply: (p: HistoryPoint, v: number) => void, create: boolean) => {
        const set = q.select({ start, end }, [new Matcher('=', '__name__', metric), probeM]);
        while (set.next()) {
          const it = set.at().iterator();
          while (it.next()) {
            const t = it.atT();
            const v = it.atV();
            if (t < start || t > end || Number.isNaN(v)) continue;
            let p = byTime.get(t);
            if (!p) {
              if (!create) continue;
              p = { time: t, success: false, duration_seconds: null };
              byTime.set(t, p);
            }
            apply(p, v);
          }
          const err = set.err();
          if (err) throw err;
        }
      };
      read('probe_success', (p, v) => (p.success = v === 1), true);
      read('probe_duration_seconds', (p, v) => (p.duration_seconds = v), false);
      read('probe_http_status_code', (p, v) => (p.status_code = v), false);
    } finally {
      q.close();
    }
    for (const [t, reason] of this.events.reasons(name, start, end)) {
      const p = byTime.get(t);
      if (p && !p.success) p.reason = reason;
    }
    for (const r of e.recent) {
      const p = byTime.get(r.time);
      if (p && r.reason) p.reason = r.reason;
    }
    const points = [...byTime.values()].sort((a, b) => a.time - b.time);
    return points.length > limit ? points.slice(points.length - limit) : points;
  }

  /** State changes of one probe in [start, end] (ms), newest first. */
  eventsOf(name: string, start: number, end: number, limit = 1000): ProbeEvent[] {
    if (!this.entries.has(name)) throw new UnknownProbeError(name);
    return this.events.list(name, start, end, limit);
  }

  /**
   * The dashboard's overview: every probe (`after` undefined, or a reload since `generation`),
   * or only those changed after the change counter `after`. A full read refreshes uptime figures
   * older than the stats cache; a delta read uses the cached ones and never touches storage.
   * Yields to the event loop every 500 probes.
   */
  async overview(opts: { after?: number; generation?: number; now?: number } = {}): Promise<{ generation: number; seq: number; full: boolean; counts: Record<ProbeState | 'degraded', number>; probes: OverviewRow[] }> {
    const now = opts.now ?? Date.now();
    const full = opts.after === undefined || opts.generation !== this.generation;
    const seq = this.seq;
    const generation = this.generation;
    const counts = this.overviewCounts();
    const probes: OverviewRow[] = [];
    let n = 0;
    for (const e of [...this.entries.values()]) {
      if (e.removed) continue;
      if (!full && e.seq <= opts.after!) continue;
      probes.push(this.overviewRow(e, now, full));
      if (++n % 500 === 0) await new Promise<void>((r) => setImmediate(r));
    }
    return { generation, seq, full, counts, probes };
  }

  /**
   * The first `limit` probes in the order the dashboard lists them (down, degraded, unknown, up,
   * then by name), for its first screen while the full overview loads; `total` probes in all.
   */
  overviewHead(limit: number, now = Date.now()): { generation: number; seq: number; full: false; head: true; total: number; counts: Record<ProbeState, number>; probes: OverviewRow[] } {
    const rank = (e: ProbeEntry) => {
      const st = e.machine.state;
      return st === 'down' ? 0 : st === 'degraded' || (st === 'up' && e.machine.consecutiveFailures > 0) ? 1 : st === 'unknown' ? 2 : 3;
    };
    const all: { e: ProbeEntry; r: number; name: string }[] = [];
    for (const e of this.entries.values()) if (!e.removed) all.push({ e, r: rank(e), name: e.compiled.cfg.name });
    all.sort((a, b) => a.r - b.r || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const probes = all.slice(0, limit).map((x) => this.overviewRow(x.e, now, false));
    return { generation: this.generation, seq: this.seq, full: false, head: true, total: all.length, counts: this.overviewCounts(), probes };
  }

  /**
   * Overview rows of the named probes (unknown names left out) with the counts, for the live
   * event stream: uses the cached uptime figures, never reads storage for a probe it has figures for.
   */
  overviewOf(names: Iterable<string>, now = Date.now()): { generation: number; seq: number; counts: Record<ProbeState, number>; probes: OverviewRow[] } {
    const probes: OverviewRow[] = [];
    for (const name of names) {
      const e = this.entries.get(name);
      if (e && !e.removed) probes.push(this.overviewRow(e, now, false));
    }
    return { generation: this.generation, seq: this.seq, counts: this.overviewCounts(), probes };
  }

  /** `degraded` counts DEGRADED probes and UP probes with failed runs below failure_threshold. */
  private overviewCounts(): Record<ProbeState, number> {
    const counts = { unknown: 0, up: 0, down: 0, degraded: 0 };
    for (const e of this.entries.values()) {
      if (e.removed) continue;
      const st = e.machine.state;
      if (st === 'degraded') counts.degraded++;
      else {
        counts[st]++;
        if (st === 'up' && e.machine.consecutiveFailures > 0) counts.degraded++;
      }
    }
    return counts;
  }

  private overviewRow(e: ProbeEntry, now: number, full: boolean): OverviewRow {
    // Uptime figures: computed once per probe, then refreshed on full reads past 5 minutes (the
    // 24 h ratio moves slowly; the hourly cells take recent runs from memory).
    if (!e.stats || (full && now - e.stats.at > Math.max(this.opts.statsCacheMs, OVERVIEW_STATS_MS))) e.stats = { at: now, ...e.acc.compute(this.storage, now) };
    // A row changes with a run or a reload (seq), refreshed figures (stats.at) or the hour (the
    // hourly cells shift): otherwise the last one is reused, so a full read of 10,000 probes
    // rebuilds only the few that ran since. (Masking rows in place is idempotent.)
    const hour = Math.floor(now / 3600_000);
    const cached = e.row;
    if (cached && cached.seq === e.seq && cached.statsAt === e.stats.at && cached.hour === hour) return cached.row;
    const c = e.compiled.cfg;
    const recent = e.recent;
    const spark: number[] = [];
    for (let i = Math.max(0, recent.length - 20); i < recent.length; i++) {
      const ms = recent[i].durationMs;
      spark.push(ms >= 10 ? Math.round(ms) : Math.round(ms * 10) / 10);
    }
    const row: OverviewRow = {
      name: c.name,
      type: c.type,
      target: c.target,
      labels: c.labels,
      state: e.machine.state,
      since: e.machine.since || null,
      failures: e.machine.consecutiveFailures,
      last: e.last ? { time: e.last.time, success: e.last.success, ms: Math.round(e.last.durationMs * 10) / 10 } : null,
      last_failure: e.lastFailure,
      uptime_24h: e.stats?.uptime['24h'] ?? null,
      hours: e.acc.hourly(now, 24, recent),
      spark,
    };
    e.row = { seq: e.seq, statsAt: e.stats.at, hour, row };
    return row;
  }

  /**
   * Runs one probe now, outside its schedule (the dashboard's "run now"); resolves with its status
   * once the result is recorded. A second ask while a manual run is in flight waits for that run.
   */
  async runNow(name: string): Promise<ProbeStatus> {
    const e = this.entries.get(name);
    if (!e || e.removed) throw new UnknownProbeError(name);
    e.manual ??= this.runEntry(e).finally(() => {
      e.manual = null;
    });
    await e.manual;
    return this.get(name);
  }

  /** Counts probes by state, for self-monitoring. */
  countByState(): Record<ProbeState, number> {
    const out: Record<ProbeState, number> = { unknown: 0, up: 0, degraded: 0, down: 0 };
    for (const e of this.entries.values()) out[e.machine.state]++;
    return out;
  }
}

function toLast(r: ProbeResult): LastResult {
  const l: LastResult = { time: r.time, success: r.success, duration_seconds: r.durationMs / 1000, reason: r.reason, degraded: r.degraded };
  if (r.status !== undefined) l.status_code = r.status;
  return l;
}

function registerSelfMetrics(registry: Registry, m: ProbeManager) {
  // A second manager on the same registry (tests) reuses the metrics instead of failing.
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const runs = get(
    'patrol_probe_runs_total',
    () =>
      new Counter({
        name: 'patrol_probe_runs_total',
        help: 'Probe runs by result.',
        labelNames: ['result'] as const,
        registers: [registry],
        collect() {
          this.reset();
          this.inc({ result: 'success' }, m.counts.success);
          this.inc({ result: 'failure' }, m.counts.failure);
        },
      }),
  );
  const changes = get('patrol_probe_state_changes_total', () => new Counter({ name: 'patrol_probe_state_changes_total', help: 'Probe state changes by new state.', labelNames: ['to'] as const, registers: [registry] }));
  const skipped = get(
    'patrol_probe_skipped_runs_total',
    () =>
      new Counter({
        name: 'patrol_probe_skipped_runs_total',
        help: 'Scheduled probe runs skipped because the previous run had not finished.',
        registers: [registry],
        collect() {
          this.reset();
          this.inc(m.schedulerStats.skippedOverlap);
        },
      }),
  );
  const inFlight = get(
    'patrol_probe_runs_in_flight',
    () =>
      new Gauge({
        name: 'patrol_probe_runs_in_flight',
        help: 'Probe runs in progress.',
        registers: [registry],
        collect() {
          this.set(m.schedulerStats.running);
        },
      }),
  );
  const probes = get(
    'patrol_probes',
    () =>
      new Gauge({
        name: 'patrol_probes',
        help: 'Configured probes by state.',
        labelNames: ['state'] as const,
        registers: [registry],
        collect() {
          for (const [state, n] of Object.entries(m.countByState())) this.set({ state }, n);
        },
      }),
  );
  return { runs, changes, skipped, inFlight, probes };
}

const METRIC_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Why a result from an agent cannot be taken, or null. */
function badResult(x: RemoteResult): string | null {
  if (x === null || typeof x !== 'object') return 'a result is not an object';
  if (typeof x.probe !== 'string') return 'a result has no probe name';
  if (typeof x.time !== 'number' || !Number.isFinite(x.time)) return `${JSON.stringify(x.probe)}: time is not a number`;
  if (typeof x.success !== 'boolean') return `${JSON.stringify(x.probe)}: success is not true or false`;
  if (typeof x.duration_seconds !== 'number' || !(x.duration_seconds >= 0)) return `${JSON.stringify(x.probe)}: duration_seconds is not a number`;
  if (typeof x.reason !== 'string') return `${JSON.stringify(x.probe)}: reason is not text`;
  if (x.samples !== undefined && !Array.isArray(x.samples)) return `${JSON.stringify(x.probe)}: samples is not a list`;
  return null;
}

function goodSample(s: unknown): boolean {
  const x = s as { name?: unknown; value?: unknown; labelName?: unknown; labelValue?: unknown; labels?: unknown };
  if (x === null || typeof x !== 'object' || typeof x.name !== 'string' || !METRIC_RE.test(x.name) || typeof x.value !== 'number') return false;
  if (x.name === 'probe_success' || x.name === 'probe_duration_seconds' || x.name.startsWith('patrol_')) return false;
  if (x.labelName !== undefined && (typeof x.labelName !== 'string' || typeof x.labelValue !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(x.labelName))) return false;
  if (x.labels !== undefined && (x.labels === null || typeof x.labels !== 'object' || !Object.entries(x.labels).every(([k, v]) => /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) && typeof v === 'string'))) return false;
  return true;
}
