// Runs jobs on their intervals. Each job has a stable offset within its interval (a hash of its
// key), so a thousand probes with the same interval start spread over it rather than all at
// once, and keep the same slots across restarts and reloads. Runs of one job never overlap (a
// slot that comes while the previous run is still going is skipped and counted). A global and a
// per-host limit bound how many runs are in flight; runs beyond them wait in a FIFO queue.
// One timer serves all jobs (a min-heap of due times).

import { guarded } from '../producer.js';

export interface Job {
  /** Unique per job; the offset derives from it. */
  readonly key: string;
  readonly intervalMs: number;
  /** Key for the per-host limit. */
  readonly host: string;
  /** Runs once. Must not reject; the scheduler does not inspect the outcome. */
  run(scheduledAt: number): Promise<void>;
}

export interface SchedulerOptions {
  maxConcurrency: number;
  perHostConcurrency: number;
}

export interface SchedulerStats {
  started: number;
  /** Slots skipped because the previous run (or its wait in the queue) had not finished. */
  skippedOverlap: number;
}

interface Entry {
  job: Job;
  due: number;
  removed: boolean;
  running: boolean;
  queued: boolean;
  scheduledAt: number;
  /** The host the running run counts against (the job may be replaced meanwhile). */
  runningHost: string;
  heapIndex: number;
}

/** FNV-1a, 32 bits: a stable hash for spreading offsets. */
export function stableHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The first time after `now` that falls on the job's slot (offset within its interval). */
export function firstDue(key: string, intervalMs: number, now: number): number {
  const offset = stableHash(key) % intervalMs;
  let t = Math.floor(now / intervalMs) * intervalMs + offset;
  if (t <= now) t += intervalMs;
  return t;
}

export class Scheduler {
  private heap: Entry[] = [];
  private readonly entries = new Map<string, Entry>();
  private ready: Entry[] = [];
  private inFlight = 0;
  private readonly perHost = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private stopped = false;
  private readonly idleWaiters: (() => void)[] = [];
  readonly stats: SchedulerStats = { started: 0, skippedOverlap: 0 };

  constructor(private opts: SchedulerOptions) {}

  get running(): number {
    return this.inFlight;
  }

  setLimits(opts: SchedulerOptions): void {
    this.opts = opts;
    this.dispatch();
  }

  /**
   * Replaces the set of jobs. A job whose key and interval are unchanged keeps its next slot
   * (and, if running, finishes its run); removed jobs never start again.
   */
  setJobs(jobs: readonly Job[]): void {
    if (this.stopped) return;
    const now = Date.now();
    const keep = new Set<string>();
    for (const job of jobs) {
      keep.add(job.key);
      const old = this.entries.get(job.key);
      if (old && old.job.intervalMs === job.intervalMs) {
        old.job = job;
        continue;
      }
      if (old) this.remove(old);
      const e: Entry = { job, due: firstDue(job.key, job.intervalMs, now), removed: false, running: false, queued: false, scheduledAt: 0, runningHost: '', heapIndex: -1 };
      this.entries.set(job.key, e);
      this.push(e);
    }
    for (const [key, e] of this.entries) if (!keep.has(key)) this.remove(e);
    this.ready = this.ready.filter((e) => !e.removed);
    this.arm();
  }

  private remove(e: Entry): void {
    e.removed = true;
    this.entries.delete(e.job.key);
    if (e.heapIndex >= 0) this.heapRemove(e.heapIndex);
  }

  /** Stops scheduling and waits for runs in flight to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.heap = [];
    this.ready = [];
    this.entries.clear();
    if (this.inFlight > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  private arm(): void {
    if (this.stopped || this.heap.length === 0) return;
    const due = this.heap[0].due;
    if (this.timer && due >= this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = due;
    this.timer = setTimeout(() => this.tick(), Math.max(0, due - Date.now()));
  }

  private tick(): void {
    this.timer = null;
    this.armedFor = Infinity;
    if (this.stopped) return;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0].due <= now) {
      const e = this.heap[0];
      const scheduled = e.due;
      const iv = e.job.intervalMs;
      // Next slot on the same grid; slots already past (the process was stalled) are skipped.
      e.due = scheduled + iv;
      if (e.due <= now) {
        const missed = Math.ceil((now - e.due + 1) / iv);
        e.due += missed * iv;
        this.stats.skippedOverlap += missed;
      }
      this.siftDown(0);
      if (e.running || e.queued) {
        this.stats.skippedOverlap++;
        continue;
      }
      e.queued = true;
      e.scheduledAt = scheduled;
      this.ready.push(e);
    }
    this.dispatch();
    this.arm();
  }

  private dispatch(): void {
    if (this.ready.length === 0) return;
    const { maxConcurrency, perHostConcurrency } = this.opts;
    let w = 0;
    for (let i = 0; i < this.ready.length; i++) {
      const e = this.ready[i];
      if (e.removed) continue;
      const host = e.job.host;
      const hostCount = this.perHost.get(host) ?? 0;
      if (this.inFlight >= maxConcurrency || hostCount >= perHostConcurrency) {
        this.ready[w++] = e;
        continue;
      }
      e.queued = false;
      e.running = true;
      this.inFlight++;
      this.perHost.set(host, hostCount + 1);
      e.runningHost = host;
      this.stats.started++;
      // The producer edge: a run that throws (synchronously or not) is counted and logged there.
      void guarded('probe', () => e.job.run(e.scheduledAt), undefined, { probe: e.job.key }).then(() => this.finished(e));
    }
    this.ready.length = w;
  }

  private finished(e: Entry): void {
    e.running = false;
    this.inFlight--;
    const host = e.runningHost;
    const n = (this.perHost.get(host) ?? 1) - 1;
    if (n === 0) this.perHost.delete(host);
    else this.perHost.set(host, n);
    if (this.inFlight === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
    if (!this.stopped) this.dispatch();
  }

  // ---- binary min-heap on due ----

  private push(e: Entry): void {
    e.heapIndex = this.heap.length;
    this.heap.push(e);
    this.siftUp(e.heapIndex);
  }

  private heapRemove(i: number): void {
    const last = this.heap.pop()!;
    last.heapIndex = -1;
    if (i < this.heap.length) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.siftDown(i);
      this.siftUp(last.heapIndex);
    }
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const e = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].due <= e.due) break;
      h[i] = h[p];
      h[i].heapIndex = i;
      i = p;
    }
    h[i] = e;
    e.heapIndex = i;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    if (n === 0) return;
    const e = h[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r].due < h[l].due ? r : l;
      if (h[c].due >= e.due) break;
      h[i] = h[c];
      h[i].heapIndex = i;
      i = c;
    }
    h[i] = e;
    e.heapIndex = i;
  }
}
