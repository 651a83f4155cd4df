// The append path's batch: an appender validates each sample against the store (TSDB.check)
// and collects accepted ones in columns, which commit hands to the WAL and the head.

import type { Labels } from '../model/labels.js';
import { isStaleNaN } from '../model/value.js';
import type { Appender, SeriesRef } from '../storage/interface.js';
import { StorageError } from '../storage/interface.js';

/** What an appender needs of the store (TSDB implements it). */
export interface AppendTarget {
  seriesRef(ref: number, ls: Labels): number;
  check(id: number, r: number, t: number, v: number): boolean;
  commitBatch(b: AppendBuffers): void;
  releaseBuffers(b: AppendBuffers): void;
  takeBuffers(): AppendBuffers;
}

/** Pending samples of one appender, in columns so commit can copy them to the WAL. */
export class AppendBuffers {
  n = 0;
  refs: Int32Array;
  ts: Float64Array;
  vs: Float64Array;
  vbits: Uint32Array;

  constructor(cap: number) {
    this.refs = new Int32Array(cap);
    this.ts = new Float64Array(cap);
    this.vs = new Float64Array(cap);
    this.vbits = new Uint32Array(this.vs.buffer);
  }

  push(r: number, t: number, v: number): void {
    if (this.n === this.refs.length) {
      const cap = this.n * 2;
      const refs = new Int32Array(cap);
      refs.set(this.refs);
      const ts = new Float64Array(cap);
      ts.set(this.ts);
      const vs = new Float64Array(cap);
      vs.set(this.vs);
      this.refs = refs;
      this.ts = ts;
      this.vs = vs;
      this.vbits = new Uint32Array(vs.buffer);
    }
    const i = this.n++;
    this.refs[i] = r;
    this.ts[i] = t;
    if (v !== v && isStaleNaN(v)) {
      this.vbits[2 * i] = 2;
      this.vbits[2 * i + 1] = 0x7ff00000;
    } else this.vs[i] = v;
  }
}

export class TSDBAppender implements Appender {
  private buf: AppendBuffers | null;

  constructor(
    private readonly db: AppendTarget,
    private readonly id: number,
  ) {
    this.buf = db.takeBuffers();
  }

  append(ref: SeriesRef, ls: Labels, t: number, v: number): SeriesRef {
    const buf = this.buf;
    if (!buf) throw new StorageError('closed', 'appender already committed or rolled back');
    const r = this.db.seriesRef(ref, ls);
    if (this.db.check(this.id, r, t, v)) buf.push(r, t, v);
    return r;
  }

  commit(): void {
    const buf = this.buf;
    if (!buf) throw new StorageError('closed', 'appender already committed or rolled back');
    this.buf = null;
    try {
      this.db.commitBatch(buf);
    } finally {
      this.db.releaseBuffers(buf);
    }
  }

  rollback(): void {
    const buf = this.buf;
    this.buf = null;
    if (buf) this.db.releaseBuffers(buf);
  }
}
