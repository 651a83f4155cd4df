// Uptime and latency figures of one probe, computed from the stored probe_success and
// probe_duration_seconds samples. Reading 30 days of samples on every API call would stall the
// server, so the samples are folded into hourly buckets once and afterwards only the samples
// written since the last update are read. Latency quantiles come from a log-scale histogram
// (each bucket 5 % wide), exact to within that.

import { Matcher } from '../model/matchers.js';
import type { Queryable } from '../storage/interface.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const KEEP = 30 * DAY;

// Histogram: bucket i holds durations in [MIN * F^i, MIN * F^(i+1)); below MIN in bucket 0.
const MIN_SECONDS = 1e-5;
const FACTOR = 1.05;
const LOG_F = Math.log(FACTOR);
const BUCKETS = Math.ceil(Math.log(1e4 / MIN_SECONDS) / LOG_F) + 1; // up to ~3 hours

function bucketOf(v: number): number {
  if (!(v > MIN_SECONDS)) return 0;
  return Math.min(BUCKETS - 1, Math.floor(Math.log(v / MIN_SECONDS) / LOG_F));
}

/** The middle of a bucket on the log scale, as the quantile's estimate. */
function bucketValue(i: number): number {
  return MIN_SECONDS * Math.pow(FACTOR, i + 0.5);
}

interface Hour {
  ok: number;
  total: number;
  /** The earliest run (sample timestamp, ms) folded into this hour. */
  first: number;
  /** Latency histogram, allocated when the hour has durations. */
  hist: Uint32Array | null;
}

/**
 * What an uptime ratio was computed over: a window longer than the data (30 d after 12 minutes
 * of runs) is only as good as the span observed.
 */
export interface ObservedSpan {
  /** The first run counted in the window (ms since the epoch), or null without runs. */
  start: number | null;
  /** Seconds from that run to now: the span the ratio actually covers. */
  seconds: number;
  /** Runs counted. */
  runs: number;
}

export interface ProbeFigures {
  uptime: { '24h': number | null; '7d': number | null; '30d': number | null };
  observed: { '24h': ObservedSpan; '7d': ObservedSpan; '30d': ObservedSpan };
  latency: { p50: number | null; p95: number | null; p99: number | null };
}

export class ProbeStatsAccumulator {
  private readonly hours = new Map<number, Hour>();
  /** Samples with timestamps up to here are folded in. */
  private through = -Infinity;

  /**
   * `settleMs`: how long after its timestamp a sample may still be written (a run is stamped
   * with its start and stored when it ends); newer samples are read afresh on every call.
   */
  constructor(
    private readonly probe: string,
    private readonly settleMs: number,
  ) {}

  /** Uptime over 24 h / 7 d / 30 d and latency quantiles over 24 h, as of `now`. */
  compute(storage: Queryable, now: number): ProbeFigures {
    const settled = now - this.settleMs;
    const from = Math.max(this.through + 1, now - KEEP);
    if (settled >= from) {
      read(storage, this.probe, from, settled, this.hours);
      this.through = settled;
      const oldest = Math.floor((now - KEEP) / HOUR) * HOUR;
      // Latency quantiles cover the last 24 hours only: an older hour keeps its counts and drops
      // its histogram (1.7 KB; kept for 30 days it was 1.2 MB per probe, 12 GB at 10,000 probes).
      const histFrom = Math.floor(now / HOUR) * HOUR - DAY;
      for (const [k, h] of this.hours) {
        if (k < oldest) this.hours.delete(k);
        else if (k <= histFrom) h.hist = null;
      }
    }
    const tail = new Map<number, Hour>();
    const tailFrom = Math.max(this.through + 1, now - KEEP);
    if (tailFrom <= now) read(storage, this.probe, tailFrom, now, tail);
    return figures(now, [this.hours, tail]);
  }

  /** Hours that hold a latency histogram (at most the 25 of the last day). */
  histogramHours(): number {
    let n = 0;
    for (const h of this.hours.values()) if (h.hist) n++;
    return n;
  }

  /**
   * Success ratio per hour for the last `n` hours (oldest first; the last is the current hour),
   * -1 for an hour without runs. Reads only the folded hours (no storage access); runs newer
   * than the last compute() are added from `recent`.
   */
  hourly(now: number, n: number, recent: readonly { time: number; success: boolean }[]): number[] {
    const current = Math.floor(now / HOUR) * HOUR;
    const ok = new Array<number>(n).fill(0);
    const total = new Array<number>(n).fill(0);
    for (const [k, h] of this.hours) {
      const i = n - 1 - (current - k) / HOUR;
      if (i >= 0 && i < n) {
        ok[i] += h.ok;
        total[i] += h.total;
      }
    }
    for (const r of recent) {
      if (r.time <= this.through) continue;
      const i = n - 1 - (current - Math.floor(r.time / HOUR) * HOUR) / HOUR;
      if (i >= 0 && i < n) {
        total[i]++;
        if (r.success) ok[i]++;
      }
    }
    return ok.map((o, i) => (total[i] === 0 ? -1 : Math.round((o / total[i]) * 1000) / 1000));
  }
}

/** Folds probe_success and probe_duration_seconds samples in [start, end] into hourly buckets. */
function read(storage: Queryable, probe: string, start: number, end: number, into: Map<number, Hour>): void {
  const hour = (t: number): Hour => {
    const key = Math.floor(t / HOUR) * HOUR;
    let h = into.get(key);
    if (!h) {
      h = { ok: 0, total: 0, first: Infinity, hist: null };
      into.set(key, h);
    }
    return h;
  };
  const q = storage.querier(start, end);
  try {
    const probeM = new Matcher('=', 'probe', probe);
    const succ = q.select({ start, end }, [new Matcher('=', '__name__', 'probe_success'), probeM]);
    while (succ.next()) {
      const it = succ.at().iterator();
      if (!it.seek(start)) continue;
      do {
        const t = it.atT();
        if (t > end) break;
        const v = it.atV();
        if (v !== 0 && v !== 1) continue; // staleness markers
        const h = hour(t);
        h.total++;
        h.ok += v;
        if (t < h.first) h.first = t;
      } while (it.next());
    }
    const dur = q.select({ start, end }, [new Matcher('=', '__name__', 'probe_duration_seconds'), probeM]);
    while (dur.next()) {
      const it = dur.at().iterator();
      if (!it.seek(start)) continue;
      do {
        const t = it.atT();
        if (t > end) break;
        const v = it.atV();
        if (!Number.isFinite(v)) continue;
        const h = hour(t);
        h.hist ??= new Uint32Array(BUCKETS);
        h.hist[bucketOf(v)]++;
      } while (it.next());
    }
  } finally {
    q.close();
  }
}

/**
 * Windows are whole hours (the current hour included), so the "24 h" figure covers between 24
 * and 25 hours of runs.
 */
function figures(now: number, maps: Map<number, Hour>[]): ProbeFigures {
  const current = Math.floor(now / HOUR) * HOUR;
  const windows = [DAY, 7 * DAY, 30 * DAY];
  const ok = [0, 0, 0];
  const total = [0, 0, 0];
  const first = [Infinity, Infinity, Infinity];
  const hist = new Float64Array(BUCKETS);
  for (const m of maps) {
    for (const [k, h] of m) {
      const age = current - k;
      for (let i = 0; i < 3; i++) {
        if (age < windows[i]) {
          ok[i] += h.ok;
          total[i] += h.total;
          if (h.first < first[i]) first[i] = h.first;
        }
      }
      if (age < DAY && h.hist) for (let b = 0; b < BUCKETS; b++) hist[b] += h.hist[b];
    }
  }
  let n = 0;
  for (let b = 0; b < BUCKETS; b++) n += hist[b];
  const quantile = (p: number): number | null => {
    if (n === 0) return null;
    const rank = Math.max(1, Math.ceil(p * n));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += hist[b];
      if (seen >= rank) return bucketValue(b);
    }
    return bucketValue(BUCKETS - 1);
  };
  const frac = (i: number) => (total[i] === 0 ? null : ok[i] / total[i]);
  const span = (i: number): ObservedSpan =>
    total[i] === 0 ? { start: null, seconds: 0, runs: 0 } : { start: first[i], seconds: Math.max(0, Math.round((now - first[i]) / 1000)), runs: total[i] };
  return { uptime: { '24h': frac(0), '7d': frac(1), '30d': frac(2) }, observed: { '24h': span(0), '7d': span(1), '30d': span(2) }, latency: { p50: quantile(0.5), p95: quantile(0.95), p99: quantile(0.99) } };
}
