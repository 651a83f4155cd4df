// One scrape loop per target: fetch on a fixed schedule, parse, attach target labels, apply
// metric_relabel_configs and limits, and write the scrape as one appender batch (committed whole
// or rolled back whole), followed by the report series and staleness markers.
//
// The loop keeps where each series was in the previous body and what it resolved to; the scanner
// recognises a steady target's series by comparing bytes, so such a line costs a byte compare and
// a number parse. Labels are built and relabelled only for series text the last scrape lacked.

import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Label, Labels } from '../model/labels.js';
import { formatLabels, labelsEqual, labelsKey, METRIC_NAME } from '../model/labels.js';
import { STALE_NAN } from '../model/value.js';
import type { Appender, SeriesRef, Storage } from '../storage/interface.js';
import { StorageError } from '../storage/interface.js';
import { ScrapeError, type ScrapeClient } from './client.js';
import { formatFromContentType, parseSeries, scanExposition, SeriesPositions, textOf, ParseError, type ExpositionFormat, type MetricMeta } from '../textparse/parser.js';
import { relabel, type CompiledRelabel } from './relabel.js';
import type { Target } from './target.js';
import { TargetHealthLog } from './healthlog.js';
import { guarded } from '../producer.js';

/** Lines longer than this fail the scrape: no real exporter writes them, a broken one might. */
export const MAX_LINE_LENGTH = 1024 * 1024;

export interface LoopOptions {
  honorLabels: boolean;
  honorTimestamps: boolean;
  /** Staleness markers also for series exposed with their own timestamps (track_timestamps_staleness). */
  trackTimestampsStaleness?: boolean;
  sampleLimit: number;
  labelLimit: number;
  labelNameLengthLimit: number;
  labelValueLengthLimit: number;
  metricRelabel: readonly CompiledRelabel[];
}

interface SeriesState {
  labels: Labels;
  hash: number;
  /** The next state with the same hash (LiveSeries chains collisions). */
  next: SeriesState | undefined;
  ref: SeriesRef;
  /** The scrape iteration that last wrote this series. */
  iter: number;
  lastT: number;
  /** Exposed with its own timestamp: Prometheus writes no staleness marker for those. */
  explicit: boolean;
  dead: boolean;
}

/** What a series text resolves to: its state, or DROPPED when metric relabelling drops it. */
const DROPPED = null;
type CacheEntry = SeriesState | typeof DROPPED;

export interface ScrapeOutcome {
  ok: boolean;
  error: string;
  samplesScraped: number;
  samplesPostRelabel: number;
  seriesAdded: number;
  durationMs: number;
}

/** FNV-1a over names and values; only computed for series text not seen before. */
function hashLabels(ls: Labels): number {
  let h = 0x811c9dc5;
  for (const l of ls) {
    for (let i = 0; i < l.name.length; i++) h = Math.imul(h ^ l.name.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0xff, 0x01000193);
    for (let i = 0; i < l.value.length; i++) h = Math.imul(h ^ l.value.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0xfe, 0x01000193);
  }
  return h | 0;
}

/**
 * The series a loop has written in its last scrape, findable by labels. Keyed by a 32-bit hash
 * with collision chains rather than by a label-set string, which would cost ~100 bytes a series.
 */
class LiveSeries {
  private readonly byHash = new Map<number, SeriesState>();
  size = 0;

  get(labels: Labels, h: number): SeriesState | undefined {
    for (let s = this.byHash.get(h); s; s = s.next) if (labelsEqual(s.labels, labels)) return s;
    return undefined;
  }

  add(st: SeriesState): void {
    st.next = this.byHash.get(st.hash);
    this.byHash.set(st.hash, st);
    this.size++;
  }

  delete(st: SeriesState): void {
    const head = this.byHash.get(st.hash);
    if (head === st) {
      if (st.next) this.byHash.set(st.hash, st.next);
      else this.byHash.delete(st.hash);
    } else {
      let p = head;
      while (p && p.next !== st) p = p.next;
      if (!p) return;
      p.next = st.next;
    }
    st.next = undefined;
    st.dead = true;
    this.size--;
  }

  /** Removes and returns the states `pred` selects. */
  sweep(pred: (st: SeriesState) => boolean): SeriesState[] {
    const out: SeriesState[] = [];
    for (const head of this.byHash.values()) for (let s: SeriesState | undefined = head; s; s = s.next) if (pred(s)) out.push(s);
    for (const s of out) this.delete(s);
    return out;
  }
}

const REPORT_NAMES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added'] as const;

class LoopFailure extends Error {}

/**
 * Samples of scrapes that were not stored while the scrape itself succeeded, by reason
 * (Prometheus's prometheus_target_scrapes_sample_*_total; Patrol exports them as patrol_…).
 */
export class ScrapeSampleCounts {
  /** Timestamp outside what storage accepts: older than the retention or too far in the future. */
  outOfBounds = 0;
  /** The same series twice in one scrape, or the same timestamp again with another value. */
  duplicateTimestamp = 0;
  /** Older than the newest stored sample of the series. */
  outOfOrder = 0;
}

/** The skipped samples of one scrape: counts and the first message of each kind, for lastError. */
class Skipped {
  outOfBounds = 0;
  duplicate = 0;
  outOfOrder = 0;
  first = new Map<string, string>();

  add(kind: 'outOfBounds' | 'duplicate' | 'outOfOrder', msg: string): void {
    this[kind]++;
    if (!this.first.has(kind)) this.first.set(kind, msg.length > 300 ? msg.slice(0, 300) + '…' : msg);
  }

  /** The text for lastError ('' when nothing was skipped). */
  describe(): string {
    const parts: string[] = [];
    const say = (n: number, what: string, kind: string) => {
      if (n > 0) parts.push(`${n} ${what}${n > 1 ? ' (first: ' : ' ('}${this.first.get(kind)})`);
    };
    say(this.outOfBounds, `sample${this.outOfBounds > 1 ? 's' : ''} out of bounds, not stored`, 'outOfBounds');
    say(this.duplicate, `duplicate sample${this.duplicate > 1 ? 's' : ''} for the same series and timestamp, first value kept`, 'duplicate');
    say(this.outOfOrder, `sample${this.outOfOrder > 1 ? 's' : ''} out of order, not stored`, 'outOfOrder');
    return parts.join('; ');
  }
}

export class ScrapeLoop {
  private readonly states = new LiveSeries();
  /** Label objects shared by the series of this target (name → value → label). */
  private labelPool = new Map<string, Map<string, Label>>();
  private labelPoolSize = 0;
  /** Where the series of the last successful scrape were in its body, and what each resolved to. */
  private prevPositions = new SeriesPositions();
  private prevEntries: CacheEntry[] = [];
  /** The same for the scrape in progress; swapped with prev* when it succeeds. */
  private curPositions = new SeriesPositions();
  private curEntries: CacheEntry[] = [];
  private readonly reportRefs = new Map<string, SeriesRef>();
  private reportLabels: Labels[] = [];
  private iter = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private stopped = false;
  private reported = false;
  /** Metadata of the last successful scrape, by metric family name. */
  metadata = new Map<string, MetricMeta>();
  private readonly healthLog: TargetHealthLog;

  constructor(
    readonly target: Target,
    private client: ScrapeClient,
    private opts: LoopOptions,
    private readonly storage: Storage,
    private readonly log?: Logger,
    private readonly counts: ScrapeSampleCounts = new ScrapeSampleCounts(),
  ) {
    this.reportLabels = REPORT_NAMES.map((n) => withTargetLabels([{ name: METRIC_NAME, value: n }], target.publicLabels, false));
    const label = (n: string) => target.publicLabels.find((l) => l.name === n)?.value ?? '';
    this.healthLog = new TargetHealthLog(log, { job: label('job'), instance: label('instance') });
  }

  /** New pool settings for the same target (reload): cached relabelling results are discarded. */
  reconfigure(client: ScrapeClient, opts: LoopOptions): void {
    this.client = client;
    this.opts = opts;
    this.labelPool = new Map();
    this.labelPoolSize = 0;
    this.forgetPrevious();
  }

  /**
   * Starts scraping at a stable offset within the interval derived from the target's identity,
   * so targets spread out over the interval and keep their slot across restarts.
   */
  start(): void {
    const interval = this.target.intervalMs;
    const h = createHash('md5').update(hostname() + '\0' + this.target.key).digest();
    const offset = Number(h.readBigUInt64BE(0) % BigInt(interval));
    const now = Date.now();
    let next = now - (now % interval) + offset;
    if (next < now) next += interval;
    this.schedule(next);
  }

  private schedule(at: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        const started = Date.now();
        // The producer edge: whatever escapes one scrape is counted and logged; the loop goes on.
        this.running = guarded('scrape', () => this.scrapeAndReport(started), this.log, { target: this.target.scrapeUrl }).then(() => undefined);
        void this.running.then(() => {
          this.running = null;
          // Skip ticks that a slow scrape overran; stay on the grid.
          const interval = this.target.intervalMs;
          let next = at + interval;
          const now = Date.now();
          if (next <= now) next += Math.ceil((now - next + 1) / interval) * interval;
          this.schedule(next);
        });
      },
      Math.max(0, at - Date.now()),
    );
  }

  /**
   * Stops the loop. With `stale`, the target is gone: every series it wrote (and its report
   * series) get a staleness marker now.
   */
  async stop(stale: boolean): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort();
    if (this.running) await this.running;
    if (!stale) return;
    const t = Math.max(Date.now(), this.lastT + 1);
    const app = this.storage.appender();
    try {
      this.markAllStale(app, t);
      if (this.reported) for (const ls of this.reportLabels) this.tryAppend(app, this.reportRefs.get(labelsKey(ls)) ?? 0, ls, t, STALE_NAN);
      app.commit();
    } catch (e) {
      app.rollback();
      this.log?.error({ err: e, target: this.target.scrapeUrl }, 'writing staleness markers failed');
    }
  }

  private lastT = 0;

  /** One scrape: fetch, write, report. Exposed for tests; the schedule calls it. */
  async scrapeAndReport(start = Date.now()): Promise<ScrapeOutcome> {
    const t = Math.max(start, this.lastT + 1);
    this.lastT = t;
    this.target.lastScrape = start;
    this.iter++;
    let out: ScrapeOutcome;
    let contentType = '';
    try {
      const res = await this.client.scrape(this.target.url, this.target.timeoutMs, this.abort.signal);
      contentType = res.contentType;
      if (this.stopped) throw new ScrapeError('scrape cancelled');
      out = this.append(res.body, res.contentType, t, start);
    } catch (e) {
      let msg = e instanceof ScrapeError || e instanceof ParseError || e instanceof LoopFailure ? e.message : `${(e as Error).message}`;
      if (e instanceof ParseError && /html/i.test(contentType)) msg = `received ${contentType.split(';')[0]} instead of an exposition format: ${msg}`;
      out = { ok: false, error: msg, samplesScraped: 0, samplesPostRelabel: 0, seriesAdded: 0, durationMs: Date.now() - start };
    }
    if (this.stopped && !out.ok) return out;
    this.healthLog.observe(this.target.health, out, start);
    this.target.health = out.ok ? 'up' : 'down';
    this.target.lastError = out.error;
    this.target.lastScrapeDuration = out.durationMs / 1000;
    this.report(out, t);
    return out;
  }

  private forgetPrevious(): void {
    this.prevPositions.reset(Buffer.alloc(0));
    this.prevEntries = [];
  }

  /** Parses and writes one body. Throws (after rolling back) when the scrape must fail. */
  private append(body: Buffer, contentType: string, t: number, start: number): ScrapeOutcome {
    const format: ExpositionFormat = formatFromContentType(contentType);
    const app = this.storage.appender();
    const iter = this.iter;
    const opts = this.opts;
    const metadata = new Map<string, MetricMeta>();
    let scraped = 0;
    let post = 0;
    let added = 0;
    let touched = 0;
    const created: SeriesState[] = [];
    const prevEntries = this.prevEntries;
    const entries = this.curEntries;
    entries.length = 0;
    const skipped = new Skipped();
    try {
      scanExposition(
        body,
        format,
        {
          sample: (b, s, e, value, ts, line, same) => {
            let st = same >= 0 ? prevEntries[same] : undefined;
            if (st === undefined || (st !== DROPPED && st.dead)) {
              const resolved = this.resolve(textOf(b, s, e), line, format);
              if (resolved.added) {
                added++;
                created.push(resolved.state as SeriesState);
              }
              st = resolved.state;
              if (same >= 0) prevEntries[same] = st;
            }
            entries.push(st);
            scraped++;
            if (st === DROPPED) return;
            post++;
            if (opts.sampleLimit > 0 && post > opts.sampleLimit) throw new LoopFailure(`sample_limit exceeded: more than ${opts.sampleLimit} samples after metric relabelling`);
            const explicit = ts !== undefined && opts.honorTimestamps;
            const when = explicit ? ts : t;
            if (st.iter === iter && st.lastT === when) {
              // Prometheus keeps the scrape and the first value, and counts the duplicate.
              skipped.add('duplicate', `line ${line}: duplicate series ${formatLabels(st.labels)}`);
              return;
            }
            if (st.iter !== iter) touched++;
            st.iter = iter;
            st.lastT = when;
            st.explicit = explicit;
            try {
              st.ref = app.append(st.ref, st.labels, when, value);
            } catch (e) {
              // Prometheus skips out-of-order, duplicate and out-of-bounds samples of one series,
              // keeps the scrape and counts them.
              if (!(e instanceof StorageError)) throw e;
              if (e.code === 'out_of_bounds') skipped.add('outOfBounds', `line ${line}: ${e.message}`);
              else if (e.code === 'duplicate_sample') skipped.add('duplicate', `line ${line}: ${e.message}`);
              else if (e.code === 'out_of_order') skipped.add('outOfOrder', `line ${line}: ${e.message}`);
              else throw e;
            }
          },
        },
        metadata,
        { maxLineLength: MAX_LINE_LENGTH, previous: this.prevPositions, record: this.curPositions },
      );
      // Series of the previous scrape that are gone get a staleness marker.
      if (this.states.size > touched) {
        for (const st of this.states.sweep((x) => x.iter !== iter)) if (this.marksStale(st)) this.tryAppend(app, st.ref, st.labels, t, STALE_NAN);
      }
      app.commit();
    } catch (e) {
      app.rollback();
      // Series first seen in this failed attempt were never written: forget them, so that only
      // the previous scrape's series get staleness markers (in report()).
      for (const st of created) this.states.delete(st);
      this.curPositions.reset(Buffer.alloc(0));
      entries.length = 0;
      throw e;
    }
    if (iter % 10 === 0 && this.labelPoolSize > 4 * this.states.size + 10_000) {
      this.labelPool = new Map();
      this.labelPoolSize = 0;
    }
    this.metadata = metadata;
    // This body's positions become the reference for the next one.
    this.curPositions.compact();
    [this.prevPositions, this.curPositions] = [this.curPositions, this.prevPositions];
    this.curPositions.reset(Buffer.alloc(0));
    this.prevEntries = entries;
    this.curEntries = prevEntries;
    this.counts.outOfBounds += skipped.outOfBounds;
    this.counts.duplicateTimestamp += skipped.duplicate;
    this.counts.outOfOrder += skipped.outOfOrder;
    const error = skipped.describe();
    if (error) this.log?.warn({ target: this.target.scrapeUrl, error }, 'scrape samples not stored');
    return { ok: true, error, samplesScraped: scraped, samplesPostRelabel: post, seriesAdded: added, durationMs: Date.now() - start };
  }

  /** Builds the final labels of a series text not seen before and checks the label limits. */
  private resolve(series: string, line: number, format: ExpositionFormat): { state: CacheEntry; added: boolean } {
    const parsed = parseSeries(series, line, format);
    const merged = withTargetLabels(parsed, this.target.publicLabels, this.opts.honorLabels);
    const labels = relabel(merged, this.opts.metricRelabel);
    if (!labels) return { state: DROPPED, added: false };
    if (!labels.some((l) => l.name === METRIC_NAME)) throw new LoopFailure(`line ${line}: series ${series.slice(0, 100)} has no metric name after metric relabelling`);
    const o = this.opts;
    if (o.labelLimit > 0 && labels.length > o.labelLimit) throw new LoopFailure(`label_limit exceeded: ${formatLabels(labels)} has ${labels.length} labels, limit ${o.labelLimit}`);
    for (const l of labels) {
      if (o.labelNameLengthLimit > 0 && l.name.length > o.labelNameLengthLimit) throw new LoopFailure(`label_name_length_limit exceeded: label name ${l.name.slice(0, 60)} is ${l.name.length} long, limit ${o.labelNameLengthLimit}`);
      if (o.labelValueLengthLimit > 0 && l.value.length > o.labelValueLengthLimit) throw new LoopFailure(`label_value_length_limit exceeded: value of ${l.name} is ${l.value.length} long, limit ${o.labelValueLengthLimit}`);
    }
    const h = hashLabels(labels);
    let st = this.states.get(labels, h);
    let added = false;
    if (!st) {
      st = { labels: this.share(labels), hash: h, next: undefined, ref: 0, iter: 0, lastT: 0, explicit: false, dead: false };
      this.states.add(st);
      added = true;
    }
    return { state: st, added };
  }

  /** The same labels built from pooled Label objects, so series of a target share them. */
  private share(labels: Labels): Labels {
    const out = new Array<Label>(labels.length);
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i];
      let byValue = this.labelPool.get(l.name);
      if (!byValue) {
        byValue = new Map();
        this.labelPool.set(l.name, byValue);
      }
      let shared = byValue.get(l.value);
      if (!shared) {
        shared = l;
        byValue.set(l.value, l);
        this.labelPoolSize++;
      }
      out[i] = shared;
    }
    return out;
  }

  private tryAppend(app: Appender, ref: SeriesRef, labels: Labels, t: number, v: number): SeriesRef {
    try {
      return app.append(ref, labels, t, v);
    } catch (e) {
      if (e instanceof StorageError && e.code !== 'closed') return ref;
      throw e;
    }
  }

  private markAllStale(app: Appender, t: number): void {
    for (const st of this.states.sweep(() => true)) if (this.marksStale(st)) this.tryAppend(app, st.ref, st.labels, t, STALE_NAN);
  }

  /** Prometheus writes no staleness marker for a series exposed with its own timestamp, unless told to. */
  private marksStale(st: SeriesState): boolean {
    return !st.explicit || this.opts.trackTimestampsStaleness === true;
  }

  /** Writes the report series; after a failure, also marks the previous scrape's series stale. */
  private report(out: ScrapeOutcome, t: number): void {
    const app = this.storage.appender();
    try {
      if (!out.ok) this.markAllStale(app, t);
      const values = [out.ok ? 1 : 0, out.durationMs / 1000, out.samplesScraped, out.samplesPostRelabel, out.seriesAdded];
      this.reportLabels.forEach((ls, i) => {
        const k = labelsKey(ls);
        this.reportRefs.set(k, this.tryAppend(app, this.reportRefs.get(k) ?? 0, ls, t, values[i]));
      });
      app.commit();
      this.reported = true;
    } catch (e) {
      app.rollback();
      this.log?.error({ err: e, target: this.target.scrapeUrl }, 'writing scrape report failed');
    }
  }
}

/**
 * Attaches target labels to a scraped series as Prometheus does: with honor_labels the
 * series' own labels win; otherwise target labels win and clashing series labels are kept as
 * `exported_<name>`.
 */
export function withTargetLabels(series: Labels, target: Labels, honor: boolean): Labels {
  if (target.length === 0) return series;
  const m = new Map<string, string>();
  for (const l of series) m.set(l.name, l.value);
  for (const l of target) {
    const existing = m.get(l.name);
    if (existing !== undefined && existing !== '') {
      if (honor) continue;
      let name = 'exported_' + l.name;
      while (m.has(name) || target.some((x) => x.name === name)) name = 'exported_' + name;
      m.set(name, existing);
    }
    m.set(l.name, l.value);
  }
  const out: Label[] = [];
  for (const [name, value] of m) if (value !== '') out.push({ name, value });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
