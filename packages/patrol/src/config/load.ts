// Loading: YAML text → plain object → typed Config, with every error pointing at the file, line,
// column and key path, and quoting what was wrong. Pure apart from reading the file.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { UNSUPPORTED_SD } from './prometheus.js';
import { configSchema, type Config } from './schema.js';

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
  | { ok: true; config: Config; warnings: string[]; file: string; dir: string }
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

export async function loadConfigFile(file: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { ok: false, file, errors: [new ConfigError(file, 0, 0, '', `cannot read config file: ${(e as Error).message}`)] };
  }
  return parseConfig(text, file);
}

/** Parses and validates configuration text. `file` names the source in messages. */
export function parseConfig(text: string, file = '<config>'): LoadResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const pos = (offset: number) => lc.linePos(offset);
  if (doc.errors.length > 0) {
    return {
      ok: false,
      file,
      errors: doc.errors.map((e) => {
        const p = pos(e.pos[0]);
        return new ConfigError(file, p.line, p.col, '', e.message.split('\n')[0]);
      }),
    };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (e) {
    return { ok: false, file, errors: [new ConfigError(file, 1, 1, '', (e as Error).message)] };
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, file, errors: [new ConfigError(file, 1, 1, '', 'the configuration must be a mapping of sections')] };
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const errors = parsed.error.issues.flatMap((iss) => issueToErrors(iss, doc, lc, file, raw));
    errors.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, file, errors };
  }
  return { ok: true, config: parsed.data, warnings: collectWarnings(raw as Record<string, unknown>), file, dir: dirname(resolve(file)) };
}

function collectWarnings(raw: Record<string, unknown>): string[] {
  const warnings: string[] = [];
  const jobs = Array.isArray(raw.scrape_configs) ? (raw.scrape_configs as Record<string, unknown>[]) : [];
  jobs.forEach((j, i) => {
    for (const k of UNSUPPORTED_SD) {
      if (j && typeof j === 'object' && k in j) warnings.push(`scrape_configs[${i}].${k}: not supported yet; the job gets no targets from it`);
    }
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
      return new ConfigError(file, line, col, formatPath(p), `unknown key ${JSON.stringify(k)}`);
    });
  }
  if (iss.code === 'invalid_key') {
    const { line, col } = at(path, true);
    const inner = iss.issues[0]?.message ?? iss.message;
    return [new ConfigError(file, line, col, formatPath(path), `invalid key: ${inner}`)];
  }
  const value = valueAt(raw, path);
  let message = iss.message;
  if (iss.code === 'invalid_type') {
    message = value === undefined ? `missing required key (expected ${iss.expected})` : `expected ${iss.expected}, got ${describe(value)}`;
  } else if (iss.code === 'invalid_value') {
    message = `${describe(value)} is not one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
  } else if (iss.code === 'too_small' && typeof value === 'string') {
    message = 'must not be empty';
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
