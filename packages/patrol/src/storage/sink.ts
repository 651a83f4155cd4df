// One collection cycle's samples into storage, with Prometheus's staleness handling: a series
// written in the previous cycle and missing from this one gets a staleness marker, and a source
// that fails or is removed marks all of its series stale. Shared by the host collector and the
// custom collectors (each source owns one SeriesSink).

import { labelsKey, type Label, type Labels } from '../model/labels.js';
import { STALE_NAN } from '../model/value.js';
import { StorageError, type SeriesRef, type Storage } from './interface.js';

export interface CollectedSample {
  labels: Labels;
  value: number;
}

export interface WriteOutcome {
  /** Samples accepted into the batch. */
  written: number;
  /** Series seen for the first time by this sink. */
  added: number;
  /** Staleness markers written for series that disappeared. */
  staled: number;
  /** Samples the storage rejected (first few reasons kept). */
  rejected: number;
  errors: string[];
}

interface Tracked {
  labels: Labels;
  ref: SeriesRef;
}

/**
 * Not safe for concurrent writes: each source runs one cycle at a time. Samples with duplicate
 * label sets in one cycle keep the first value (as Prometheus reports a duplicate-series error).
 */
export class SeriesSink {
  private prev = new Map<string, Tracked>();
  /** Time of the last cycle; the next one is written strictly after it. */
  private lastT = -Infinity;

  constructor(private readonly storage: Storage) {}

  /** Number of series written in the last successful cycle. */
  get size(): number {
    return this.prev.size;
  }

  /** Appends one cycle at time `t` (ms) and commits. Storage rejections are counted, not thrown. */
  write(t: number, samples: Iterable<CollectedSample>): WriteOutcome {
    // Two cycles in one millisecond (a reload right after a run) would collide in storage.
    t = Math.max(t, this.lastT + 1);
    const out: WriteOutcome = { written: 0, added: 0, staled: 0, rejected: 0, errors: [] };
    const next = new Map<string, Tracked>();
    const app = this.storage.appender();
    try {
      for (const s of samples) {
        const key = labelsKey(s.labels);
        if (next.has(key)) {
          reject(out, `duplicate series ${key.replaceAll('\xff', '=').replaceAll('\xfe', ',')} in one collection`);
          continue;
        }
        const old = this.prev.get(key);
        try {
          const ref = app.append(old?.ref ?? 0, s.labels, t, s.value);
          next.set(key, { labels: s.labels, ref });
          out.written++;
          if (!old) out.added++;
        } catch (e) {
          if (!(e instanceof StorageError) || e.code === 'closed') throw e;
          reject(out, e.message);
          // Keep tracking it so a later disappearance still ends the series.
          if (old) next.set(key, old);
        }
      }
      for (const [key, old] of this.prev) {
        if (next.has(key)) continue;
        if (this.appendStale(app, old, t)) out.staled++;
      }
      app.commit();
    } catch (e) {
      app.rollback();
      throw e;
    }
    this.prev = next;
    this.lastT = t;
    return out;
  }

  /** Marks every series of the previous cycle stale (source failed or removed) and forgets them. */
  markAllStale(t: number): number {
    if (this.prev.size === 0) return 0;
    t = Math.max(t, this.lastT + 1);
    const app = this.storage.appender();
    let n = 0;
    try {
      for (const old of this.prev.values()) if (this.appendStale(app, old, t)) n++;
      app.commit();
    } catch (e) {
      app.rollback();
      throw e;
    }
    this.prev = new Map();
    this.lastT = t;
    return n;
  }

  private appendStale(app: ReturnType<Storage['appender']>, s: Tracked, t: number): boolean {
    try {
      app.append(s.ref, s.labels, t, STALE_NAN);
      return true;
    } catch (e) {
      if (e instanceof StorageError && e.code !== 'closed') return false;
      throw e;
    }
  }
}

function reject(out: WriteOutcome, msg: string): void {
  out.rejected++;
  if (out.errors.length < 5) out.errors.push(msg);
}

/**
 * Attaches a source's target labels (job, instance, configured labels) to a sample's labels the
 * way Prometheus does with honor_labels: false: on a clash the target label wins and the
 * sample's own value moves to `exported_<name>`.
 */
export function withTargetLabels(sample: Labels, target: Labels): Labels {
  if (target.length === 0) return sample;
  const out: Label[] = [];
  const targetNames = new Set(target.map((l) => l.name));
  for (const l of sample) {
    if (targetNames.has(l.name)) {
      if (l.name !== '__name__') out.push({ name: `exported_${l.name}`, value: l.value });
    } else out.push(l);
  }
  for (const l of target) out.push(l);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
