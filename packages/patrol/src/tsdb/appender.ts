// The append path: an appender validates each sample (AppendPath.check: bounds, order,
// duplicates, against the head and the newest pending sample of the batch) and collects accepted
// ones in columns, which commit writes to the WAL with one write and then hands to the head.
// Owns the per-batch validation state and the pool of batch buffers.

import type { Labels } from '../model/labels.js';
import { isStaleNaN } from '../model/value.js';
import type { Appender, SeriesRef } from '../storage/interface.js';
import { StorageError } from '../storage/interface.js';
import { sameValue } from '../storage/memory.js';
import { F_ALIVE, F_LOGGED, F_STORED, type Head } from './head.js';
import type { ReadPath } from './querier.js';
import type { Retention } from './retention.js';
import type { Wal } from './wal.js';

/** What an appender needs of the store (AppendPath implements it). */
export interface AppendTarget {
  seriesRef(ref: number, ls: Labels): number;
  check(id: number, r: number, t: number, v: number): boolean;
  commitBatch(b: AppendBuffers): void;
  /** The appender is done (committed or rolled back): its buffers go back to the pool. */
  release(id: number, b: AppendBuffers): void;
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
      this.db.release(this.id, buf);
    }
  }

  rollback(): void {
    const buf = this.buf;
    this.buf = null;
    if (buf) this.db.release(this.id, buf);
  }
}

/** Validation and commit of batches for one store. */
export class AppendPath implements AppendTarget {
  /** Set when the store closes: later appends and commits throw `closed`. */
  closed = false;
  private ids = 0;
  /** Appenders not yet committed or rolled back. */
  private readonly open = new Set<number>();
  private readonly pool: AppendBuffers[] = [];
  // Per-batch validation: the newest pending sample of a series in the appender that owns it.
  private pendOwner = new Int32Array(0);
  private pendT = new Float64Array(0);
  private pendV = new Float64Array(0);

  constructor(
    private readonly head: Head,
    private readonly limits: Retention,
    private readonly wal: Wal,
    private readonly read: Pick<ReadPath, 'sampleAt'>,
    private readonly mSamples: { inc(n: number): void },
    private readonly mOoo: { inc(): void },
  ) {}

  appender(): TSDBAppender {
    this.ids = (this.ids + 1) | 0 || 1;
    // Read the clock once per batch, not per sample.
    this.limits.startBatch();
    this.open.add(this.ids);
    return new TSDBAppender(this, this.ids);
  }

  /** Whether an open appender holds a sample of series `r` (retention must not remove it). */
  pending(r: number): boolean {
    return r < this.pendOwner.length && this.pendOwner[r] !== 0 && this.open.has(this.pendOwner[r]);
  }

  seriesRef(ref: number, ls: Labels): number {
    return this.head.seriesRef(ref, ls);
  }

  takeBuffers(): AppendBuffers {
    return this.pool.pop() ?? new AppendBuffers(1024);
  }

  release(id: number, b: AppendBuffers): void {
    this.open.delete(id);
    b.n = 0;
    if (this.pool.length < 16) this.pool.push(b);
  }

  private growPending(cap: number): void {
    const owner = new Int32Array(cap);
    owner.set(this.pendOwner);
    const t = new Float64Array(cap);
    t.set(this.pendT);
    const v = new Float64Array(cap);
    v.set(this.pendV);
    this.pendOwner = owner;
    this.pendT = t;
    this.pendV = v;
  }

  /** Validates one sample for appender `id`; returns false for a no-op duplicate. */
  check(id: number, r: number, t: number, v: number): boolean {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    this.limits.checkBounds(t);
    const h = this.head;
    if (r >= this.pendOwner.length) this.growPending(h.cap);
    let lastT: number;
    let lastV: number;
    if (this.pendOwner[r] === id) {
      lastT = this.pendT[r];
      lastV = this.pendV[r];
    } else {
      lastT = h.lastT[r];
      lastV = h.lastV[r];
      if (t === lastT && !h.lastVKnown[r]) {
        lastV = this.read.sampleAt(r, t).v;
        h.lastV[r] = lastV;
        h.lastVKnown[r] = 1;
      }
    }
    if (t > lastT) {
      this.pendOwner[r] = id;
      this.pendT[r] = t;
      this.pendV[r] = v;
      return true;
    }
    if (t === lastT) {
      if (!sameValue(v, lastV)) throw new StorageError('duplicate_sample', `duplicate sample for timestamp ${t} with a different value`);
      return false;
    }
    if (h.oooWindow > 0 && t >= h.maxT - h.oooWindow) {
      // Rare, so look the timestamp up everywhere: head, cut and persisted chunks, OOO buffer.
      const s = this.read.sampleAt(r, t);
      if (s.found) {
        if (!sameValue(v, s.v)) throw new StorageError('duplicate_sample', `duplicate sample for timestamp ${t} with a different value`);
        return false;
      }
      return true;
    }
    this.mOoo.inc();
    throw new StorageError('out_of_order', `out of order sample: ${t} is older than ${lastT}${h.oooWindow > 0 ? ' and outside the out-of-order window' : ''}`);
  }

  /** Makes a batch durable (one WAL record), then visible (the head). */
  commitBatch(b: AppendBuffers): void {
    if (this.closed) throw new StorageError('closed', 'storage is closed');
    const n = b.n;
    if (n === 0) return;
    const h = this.head;
    const refs = b.refs;
    const newSeries: { ref: number; key: string }[] = [];
    for (let i = 0; i < n; i++) {
      const r = refs[i];
      if (!(h.flags[r] & F_LOGGED) && h.flags[r] & F_ALIVE) {
        h.flags[r] |= F_LOGGED;
        newSeries.push({ ref: r, key: h.keys[r]! });
      }
    }
    let seg: number;
    try {
      seg = this.wal.appendBatch(newSeries, refs, b.ts, b.vs, n);
    } catch (e) {
      for (const s of newSeries) h.flags[s.ref] &= ~F_LOGGED;
      throw e;
    }
    for (const s of newSeries) if (!(h.flags[s.ref] & F_STORED)) h.toPersist.push(s.ref);
    const ts = b.ts;
    const vs = b.vs;
    for (let i = 0; i < n; i++) {
      const r = refs[i];
      if (h.flags[r] & F_ALIVE) h.ingest(r, ts[i], vs[i], seg, null);
    }
    this.mSamples.inc(n);
  }
}
