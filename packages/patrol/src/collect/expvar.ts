// Go expvar (/debug/vars) JSON into gauges. Every numeric (and boolean, as 0/1) leaf becomes a
// series named `expvar_` + its path, each segment turned to snake_case (memstats.HeapAlloc →
// expvar_memstats_heap_alloc). Strings, nulls and arrays (cmdline, memstats.PauseNs, BySize) are
// skipped: they are not gauges.

import { labelsFromRecord, type Labels } from '../model/labels.js';

/** Beyond this many leaves the endpoint is treated as broken rather than stored. */
export const EXPVAR_MAX_SERIES = 20_000;
const MAX_DEPTH = 8;

/** `HeapAlloc` → `heap_alloc`, `GCCPUFraction` → `gccpu_fraction`, `/api/users` → `api_users`. */
export function sanitiseSegment(s: string): string {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
}

export function flattenExpvar(doc: unknown): { labels: Labels; value: number }[] {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('expvar body is not a JSON object');
  const out: { labels: Labels; value: number }[] = [];
  const walk = (v: unknown, name: string, depth: number) => {
    if (typeof v === 'number' || typeof v === 'boolean') {
      if (out.length >= EXPVAR_MAX_SERIES) throw new Error(`more than ${EXPVAR_MAX_SERIES} numeric fields`);
      out.push({ labels: labelsFromRecord({ __name__: name }), value: typeof v === 'boolean' ? (v ? 1 : 0) : v });
      return;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v) || depth >= MAX_DEPTH) return;
    for (const [k, child] of Object.entries(v)) {
      const seg = sanitiseSegment(k);
      if (seg === '') continue;
      walk(child, `${name}_${seg}`, depth + 1);
    }
  };
  walk(doc, 'expvar', 0);
  return out;
}

/** Largest /debug/vars body read; Go's is a few kilobytes. */
export const EXPVAR_MAX_BODY = 16 * 1024 * 1024;

async function readLimited(res: Response, limit: number): Promise<string> {
  const len = Number(res.headers.get('content-length') ?? NaN);
  if (len > limit) {
    await res.body?.cancel();
    throw new Error(`body of ${len} bytes exceeds the ${limit}-byte limit`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw new Error(`body exceeds the ${limit}-byte limit`);
    }
    chunks.push(value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new Error('body is not valid UTF-8');
  }
}

/** Fetches and flattens one endpoint; throws with the reason (status, timeout, bad JSON). */
export async function fetchExpvar(url: string, timeoutMs: number): Promise<{ labels: Labels; value: number }[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`server returned HTTP status ${res.status} ${res.statusText}`);
  }
  const text = await readLimited(res, EXPVAR_MAX_BODY);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`body is not JSON: ${(e as Error).message}`);
  }
  return flattenExpvar(doc);
}
