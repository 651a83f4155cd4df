// Loading: YAML text → plain object → typed Config, with every error pointing at the file, line,
// column and key path, and quoting what was wrong. Pure apart from reading the file and the
// files its scrape_config_files name.

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { BadPatternError, globSync, matchesGlob } from './glob.js';
import { globalConfig, resolveScrapeDefaults, scrapeConfig, scrapeConfigWithDir, UNSUPPORTED_SD, type GlobalConfig, type ScrapeConfig } from './prometheus.js';
import { semanticIssues } from './semantic.js';
import { configSchema, type Config } from './schema.js';
import { suggestKey } from './suggest.js';

export type ConfigPath = readonly (string | number)[];

export class ConfigError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly path: string,
    readonly message: string,
  ) {}

  toString(): string {
    const where = `${this.file}:${this.line}:${this.column}`;
    return this.path ? `${where}: ${this.path}: ${this.message}` : `${where}: ${this.message}`;
  }
}

export type LoadResult =
  | {
      ok: true;
      config: Config;
      warnings: string[];
      file: string;
      dir: string;
      /** The file each named item of an includable section came from (`probes/NAME` → file), see config_files. */
      origins: Map<string, string>;
    }
  | { ok: false; errors: ConfigError[]; file: string };

/** `scrape_configs[0].static_configs[1].targets` */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out;
}

/**
 * Loads a config file. `overrides` gives the text of files by absolute path instead of reading
 * them (the config API validates a change this way before writing anything).
 */
export async function loadConfigFile(file: string, overrides?: ReadonlyMap<string, string>): Promise<LoadResult> {
  let text: string;
  try {
    text = overrides?.get(resolve(file)) ?? (await readFile(file, 'utf8'));
  } catch (e) {
    return { ok: false, file, errors: [new ConfigError(file, 0, 0, '', `cannot read config file: ${(e as Error).message}`)] };
  }
  return parseConfig(text, file, overrides);
}

interface ParsedYaml {
  doc: Document;
  lc: LineCounter;
  raw: Record<string, unknown>;
}

/** YAML text → a mapping with positions, or the errors that prevent it. */
function parseYaml(text: string, file: string): ParsedYaml | ConfigError[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return doc.errors.map((e) => {
      const p = lc.linePos(e.pos[0]);
      return new ConfigError(file, p.line, p.col, '', e.message.split('\n')[0]);
    });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (e) {
    return [new ConfigError(file, 1, 1, '', (e as Error).message)];
  }
  if (typeof raw !== 'object' || Array.isArray(raw) || raw === null) {
    return [new ConfigError(file, 1, 1, '', 'the configuration must be a mapping of sections')];
  }
  return { doc, lc, raw: raw as Record<string, unknown> };
}

function schemaErrors(error: z.ZodError, y: ParsedYaml, file: string): ConfigError[] {
  return byPosition(error.issues.flatMap((iss) => issueToErrors(iss, y.doc, y.lc, file, y.raw)));
}

function byPosition(errors: ConfigError[]): ConfigError[] {
  return errors.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** The main file's errors by line and column, then each included file's, in the order met. */
function inFileOrder(errors: ConfigError[], mainFile: string): ConfigError[] {
  const order = new Map([[mainFile, 0]]);
  for (const e of errors) if (!order.has(e.file)) order.set(e.file, order.size);
  return errors.sort((a, b) => order.get(a.file)! - order.get(b.file)! || a.line - b.line || a.column - b.column);
}

/**
 * The semantic checks (semantic.ts) of a file's text, as errors at their keys; a key that
 * already has a schema error keeps only that one.
 */
function semanticErrors(y: ParsedYaml, origin: (p: ConfigPath) => Origin, already: readonly ConfigError[]): ConfigError[] {
  const taken = new Set(already.map((e) => `${e.file}\0${e.path}`));
  const at = (p: ConfigPath) => {
    const o = origin(p);
    const { line, col } = locate(o.y.doc, o.y.lc, o.path, false);
    return { file: o.file, line, col, path: formatPath(o.path) };
  };
  return semanticIssues(y.raw, (p) => {
    const w = at(p);
    return `${w.file}:${w.line}:${w.col}`;
  })
    .map((i) => ({ w: at(i.path), message: i.message }))
    .filter(({ w }) => !taken.has(`${w.file}\0${w.path}`))
    .map(({ w, message }) => new ConfigError(w.file, w.line, w.col, w.path, message));
}

/** What a file named by scrape_config_files holds: scrape_configs and nothing else. */
const scrapeConfigFileSchema = z.strictObject({ scrape_configs: z.array(scrapeConfig).default([]) });

/**
 * Parses and validates configuration text. `file` names the source in messages; the files
 * named by scrape_config_files are read relative to its folder, validated with the same schema
 * and positions, and their jobs appended to scrape_configs.
 */
export function parseConfig(text: string, file = '<config>', overrides?: ReadonlyMap<string, string>): LoadResult {
  const main = parseYaml(text, file);
  if (Array.isArray(main)) return { ok: false, file, errors: main };
  const dir = dirname(resolve(file));
  const inc = includeConfigFiles(main, file, dir, overrides);
  const y: ParsedYaml = { ...main, raw: inc.raw };
  const parsed = configSchema.safeParse(inc.raw);
  if (!parsed.success) {
    const hint = standaloneHint(main.raw, file);
    if (hint) return { ok: false, file, errors: [hint] };
  }
  // Everything in one pass: schema errors, then the semantic checks of every part as written,
  // then the included files (when their names parsed), in file and line order. An error in a
  // part that came from a config_files file is reported at its place in that file.
  const errors = [...inc.errors, ...(parsed.success ? [] : byPosition(parsed.error.issues.flatMap((iss) => inc.issueErrors(iss))))];
  errors.push(...semanticErrors(y, inc.origin, errors));
  const global = parsed.success ? parsed.data.global : globalConfig.safeParse(y.raw.global ?? {}).data;
  const included = loadScrapeConfigFiles(y, global ?? globalConfig.parse({}), file, dir);
  errors.push(...included.errors);
  if (!parsed.success || errors.length > 0) return { ok: false, file, errors: inFileOrder(errors, file) };
  const config = included.jobs.length > 0 ? { ...parsed.data, scrape_configs: [...parsed.data.scrape_configs, ...included.jobs] } : parsed.data;
  return { ok: true, config, warnings: [...collectWarnings(main.raw, ''), ...included.warnings], file, dir, origins: inc.origins };
}

/**
 * The sections a file named by `config_files` may hold: lists of named items (`key` names each),
 * appended to the main file's, and mappings (`map`: the mapping's key names each item), merged
 * into the main file's, whose parent the main file must have (users join an existing
 * server.auth: a file dropped into patrol.d cannot switch authentication on or off).
 * (The config API writes these sections into its managed directory.)
 */
export const INCLUDABLE: readonly { path: readonly string[]; key: string; map?: true }[] = [
  { path: ['probes'], key: 'name' },
  { path: ['alerting', 'receivers'], key: 'name' },
  { path: ['status_pages'], key: 'slug' },
  // The root route's children, after patrol.yml's own (named, so the config API can address them).
  { path: ['alerting', 'route', 'routes'], key: 'name' },
  { path: ['server', 'auth', 'users'], key: 'name', map: true },
];

const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The part of a parsed file a config path points into: the file, its parsed text, the path inside it. */
interface Origin {
  file: string;
  y: ParsedYaml;
  path: ConfigPath;
}

interface Included {
  /** The main file's values with the included files' items appended. */
  raw: Record<string, unknown>;
  errors: ConfigError[];
  origins: Map<string, string>;
  origin: (path: ConfigPath) => Origin;
  issueErrors: (iss: z.core.$ZodIssue) => ConfigError[];
}

function getIn(raw: unknown, path: readonly string[]): unknown {
  let cur = raw;
  for (const k of path) cur = cur !== null && typeof cur === 'object' && !Array.isArray(cur) ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

/** A copy of `raw` with `path` set to `value`, copying the mappings on the way. */
function setIn(raw: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const [k, ...rest] = path;
  if (rest.length === 0) return { ...raw, [k]: value };
  const inner = raw[k];
  return { ...raw, [k]: setIn(inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : {}, rest, value) };
}

/**
 * Reads the files named by `config_files` (glob patterns, relative to the main file's folder)
 * and appends their items (INCLUDABLE) to the main file's. An item whose name is already used
 * (in the main file or an earlier included one) is an error naming both places.
 */
function includeConfigFiles(main: ParsedYaml, mainFile: string, dir: string, overrides: ReadonlyMap<string, string> | undefined): Included {
  const errors: ConfigError[] = [];
  const origins = new Map<string, string>();
  /** Per includable path: which file each index range came from. */
  const segments = new Map<string, { start: number; end: number; y: ParsedYaml; file: string }[]>();
  let raw = main.raw;
  const mainAt = (p: ConfigPath) => {
    const { line, col } = locate(main.doc, main.lc, p, false);
    return { line, col };
  };
  const files: string[] = [];
  const patterns = Array.isArray(main.raw.config_files) ? (main.raw.config_files as unknown[]) : [];
  patterns.forEach((pattern, i) => {
    if (typeof pattern !== 'string') return;
    const abs = isAbsolute(pattern) ? pattern : join(dir, pattern);
    try {
      const found = globSync(abs);
      // A file the config API is about to create exists only in overrides.
      if (overrides) for (const f of overrides.keys()) if (!found.includes(f) && matchesGlob(abs, f)) found.push(f);
      for (const f of found.sort()) if (!files.includes(f) && resolve(f) !== resolve(mainFile)) files.push(f);
    } catch (e) {
      if (!(e instanceof BadPatternError)) throw e;
      const { line, col } = mainAt(['config_files', i]);
      errors.push(new ConfigError(mainFile, line, col, formatPath(['config_files', i]), `bad pattern ${JSON.stringify(pattern)}: ${e.message}`));
    }
  });
  /** Per mapping item (`path/name`): the included file that defined it. */
  const mapOrigins = new Map<string, { y: ParsedYaml; file: string }>();
  for (const { path, map } of INCLUDABLE) {
    const items = getIn(main.raw, path);
    if (map && isMapping(items)) for (const name of Object.keys(items)) origins.set(`${path.join('.')}/${name}`, mainFile);
  }
  for (const { path, key } of INCLUDABLE) {
    const items = getIn(main.raw, path);
    if (!Array.isArray(items)) continue;
    items.forEach((it: unknown) => {
      const name = it !== null && typeof it === 'object' ? (it as Record<string, unknown>)[key] : undefined;
      if (typeof name === 'string' && !origins.has(`${path.join('.')}/${name}`)) origins.set(`${path.join('.')}/${name}`, mainFile);
    });
  }
  for (const f of files) {
    let text: string;
    try {
      text = overrides?.get(resolve(f)) ?? readFileSync(f, 'utf8');
    } catch (e) {
      errors.push(new ConfigError(f, 0, 0, '', `cannot read config file: ${(e as Error).message}`));
      continue;
    }
    const y = parseYaml(text, f);
    if (Array.isArray(y)) {
      errors.push(...y);
      continue;
    }
    const allowed = INCLUDABLE.map((i) => i.path.join('.'));
    const walkKeys = (v: Record<string, unknown>, prefix: string[]) => {
      for (const k of Object.keys(v)) {
        const p = [...prefix, k];
        if (allowed.includes(p.join('.'))) continue;
        const deeper = allowed.some((a) => a.startsWith(`${p.join('.')}.`));
        const x = v[k];
        if (deeper && x !== null && typeof x === 'object' && !Array.isArray(x)) walkKeys(x as Record<string, unknown>, p);
        else {
          const { line, col } = locate(y.doc, y.lc, p, true);
          errors.push(new ConfigError(f, line, col, formatPath(p), `a file named by config_files may hold only ${allowed.join(', ')}`));
        }
      }
    };
    walkKeys(y.raw, []);
    for (const { path, key, map } of INCLUDABLE) {
      const items = getIn(y.raw, path);
      if (items === undefined || items === null) continue;
      if (map) {
        const id = path.join('.');
        const parent = getIn(raw, path.slice(0, -1));
        const { line, col } = locate(y.doc, y.lc, path, true);
        if (!isMapping(items)) errors.push(new ConfigError(f, line, col, formatPath(path), `expected a mapping, got ${describe(items)}`));
        else if (!isMapping(parent)) errors.push(new ConfigError(f, line, col, formatPath(path), `${formatPath(path.slice(0, -1))} must be in ${mainFile} for a file named by config_files to add to ${formatPath(path)}`));
        else {
          const have = isMapping(parent[path[path.length - 1]]) ? (parent[path[path.length - 1]] as Record<string, unknown>) : {};
          const added: Record<string, unknown> = {};
          for (const [name, v] of Object.entries(items)) {
            const taken = origins.get(`${id}/${name}`);
            if (taken !== undefined) {
              const at = locate(y.doc, y.lc, [...path, name], true);
              errors.push(new ConfigError(f, at.line, at.col, formatPath([...path, name]), `${JSON.stringify(name)} is already defined in ${taken}`));
              continue;
            }
            added[name] = v;
            origins.set(`${id}/${name}`, f);
            mapOrigins.set(`${id}/${name}`, { y, file: f });
          }
          raw = setIn(raw, path, { ...have, ...added });
        }
        continue;
      }
      if (!Array.isArray(items)) {
        const { line, col } = locate(y.doc, y.lc, path, false);
        errors.push(new ConfigError(f, line, col, formatPath(path), `expected a list, got ${describe(items)}`));
        continue;
      }
      const before = getIn(raw, path);
      const mainItems = Array.isArray(before) ? before : [];
      const id = path.join('.');
      const segs = segments.get(id) ?? [];
      segs.push({ start: mainItems.length, end: mainItems.length + items.length, y, file: f });
      segments.set(id, segs);
      raw = setIn(raw, path, [...mainItems, ...items]);
      items.forEach((it: unknown) => {
        const name = it !== null && typeof it === 'object' ? (it as Record<string, unknown>)[key] : undefined;
        if (typeof name === 'string' && !origins.has(`${id}/${name}`)) origins.set(`${id}/${name}`, f);
      });
    }
  }
  const origin = (p: ConfigPath): Origin => {
    for (const { path, map } of INCLUDABLE) {
      if (p.length <= path.length || !path.every((k, i) => p[i] === k)) continue;
      if (map) {
        const m = mapOrigins.get(`${path.join('.')}/${String(p[path.length])}`);
        if (m) return { file: m.file, y: m.y, path: p };
        continue;
      }
      const idx = p[path.length];
      const seg = typeof idx === 'number' ? segments.get(path.join('.'))?.find((s) => idx >= s.start && idx < s.end) : undefined;
      if (seg) return { file: seg.file, y: seg.y, path: [...path, (idx as number) - seg.start, ...p.slice(path.length + 1)] };
    }
    return { file: mainFile, y: main, path: p };
  };
  const issueErrors = (iss: z.core.$ZodIssue): ConfigError[] => {
    const p = iss.path.filter((x): x is string | number => typeof x !== 'symbol');
    const o = origin(p);
    return issueToErrors({ ...iss, path: [...o.path] } as z.core.$ZodIssue, o.y.doc, o.y.lc, o.file, o.y.raw);
  };
  return { raw, errors, origins, origin, issueErrors };
}


/** Top-level keys of alertmanager.yml that patrol.yml holds under `alerting:`. */
const ALERTMANAGER_TOP_KEYS = ['route', 'receivers', 'inhibit_rules', 'time_intervals', 'mute_time_intervals', 'templates'];

/**
 * A pasted alertmanager.yml gets one hint instead of an "unknown key" per section: when its
 * top level has alertmanager's sections (route, receivers, ...) and no `alerting:`.
 * (A prometheus.yml is a valid patrol.yml as it is, so it needs no hint.)
 */
function standaloneHint(raw: unknown, file: string): ConfigError | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const keys = Object.keys(raw);
  if (keys.includes('alerting')) return null;
  const found = keys.filter((k) => ALERTMANAGER_TOP_KEYS.includes(k));
  if (!found.includes('route') && !found.includes('receivers')) return null;
  return new ConfigError(
    file,
    1,
    1,
    '',
    `this looks like an alertmanager.yml (top-level ${found.join(', ')}): nest it under \`alerting:\` in patrol.yml (alerting: {global, route, receivers, inhibit_rules, time_intervals, templates})`,
  );
}

/**
 * Reads the scrape_config_files of a parsed config (Prometheus 2.43+): each matching file holds
 * `scrape_configs:`; its jobs take the global defaults, resolve relative paths against their
 * own file's folder, and share one namespace of job names with the main file.
 */
function loadScrapeConfigFiles(main: ParsedYaml, global: GlobalConfig, mainFile: string, dir: string): { jobs: ScrapeConfig[]; warnings: string[]; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const jobs: ScrapeConfig[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, string>();
  const mainJobs = Array.isArray(main.raw.scrape_configs) ? (main.raw.scrape_configs as unknown[]) : [];
  mainJobs.forEach((s, i) => {
    const name = s !== null && typeof s === 'object' ? (s as Record<string, unknown>).job_name : undefined;
    if (typeof name !== 'string' || seen.has(name)) return;
    const { line, col } = locate(main.doc, main.lc, ['scrape_configs', i, 'job_name'], false);
    seen.set(name, `${mainFile}:${line}:${col}`);
  });
  const files: string[] = [];
  const patterns = Array.isArray(main.raw.scrape_config_files) ? (main.raw.scrape_config_files as unknown[]) : [];
  patterns.forEach((pattern, i) => {
    // A pattern that is not a string has its schema error already.
    if (typeof pattern !== 'string') return;
    const abs = isAbsolute(pattern) ? pattern : join(dir, pattern);
    try {
      for (const f of globSync(abs)) if (!files.includes(f)) files.push(f);
    } catch (e) {
      if (!(e instanceof BadPatternError)) throw e;
      const { line, col } = locate(main.doc, main.lc, ['scrape_config_files', i], false);
      errors.push(new ConfigError(mainFile, line, col, formatPath(['scrape_config_files', i]), `error retrieving scrape config files for ${JSON.stringify(pattern)}: ${e.message}`));
    }
  });
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      errors.push(new ConfigError(f, 0, 0, '', `cannot read scrape config file: ${(e as Error).message}`));
      continue;
    }
    const y = parseYaml(text, f);
    if (Array.isArray(y)) {
      errors.push(...y);
      continue;
    }
    const parsed = scrapeConfigFileSchema.safeParse(y.raw);
    if (!parsed.success) {
      errors.push(...schemaErrors(parsed.error, y, f));
      continue;
    }
    parsed.data.scrape_configs.forEach((s, i) => {
      const { line, col } = locate(y.doc, y.lc, ['scrape_configs', i, 'job_name'], false);
      const first = seen.get(s.job_name);
      if (first !== undefined) {
        errors.push(new ConfigError(f, line, col, formatPath(['scrape_configs', i, 'job_name']), `found multiple scrape configs with job name ${JSON.stringify(s.job_name)} (first at ${first})`));
        return;
      }
      seen.set(s.job_name, `${f}:${line}:${col}`);
      jobs.push(scrapeConfigWithDir(resolveScrapeDefaults(s, global), dirname(f)));
    });
    warnings.push(...collectWarnings(y.raw, `${f}: `));
  }
  return { jobs, warnings, errors };
}

/**
 * Sections that validate but that nothing acts on yet: `check config` prints these warnings and
 * the server logs them at start (with the unsupported service discoveries below), until the
 * component that acts on each lands. Checked on the text as written.
 */
const NOT_ACTED_ON: ((raw: Record<string, unknown>) => string | null)[] = [
  (raw) => (nonEmpty(raw.remote_write) ? 'remote_write: validated but not acted on yet (nothing is sent to other servers)' : null),
  (raw) => (nonEmpty(raw.remote_read) ? 'remote_read: validated but not acted on yet (queries read only local data)' : null),
  (raw) => {
    const keys = ['tracing', 'runtime', 'otlp'].filter((k) => nonEmpty(raw[k]));
    return keys.length > 0 ? `${keys.join(', ')}: accepted for compatibility with prometheus.yml, no effect` : null;
  },
  (raw) => {
    const keys = GLOBAL_NO_EFFECT.filter((k) => nonEmpty(record(raw.global)[k]));
    return keys.length > 0 ? `global: ${keys.join(', ')} accepted for compatibility with prometheus.yml, no effect yet` : null;
  },
];

/** Keys of global and of scrape jobs that Patrol accepts (prometheus.yml has them) but ignores. */
const GLOBAL_NO_EFFECT = ['query_log_file', 'scrape_failure_log_file', 'metric_name_validation_scheme', 'metric_name_escaping_scheme', 'convert_classic_histograms_to_nhcb', 'always_scrape_classic_histograms'];
const JOB_NO_EFFECT = ['scrape_classic_histograms', 'always_scrape_classic_histograms', 'convert_classic_histograms_to_nhcb', 'native_histogram_bucket_limit', 'native_histogram_min_bucket_factor', 'metric_name_validation_scheme', 'metric_name_escaping_scheme', 'fallback_scrape_protocol'];

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function nonEmpty(v: unknown): boolean {
  return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null;
}

function collectWarnings(raw: Record<string, unknown>, prefix: string): string[] {
  const warnings: string[] = prefix === '' ? NOT_ACTED_ON.map((check) => check(raw)).filter((w): w is string => w !== null) : [];
  const jobs = Array.isArray(raw.scrape_configs) ? (raw.scrape_configs as Record<string, unknown>[]) : [];
  jobs.forEach((j, i) => {
    if (!j || typeof j !== 'object') return;
    for (const k of UNSUPPORTED_SD) {
      if (k in j) warnings.push(`${prefix}scrape_configs[${i}].${k}: not supported yet; the job gets no targets from it`);
    }
    const ignored = JOB_NO_EFFECT.filter((k) => k in j);
    if (ignored.length > 0) warnings.push(`${prefix}scrape_configs[${i}]: ${ignored.join(', ')} accepted for compatibility with prometheus.yml, no effect yet`);
  });
  return warnings;
}

function issueToErrors(iss: z.core.$ZodIssue, doc: Document, lc: LineCounter, file: string, raw: unknown): ConfigError[] {
  const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
  const at = (p: ConfigPath, keyNode = false) => {
    const { line, col } = locate(doc, lc, p, keyNode);
    return { line, col };
  };
  if (iss.code === 'unrecognized_keys') {
    return iss.keys.map((k) => {
      const p = [...path, k];
      const { line, col } = at(p, true);
      const hint = suggestKey(configSchema, path, k);
      return new ConfigError(file, line, col, formatPath(p), `unknown key ${JSON.stringify(k)}${hint ? ` (did you mean \`${hint}\`?)` : ''}`);
    });
  }
  if (iss.code === 'invalid_key') {
    const { line, col } = at(path, true);
    const inner = iss.issues[0]?.message ?? iss.message;
    return [new ConfigError(file, line, col, formatPath(path), `invalid key: ${inner}`)];
  }
  const value = valueAt(raw, path);
  let message = iss.message;
  const key = path[path.length - 1];
  const missing = value === undefined && typeof key === 'string' && (iss.code === 'invalid_type' || (iss.code === 'custom' && / got undefined$/.test(iss.message)));
  if (missing) {
    // Name the key the user has to add, not the type of a value that is not there.
    message = `missing required key \`${key}\``;
  } else if (iss.code === 'invalid_type') {
    message = `expected ${iss.expected}, got ${describe(value)}`;
  } else if (iss.code === 'invalid_value') {
    message = `${describe(value)} is not one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
  } else if (iss.code === 'too_small' && typeof value === 'string') {
    message = 'must not be empty';
  } else if (iss.code === 'too_small' && typeof value === 'number' && iss.origin === 'number') {
    const min = Number(iss.minimum);
    message = `${value} is too small (must be ${iss.inclusive ? `at least ${min}` : Number.isInteger(value) ? `at least ${min + 1}` : `greater than ${min}`})`;
  } else if (iss.code === 'too_big' && typeof value === 'number' && iss.origin === 'number') {
    message = `${value} is too big (must be at most ${Number(iss.maximum)})`;
  }
  const { line, col } = at(path);
  return [new ConfigError(file, line, col, formatPath(path), message)];
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function valueAt(raw: unknown, path: ConfigPath): unknown {
  let cur: unknown = raw;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/**
 * The position of the node at `path`, or of its nearest ancestor that exists (a missing key is
 * reported where its mapping starts). With keyNode, the position of the key itself.
 */
function locate(doc: Document, lc: LineCounter, path: ConfigPath, keyNode: boolean): { line: number; col: number } {
  let node: unknown = doc.contents;
  let best: YamlNode | null = (doc.contents as YamlNode | null) ?? null;
  for (let i = 0; i < path.length; i++) {
    const p = path[i];
    if (isMap(node)) {
      const pair = node.items.find((it) => (isScalar(it.key) ? it.key.value : it.key) === p);
      if (!pair) break;
      if (keyNode && i === path.length - 1 && isScalar(pair.key)) {
        best = pair.key;
        break;
      }
      node = pair.value;
      if (node && typeof node === 'object' && 'range' in node) best = node as YamlNode;
      else if (isScalar(pair.key)) best = pair.key;
    } else if (isSeq(node) && typeof p === 'number') {
      node = node.items[p];
      if (!node) break;
      best = node as YamlNode;
    } else break;
  }
  const offset = best?.range?.[0] ?? 0;
  return lc.linePos(offset);
}
