// Remote write receiver: `POST /api/v1/write` with Prometheus remote write 1.0 (a snappy
// block-compressed protobuf WriteRequest). Valid samples are committed even when others in the
// same request are rejected (a partial write, as Cortex/Mimir and Prometheus's v2 handler do);
// any rejection answers 400 so the sender does not retry. Storage that cannot take samples
// (read-only, full, closing) answers 503 saying why, other storage failures 500; senders retry
// both. A request is checked whole before anything is stored, then committed in slices with
// yields to the event loop between them (writeRequest). 204 when everything was stored.

import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { formatLabels, isValidLabelName, METRIC_NAME, type Label, type Labels } from '../model/labels.js';
import { StorageError, type Appender, type Storage } from '../storage/interface.js';
import { truncate } from '../web/truncate.js';
import { snappyUncompress, SnappyError } from './snappy.js';

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** A request over one of the receiver's bounds (remote_write_receiver settings); answered 400. */
export class LimitError extends DecodeError {
  constructor(message: string) {
    super(message);
    this.name = 'LimitError';
  }
}

/** Bounds on one series (server.remote_write_receiver); 0 means no bound. */
export interface SeriesLimits {
  /** Labels per series (label_limit). */
  labelLimit: number;
  /** Bytes of a label name (label_name_length_limit). */
  labelNameLengthLimit: number;
  /** Bytes of a label value (label_value_length_limit). */
  labelValueLengthLimit: number;
}

export const DEFAULT_SERIES_LIMITS: SeriesLimits = { labelLimit: 512, labelNameLengthLimit: 1024, labelValueLengthLimit: 16 * 1024 };

export interface DecodedSeries {
  /** As sent: unsorted, possibly with empty values or duplicates (validated later). */
  labels: Label[];
  /** Timestamps (ms) and values, in the order sent. */
  timestamps: number[];
  values: number[];
  /** Native histograms in the series (not supported; counted as rejected). */
  histograms: number;
}

/**
 * Decodes a WriteRequest, calling `onSeries` for each TimeSeries. Exemplars and metadata are
 * skipped. Throws DecodeError naming the byte offset on malformed input, and LimitError naming
 * the limit when a series breaks one of `limits`. The one decode entry point (fuzzed).
 */
export function decodeWriteRequest(buf: Uint8Array, onSeries: (s: DecodedSeries) => void, limits: SeriesLimits = DEFAULT_SERIES_LIMITS): void {
  let cur: DecodedSeries | null = null;
  for (const step of decodeSeries(buf, limits, false)) {
    if (step === PAUSE) continue;
    if (step.kind === 'series') {
      if (cur) onSeries(cur);
      cur = { labels: step.labels, timestamps: [], values: [], histograms: step.histograms };
    } else {
      for (let i = 0; i < step.n; i++) {
        cur!.timestamps.push(step.timestamps[i]);
        cur!.values.push(step.values[i]);
      }
    }
  }
  if (cur) onSeries(cur);
}

/** Yielded by decodeSeries after every FIELDS_PER_PAUSE fields: a place to yield to the event loop. */
const PAUSE = Symbol('pause');
const FIELDS_PER_PAUSE = 4096;
/** Samples per SampleChunk. */
const CHUNK_SAMPLES = 4096;

/** A TimeSeries begins: its labels (empty when only checking) and how many samples follow. */
interface SeriesHead {
  kind: 'series';
  labels: Label[];
  samples: number;
  histograms: number;
}

/** The next samples of the current series, in buffers that the following chunk reuses. */
interface SampleChunk {
  kind: 'samples';
  n: number;
  timestamps: Float64Array;
  values: Float64Array;
}

/**
 * The series of a WriteRequest one at a time: each SeriesHead is followed by its samples in
 * SampleChunks, with PAUSE after every FIELDS_PER_PAUSE fields, so a caller can yield to the
 * event loop inside a series of millions of samples and never holds them all. `check`: validate
 * only (structure, UTF-8, limits), making no strings and no chunks.
 */
function* decodeSeries(buf: Uint8Array, limits: SeriesLimits, check: boolean): Generator<SeriesHead | SampleChunk | typeof PAUSE, void, undefined> {
  const r = new ProtoReader(buf);
  const chunk: SampleChunk = { kind: 'samples', n: 0, timestamps: new Float64Array(CHUNK_SAMPLES), values: new Float64Array(CHUNK_SAMPLES) };
  let fields = 0;
  while (r.pos < r.end) {
    const tag = r.varint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      const end = r.limit(r.varint32());
      const start = r.pos;
      const head = yield* readSeriesHead(r, end, limits, check);
      yield head;
      if (!check && head.samples > 0) {
        r.pos = start;
        yield* readSamples(r, end, chunk);
      }
      r.pos = end;
    } else r.skip(wire);
    if (++fields % FIELDS_PER_PAUSE === 0) yield PAUSE;
  }
}

/**
 * Reads a TimeSeries message's labels (checking the limits) and counts its samples, skipping
 * them unless `check`, which validates them instead.
 */
function* readSeriesHead(r: ProtoReader, end: number, limits: SeriesLimits, check: boolean): Generator<typeof PAUSE, SeriesHead, undefined> {
  const head: SeriesHead = { kind: 'series', labels: [], samples: 0, histograms: 0 };
  let nLabels = 0;
  let fields = 0;
  while (r.pos < end) {
    const tag = r.varint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      const e = r.limit(r.varint32());
      let nameAt = 0;
      let nameLen = 0;
      let valueAt = 0;
      let valueLen = 0;
      while (r.pos < e) {
        const t = r.varint32();
        if (t === 0x0a || t === 0x12) {
          const len = r.varint32();
          const at = r.pos;
          r.pos = r.limit(len);
          if (t === 0x0a) [nameAt, nameLen] = [at, len];
          else [valueAt, valueLen] = [at, len];
        } else r.skip(t & 7);
      }
      if (r.pos > e) throw new DecodeError(`label field overruns its message at offset ${e}`);
      // Limits are in bytes, as Prometheus's are, and checked before any string is made.
      if (limits.labelLimit > 0 && nLabels >= limits.labelLimit) {
        throw new LimitError(`series has more than ${limits.labelLimit} labels (label_limit) at offset ${r.pos}`);
      }
      if (limits.labelNameLengthLimit > 0 && nameLen > limits.labelNameLengthLimit) {
        throw new LimitError(`label name of ${nameLen} bytes is longer than ${limits.labelNameLengthLimit} (label_name_length_limit): ${truncate(r.preview(nameAt, nameLen), 100)}`);
      }
      if (limits.labelValueLengthLimit > 0 && valueLen > limits.labelValueLengthLimit) {
        throw new LimitError(`value of label ${truncate(JSON.stringify(r.preview(nameAt, nameLen)), 100)} has ${valueLen} bytes, more than ${limits.labelValueLengthLimit} (label_value_length_limit)`);
      }
      nLabels++;
      if (check) {
        r.checkUtf8(nameAt, nameLen);
        r.checkUtf8(valueAt, valueLen);
      } else head.labels.push({ name: r.string(nameAt, nameLen), value: r.string(valueAt, valueLen) });
      r.pos = e;
    } else if (field === 2 && wire === 2) {
      const e = r.limit(r.varint32());
      if (check) readSample(r, e);
      r.pos = e;
      head.samples++;
    } else {
      if (field === 4) head.histograms++;
      r.skip(wire);
    }
    if (++fields % FIELDS_PER_PAUSE === 0) yield PAUSE;
  }
  if (r.pos > end) throw new DecodeError(`time series overruns its message at offset ${end}`);
  return head;
}

/** The samples of a TimeSeries message (from its start) in chunks. */
function* readSamples(r: ProtoReader, end: number, chunk: SampleChunk): Generator<SampleChunk | typeof PAUSE, void, undefined> {
  chunk.n = 0;
  let fields = 0;
  while (r.pos < end) {
    const tag = r.varint32();
    if (tag === 0x12) {
      const e = r.limit(r.varint32());
      readSample(r, e);
      chunk.timestamps[chunk.n] = sampleT;
      chunk.values[chunk.n] = sampleV;
      if (++chunk.n === CHUNK_SAMPLES) {
        yield chunk;
        chunk.n = 0;
      }
    } else r.skip(tag & 7);
    if (++fields % FIELDS_PER_PAUSE === 0) yield PAUSE;
  }
  if (chunk.n > 0) yield chunk;
}

let sampleT = 0;
let sampleV = 0;

/** Reads one Sample message ending at `e` into sampleT and sampleV. */
function readSample(r: ProtoReader, e: number): void {
  let v = 0;
  let t = 0;
  while (r.pos < e) {
    const tg = r.varint32();
    if (tg === 0x09) v = r.double();
    else if (tg === 0x10) t = r.int64();
    else r.skip(tg & 7);
  }
  if (r.pos > e) throw new DecodeError(`sample field overruns its message at offset ${e}`);
  sampleT = t;
  sampleV = v;
}

const STRING_CACHE_SIZE = 1 << 14;
const stringCache: (string | undefined)[] = new Array<string | undefined>(STRING_CACHE_SIZE).fill(undefined);

class ProtoReader {
  pos = 0;
  readonly end: number;
  private readonly view: DataView;

  /** The same bytes as a Buffer, for its native string slicing. */
  private readonly nodeBuf: Buffer & { utf8Slice(start: number, end: number): string };

  constructor(readonly buf: Uint8Array) {
    this.end = buf.length;
    this.nodeBuf = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength) as Buffer & { utf8Slice(start: number, end: number): string };
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** The end offset of a length-delimited field starting here; throws if it overruns. */
  limit(len: number): number {
    const e = this.pos + len;
    if (e > this.end) throw new DecodeError(`truncated message: field of ${len} bytes at offset ${this.pos} overruns the ${this.end}-byte body`);
    return e;
  }

  varint32(): number {
    let x = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new DecodeError(`truncated varint at offset ${this.pos}`);
      const b = this.buf[this.pos++];
      if (shift < 28) x |= (b & 0x7f) << shift;
      else if (shift === 28) x = (x | ((b & 0x0f) << 28)) >>> 0;
      if (b < 0x80) return x >>> 0;
      shift += 7;
      if (shift > 63) throw new DecodeError(`varint longer than 10 bytes at offset ${this.pos}`);
    }
  }

  /** A signed 64-bit varint as a number (exact up to 2^53, which covers every millisecond timestamp). */
  int64(): number {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new DecodeError(`truncated varint at offset ${this.pos}`);
      const b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if (b < 0x80) break;
      shift += 7;
      if (shift > 63) throw new DecodeError(`varint longer than 10 bytes at offset ${this.pos}`);
    }
    lo >>>= 0;
    if (hi & 0x80000000) return -((~hi >>> 0) * 4294967296 + (~lo >>> 0) + 1);
    return (hi >>> 0) * 4294967296 + lo;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new DecodeError(`truncated double at offset ${this.pos}`);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** The bytes [start, start+len) as a string; throws DecodeError on invalid UTF-8. */
  string(start: number, len: number): string {
    const e = start + len;
    const b = this.buf;
    // Labels repeat across series and requests: short ASCII strings come from a direct-mapped
    // cache (hash of the bytes, verified byte by byte) instead of a new string each time.
    // Strings with high bytes get the UTF-8 validity check Go's proto3 strings get.
    let h = len;
    for (let i = start; i < e; i++) {
      const c = b[i];
      if (c >= 0x80) {
        if (!isUtf8(b.subarray(start, e))) throw new DecodeError(`invalid UTF-8 in string at offset ${start}`);
        return this.nodeBuf.utf8Slice(start, e);
      }
      h = (Math.imul(h, 31) + c) | 0;
    }
    if (len > 64) return this.nodeBuf.utf8Slice(start, e);
    const slot = h & (STRING_CACHE_SIZE - 1);
    const cached = stringCache[slot];
    if (cached !== undefined && cached.length === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (cached.charCodeAt(i) !== b[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return cached;
    }
    const str = this.nodeBuf.utf8Slice(start, e);
    stringCache[slot] = str;
    return str;
  }

  /** Throws DecodeError when the bytes [start, start+len) are not valid UTF-8. */
  checkUtf8(start: number, len: number): void {
    const b = this.buf;
    const e = start + len;
    for (let i = start; i < e; i++) {
      if (b[i] >= 0x80) {
        if (!isUtf8(b.subarray(start, e))) throw new DecodeError(`invalid UTF-8 in string at offset ${start}`);
        return;
      }
    }
  }

  /** The start of the bytes [start, start+len) for an error message (at most 400 bytes, lossy). */
  preview(start: number, len: number): string {
    return this.nodeBuf.toString('utf8', start, start + Math.min(len, 400));
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.int64();
        return;
      case 1:
        this.pos = this.limit(8);
        return;
      case 2:
        this.pos = this.limit(this.varint32());
        return;
      case 5:
        this.pos = this.limit(4);
        return;
      default:
        throw new DecodeError(`unsupported protobuf wire type ${wire} at offset ${this.pos}`);
    }
  }
}

/** Label names already checked; senders use a handful, so the regex runs once per name. */
const validNames = new Set<string>([METRIC_NAME]);

function validName(n: string): boolean {
  if (validNames.has(n)) return true;
  if (!isValidLabelName(n)) return false;
  if (validNames.size < 10_000) validNames.add(n);
  return true;
}

/** Sorts and validates a series' labels; returns an error message instead when they are invalid. */
export function normaliseLabels(raw: Label[]): Labels | string {
  // Fast path: senders (Prometheus, Grafana Agent) send sorted labels without empty values.
  let clean = true;
  let hasName = false;
  for (let i = 0; i < raw.length; i++) {
    const l = raw[i];
    if (l.value === '' || (i > 0 && raw[i - 1].name >= l.name) || !validName(l.name)) {
      clean = false;
      break;
    }
    if (l.name === METRIC_NAME) hasName = true;
  }
  if (clean && hasName) return raw;
  const ls = raw.filter((l) => l.value !== '').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  hasName = false;
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i];
    if (i > 0 && ls[i - 1].name === l.name) return `duplicate label name ${JSON.stringify(l.name)} in ${formatLabels(ls)}`;
    if (l.name === METRIC_NAME) hasName = true;
    else if (!validName(l.name)) return `invalid label name ${JSON.stringify(l.name)} in ${formatLabels(ls)}`;
  }
  if (!hasName) return `series without a metric name: ${formatLabels(ls)}`;
  return ls;
}

export const DEFAULT_MAX_DECODED_BYTES = 32 * 1024 * 1024;

export interface RemoteWriteOptions {
  /** Largest request body accepted (compressed), bytes. Default 32 MiB. */
  bodyLimit?: number;
  /** Largest decompressed WriteRequest, bytes. Default 32 MiB. Read per request. */
  maxDecompressedBytes?: number | (() => number);
  /** Bounds per series; read per request (they change on reload). */
  seriesLimits?: () => SeriesLimits;
  /** Where the receiver's own counters go (patrol_remote_write_*). */
  registry?: Registry;
}

export interface WriteResult {
  samples: number;
  series: number;
  rejected: number;
  /** The first few rejection reasons. */
  errors: string[];
}

type RejectReason = 'out_of_order' | 'duplicate_sample' | 'out_of_bounds' | 'invalid_labels' | 'native_histogram';

/**
 * Bounds on the work between two yields to the event loop while a request is stored: the
 * request is committed in slices of at most COMMIT_SERIES series and COMMIT_SAMPLES samples,
 * and a slice ends early once SLICE_MS have passed, so /-/healthy and other requests are answered
 * while a large request is stored.
 */
export const COMMIT_SERIES = 500;
export const COMMIT_SAMPLES = 2000;
export const SLICE_MS = 10;

/** Measures a slice of work and yields to the event loop (setImmediate) between slices. */
class Pacer {
  private start = performance.now();
  /** True once the current slice has run SLICE_MS. */
  due(): boolean {
    return performance.now() - this.start >= SLICE_MS;
  }
  async pause(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    this.start = performance.now();
  }
}

/**
 * Storing a request failed in storage (not a rejected sample); `stored` samples of it were
 * committed in earlier slices before the failure. `cause` is what the storage threw.
 */
export class WriteFailedError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly stored: number,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'WriteFailedError';
  }
}

/**
 * Stores a WriteRequest. The whole body is checked first (structure, UTF-8, limits; DecodeError
 * or LimitError, nothing stored), as Prometheus decodes a request completely before appending.
 * Then it is appended and committed in slices (COMMIT_SERIES, COMMIT_SAMPLES, SLICE_MS) with a
 * yield to the event loop between them. Invalid series and rejected samples are skipped and
 * reported (a partial write); a storage failure rolls back the current slice and throws
 * WriteFailedError saying how many samples earlier slices stored.
 */
export async function writeRequest(storage: Storage, body: Uint8Array, onReject?: (reason: RejectReason, n: number) => void, limits: SeriesLimits = DEFAULT_SERIES_LIMITS): Promise<WriteResult> {
  const pace = new Pacer();
  for (const _ of decodeSeries(body, limits, true)) if (pace.due()) await pace.pause();
  const res: WriteResult = { samples: 0, series: 0, rejected: 0, errors: [] };
  const reject = (reason: RejectReason, n: number, msg: string) => {
    res.rejected += n;
    onReject?.(reason, n);
    if (res.errors.length < 10) res.errors.push(msg);
  };
  let app: Appender | null = null;
  let appended = 0; // samples accepted by `app`, stored once it commits
  let sliceSeries = 0;
  let sliceSamples = 0; // samples handed to `app`, accepted or not
  const commit = () => {
    const a = app;
    app = null;
    a?.commit();
    res.samples += appended;
    appended = 0;
    sliceSeries = 0;
    sliceSamples = 0;
  };
  try {
    let ls: Labels | null = null; // the current series' labels; null while its samples are skipped
    let ref = 0;
    for (const step of decodeSeries(body, limits, false)) {
      if (step === PAUSE) {
        if (pace.due()) await pace.pause();
        continue;
      }
      if (step.kind === 'series') {
        if (sliceSeries >= COMMIT_SERIES || sliceSamples >= COMMIT_SAMPLES || pace.due()) {
          commit();
          await pace.pause();
        }
        res.series++;
        sliceSeries++;
        ref = 0;
        ls = null;
        if (step.histograms > 0) reject('native_histogram', step.histograms, `native histograms are not supported (${step.histograms} in ${truncate(formatLabels(step.labels), 300)})`);
        if (step.samples === 0) continue;
        const norm = normaliseLabels(step.labels);
        if (typeof norm === 'string') reject('invalid_labels', step.samples, truncate(norm, 300));
        else ls = norm;
        continue;
      }
      if (ls === null) continue;
      const { n, timestamps, values } = step;
      for (let i = 0; i < n; i++) {
        if (sliceSamples >= COMMIT_SAMPLES || ((sliceSamples & 511) === 511 && pace.due())) {
          commit();
          await pace.pause();
          ref = 0;
        }
        app ??= storage.appender();
        sliceSamples++;
        try {
          ref = app.append(ref, ls, timestamps[i], values[i]);
          appended++;
        } catch (e) {
          if (!(e instanceof StorageError) || e.code === 'closed' || e.code === 'read_only') throw e;
          reject(e.code as RejectReason, 1, `${truncate(e.message, 300)} for series ${truncate(formatLabels(ls), 300)} at timestamp ${timestamps[i]}`);
        }
      }
    }
    commit();
  } catch (e) {
    (app as Appender | null)?.rollback();
    if (e instanceof DecodeError) throw e;
    throw new WriteFailedError(e, res.samples);
  }
  return res;
}

/**
 * Why storage cannot take samples now (read-only, closing, out of disk space), for a 503 that
 * senders retry; null for other failures (a 500).
 */
function storageUnavailable(e: unknown): string | null {
  if (e instanceof StorageError) {
    if (e.code === 'read_only') return e.message.startsWith('storage is read-only') ? e.message : `storage is read-only: ${e.message}`;
    if (e.code === 'closed') return 'storage is closing (Patrol is shutting down or reloading); retry later';
    return null;
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return `storage is full: the data directory's file system has no space left (${(e as Error).message}); free some space`;
  if (code === 'EROFS' || code === 'SQLITE_READONLY') return `storage is read-only: the data directory's file system refused a write (${(e as Error).message})`;
  return null;
}

/**
 * Registers `POST /api/v1/write`. Call before the app is ready (in the server's constructor).
 * `storage` may be a getter for storage opened later; until it returns one, requests get 503
 * (which senders retry).
 */
export function registerRemoteWrite(app: FastifyInstance, storage: Storage | (() => Storage | null), logger: Logger, opts: RemoteWriteOptions = {}): void {
  const getStorage = typeof storage === 'function' ? storage : () => storage;
  const bodyLimit = opts.bodyLimit ?? 32 * 1024 * 1024;
  const maxDecoded = opts.maxDecompressedBytes ?? DEFAULT_MAX_DECODED_BYTES;
  const maxDecompressed = typeof maxDecoded === 'function' ? maxDecoded : () => maxDecoded;
  const seriesLimits = opts.seriesLimits ?? (() => DEFAULT_SERIES_LIMITS);
  const log = logger.child({ component: 'remote_write' });
  const registers = opts.registry ? [opts.registry] : [];
  const received = new Counter({ name: 'patrol_remote_write_samples_received_total', help: 'Samples stored from remote write requests.', registers });
  const rejected = new Counter({
    name: 'patrol_remote_write_samples_rejected_total',
    help: 'Samples in remote write requests that were not stored, by reason.',
    labelNames: ['reason'],
    registers,
  });
  const requests = new Counter({ name: 'patrol_remote_write_requests_total', help: 'Remote write requests by response code.', labelNames: ['code'], registers });

  if (!app.hasContentTypeParser('application/x-protobuf')) {
    app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
  }

  const answer = (reply: FastifyReply, code: number, msg?: string) => {
    requests.inc({ code: String(code) });
    if (msg === undefined) return reply.code(code).send();
    return reply.code(code).type('text/plain; charset=utf-8').send(truncate(msg, 4096) + '\n');
  };

  app.post('/api/v1/write', { bodyLimit }, async (req: FastifyRequest, reply: FastifyReply) => {
    const ct = String(req.headers['content-type'] ?? '');
    const proto = /;\s*proto=([^;\s]+)/.exec(ct)?.[1];
    if (proto !== undefined && proto !== 'prometheus.WriteRequest') {
      return answer(reply, 415, `unsupported remote write protobuf message ${proto}: Patrol accepts remote write 1.0 (prometheus.WriteRequest)`);
    }
    const enc = req.headers['content-encoding'];
    if (enc === undefined) return answer(reply, 415, 'missing Content-Encoding: remote write bodies are snappy block-compressed (Content-Encoding: snappy)');
    if (String(enc).toLowerCase() !== 'snappy') return answer(reply, 415, `unsupported Content-Encoding ${JSON.stringify(String(enc).slice(0, 100))}: remote write bodies are snappy block-compressed`);
    if (!Buffer.isBuffer(req.body)) return answer(reply, 400, 'empty or unreadable request body');
    let raw: Uint8Array;
    try {
      raw = await snappyUncompress(new Uint8Array(req.body.buffer, req.body.byteOffset, req.body.byteLength), maxDecompressed());
    } catch (e) {
      if (!(e instanceof SnappyError)) throw e;
      return answer(reply, 400, `invalid snappy block compression: ${e.message}`);
    }
    const st = getStorage();
    if (!st) return answer(reply, 503, 'storage is not open yet');
    let res: WriteResult;
    try {
      res = await writeRequest(st, raw, (reason, n) => rejected.inc({ reason }, n), seriesLimits());
    } catch (e) {
      if (e instanceof LimitError) return answer(reply, 400, `remote write limit exceeded: ${e.message}`);
      if (e instanceof DecodeError) return answer(reply, 400, `invalid protobuf WriteRequest: ${e.message}`);
      const cause = e instanceof WriteFailedError ? e.cause : e;
      const stored = e instanceof WriteFailedError && e.stored > 0 ? ` (${e.stored} samples of this request were stored before the failure)` : '';
      if (stored) received.inc((e as WriteFailedError).stored);
      const unavailable = storageUnavailable(cause);
      if (unavailable) {
        log.warn({ err: truncate(unavailable, 1000) }, 'remote write refused: storage cannot take samples');
        return answer(reply, 503, `${unavailable}${stored}`);
      }
      log.error({ err: truncate((cause as Error).message, 1000) }, 'remote write append failed');
      return answer(reply, 500, `storing samples failed: ${(cause as Error).message}${stored}`);
    }
    received.inc(res.samples);
    if (res.rejected > 0) {
      log.warn({ stored: res.samples, rejected: res.rejected, errors: res.errors.slice(0, 3) }, 'remote write samples rejected');
      return answer(reply, 400, `${res.rejected} samples rejected, ${res.samples} stored: ${res.errors.join('; ')}`);
    }
    return answer(reply, 204);
  });
}
