// `patrol check config --show`: the effective configuration (every default filled in) as YAML a
// user could paste back into patrol.yml — durations as `15s`, sizes as `32MB`, conditions and
// matchers as their text, secrets masked. Walks the schema beside the value: a number goes back
// to the text its field reads (a duration or a size) when that text parses to the same number.

import { stringify } from 'yaml';
import { formatDuration } from '../model/duration.js';
import { configSchema, type Config } from './schema.js';
import { Secret, SECRET_MASK } from './secret.js';
import { maskSecrets } from './secrets.js';
import { defOf, WRAPPER_TYPES, type ZodDef } from './zoddef.js';

/** The one place a secret is written in --show output. */
function showSecret(_s: Secret): string {
  return SECRET_MASK;
}

/**
 * The one place the whole shown value passes before printing: where a masking of plain-text
 * secrets (secret-named keys, passwords inside URLs) plugs in. Secret fields are masked already.
 */
function maskForShow(value: unknown): unknown {
  return maskSecrets(value);
}


interface Parser {
  safeParse(v: unknown): { success: boolean; data?: unknown };
}


/** Bytes as a size Patrol (and Prometheus) reads: `32MB`, `512KB`, `1536` (units of 1024). */
export function formatByteSize(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let i = 0;
  while (i < units.length - 1 && n !== 0 && n % 1024 ** (i + 1) === 0) i++;
  return i === 0 ? String(n) : `${n / 1024 ** i}${units[i]}`;
}

/** A number as its field reads it back: a duration or size text if that parses to the same number. */
function numberAsWritten(schema: unknown, n: number): string | number {
  const p = schema as Parser;
  if (typeof p?.safeParse !== 'function') return n;
  for (const text of [formatDuration(n), formatByteSize(n)]) {
    if (typeof text !== 'string' || !/[a-zA-Z]/.test(text)) continue;
    const r = p.safeParse(text);
    if (r.success && r.data === n) return text;
  }
  return n;
}

/** The object shape a union option reaches, for picking the option a value belongs to. */
function shapeOf(schema: unknown, depth = 0): Record<string, unknown> | undefined {
  const d = defOf(schema);
  if (!d || depth > 16) return undefined;
  if (d.type === 'object') return d.shape;
  if (d.type === 'pipe') return shapeOf(d.in, depth + 1);
  if (d.innerType !== undefined) return shapeOf(d.innerType, depth + 1);
  if (d.type === 'lazy' && d.getter) return shapeOf(d.getter(), depth + 1);
  return undefined;
}

function pickOption(d: ZodDef, value: Record<string, unknown>): unknown {
  const options = d.options ?? [];
  const disc = d.discriminator;
  const fit = options.find((o) => {
    const shape = shapeOf(o);
    if (!shape) return false;
    if (disc !== undefined) {
      const lit = defOf(shape[disc]);
      return lit?.values?.includes(value[disc]) ?? false;
    }
    return Object.keys(value).every((k) => k in shape);
  });
  return fit ?? options[0];
}

const FIRST = ['type', 'name', 'job_name'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** `value` (a parsed config value) as the YAML value that reads back to it under `schema`. */
function asWritten(schema: unknown, value: unknown, depth = 0): unknown {
  if (value === undefined || value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (value instanceof Secret) return showSecret(value);
  if (typeof value === 'number') return numberAsWritten(schema, value);
  const d = defOf(schema);
  if (!d || depth > 200) return plain(value);
  if (d.type !== undefined && WRAPPER_TYPES.has(d.type)) return asWritten(d.innerType, value, depth + 1);
  switch (d.type) {
    case 'lazy':
      return d.getter ? asWritten(d.getter(), value, depth + 1) : plain(value);
    case 'pipe':
      // A list of parsed conditions goes back through its input (a list of strings).
      return asWritten(d.in, value, depth + 1);
    case 'union':
      return isPlainObject(value) ? asWritten(pickOption(d, value), value, depth + 1) : plain(value);
    case 'array':
      return Array.isArray(value) ? value.map((v) => asWritten(d.element, v, depth + 1)) : plain(value);
    case 'record':
      return isPlainObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asWritten(d.valueType, v, depth + 1)])) : plain(value);
    case 'object': {
      if (!isPlainObject(value)) return plain(value);
      const out: Record<string, unknown> = {};
      // Names and types first, as people write them, then the schema's order.
      const keys = [...new Set([...FIRST, ...Object.keys(d.shape ?? {}), ...Object.keys(value)])].filter((k) => k in value);
      for (const k of keys) {
        const v = value[k];
        if (v === undefined) continue;
        out[k] = asWritten(d.shape?.[k], v, depth + 1);
      }
      return out;
    }
    default:
      return plain(value);
  }
}

/** A value with no schema to guide it: a parsed condition as its text, a matcher as its text. */
function plain(value: unknown): unknown {
  if (value instanceof Secret) return showSecret(value);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return (value as { toJSON(): unknown }).toJSON();
    const text = (value as { text?: unknown }).text;
    if (typeof text === 'string') return text;
  }
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/**
 * The effective configuration as patrol.yml text. Jobs read from scrape_config_files are
 * inlined into scrape_configs (so scrape_config_files is left out: it would name them twice).
 */
export function showConfig(config: Config): string {
  const inlined = config.scrape_config_files.length > 0;
  const value = shownConfig({ ...config, scrape_config_files: [], config_files: [] });
  const head = inlined ? `# The jobs of scrape_config_files (${config.scrape_config_files.join(', ')}) are inlined in scrape_configs.\n` : '';
  const included = config.config_files.length > 0 ? `# The probes and receivers of config_files (${config.config_files.join(', ')}) are inlined.\n` : '';
  return head + included + stringify(value, { lineWidth: 0 });
}

/** The configuration as the plain values a file would hold (durations as text, secrets masked). */
export function shownConfig(config: Config): Record<string, unknown> {
  return maskForShow(asWritten(configSchema, config)) as Record<string, unknown>;
}
