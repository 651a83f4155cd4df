// `patrol query EXPR`: runs an instant or range query against a Patrol (or Prometheus) server's
// /api/v1 and prints the result as a table, or the raw response with --json.

import { Command } from 'commander';
import { parseDurationParam, parseTime } from '../api/params.js';
import { formatLabels, labelsFromRecord } from '../model/labels.js';
import { DEFAULT_LISTEN } from '../server.js';

export interface QueryCommandOptions {
  server: string;
  time?: string;
  start?: string;
  end?: string;
  step?: string;
  timeout?: string;
  json?: boolean;
}

interface APIResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: unknown };
  errorType?: string;
  error?: string;
  warnings?: string[];
  infos?: string[];
}

type Sample = [number, string];
interface VectorEntry {
  metric: Record<string, string>;
  value: Sample;
}
interface MatrixEntry {
  metric: Record<string, string>;
  values: Sample[];
}

/** Most points a range query asks for when --step is not given. */
const AUTO_POINTS = 60;

export function registerQuery(program: Command): Command {
  return program
    .command('query')
    .description('evaluate a PromQL expression on a server; a range query when --start, --end or --step is given')
    .argument('<expr>', 'PromQL expression')
    .option('--server <url>', 'server to ask', `http://${DEFAULT_LISTEN}`)
    .option('--time <t>', 'evaluation time of an instant query (RFC 3339 or Unix seconds; default now)')
    .option('--start <t>', 'range start (default: end - 1h)')
    .option('--end <t>', 'range end (default now)')
    .option('--step <d>', `range step (seconds or a duration like 30s; default: range / ${AUTO_POINTS})`)
    .option('--timeout <d>', 'query timeout (seconds or a duration)')
    .option('--json', 'print the raw JSON response')
    .action(async (expr: string, opts: QueryCommandOptions) => {
      const r = await runQueryCommand(expr, opts);
      if (r.stdout) process.stdout.write(r.stdout);
      if (r.stderr) process.stderr.write(r.stderr);
      process.exitCode = r.code;
    });
}

/** Runs the command and returns what it prints and its exit code (testable without a process). */
export async function runQueryCommand(expr: string, opts: QueryCommandOptions): Promise<{ stdout: string; stderr: string; code: number }> {
  let form: URLSearchParams;
  let path: string;
  try {
    ({ form, path } = buildRequest(expr, opts, Date.now()));
  } catch (e) {
    return { stdout: '', stderr: `error: ${(e as Error).message}\n`, code: 2 };
  }
  const url = new URL(path, opts.server.endsWith('/') ? opts.server : `${opts.server}/`);
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { method: 'POST', body: form, headers: { accept: 'application/json' } });
    text = await res.text();
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { stdout: '', stderr: `error: cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}\n`, code: 1 };
  }
  let body: APIResponse;
  try {
    body = JSON.parse(text) as APIResponse;
  } catch {
    return { stdout: '', stderr: `error: ${url.href} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}\n`, code: 1 };
  }
  if (opts.json) {
    return { stdout: text.endsWith('\n') ? text : text + '\n', stderr: '', code: body.status === 'success' ? 0 : 1 };
  }
  if (body.status !== 'success' || !body.data) {
    const msg = body.error ?? 'unknown error';
    return { stdout: '', stderr: `error (${body.errorType ?? res.status}): ${msg}\n${body.errorType === 'bad_data' ? pointAt(expr, msg) : ''}`, code: 1 };
  }
  let stderr = '';
  for (const w of body.warnings ?? []) stderr += `warning: ${w}\n`;
  for (const i of body.infos ?? []) stderr += `info: ${i}\n`;
  return { stdout: renderResult(body.data.resultType, body.data.result), stderr, code: 0 };
}

/** Widest part of a query line shown under a parse error. */
const SHOWN_WIDTH = 100;

/**
 * The query line a parse error's `line:column` points into, with a caret under the column
 * (a window around it when the line is long); '' when the message names no position.
 */
export function pointAt(expr: string, message: string): string {
  const m = /(?:^|: )(\d+):(\d+): parse error: /.exec(message);
  if (!m) return '';
  const lines = expr.split('\n');
  const text = lines[Number(m[1]) - 1];
  if (text === undefined) return '';
  const col = Math.max(0, Math.min(Number(m[2]) - 1, text.length));
  let from = 0;
  if (text.length > SHOWN_WIDTH) from = Math.max(0, Math.min(col - SHOWN_WIDTH / 2, text.length - SHOWN_WIDTH));
  const to = Math.min(text.length, from + SHOWN_WIDTH);
  const pre = from > 0 ? '…' : '';
  const shown = pre + text.slice(from, to).replace(/\t/g, ' ') + (to < text.length ? '…' : '');
  return `  ${shown}\n  ${' '.repeat(pre.length + col - from)}^\n`;
}

function buildRequest(expr: string, opts: QueryCommandOptions, nowMs: number): { form: URLSearchParams; path: string } {
  const form = new URLSearchParams({ query: expr });
  if (opts.timeout !== undefined) form.set('timeout', opts.timeout);
  const range = opts.start !== undefined || opts.end !== undefined || opts.step !== undefined;
  if (!range) {
    if (opts.time !== undefined) form.set('time', opts.time);
    return { form, path: 'api/v1/query' };
  }
  if (opts.time !== undefined) throw new Error('--time is for instant queries; use --start/--end/--step for a range');
  const time = (name: string, v: string) => {
    try {
      return parseTime(v);
    } catch (e) {
      throw new Error(`--${name}: ${(e as Error).message}`);
    }
  };
  const end = opts.end !== undefined ? time('end', opts.end) : nowMs;
  const start = opts.start !== undefined ? time('start', opts.start) : end - 3_600_000;
  if (end < start) throw new Error('--end must not be before --start');
  let step: number;
  if (opts.step !== undefined) {
    try {
      step = parseDurationParam(opts.step);
    } catch (e) {
      throw new Error(`--step: ${(e as Error).message}`);
    }
  } else {
    step = Math.max(1000, Math.ceil((end - start) / AUTO_POINTS / 1000) * 1000);
  }
  form.set('start', String(start / 1000));
  form.set('end', String(end / 1000));
  form.set('step', String(step / 1000));
  return { form, path: 'api/v1/query_range' };
}

function isoTime(secs: number): string {
  const d = new Date(secs * 1000);
  return Number.isNaN(d.getTime()) ? String(secs) : d.toISOString().replace('.000Z', 'Z');
}

function seriesName(metric: Record<string, string>): string {
  return formatLabels(labelsFromRecord(metric));
}

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** The result as a readable table: one row per series for vectors, a block per series for matrices. */
export function renderResult(type: string, result: unknown): string {
  switch (type) {
    case 'scalar':
    case 'string': {
      const [t, v] = result as Sample;
      return table([
        ['TIME', type.toUpperCase()],
        [isoTime(t), v],
      ]);
    }
    case 'vector': {
      const rows = result as VectorEntry[];
      if (rows.length === 0) return 'no data\n';
      return table([['SERIES', 'VALUE', 'TIME'], ...rows.map((r) => [seriesName(r.metric), r.value[1], isoTime(r.value[0])])]);
    }
    case 'matrix': {
      const series = result as MatrixEntry[];
      if (series.length === 0) return 'no data\n';
      return series.map((s) => `${seriesName(s.metric)}\n` + table(s.values.map(([t, v]) => ['  ' + isoTime(t), v]))).join('\n');
    }
    default:
      return JSON.stringify(result) + '\n';
  }
}
