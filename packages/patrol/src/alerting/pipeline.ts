// The notification pipeline of one flush (Alertmanager's notify.BuildPipeline): inhibition,
// time muting, silencing, then for each integration of the receiver, concurrently: dedup
// against the notification log, send with retries, record in the log.

import type { Logger } from 'pino';
import type { FailureReason, Integration, NotifyContext, NotifyResult } from '../notify/notifier.js';
import { resolvedAt, type Alert } from '../model/alert.js';
import type { NflogEntry, NotificationLog } from './nflog.js';
import type { PipelineMetrics } from './metrics.js';

/** Silences and inhibition rules both mute alerts (Alertmanager's types.Muter). */
export interface Muter {
  /** True when the alert must not be notified; records why on the alert's status. */
  mutes(alert: Alert, now: number): boolean;
}

/** Decides per route whether a flush falls into a mute/active time interval. */
export interface TimeMuter {
  /** True when the group's route mutes at `now` (mute_time_intervals, outside active_time_intervals). */
  muted(muteIntervals: readonly string[], activeIntervals: readonly string[], now: number): boolean;
}

export interface Receiver {
  readonly name: string;
  readonly integrations: readonly Integration[];
}

export interface FlushRequest extends Omit<NotifyContext, 'signal'> {
  readonly repeatInterval: number;
  readonly muteTimeIntervals: readonly string[];
  readonly activeTimeIntervals: readonly string[];
}

/** `<receiver>/<integration>/<index>`: Alertmanager's name for one integration of a receiver. */
export function integrationKey(receiver: string, i: Integration): string {
  return `${receiver}/${i.name}/${i.index}`;
}

/** Alertmanager's DedupStage.needsUpdate. */
export function needsUpdate(entry: NflogEntry | undefined, firing: ReadonlySet<string>, resolved: ReadonlySet<string>, sendResolved: boolean, repeatInterval: number, now: number): boolean {
  // Never notified: only when something fires.
  if (!entry) return firing.size > 0;
  // Something fires that was not notified firing.
  for (const fp of firing) if (!entry.firing.has(fp)) return true;
  // Everything resolved: notify once, so that the log no longer holds firing alerts (whether
  // or not resolved alerts are sent).
  if (firing.size === 0) return entry.firing.size > 0;
  if (sendResolved) for (const fp of resolved) if (!entry.resolved.has(fp)) return true;
  return entry.timestamp < now - repeatInterval;
}

/** Patrol's additions (escalation.ts): dependency holds, acknowledgements and history. */
export interface PipelineHooks {
  /** Applied after inhibition: dependency-aware suppression. */
  hold?: Muter;
  /** A firing alert that is acknowledged does not make its group repeat. */
  acked?(a: Alert, now: number): boolean;
  /** An alert the pipeline kept back, and why. */
  muted?(a: Alert, by: 'inhibited' | 'held' | 'silenced', now: number): void;
  /** Alerts that went on to the integrations. */
  passed?(alerts: readonly Alert[], now: number): void;
  /** One notification attempt and its outcome. */
  attempt?(ctx: NotifyContext, integ: Integration, alerts: readonly Alert[], r: NotifyResult, ms: number): void;
  /** A firing alert's acknowledgement link for the messages. */
  ackURL?: ((fingerprint: string) => string) | undefined;
}

export interface PipelineOptions {
  receivers: ReadonlyMap<string, Receiver>;
  nflog: NotificationLog;
  inhibitor?: Muter;
  silencer?: Muter;
  timeMuter?: TimeMuter;
  logger: Logger;
  metrics?: PipelineMetrics;
  /** Backoff between attempts (ms): first interval, multiplier cap. Alertmanager: 500ms ×1.5 up to 60s. */
  backoff?: { initial: number; max: number };
  hooks?: PipelineHooks;
}

export class Pipeline {
  constructor(private readonly o: PipelineOptions) {}

  /** Runs one flush; resolves true when every integration succeeded (or nothing was due). */
  async exec(req: FlushRequest, alerts: Alert[], signal: AbortSignal): Promise<boolean> {
    const now = req.now;
    const recv = this.o.receivers.get(req.receiver);
    if (!recv) {
      this.o.logger.error({ receiver: req.receiver }, 'no receiver of that name; alerts dropped');
      return false;
    }
    const h = this.o.hooks;
    const keep = (m: Muter | undefined, by: 'inhibited' | 'held' | 'silenced') => (a: Alert) => {
      if (!m!.mutes(a, now)) return true;
      h?.muted?.(a, by, now);
      return false;
    };
    let as = alerts;
    if (this.o.inhibitor) as = as.filter(keep(this.o.inhibitor, 'inhibited'));
    if (h?.hold) as = as.filter(keep(h.hold, 'held'));
    if (as.length === 0) return true;
    if (this.o.timeMuter?.muted(req.muteTimeIntervals, req.activeTimeIntervals, now)) return true;
    if (this.o.silencer) as = as.filter(keep(this.o.silencer, 'silenced'));
    if (as.length === 0) return true;
    // What is sent: copies of the firing alerts with endsAt cleared (Alertmanager's aggrGroup.flush),
    // made only for the alerts that passed.
    as = as.map((a) => (resolvedAt(a, now) ? a : { ...a, endsAt: 0 }));
    h?.passed?.(as, now);
    const ctx: NotifyContext = { ...req, signal, ackURL: h?.ackURL };
    // Every firing alert acknowledged: new or resolved alerts are still sent, repeats are not.
    let repeatInterval = req.repeatInterval;
    if (h?.acked && as.some((a) => !resolvedAt(a, now)) && as.every((a) => resolvedAt(a, now) || h.acked!(a, now))) repeatInterval = Infinity;
    const results = await Promise.all(recv.integrations.map((i) => this.integration(ctx, repeatInterval, i, as)));
    return results.every(Boolean);
  }

  private async integration(ctx: NotifyContext, repeatInterval: number, integ: Integration, alerts: Alert[]): Promise<boolean> {
    const key = integrationKey(ctx.receiver, integ);
    const firing: string[] = [];
    const resolved: string[] = [];
    for (const a of alerts) (resolvedAt(a, ctx.now) ? resolved : firing).push(a.fingerprint);
    const entry = this.o.nflog.query(key, ctx.groupKey);
    if (!needsUpdate(entry, new Set(firing), new Set(resolved), integ.sendResolved, repeatInterval, Date.now())) return true;
    // Alertmanager's RetryStage counts a notification once per integration it runs for (retries
    // are counted as requests), including the resolved-only flush it records without sending.
    this.o.metrics?.notification(integ.name);
    let sent = alerts;
    if (!integ.sendResolved) {
      // Nothing firing: recorded as notified without sending (the log must learn it).
      if (firing.length === 0) {
        await this.o.nflog.log(key, ctx.groupKey, firing, resolved, Date.now());
        return true;
      }
      sent = alerts.filter((a) => !resolvedAt(a, ctx.now));
    }
    const failure = await this.retry(ctx, integ, sent);
    if (failure) {
      this.o.metrics?.notificationFailed(integ.name, failure);
      return false;
    }
    await this.o.nflog.log(key, ctx.groupKey, firing, resolved, Date.now());
    return true;
  }

  /**
   * Alertmanager's RetryStage: retries retryable failures with exponential backoff until the
   * flush's time is up. Resolves undefined on success, else the last attempt's failure reason.
   */
  private async retry(ctx: NotifyContext, integ: Integration, alerts: Alert[]): Promise<FailureReason | undefined> {
    const log = this.o.logger.child({ receiver: ctx.receiver, integration: `${integ.name}[${integ.index}]` });
    let interval = this.o.backoff?.initial ?? 500;
    const max = this.o.backoff?.max ?? 60_000;
    let lastError = '';
    let lastReason: FailureReason = 'other';
    for (let attempt = 1; ; attempt++) {
      if (ctx.signal.aborted) {
        log.error({ attempts: attempt - 1, err: lastError || String(ctx.signal.reason) }, 'notify retry canceled');
        return lastReason;
      }
      const start = performance.now();
      const r = await integ.notify(ctx, alerts);
      const ms = performance.now() - start;
      this.o.metrics?.request(integ.name, ms / 1000, r.ok);
      this.o.hooks?.attempt?.(ctx, integ, alerts, r, ms);
      if (r.ok) {
        log.debug({ attempts: attempt, group: ctx.groupKey }, 'notify success');
        return undefined;
      }
      lastReason = r.reason ?? 'other';
      if (!r.retry) {
        log.error({ attempts: attempt, err: r.error, group: ctx.groupKey }, 'notify retry canceled due to unrecoverable error');
        return lastReason;
      }
      if (r.error !== lastError) log.warn({ attempts: attempt, err: r.error, group: ctx.groupKey }, 'notify attempt failed, will retry later');
      lastError = r.error;
      // ±50% randomisation, as backoff.ExponentialBackOff does.
      await sleep(interval * (0.5 + Math.random()), ctx.signal);
      interval = Math.min(interval * 1.5, max);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
