// A rule group: its rules evaluated in order at aligned times, each rule's result appended (and
// committed, so later rules of the same evaluation see it) with staleness markers for series a
// rule stopped returning. Prometheus's semantics (rules/group.go), rewritten for one event loop:
// the group yields between rules, and a failing rule only marks itself unhealthy.

import type { Logger } from 'pino';
import { labelsToRecord, METRIC_NAME, type Labels } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN, STALE_NAN } from '../model/value.js';
import { collectSeries, loadSamples, StorageError, type Storage } from '../storage/interface.js';
import { AlertingRule, type Alert } from './alerting.js';
import { guarded } from '../producer.js';
import { evalSlotNs } from './hash.js';
import type { RuleMetrics } from './metrics.js';
import { labelsId, type QueryFunc, type RuleBase } from './rule.js';

/** Receives the alerts due for sending after a rule's evaluation (the dispatcher, Alertmanagers). */
export type NotifyFunc = (expr: string, alerts: Alert[]) => void;

export interface GroupOptions {
  file: string;
  name: string;
  /** Milliseconds. */
  interval: number;
  queryOffset: number;
  limit: number;
  rules: RuleBase[];
  storage: Storage;
  query: QueryFunc;
  notify: NotifyFunc;
  metrics: RuleMetrics;
  logger: Logger;
  /** Restore the `for` state from ALERTS_FOR_STATE after the second evaluation (first start). */
  shouldRestore: boolean;
  /** Prometheus's --rules.alert.resend-delay (1m), for-outage-tolerance (1h), for-grace-period (10m). */
  resendDelay?: number;
  outageTolerance?: number;
  forGracePeriod?: number;
  /** Wall clock in milliseconds; tests may pass their own. */
  now?: () => number;
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export function groupKey(file: string, name: string): string {
  return `${file};${name}`;
}

export class Group {
  readonly file: string;
  readonly name: string;
  readonly interval: number;
  readonly queryOffset: number;
  readonly limit: number;
  readonly rules: RuleBase[];
  /** Per rule: the series it wrote in its last evaluation, by identity. */
  private seriesInPreviousEval: Map<string, Labels>[];
  /** Series of rules no longer configured, marked stale at the next evaluation. */
  private staleSeries: Labels[] = [];
  /** Seconds the last evaluation took; wall-clock ms it started. */
  evaluationTime = 0;
  lastEvaluation = 0;
  /** Why the last iteration stopped short ('' when it ran through): the group is unhealthy then. */
  lastError = '';
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private readonly now: () => number;

  constructor(private readonly o: GroupOptions) {
    this.file = o.file;
    this.name = o.name;
    this.interval = o.interval;
    this.queryOffset = o.queryOffset;
    this.limit = o.limit;
    this.rules = o.rules;
    this.seriesInPreviousEval = o.rules.map(() => new Map());
    this.now = o.now ?? Date.now;
  }

  get key(): string {
    return groupKey(this.file, this.name);
  }

  private get metricLabel(): { rule_group: string } {
    return { rule_group: this.key };
  }

  /** Same definition (Prometheus's Group.Equals): an unchanged group keeps running on reload. */
  equals(other: Group): boolean {
    if (this.file !== other.file || this.name !== other.name || this.interval !== other.interval || this.limit !== other.limit || this.queryOffset !== other.queryOffset) return false;
    if (this.rules.length !== other.rules.length) return false;
    return this.rules.every((r, i) => ruleText(r) === ruleText(other.rules[i]));
  }

  /** Runs every rule once at `ts` (milliseconds), in order. Never throws for a rule's failure. */
  async eval(ts: number): Promise<void> {
    const started = performance.now();
    this.lastEvaluation = this.now();
    let samplesTotal = 0;
    for (let i = 0; i < this.rules.length; i++) {
      if (this.stopped) return;
      const rule = this.rules[i];
      const ruleStart = performance.now();
      rule.lastEvaluation = this.now();
      this.o.metrics.evaluations.inc(this.metricLabel);
      try {
        const vector = await rule.eval({ ts, queryOffset: this.queryOffset, query: this.o.query, limit: this.limit, signal: this.abort.signal });
        rule.health = 'ok';
        rule.lastError = '';
        if (rule instanceof AlertingRule && rule.templateError) rule.setError(rule.templateError);
        samplesTotal += vector.length;
        this.write(i, rule, vector, ts - this.queryOffset);
        if (rule instanceof AlertingRule) {
          const due = rule.alertsToSend(ts, this.o.resendDelay ?? 60_000, this.interval);
          // Whoever takes the alerts failing is this rule's failure, after its results are written.
          if (due.length) this.o.notify(rule.expr, due);
        }
      } catch (e) {
        if (this.stopped) return;
        this.ruleFailed(rule, e);
      } finally {
        rule.evaluationTime = (performance.now() - ruleStart) / 1000;
      }
      // One rule at a time: scrapes, probes and HTTP requests run between rules.
      await yieldToLoop();
    }
    this.cleanupStaleSeries(ts - this.queryOffset);
    this.evaluationTime = (performance.now() - started) / 1000;
    this.o.metrics.lastDuration.set(this.metricLabel, this.evaluationTime);
    this.o.metrics.lastEvaluation.set(this.metricLabel, this.lastEvaluation / 1000);
    this.o.metrics.samples.set(this.metricLabel, samplesTotal);
  }

  /** A rule's evaluation failed: it is unhealthy with the message, counted and logged. */
  private ruleFailed(rule: RuleBase, e: unknown): void {
    try {
      rule.setError(e);
      this.o.metrics.failures.inc(this.metricLabel);
      this.o.logger.warn({ group: this.name, file: this.file, rule: rule.name, err: rule.lastError }, 'evaluating rule failed');
    } catch {
      // Reporting must not be what stops the group.
    }
  }

  /** Appends one rule's result and stale markers for its series that disappeared; one commit. */
  private write(i: number, rule: RuleBase, vector: { labels: Labels; t: number; v: number }[], t: number): void {
    const app = this.o.storage.appender();
    const returned = new Map<string, Labels>();
    let dropped = 0;
    let firstErr = '';
    for (const s of vector) {
      try {
        app.append(0, s.labels, s.t, s.v);
        returned.set(labelsId(s.labels), s.labels);
      } catch (e) {
        if (!(e instanceof StorageError)) throw e;
        dropped++;
        firstErr ||= e.message;
      }
    }
    if (dropped > 0) {
      rule.setError(new Error(firstErr));
      this.o.logger.warn({ group: this.name, rule: rule.name, dropped, err: firstErr }, 'rule evaluation results discarded');
    }
    for (const [id, ls] of this.seriesInPreviousEval[i]) {
      if (!returned.has(id)) appendStale(app, ls, t);
    }
    try {
      app.commit();
      this.seriesInPreviousEval[i] = returned;
    } catch (e) {
      rule.setError(e);
      this.o.metrics.failures.inc(this.metricLabel);
    }
  }

  private cleanupStaleSeries(t: number): void {
    if (this.staleSeries.length === 0) return;
    try {
      const app = this.o.storage.appender();
      for (const ls of this.staleSeries) appendStale(app, ls, t);
      app.commit();
      this.staleSeries = [];
    } catch (e) {
      this.o.logger.warn({ group: this.name, err: (e as Error).message }, 'writing stale markers for removed rules failed');
    }
  }

  /**
   * Takes over the state of the group it replaces at a reload: series last written and active
   * alerts of the rules with the same name and labels (duplicates matched in order); series of
   * rules that went away are marked stale at the next evaluation.
   */
  copyState(from: Group): void {
    this.evaluationTime = from.evaluationTime;
    this.lastEvaluation = from.lastEvaluation;
    const byKey = new Map<string, number[]>();
    from.rules.forEach((r, i) => byKey.set(r.key(), [...(byKey.get(r.key()) ?? []), i]));
    this.rules.forEach((r, i) => {
      const idx = byKey.get(r.key());
      if (!idx || idx.length === 0) return;
      const fi = idx.shift()!;
      this.seriesInPreviousEval[i] = from.seriesInPreviousEval[fi];
      const old = from.rules[fi];
      r.health = old.health;
      r.lastError = old.lastError;
      r.lastEvaluation = old.lastEvaluation;
      r.evaluationTime = old.evaluationTime;
      if (r instanceof AlertingRule && old instanceof AlertingRule) for (const [k, a] of old.active) r.active.set(k, a);
    });
    this.staleSeries = [...from.staleSeries];
    for (const idx of byKey.values()) for (const fi of idx) this.staleSeries.push(...from.seriesInPreviousEval[fi].values());
  }

  /** Every series the group wrote last, for stale markers when the group goes away. */
  allSeries(): Labels[] {
    return [...this.staleSeries, ...this.seriesInPreviousEval.flatMap((m) => [...m.values()])];
  }

  /**
   * Restores `for` state after a restart (Prometheus's RestoreForState): for each active alert
   * of a rule whose `for` is at least the grace period, the last ALERTS_FOR_STATE sample within
   * the outage tolerance gives when it became active; the time the server was down is added, or,
   * when less than the grace period would remain, it fires at the earliest one grace period on.
   */
  restoreForState(ts: number): void {
    const tolerance = this.o.outageTolerance ?? 3_600_000;
    const grace = this.o.forGracePeriod ?? 600_000;
    const q = this.o.storage.querier(ts - tolerance, ts);
    try {
      for (const rule of this.rules) {
        if (!(rule instanceof AlertingRule)) continue;
        if (rule.holdDuration < grace) {
          rule.restored = true;
          continue;
        }
        let series;
        try {
          series = collectSeries(q.select({ start: ts - tolerance, end: ts }, [new Matcher('=', METRIC_NAME, 'ALERTS_FOR_STATE'), new Matcher('=', 'alertname', rule.name)]));
        } catch (e) {
          this.o.logger.error({ group: this.name, alertname: rule.name, err: (e as Error).message }, "failed to restore 'for' state");
          rule.restored = true;
          continue;
        }
        const byLabels = new Map<string, (typeof series)[number]>();
        for (const s of series) {
          const rec = labelsToRecord(s.labels);
          delete rec[METRIC_NAME];
          byLabels.set(JSON.stringify(Object.entries(rec).sort()), s);
        }
        for (const a of rule.active.values()) {
          const s = byLabels.get(JSON.stringify(Object.entries(labelsToRecord(a.labels)).sort()));
          if (!s) continue;
          let samples;
          try {
            samples = loadSamples(s.iterator(), ts - tolerance, ts);
          } catch (e) {
            this.o.logger.error({ group: this.name, alertname: rule.name, err: (e as Error).message }, "failed to restore 'for' state");
            continue;
          }
          const n = samples.values.length;
          if (n === 0) continue;
          const v = samples.values[n - 1];
          if (isStaleNaN(v)) continue;
          const downAt = Math.floor(samples.timestamps[n - 1] / 1000) * 1000;
          let activeAt = Math.trunc(v) * 1000;
          const remaining = rule.holdDuration - (downAt - activeAt);
          if (remaining <= 0) {
            // It was firing; the next evaluation fires it again if the condition still holds.
          } else if (remaining < grace) {
            activeAt = ts + grace - rule.holdDuration;
          } else {
            activeAt += ts - downAt;
          }
          a.activeAt = activeAt;
        }
        rule.restored = true;
      }
    } finally {
      q.close();
    }
  }

  /**
   * Starts evaluating on the group's slots: the first at the next slot after now, then every
   * interval; evaluations that could not start in time are counted as missed.
   */
  start(): void {
    this.running = this.run().catch((e: unknown) => {
      this.o.logger.error({ group: this.name, err: (e as Error).message }, 'rule group stopped unexpectedly');
    });
  }

  private sleepUntil(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      this.wake = resolve;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.wake = null;
        resolve();
      }, Math.max(0, ms - this.now()));
    });
  }

  private async run(): Promise<void> {
    const intervalNs = BigInt(this.interval) * 1_000_000n;
    let evalNs = evalSlotNs(this.file, this.name, this.interval, this.now()) + intervalNs;
    const toMs = (ns: bigint): number => Number(ns / 1_000_000n);
    await this.sleepUntil(toMs(evalNs));
    let evaluated = 0;
    let restorePending = this.o.shouldRestore;
    while (!this.stopped) {
      this.o.metrics.iterations.inc(this.metricLabel);
      const at = toMs(evalNs);
      // The edge of the producer: whatever one iteration throws (a rule, the appender, notify,
      // the restore) is counted and logged, the group is unhealthy until an iteration succeeds,
      // and it keeps its timer.
      let failure = '';
      const ok = await guarded(
        'rule',
        async () => {
          try {
            await this.eval(at);
            evaluated++;
            // After the second evaluation, as Prometheus: recording rules have caught up by then.
            if (restorePending && evaluated >= 2 && !this.stopped) {
              restorePending = false;
              try {
                this.restoreForState(this.now());
              } finally {
                // Restored or not, the alerts are not held back any longer.
                for (const r of this.rules) if (r instanceof AlertingRule) r.restored = true;
              }
            }
            return true;
          } catch (e) {
            failure = e instanceof Error ? e.message : String(e);
            throw e;
          }
        },
        this.o.logger,
        { group: this.name, file: this.file },
      );
      this.lastError = ok === true || this.stopped ? '' : failure || 'evaluation failed';
      // The next tick of the slot grid after now; the ticks that passed meanwhile are missed.
      const now = this.now();
      const evalMs = toMs(evalNs);
      const ticks = Math.max(1, Math.floor((now - evalMs) / this.interval) + 1);
      await this.sleepUntil(evalMs + ticks * this.interval);
      if (this.stopped) break;
      const missed = Math.floor((this.now() - evalMs) / this.interval) - 1;
      if (missed > 0) {
        this.o.metrics.missed.inc(this.metricLabel, missed);
        this.o.metrics.iterations.inc(this.metricLabel, missed);
      }
      evalNs += BigInt(Math.max(missed, 0) + 1) * intervalNs;
    }
  }

  /** Stops the timer and any running evaluation (its query is aborted); resolves when idle. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake?.();
    this.wake = null;
    await this.running;
  }
}

function ruleText(r: RuleBase): string {
  const extra = r instanceof AlertingRule ? JSON.stringify([r.holdDuration, r.keepFiringFor, r.annotations]) : '';
  return `${r instanceof AlertingRule ? 'alert' : 'record'}:${r.name}\n${r.expr}\n${JSON.stringify(r.labels)}\n${extra}`;
}

/** Appends a staleness marker; a storage refusal is expected when another rule now writes the series (out of order, duplicate). */
function appendStale(app: ReturnType<Storage['appender']>, ls: Labels, t: number): void {
  try {
    app.append(0, ls, Math.floor(t), STALE_NAN);
  } catch (e) {
    if (!(e instanceof StorageError)) throw e;
  }
}
