// Patrol's logger: pino writing into an asynchronous, bounded line writer (LogWriter), so a slow
// stdout (a full pipe, a stalled terminal) never blocks the event loop. Lines go out at once
// when stdout takes them; otherwise they wait in a bounded buffer and are retried. Past the bound
// (stdout not read for a long time) new lines are dropped, counted in
// patrol_log_lines_dropped_total, and one line says how many once there is room again. What was
// accepted is never lost at exit: flushLogs() waits until it is written, and an 'exit' hook
// writes what is left synchronously on any other exit (process.exit on a fatal path).
//
// Formats: JSON (one object a line, level names), logfmt, and a human format for terminals:
//   2026-12-04T05:07:46.123Z WARN  [probes] probe down probe=web reason="connection refused"

import { constants, fstatSync, openSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { pino, stdTimeFunctions, type Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['auto', 'json', 'logfmt', 'human'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Past this many buffered bytes (stdout not keeping up) new lines are dropped, not queued. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Bytes handed to one write(2). */
const WRITE_CHUNK = 64 * 1024;
/** Waiting for stdout to take bytes gives up only after this long without any byte taken. */
const STALL_GIVE_UP_MS = 60_000;

/** Process-wide, like the writers: lines dropped because stdout did not take them. */
export const logLinesDropped = new Counter({
  name: 'patrol_log_lines_dropped_total',
  help: 'Log lines dropped because standard output did not take them (buffer full, or stdout closed or failing).',
  registers: [],
});

/** Adds the log counters to a registry (once per registry). */
export function registerLogMetrics(registry: Registry): void {
  if (!registry.getSingleMetric('patrol_log_lines_dropped_total')) registry.registerMetric(logLinesDropped);
}

/** The one stdout writer of the process (made on first use), drained by flushLogs() and at exit. */
let stdoutWriter: LogWriter | undefined;
/** The logger that writes the note about dropped lines (the latest one made for stdout). */
let noteLogger: Logger | undefined;

function stdout(): LogWriter {
  if (!stdoutWriter) {
    stdoutWriter = new LogWriter(openStdout(), MAX_BUFFERED_BYTES, (n) => noteLogger?.warn({ dropped: n }, 'log lines dropped: stdout did not take them in time'));
    process.on('exit', flushLogsSync);
  }
  return stdoutWriter;
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/** Sleeps synchronously (exit path only, where there is no event loop to wait on). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A file descriptor for fd 1 that never blocks: a pipe or a terminal is opened again (Linux
 * /proc/self/fd) with O_NONBLOCK, so a full pipe or a stalled terminal answers EAGAIN instead
 * of stopping the process; a regular file (or anything that cannot be reopened) is fd 1 itself.
 */
export function openStdout(): number {
  try {
    const st = fstatSync(1);
    if (st.isFIFO() || (st.isCharacterDevice() && isatty(1))) {
      return openSync('/proc/self/fd/1', constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY | constants.O_APPEND);
    }
    if (st.isSocket()) {
      // A socket cannot be reopened; libuv makes fd 1 non-blocking when process.stdout is made.
      void process.stdout.writable;
    }
  } catch {
    // Not Linux, or fd 1 is unusual: write to fd 1 as it is.
  }
  return 1;
}

/**
 * Writes lines to a file descriptor from the event loop without ever blocking it (the fd is
 * non-blocking; EAGAIN means "later"). Accepted lines are kept, in order, until written; past
 * `maxBytes` waiting, new lines are dropped and counted. A write error other than EAGAIN (the
 * reader went away: EPIPE, a hung-up terminal: EIO) drops what waits and everything after.
 */
export class LogWriter {
  private queue: string[] = [];
  private qHead = 0;
  /** Bytes of the line being written that are still to go (a partial write). */
  private head: Buffer | null = null;
  private pending = 0;
  private retry: NodeJS.Timeout | undefined;
  private retryDelay = 1;
  private broken = false;
  /** Lines dropped since the last note about it. */
  private droppedSinceNote = 0;
  private waiters: (() => void)[] = [];
  private lastProgress = Date.now();

  /** `onDropped(n)` is called (with room in the buffer) to log how many lines were dropped. */
  constructor(
    readonly fd: number,
    private readonly maxBytes = MAX_BUFFERED_BYTES,
    private readonly onDropped?: (n: number) => void,
  ) {}

  /** Bytes accepted and not yet written. */
  get buffered(): number {
    return this.pending;
  }

  write(s: string): boolean {
    const len = Buffer.byteLength(s);
    if (this.broken || this.pending + len > this.maxBytes) {
      this.drop(1);
      return false;
    }
    this.queue.push(s);
    this.pending += len;
    if (this.retry === undefined) this.pump();
    return true;
  }

  private drop(n: number): void {
    this.droppedSinceNote += n;
    logLinesDropped.inc(n);
  }

  /** Writes what the fd takes now. Returns false when it would block (a retry is then due). */
  private writeSome(): 'done' | 'blocked' | 'broken' {
    while (this.head || this.qHead < this.queue.length) {
      if (!this.head) {
        let s = '';
        while (this.qHead < this.queue.length && s.length < WRITE_CHUNK) s += this.queue[this.qHead++];
        if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.qHead);
          this.qHead = 0;
        }
        this.head = Buffer.from(s);
      }
      let n: number;
      try {
        n = writeSync(this.fd, this.head);
      } catch (e) {
        const code = errCode(e);
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') return 'blocked';
        this.fail(e);
        return 'broken';
      }
      this.lastProgress = Date.now();
      this.pending -= n;
      this.head = n < this.head.length ? this.head.subarray(n) : null;
    }
    if (this.queue.length > 0) {
      this.queue = [];
      this.qHead = 0;
    }
    return 'done';
  }

  /** The reader is gone (or the fd fails): what waits cannot be written, now or later. */
  private fail(e: unknown): void {
    const lines = this.queue.length - this.qHead + (this.head ? 1 : 0);
    this.broken = true;
    this.queue = [];
    this.qHead = 0;
    this.head = null;
    this.pending = 0;
    this.drop(lines);
    try {
      writeSync(2, `patrol: cannot write logs to stdout (${errCode(e) ?? String(e)}); ${lines} waiting lines and all later lines are dropped\n`);
    } catch {
      // stderr is gone too
    }
  }

  private pump(): void {
    this.retry = undefined;
    const r = this.writeSome();
    if (r === 'blocked') {
      if (Date.now() - this.lastProgress > STALL_GIVE_UP_MS && this.waiters.length > 0) {
        // Someone waits to exit and nothing was taken for a long time: give up on the rest.
        this.fail(new Error(`stdout took nothing for ${STALL_GIVE_UP_MS / 1000}s`));
      } else {
        this.retry = setTimeout(() => this.pump(), this.retryDelay);
        // Waiting lines alone do not keep the process alive (the exit hook writes them), but a
        // flush() someone awaits does.
        if (this.waiters.length === 0) this.retry.unref();
        this.retryDelay = Math.min(this.retryDelay * 2, 50);
        return;
      }
    }
    this.retryDelay = 1;
    if (this.droppedSinceNote > 0 && !this.broken && this.pending <= this.maxBytes / 2) this.noteDrops();
    if (this.pending === 0 || this.broken) for (const w of this.waiters.splice(0)) w();
  }

  private noteDrops(): void {
    const n = this.droppedSinceNote;
    this.droppedSinceNote = 0;
    try {
      this.onDropped?.(n);
    } catch {
      // the note is best effort
    }
  }

  /** Resolves when every accepted line is written (or cannot be: the reader went away or stalled). */
  flush(): Promise<void> {
    if (this.pending === 0 || this.broken) {
      if (this.droppedSinceNote > 0 && !this.broken) {
        this.noteDrops();
        if (this.pending > 0) return this.flush();
      }
      return Promise.resolve();
    }
    this.lastProgress = Date.now();
    return new Promise((res) => {
      this.waiters.push(res);
      if (this.retry === undefined) this.pump();
      else this.retry.ref();
    });
  }

  /**
   * Writes everything accepted, synchronously: for exit paths. A full pipe is waited on (the
   * reader is alive and will read); gives up only when nothing is taken for a long time.
   */
  flushSync(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    this.lastProgress = Date.now();
    for (let round = 0; round < 2; round++) {
      let delay = 1;
      for (;;) {
        const r = this.writeSome();
        if (r !== 'blocked') break;
        if (Date.now() - this.lastProgress > STALL_GIVE_UP_MS) {
          this.fail(new Error(`stdout took nothing for ${STALL_GIVE_UP_MS / 1000}s`));
          break;
        }
        sleepSync(delay);
        delay = Math.min(delay * 2, 20);
      }
      // A note about dropped lines goes out too (one more round for it).
      if (this.droppedSinceNote === 0 || this.broken) break;
      this.noteDrops();
    }
    for (const w of this.waiters.splice(0)) w();
  }
}

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
  let out: { write(s: string): unknown };
  let fmt: Exclude<LogFormat, 'auto'>;
  if (dest) {
    out = dest;
    fmt = resolveFormat(format ?? 'json', (dest as { isTTY?: boolean }).isTTY === true);
  } else {
    out = stdout();
    fmt = resolveFormat(format ?? 'auto', isatty(1));
  }
  if (fmt !== 'json') {
    const inner = out;
    const render = fmt === 'human' ? humanLine : logfmtLine;
    out = { write: (s: string) => inner.write(render(s)) };
  }
  const logger = pino(
    {
      level,
      base: { service: 'patrol' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    out as NodeJS.WritableStream,
  );
  if (!dest) noteLogger = logger;
  return logger;
}

/**
 * Writes out every buffered line. Call before a deliberate process.exit(); resolves when the
 * lines are handed to the OS. There is no wall-clock limit while stdout takes bytes; it gives up
 * only when stdout takes nothing for a minute, or fails (its reader went away).
 */
export async function flushLogs(): Promise<void> {
  await stdoutWriter?.flush();
}

/** Synchronously, waiting on a full pipe (exit paths without an event loop to wait on). */
export function flushLogsSync(): void {
  try {
    stdoutWriter?.flushSync();
  } catch {
    // never let the exit path throw
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
