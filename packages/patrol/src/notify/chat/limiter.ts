// The per-robot rate limiter. Each robot (one webhook address) takes a documented number of
// messages per window (DingTalk: 20 a minute). Notifications that arrive while the budget is
// spent queue up, one entry per aggregation group (a newer flush of a group replaces its older
// entry), and go out MERGED into one message as soon as the window lets one through: nothing
// is dropped, and the robot never sees more than its limit. A robot that answers "too many"
// anyway (another sender shares it) holds the batch for a window and merges it with what
// comes next.
//
// Retries stay the dispatcher's (pipeline.ts): a network error or 5xx is handed back as a
// retryable result, and the pipeline's next attempt queues the group again.

import type { Alert } from '../../model/alert.js';
import type { NotifyResult } from '../notifier.js';
import type { GroupNote } from './message.js';

export interface RateLimit {
  /** Messages per window. */
  readonly limit: number;
  /** ms. */
  readonly windowMs: number;
  /**
   * ms the robot refuses everything once it said "too many" (DingTalk documents 10 minutes);
   * the limiter holds that long before trying again. One window when absent.
   */
  readonly holdMs?: number;
}

/** What one send of a batch came to. */
export type BatchOutcome = { kind: 'done'; result: NotifyResult } | { kind: 'rate-limited'; error: string };

export type BatchSender = (batch: readonly GroupNote[]) => Promise<BatchOutcome>;

interface Entry extends GroupNote {
  /** The queue's key: the integration and the group. */
  key: string;
  /** The integration that queued it: only its own entries merge into its messages. */
  owner: object;
  send: BatchSender;
  waiters: ((r: NotifyResult) => void)[];
}

export interface LimiterStats {
  /** Messages sent (each a batch of one or more groups). */
  sent: number;
  /** Groups delivered, counting each merged one. */
  groups: number;
  /** Times the robot said "too many" although the limiter kept count. */
  rateLimited: number;
  /** Largest batch merged into one message. */
  largestBatch: number;
}

export class RobotLimiter {
  private readonly queue = new Map<string, Entry>();
  private readonly stamps: number[] = [];
  private running = false;
  private holdUntil = 0;
  private wake: (() => void) | null = null;
  readonly stats: LimiterStats = { sent: 0, groups: 0, rateLimited: 0, largestBatch: 0 };

  constructor(public rate: RateLimit) {}

  /**
   * Queues one group's notification and resolves with the result of the message that carried
   * it. When `signal` aborts first, the entry stays queued (it is still delivered, merged) and
   * the caller is told it was held.
   */
  submit(owner: object, ownerKey: string, groupKey: string, groupLabels: Readonly<Record<string, string>>, alerts: readonly Alert[], send: BatchSender, signal: AbortSignal): Promise<NotifyResult> {
    const key = `${ownerKey}\u0000${groupKey}`;
    return new Promise((resolve) => {
      const prev = this.queue.get(key);
      const waiters = prev ? prev.waiters : [];
      let settled = false;
      const waiter = (r: NotifyResult) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = () => waiter({ ok: false, retry: true, error: `held by the robot's rate limit (${this.queue.size} groups queued); it goes out merged with them` });
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      waiters.push(waiter);
      // A newer flush of the same group replaces the queued one (its alerts are the current ones).
      this.queue.delete(key);
      this.queue.set(key, { key, owner, groupKey, groupLabels, alerts, send, waiters });
      void this.pump();
    });
  }

  /** Queued groups. */
  get pending(): number {
    return this.queue.size;
  }

  /** ms until the next message may go (0: now). */
  private waitTime(now: number): number {
    // A margin for the robot's clock and the request's travel: the robot counts on arrival.
    const margin = Math.max(20, Math.ceil(this.rate.windowMs / 50));
    while (this.stamps.length && this.stamps[0] + this.rate.windowMs + margin <= now) this.stamps.shift();
    let wait = 0;
    if (this.stamps.length >= this.rate.limit) wait = this.stamps[0] + this.rate.windowMs + margin - now;
    return Math.max(wait, this.holdUntil - now, 0);
  }

  private budget(): number {
    return Math.max(0, this.rate.limit - this.stamps.length);
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.size > 0) {
        const wait = this.waitTime(Date.now());
        if (wait > 0) {
          await new Promise<void>((r) => {
            const t = setTimeout(r, wait);
            t.unref?.();
          });
          continue;
        }
        // While the budget covers every queued group, each goes alone; past that they merge,
        // spread evenly over the messages the window still allows.
        const all = [...this.queue.values()];
        const budget = Math.max(1, this.budget());
        // Two integrations may share a robot: each message carries one integration's groups.
        const batch = all.filter((e) => e.owner === all[0].owner).slice(0, Math.ceil(all.length / budget));
        for (const e of batch) this.queue.delete(e.key);
        this.stamps.push(Date.now());
        const send = batch[batch.length - 1].send;
        let out: BatchOutcome;
        try {
          out = await send(batch);
        } catch (e) {
          out = { kind: 'done', result: { ok: false, retry: true, error: (e as Error).message } };
        }
        if (out.kind === 'rate-limited') {
          this.stats.rateLimited++;
          // Hold while the robot blocks (a window unless it documents longer), then send the
          // batch merged with whatever joined it.
          this.holdUntil = Date.now() + (this.rate.holdMs ?? this.rate.windowMs);
          for (const e of batch) {
            const newer = this.queue.get(e.key);
            if (newer) newer.waiters.unshift(...e.waiters);
            else this.queue.set(e.key, e);
          }
          continue;
        }
        this.stats.sent++;
        if (out.result.ok) this.stats.groups += batch.length;
        this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
        for (const e of batch) for (const w of e.waiters) w(out.result);
      }
    } finally {
      this.running = false;
    }
  }
}

const limiters = new Map<string, RobotLimiter>();

/**
 * The limiter of one robot, shared by every integration that sends to it (two receivers may
 * name the same robot) and kept across reloads. `id` identifies the robot (a hash of its
 * address, never the address).
 */
export function robotLimiter(id: string, rate: RateLimit): RobotLimiter {
  let l = limiters.get(id);
  if (!l) limiters.set(id, (l = new RobotLimiter(rate)));
  else l.rate = rate;
  return l;
}
