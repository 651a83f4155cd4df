// Target discovery: static_configs, file_sd_configs and what all providers share (http_sd and
// dns_sd live in discovery_http.ts and discovery_dns.ts). A provider reports target groups keyed by
// source; the pool rebuilds its targets from the union whenever a provider changes.

import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYAML } from 'yaml';
import type { Logger } from 'pino';
import { guarded } from '../producer.js';
import { compileAnchored, type Regex } from '../model/regex.js';
import { isValidLabelName } from '../model/labels.js';
import type { ScrapeConfig } from '../config/prometheus.js';
import { ADDRESS_LABEL, type DiscoveredTarget } from './target.js';

export interface TargetGroup {
  /** Where the group came from (e.g. `static/0`, a file path and index). */
  source: string;
  targets: DiscoveredTarget[];
}

export function staticGroups(cfg: ScrapeConfig): TargetGroup[] {
  return cfg.static_configs.map((s, i) => ({
    source: `static/${i}`,
    targets: s.targets.map((t) => ({ ...s.labels, [ADDRESS_LABEL]: t })),
  }));
}

/**
 * A source of target groups (file_sd, http_sd, dns_sd). `start` resolves after the first
 * attempt; `onChange` (given at construction) receives the provider's full set of groups each
 * time it changes. A failed refresh keeps the last good groups and sets `lastError`.
 */
export interface Discoverer {
  start(): Promise<void>;
  stop(): void;
  readonly lastError: string;
  /** Where refreshes are counted; set by the owner before start. */
  stats?: DiscoveryStats;
}

/** Refreshes and failed refreshes per mechanism, kept by the scrape manager across reloads. */
export class DiscoveryStats {
  readonly refreshes = new Map<string, number>();
  readonly failures = new Map<string, number>();

  record(mechanism: string, failed: boolean): void {
    this.refreshes.set(mechanism, (this.refreshes.get(mechanism) ?? 0) + 1);
    if (failed) this.failures.set(mechanism, (this.failures.get(mechanism) ?? 0) + 1);
  }
}

/**
 * Turns a decoded list of `{targets: [...], labels: {...}}` (file_sd and http_sd share the
 * shape) into target groups; `meta` labels are added to every group. Throws naming the problem,
 * prefixed with `where`.
 */
export function targetGroupsFrom(doc: unknown, where: string, meta: Record<string, string>): TargetGroup[] {
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new Error(`${where}: expected a list of target groups`);
  return doc.map((g: unknown, i: number) => {
    if (typeof g !== 'object' || g === null || Array.isArray(g)) throw new Error(`${where}: group ${i} is not an object`);
    const { targets, labels } = g as { targets?: unknown; labels?: unknown };
    if (targets !== undefined && targets !== null && (!Array.isArray(targets) || targets.some((t) => typeof t !== 'string'))) throw new Error(`${where}: group ${i}: targets must be a list of strings`);
    const ls: Record<string, string> = {};
    if (labels !== undefined && labels !== null) {
      if (typeof labels !== 'object' || Array.isArray(labels)) throw new Error(`${where}: group ${i}: labels must be a map`);
      for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
        if (!isValidLabelName(k)) throw new Error(`${where}: group ${i}: ${JSON.stringify(k)} is not a valid label name`);
        if (typeof v !== 'string') throw new Error(`${where}: group ${i}: label ${k} must be a string`);
        ls[k] = v;
      }
    }
    Object.assign(ls, meta);
    return { source: `${where}:${i}`, targets: ((targets as string[] | undefined | null) ?? []).map((t) => ({ ...ls, [ADDRESS_LABEL]: t })) };
  });
}

/** Parses a file_sd file (JSON or YAML list of {targets, labels}); throws naming the problem. */
export function parseFileSD(text: string, file: string): TargetGroup[] {
  const ext = extname(file).toLowerCase();
  let doc: unknown;
  try {
    doc = ext === '.json' ? JSON.parse(text) : parseYAML(text);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  return targetGroupsFrom(doc, file, { __meta_filepath: file });
}

/** A file name pattern as an anchored regex on the linear-time engine (never backtracking: `*a*a*a*b`). */
function globToRegExp(pattern: string): Regex {
  let re = '';
  for (const c of pattern) {
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return compileAnchored(re);
}

/** Wraps an async task so that runs never overlap: a call waits for the run in progress, then runs. */
function serialized(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return async () => {
    while (running) await running;
    running = task();
    try {
      await running;
    } finally {
      running = null;
    }
  };
}

/**
 * Watches the files of one file_sd_config: re-reads them on change (fs.watch on their folders)
 * and every refresh_interval. A file that fails to parse keeps its last good groups; the error
 * is logged and kept in `lastError`.
 */
export class FileDiscovery implements Discoverer {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private groups = new Map<string, TargetGroup[]>();
  private pending: NodeJS.Timeout | null = null;
  private stopped = false;
  lastError = '';
  stats?: DiscoveryStats;

  constructor(
    private readonly patterns: readonly string[],
    private readonly refreshMs: number,
    baseDir: string,
    private readonly onChange: (groups: TargetGroup[]) => void,
    private readonly log?: Logger,
  ) {
    this.patterns = patterns.map((p) => (isAbsolute(p) ? p : resolve(baseDir, p)));
  }

  /** Reads the files once, then keeps watching. Resolves after the first read. */
  async start(): Promise<void> {
    await this.refresh();
    for (const dir of new Set(this.patterns.map((p) => dirname(p)))) {
      try {
        const w = watch(dir, () => this.schedule());
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch (e) {
        this.log?.warn({ dir, err: (e as Error).message }, 'file_sd: cannot watch folder; relying on refresh_interval');
      }
    }
    if (this.refreshMs > 0) this.timer = setInterval(() => this.schedule(), this.refreshMs);
  }

  private schedule(): void {
    if (this.stopped || this.pending) return;
    // Editors write files in several steps; wait a moment so we read the finished file.
    this.pending = setTimeout(() => {
      this.pending = null;
      void guarded('discovery', () => this.refresh(), this.log, { mechanism: 'file_sd' });
    }, 50);
  }

  /** Reads the files now, after any read in progress. */
  readonly refresh = serialized(() => this.doRefresh());

  private async doRefresh(): Promise<void> {
    const files = new Set<string>();
    for (const p of this.patterns) {
      const dir = dirname(p);
      const base = basename(p);
      if (!/[*?[]/.test(base)) {
        files.add(p);
        continue;
      }
      try {
        const re = globToRegExp(base);
        for (const f of await readdir(dir)) if (re.test(f)) files.add(join(dir, f));
      } catch {
        // a missing folder (or a pattern the engine refuses) matches nothing
      }
    }
    const next = new Map<string, TargetGroup[]>();
    const errors: string[] = [];
    for (const f of [...files].sort()) {
      const ext = extname(f).toLowerCase();
      if (!['.json', '.yml', '.yaml'].includes(ext)) continue;
      let text: string;
      try {
        text = await readFile(f, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') errors.push(`${f}: ${(e as Error).message}`);
        continue;
      }
      try {
        next.set(f, parseFileSD(text, f));
      } catch (e) {
        errors.push((e as Error).message);
        const prev = this.groups.get(f);
        if (prev) next.set(f, prev);
      }
    }
    if (this.stopped) return;
    this.stats?.record('file_sd', errors.length > 0);
    this.lastError = errors.join('; ');
    if (errors.length > 0) this.log?.error({ errors }, 'file_sd: cannot read target files');
    this.groups = next;
    this.onChange([...next.values()].flat());
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    this.timer = null;
    this.pending = null;
  }
}

/** How long start() waits for a refresh-based provider's first answer. */
const START_WAIT_MS = 5000;

/**
 * A provider that asks its source every `intervalMs` (http_sd, dns_sd), one refresh at a time.
 * `fetch` returns the provider's groups plus the problems it met; a thrown error means nothing
 * usable came back, and the last good groups stay.
 */
export abstract class RefreshDiscovery implements Discoverer {
  lastError = '';
  stats?: DiscoveryStats;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly abort = new AbortController();
  private lastKey: string | null = null;

  constructor(
    protected readonly mechanism: string,
    private readonly intervalMs: number,
    private readonly onChange: (groups: TargetGroup[]) => void,
    protected readonly log?: Logger,
  ) {}

  protected abstract fetch(signal: AbortSignal): Promise<{ groups: TargetGroup[]; errors: string[] }>;

  /**
   * Starts refreshing. Resolves after the first refresh, or after START_WAIT_MS if that takes
   * longer (a slow source must not hold up a reload; its targets arrive when it answers).
   */
  async start(): Promise<void> {
    const first = guarded('discovery', () => this.refresh(), this.log, { mechanism: this.mechanism }).then(() => this.schedule());
    let wait: NodeJS.Timeout | undefined;
    await Promise.race([first, new Promise<void>((r) => (wait = setTimeout(r, START_WAIT_MS)))]);
    clearTimeout(wait);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void guarded('discovery', () => this.refresh(), this.log, { mechanism: this.mechanism }).then(() => this.schedule());
    }, this.intervalMs);
  }

  /** One refresh now (after any refresh in progress); never throws. */
  readonly refresh = serialized(() => this.doRefresh());

  private async doRefresh(): Promise<void> {
    let result: { groups: TargetGroup[]; errors: string[] };
    try {
      result = await this.fetch(this.abort.signal);
    } catch (e) {
      if (this.stopped) return;
      this.stats?.record(this.mechanism, true);
      this.lastError = (e as Error).message;
      this.log?.error({ mechanism: this.mechanism, err: this.lastError }, `${this.mechanism}: refresh failed; keeping the last targets`);
      return;
    }
    if (this.stopped) return;
    this.stats?.record(this.mechanism, result.errors.length > 0);
    this.lastError = result.errors.join('; ');
    if (result.errors.length > 0) this.log?.error({ mechanism: this.mechanism, errors: result.errors }, `${this.mechanism}: refresh failed in part; keeping the last targets of what failed`);
    const key = JSON.stringify(result.groups);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.onChange(result.groups);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort();
  }
}
