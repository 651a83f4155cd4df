// Patrol's logger: pino writing through an asynchronous SonicBoom, so a slow stdout (a full pipe, a
// stalled terminal) never blocks the event loop. Lines wait in a bounded buffer; flushLogs()
// drains it before a normal exit, and pino's exit hook writes what is left on any other exit.
//
// Formats: JSON (one object a line, level names), logfmt, and a human format for terminals:
//   2026-12-04T05:07:46.123Z WARN  [probes] probe down probe=web reason="connection refused"

import { destination, pino, stdTimeFunctions, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['auto', 'json', 'logfmt', 'human'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Past this many buffered bytes (stdout not keeping up) new lines are dropped, not queued. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

interface Flushable {
  flush(cb?: (err?: Error | null) => void): void;
  flushSync(): void;
}

/** The asynchronous destinations created here, flushed by flushLogs(). */
const destinations = new Set<Flushable>();

/** The format `auto` stands for on this stream: human on a terminal, JSON otherwise. */
export function resolveFormat(format: LogFormat, isTTY: boolean): Exclude<LogFormat, 'auto'> {
  if (format !== 'auto') return format;
  return isTTY ? 'human' : 'json';
}

/**
 * Structured logs; a Secret anywhere in a logged value prints as `<secret>`. Without `dest`,
 * writes asynchronously to stdout. `format` defaults to JSON for a given stream, and to `auto`
 * (human on a TTY, JSON otherwise) for stdout.
 */
export function createLogger(level: string, dest?: NodeJS.WritableStream, format?: LogFormat): Logger {
  let out: NodeJS.WritableStream | { write(s: string): void };
  let fmt: Exclude<LogFormat, 'auto'>;
  if (dest) {
    out = dest;
    fmt = resolveFormat(format ?? 'json', (dest as { isTTY?: boolean }).isTTY === true);
  } else {
    const boom = destination({ dest: 1, sync: false, maxLength: MAX_BUFFERED_BYTES });
    destinations.add(boom as unknown as Flushable);
    boom.on('close', () => destinations.delete(boom as unknown as Flushable));
    out = boom;
    fmt = resolveFormat(format ?? 'auto', process.stdout.isTTY === true);
  }
  if (fmt !== 'json') {
    const inner = out;
    const render = fmt === 'human' ? humanLine : logfmtLine;
    out = { write: (s: string) => inner.write(render(s)) };
  }
  return pino(
    {
      level,
      base: { service: 'patrol' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    out as NodeJS.WritableStream,
  );
}

/**
 * Writes out every buffered line. Call before a deliberate process.exit(); resolves when the
 * lines are handed to the OS (or after `timeoutMs`, so a stuck stdout cannot hold up the exit).
 */
export async function flushLogs(timeoutMs = 2000): Promise<void> {
  const all = [...destinations].map(
    (d) =>
      new Promise<void>((res) => {
        try {
          d.flush(() => res());
        } catch {
          res();
        }
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(all), new Promise<void>((res) => (timer = setTimeout(res, timeoutMs).unref()))]);
  clearTimeout(timer);
}

/** Best effort, synchronously (fatal paths without an event loop to wait on). */
export function flushLogsSync(): void {
  for (const d of destinations) {
    try {
      d.flushSync();
    } catch {
      // not open yet, or already closed: nothing to write
    }
  }
}

/**
 * A child logger for a component, unless `parent` already carries one: a component name set by
 * the wiring is not repeated (pino would write the key twice).
 */
export function componentLogger(parent: Logger, component: string): Logger {
  return parent.bindings().component === undefined ? parent.child({ component }) : parent;
}

// ---- text formats ---------------------------------------------------------------------------

const FIRST = new Set(['time', 'level', 'msg', 'component', 'service', 'pid', 'hostname']);

function parseLine(s: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(s);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A value as logfmt writes it: bare when it can be, quoted otherwise. */
function fmtValue(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (v === null || v === undefined) s = String(v);
  else if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    // Serialised errors read best as their message.
    s = typeof o.message === 'string' && typeof o.type === 'string' ? o.message : JSON.stringify(v);
  } else s = String(v);
  return s === '' || /[\s"=\\]|[^\x20-\x7e]/.test(s) ? JSON.stringify(s) : s;
}

function restFields(o: Record<string, unknown>): string {
  let out = '';
  for (const [k, v] of Object.entries(o)) {
    if (FIRST.has(k)) continue;
    out += ` ${k}=${fmtValue(v)}`;
  }
  return out;
}

/** `TIME LEVEL [component] message key=value ...` */
export function humanLine(s: string): string {
  const o = parseLine(s);
  if (!o) return s;
  const level = String(o.level ?? '').toUpperCase().padEnd(5);
  const comp = typeof o.component === 'string' ? ` [${o.component}]` : '';
  const msg = typeof o.msg === 'string' ? ` ${o.msg.replace(/\n/g, '\\n')}` : '';
  return `${String(o.time ?? '')} ${level}${comp}${msg}${restFields(o)}\n`;
}

/** `time=… level=… component=… msg=… key=value ...` (as Prometheus' --log.format=logfmt). */
export function logfmtLine(s: string): string {
  const o = parseLine(s);
  if (!o) return s;
  let out = `time=${fmtValue(o.time)} level=${fmtValue(o.level)}`;
  if (o.component !== undefined) out += ` component=${fmtValue(o.component)}`;
  if (o.msg !== undefined) out += ` msg=${fmtValue(o.msg)}`;
  return `${out}${restFields(o)}\n`;
}
