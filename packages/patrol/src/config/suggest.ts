// "did you mean `url`?" for an unknown key: the keys the schema knows at that place, the nearest
// by edit distance, and a few names users bring from other tools.

import type { z } from 'zod';
import { defOf, WRAPPER_TYPES } from './zoddef.js';

/** Keys other tools (or older versions) use for what Patrol calls otherwise. */
const ALIASES: Record<string, string> = {
  webhook_url: 'url',
  webhook: 'url',
  endpoint: 'url',
  address: 'target',
  host: 'target',
  url: 'target',
  timeout_seconds: 'timeout',
  interval_seconds: 'interval',
};



/** The object schemas reached by `path` from `schema` (several under a union). */
function objectsAt(schema: unknown, path: readonly (string | number)[], depth = 0): Record<string, unknown>[] {
  if (depth > 64) return [];
  const d = defOf(schema);
  if (!d) return [];
  if (d.type !== undefined && WRAPPER_TYPES.has(d.type)) return objectsAt(d.innerType, path, depth + 1);
  switch (d.type) {
    case 'pipe':
      return objectsAt(d.in, path, depth + 1);
    case 'lazy':
      return d.getter ? objectsAt(d.getter(), path, depth + 1) : [];
    case 'union':
      return (d.options ?? []).flatMap((o) => objectsAt(o, path, depth + 1));
    case 'array':
      return typeof path[0] === 'number' ? objectsAt(d.element, path.slice(1), depth + 1) : [];
    case 'object': {
      if (path.length === 0) return d.shape ? [d.shape] : [];
      const next = d.shape?.[String(path[0])];
      return next === undefined ? [] : objectsAt(next, path.slice(1), depth + 1);
    }
    default:
      return [];
  }
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The known key the user most likely meant by `key` at `path` (the object holding it), or null. */
export function suggestKey(schema: z.ZodType, path: readonly (string | number)[], key: string): string | null {
  const known = new Set(objectsAt(schema, path).flatMap((shape) => Object.keys(shape)));
  // Empty, or the key is known here in the main schema (an included file allows fewer keys).
  if (known.size === 0 || known.has(key)) return null;
  const alias = ALIASES[key];
  if (alias !== undefined && known.has(alias)) return alias;
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  // Close enough to be a typo: at most a third of the word, and never the whole of a short one.
  return best !== null && bestD <= Math.max(1, Math.floor(key.length / 3)) ? best : null;
}

/** The name in `names` closest to `word` when it is close enough to be a typo, or null. */
export function nearestName(word: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const n of names) {
    const w = word.toLowerCase();
    // Swapped letters ("hots") count as one typo.
    const swapped = w.length === n.length && [...w].sort().join('') === [...n].sort().join('');
    const d = swapped ? 1 : distance(w, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best !== null && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : null;
}
