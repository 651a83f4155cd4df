// Remote write receiver: `POST /api/v1/write` with Prometheus remote write 1.0 (a snappy
// block-compressed protobuf WriteRequest). Valid samples are committed even when others in the
// same request are rejected (a partial write, as Cortex/Mimir and Prometheus's v2 handler do);
// any rejection answers 400 so the sender does not retry, storage failures answer 500 after a
// rollback so it does. 204 when everything was stored.

import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { formatLabels, isValidLabelName, METRIC_NAME, type Label, type Labels } from '../model/labels.js';
import { StorageError, type Storage } from '../storage/interface.js';
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
  for (const s of decodeSeries(buf, limits)) onSeries(s);
}

/** The series of a WriteRequest one at a time, so a caller can yield between them. */
function* decodeSeries(buf: Uint8Array, limits: SeriesLimits): Generator<DecodedSeries> {
  const r = new ProtoReader(buf);
  while (r.pos < r.end) {
    const tag = r.varint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      const len = r.varint32();
      yield decodeTimeSeries(r, r.limit(len), limits);
    } else r.skip(wire);
  }
}

function decodeTimeSeries(r: ProtoReader, end: number, limits: SeriesLimits): DecodedSeries {
  const s: DecodedSeries = { labels: [], timestamps: [], values: [], histograms: 0 };
  while (r.pos < end) {
    const tag = r.varint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      const e = r.limit(r.varint32());
      let name = '';
      let value = '';
      while (r.pos < e) {
        const t = r.varint32();
        if (t === 0x0a) name = r.string();
        else if (t === 0x12) value = r.string();
        else r.skip(t & 7);
      }
      r.pos = e;
      if (limits.labelLimit > 0 && s.labels.length >= limits.labelLimit) {
        throw new LimitError(`series has more than ${limits.labelLimit} labels (label_limit) at offset ${r.pos}`);
      }
      if (limits.labelNameLengthLimit > 0 && name.length > limits.labelNameLengthLimit) {
        throw new LimitError(`label name of ${name.length} characters is longer than ${limits.labelNameLengthLimit} (label_name_length_limit): ${truncate(name, 100)}`);
      }
      if (limits.labelValueLengthLimit > 0 && value.length > limits.labelValueLengthLimit) {
        throw new LimitError(`value of label ${truncate(JSON.stringify(name), 100)} has ${value.length} characters, more than ${limits.labelValueLengthLimit} (label_value_length_limit)`);
      }
      s.labels.push({ name, value });
    } else if (field === 2 && wire === 2) {
      const e = r.limit(r.varint32());
      let v = 0;
      let t = 0;
      while (r.pos < e) {
        const tg = r.varint32();
        if (tg === 0x09) v = r.double();
        else if (tg === 0x10) t = r.int64();
        else r.skip(tg & 7);
      }
      r.pos = e;
      s.timestamps.push(t);
      s.values.push(v);
    } else {
      if (field === 4) s.histograms++;
      r.skip(wire);
    }
  }
  r.pos = end;
  return s;
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

  string(): string {
    const len = this.varint32();
    const e = this.limit(len);
    const start = this.pos;
    this.pos = e;
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
 * Appends a decoded WriteRequest as one batch. Invalid series and rejected samples are skipped
 * and reported; a storage failure (anything but a per-sample rejection) rolls back and throws.
 */
export async function writeRequest(storage: Storage, body: Uint8Array, onReject?: (reason: RejectReason, n: number) => void, limits: SeriesLimits = DEFAULT_SERIES_LIMITS): Promise<WriteResult> {
  const res: WriteResult = { samples: 0, series: 0, rejected: 0, errors: [] };
  const reject = (reason: RejectReason, n: number, msg: string) => {
    res.rejected += n;
    onReject?.(reason, n);
    if (res.errors.length < 10) res.errors.push(msg);
  };
  const app = storage.appender();
  try {
    // Decoding and appending yield to the event loop every few milliseconds, so a large
    // request does not hold up other requests (or /-/healthy).
    let sliceStart = performance.now();
    for (const s of decodeSeries(body, limits)) {
      if ((res.series & 255) === 255 && performance.now() - sliceStart > 10) {
        await new Promise<void>((r) => setImmediate(r));
        sliceStart = performance.now();
      }
      res.series++;
      if (s.histograms > 0) reject('native_histogram', s.histograms, `native histograms are not supported (${s.histograms} in ${truncate(formatLabels(s.labels), 300)})`);
      if (s.timestamps.length === 0) continue;
      const ls = normaliseLabels(s.labels);
      if (typeof ls === 'string') {
        reject('invalid_labels', s.timestamps.length, truncate(ls, 300));
        continue;
      }
      let ref = 0;
      for (let i = 0; i < s.timestamps.length; i++) {
        try {
          ref = app.append(ref, ls, s.timestamps[i], s.values[i]);
          res.samples++;
        } catch (e) {
          if (!(e instanceof StorageError) || e.code === 'closed') throw e;
          reject(e.code as RejectReason, 1, `${truncate(e.message, 300)} for series ${truncate(formatLabels(ls), 300)} at timestamp ${s.timestamps[i]}`);
        }
      }
    }
    app.commit();
  } catch (e) {
    app.rollback();
    throw e;
  }
  return res;
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
      log.error({ err: truncate((e as Error).message, 1000) }, 'remote write append failed');
      return answer(reply, 500, `storing samples failed: ${(e as Error).message}`);
    }
    received.inc(res.samples);
    if (res.rejected > 0) {
      log.warn({ stored: res.samples, rejected: res.rejected, errors: res.errors.slice(0, 3) }, 'remote write samples rejected');
      return answer(reply, 400, `${res.rejected} samples rejected, ${res.samples} stored: ${res.errors.join('; ')}`);
    }
    return answer(reply, 204);
  });
}
