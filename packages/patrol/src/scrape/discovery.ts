// Target discovery: static_configs and file_sd_configs. A provider reports target groups keyed by
// source; the pool rebuilds its targets from the union whenever a provider changes.

import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYAML } from 'yaml';
import type { Logger } from 'pino';
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

/** Parses a file_sd file (JSON or YAML list of {targets, labels}); throws naming the problem. */
export function parseFileSD(text: string, file: string): TargetGroup[] {
  const ext = extname(file).toLowerCase();
  let doc: unknown;
  try {
    doc = ext === '.json' ? JSON.parse(text) : parseYAML(text);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new Error(`${file}: expected a list of target groups`);
  return doc.map((g: unknown, i: number) => {
    if (typeof g !== 'object' || g === null) throw new Error(`${file}: group ${i} is not an object`);
    const { targets, labels } = g as { targets?: unknown; labels?: unknown };
    if (targets !== undefined && (!Array.isArray(targets) || targets.some((t) => typeof t !== 'string'))) throw new Error(`${file}: group ${i}: targets must be a list of strings`);
    const ls: Record<string, string> = {};
    if (labels !== undefined && labels !== null) {
      if (typeof labels !== 'object' || Array.isArray(labels)) throw new Error(`${file}: group ${i}: labels must be a map`);
      for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
        if (!isValidLabelName(k)) throw new Error(`${file}: group ${i}: ${JSON.stringify(k)} is not a valid label name`);
        if (typeof v !== 'string') throw new Error(`${file}: group ${i}: label ${k} must be a string`);
        ls[k] = v;
      }
    }
    ls.__meta_filepath = file;
    return { source: `${file}:${i}`, targets: ((targets as string[] | undefined) ?? []).map((t) => ({ ...ls, [ADDRESS_LABEL]: t })) };
  });
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (const c of pattern) {
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Watches the files of one file_sd_config: re-reads them on change (fs.watch on their folders)
 * and every refresh_interval. A file that fails to parse keeps its last good groups; the error
 * is logged and kept in `lastError`.
 */
export class FileDiscovery {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private groups = new Map<string, TargetGroup[]>();
  private pending: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  lastError = '';

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
      void this.refresh();
    }, 50);
  }

  async refresh(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.doRefresh();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }

  private async doRefresh(): Promise<void> {
    const files = new Set<string>();
    for (const p of this.patterns) {
      const dir = dirname(p);
      const base = basename(p);
      if (!/[*?[]/.test(base)) {
        files.add(p);
        continue;
      }
      const re = globToRegExp(base);
      try {
        for (const f of await readdir(dir)) if (re.test(f)) files.add(join(dir, f));
      } catch {
        // a missing folder matches nothing
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
