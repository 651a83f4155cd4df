// PromQL over Patrol's Prometheus API for the explore and hosts pages: instant and range queries,
// a matrix turned into uPlot's aligned columns, and the parser's "line:col: parse error" located.

import { request } from './api';

export interface Sample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export type QueryData = { resultType: 'vector' | 'matrix'; result: Sample[] } | { resultType: 'scalar' | 'string'; result: [number, string] };

export function instant(query: string, time?: number): Promise<QueryData> {
  const p = new URLSearchParams({ query });
  if (time !== undefined) p.set('time', String(time / 1000));
  return request<QueryData>(`/api/v1/query?${p.toString()}`);
}

/** A range query with about 240 points over the span. */
export function range(query: string, start: number, end: number): Promise<QueryData> {
  const step = Math.max(1, Math.round((end - start) / 1000 / 240));
  const p = new URLSearchParams({ query, start: String(start / 1000), end: String(end / 1000), step: String(step) });
  return request<QueryData>(`/api/v1/query_range?${p.toString()}`);
}

export function seriesName(m: Record<string, string>): string {
  const { __name__: name, ...rest } = m;
  const ls = Object.entries(rest)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return `${name ?? ''}{${ls}}`;
}

const PALETTE = ['#2563eb', '#16a34a', '#dc2626', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9333ea', '#ea580c'];

/** A matrix as uPlot columns: the union of timestamps, each series aligned to it (null where missing). */
export function columns(data: QueryData | undefined, label: (m: Record<string, string>) => string = seriesName): { x: number[]; series: { label: string; values: (number | null)[]; color: string }[] } {
  if (!data || data.resultType !== 'matrix') return { x: [], series: [] };
  const ts = new Set<number>();
  for (const s of data.result) for (const [t] of s.values ?? []) ts.add(t);
  const x = [...ts].sort((a, b) => a - b);
  const at = new Map(x.map((t, i) => [t, i]));
  const series = data.result.slice(0, 50).map((s, i) => {
    const values: (number | null)[] = new Array(x.length).fill(null);
    for (const [t, v] of s.values ?? []) {
      const n = Number(v);
      values[at.get(t)!] = Number.isFinite(n) ? n : null;
    }
    return { label: label(s.metric), values, color: PALETTE[i % PALETTE.length] };
  });
  return { x, series };
}

/** Where a parse error is: Patrol answers like Prometheus, "LINE:COL: parse error: …". */
export function errorPosition(message: string): { line: number; col: number; text: string } | null {
  const m = /(\d+):(\d+): (parse error: .*)$/s.exec(message);
  return m ? { line: Number(m[1]), col: Number(m[2]), text: m[3] } : null;
}
