// A minimal HTTP/1.1 response reader for probes. A probe sends one request on a fresh
// connection (`Connection: close`) and reads one response, so it needs none of node:http's
// machinery (agents, streams, pooling); reading the bytes itself halves the CPU a probe costs
// and shows exactly when the first byte arrived. Handles Content-Length, chunked and
// close-delimited bodies, 1xx interim responses, and HEAD/204/304 without a body.

export interface ResponseHead {
  status: number;
  httpVersion: string;
  /** Lower-case names; repeated headers are joined with ", " (set-cookie: an array). */
  headers: Record<string, string | string[]>;
}

export interface ResponseHandler {
  /** The head arrived. */
  head(h: ResponseHead): void;
  /** A piece of the (de-chunked) body. */
  data(chunk: Buffer): void;
  /** The body is complete. */
  end(): void;
  /** The response is malformed. */
  error(message: string): void;
}

const MAX_HEAD = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

type BodyMode = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

/**
 * Incremental parser: feed it what the socket delivers, then `eof()` when the peer closes.
 * After `end` or `error` it ignores further input.
 */
export class ResponseParser {
  private buf: Buffer | null = null;
  private state: 'head' | 'body' | 'done' = 'head';
  private mode: BodyMode = { kind: 'none' };
  // Chunked decoding.
  private chunkLeft = 0;
  private chunkPhase: 'size' | 'data' | 'data-crlf' | 'trailers' = 'size';

  constructor(
    private readonly h: ResponseHandler,
    private readonly isHead: boolean,
  ) {}

  get finished(): boolean {
    return this.state === 'done';
  }

  /** True when the head has been received. */
  get gotHead(): boolean {
    return this.state !== 'head';
  }

  feed(chunk: Buffer): void {
    if (this.state === 'done') return;
    if (this.state === 'head') {
      this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
      for (;;) {
        const idx = this.buf.indexOf(CRLFCRLF);
        if (idx < 0) {
          if (this.buf.length > MAX_HEAD) this.fail(`response headers exceed ${MAX_HEAD / 1024}KiB`);
          return;
        }
        const headText = this.buf.toString('latin1', 0, idx);
        const rest = this.buf.subarray(idx + 4);
        const head = this.parseHead(headText);
        if (!head) return;
        if (head.status >= 100 && head.status < 200 && head.status !== 101) {
          this.buf = rest; // interim response: the real one follows
          continue;
        }
        this.buf = null;
        this.state = 'body';
        this.mode = this.bodyMode(head);
        if (this.state !== 'body') return; // bodyMode failed
        this.h.head(head);
        if (this.state !== 'body') return; // the handler stopped us
        if (this.mode.kind === 'none') return this.finish();
        if (rest.length > 0) this.body(rest);
        return;
      }
    }
    this.body(chunk);
  }

  /** The peer closed the connection. */
  eof(): void {
    if (this.state === 'done') return;
    if (this.state === 'head') return this.fail(this.buf && this.buf.length > 0 ? 'connection closed in the middle of the response headers' : 'connection closed before a response was received');
    if (this.mode.kind === 'close') return this.finish();
    this.fail('connection closed before the body was complete');
  }

  private fail(msg: string): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.h.error(msg);
  }

  private finish(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.h.end();
  }

  private parseHead(text: string): ResponseHead | null {
    const lines = text.split('\r\n');
    const m = /^HTTP\/(\d\.\d) (\d{3})(?: .*)?$/.exec(lines[0]);
    if (!m) {
      this.fail(`invalid HTTP response: status line ${JSON.stringify(lines[0].slice(0, 60))}`);
      return null;
    }
    const headers: Record<string, string | string[]> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const c = line.indexOf(':');
      if (c <= 0) {
        this.fail(`invalid HTTP response: header line ${JSON.stringify(line.slice(0, 60))}`);
        return null;
      }
      const name = line.slice(0, c).trim().toLowerCase();
      const value = line.slice(c + 1).trim();
      const prev = headers[name];
      if (prev === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
      else if (Array.isArray(prev)) prev.push(value);
      else headers[name] = `${prev}, ${value}`;
    }
    return { status: Number(m[2]), httpVersion: m[1], headers };
  }

  private bodyMode(h: ResponseHead): BodyMode {
    if (this.isHead || h.status === 204 || h.status === 304) return { kind: 'none' };
    const te = h.headers['transfer-encoding'];
    if (typeof te === 'string' && /(?:^|,)\s*chunked\s*$/i.test(te)) return { kind: 'chunked' };
    const cl = h.headers['content-length'];
    if (cl !== undefined) {
      if (typeof cl !== 'string' || !/^\d+$/.test(cl)) {
        this.fail(`invalid HTTP response: content-length ${JSON.stringify(String(cl))}`);
        return { kind: 'none' };
      }
      const n = Number(cl);
      return n === 0 ? { kind: 'none' } : { kind: 'length', left: n };
    }
    return { kind: 'close' };
  }

  private body(chunk: Buffer): void {
    const mode = this.mode;
    if (mode.kind === 'close') {
      this.h.data(chunk);
      return;
    }
    if (mode.kind === 'length') {
      if (chunk.length >= mode.left) {
        const last = chunk.length === mode.left ? chunk : chunk.subarray(0, mode.left);
        mode.left = 0;
        this.h.data(last);
        if (this.state === 'body') this.finish();
        return;
      }
      mode.left -= chunk.length;
      this.h.data(chunk);
      return;
    }
    if (mode.kind === 'chunked') this.chunked(chunk);
  }

  private chunked(input: Buffer): void {
    let b: Buffer = this.buf ? Buffer.concat([this.buf, input]) : input;
    this.buf = null;
    let i = 0;
    while (i < b.length && this.state === 'body') {
      if (this.chunkPhase === 'data') {
        const n = Math.min(this.chunkLeft, b.length - i);
        this.h.data(b.subarray(i, i + n));
        i += n;
        this.chunkLeft -= n;
        if (this.chunkLeft === 0) this.chunkPhase = 'data-crlf';
        continue;
      }
      const nl = b.indexOf('\r\n', i, 'latin1');
      if (nl < 0) {
        if (b.length - i > 4096) return this.fail('invalid chunked encoding: line too long');
        this.buf = b.subarray(i);
        return;
      }
      const line = b.toString('latin1', i, nl);
      i = nl + 2;
      if (this.chunkPhase === 'data-crlf') {
        if (line !== '') return this.fail('invalid chunked encoding: missing CRLF after chunk data');
        this.chunkPhase = 'size';
      } else if (this.chunkPhase === 'size') {
        const m = /^([0-9a-fA-F]{1,12})(?:;.*)?$/.exec(line.trim());
        if (!m) return this.fail(`invalid chunked encoding: chunk size ${JSON.stringify(line.slice(0, 20))}`);
        this.chunkLeft = parseInt(m[1], 16);
        this.chunkPhase = this.chunkLeft === 0 ? 'trailers' : 'data';
      } else if (line === '') {
        // trailers: an empty line ends the message
        return this.finish();
      }
    }
    if (i < b.length && this.state === 'body') this.buf = b.subarray(i);
    b = Buffer.alloc(0);
  }
}
