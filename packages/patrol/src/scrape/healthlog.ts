// What a scrape loop tells the log: at debug every scrape; a target going down (its first
// failure included) as a warning with the reason; coming back as info. While a target stays
// down, a changed reason is logged again at most once per `repeatMs`, so a flapping or broken
// target cannot flood the log.

import type { Logger } from 'pino';
import type { TargetHealth } from './target.js';

export interface ScrapeResultForLog {
  ok: boolean;
  error: string;
  durationMs: number;
  samplesScraped: number;
}

export class TargetHealthLog {
  private downSince = 0;
  private lastWarn = 0;
  private lastReason = '';

  constructor(
    private readonly log: Logger | undefined,
    /** Names the target in every line (job, instance). */
    private readonly fields: Record<string, string>,
    private readonly repeatMs = 10 * 60_000,
  ) {}

  /** Records one scrape outcome; `prev` is the target's health before it. */
  observe(prev: TargetHealth, out: ScrapeResultForLog, now: number): void {
    const log = this.log;
    if (!log) return;
    if (log.isLevelEnabled('debug')) {
      log.debug({ ...this.fields, ok: out.ok, duration_seconds: out.durationMs / 1000, samples: out.samplesScraped, ...(out.ok ? {} : { reason: out.error }) }, 'scrape');
    }
    if (!out.ok) {
      if (prev !== 'down') {
        this.downSince = now;
        this.lastWarn = now;
        this.lastReason = out.error;
        log.warn({ ...this.fields, reason: out.error }, prev === 'unknown' ? 'first scrape of target failed' : 'scrape target down');
      } else if (out.error !== this.lastReason && now - this.lastWarn >= this.repeatMs) {
        this.lastWarn = now;
        this.lastReason = out.error;
        log.warn({ ...this.fields, reason: out.error, down_since: new Date(this.downSince).toISOString() }, 'scrape target still down');
      }
    } else if (prev === 'down') {
      log.info({ ...this.fields, down_seconds: Math.max(0, now - this.downSince) / 1000 }, 'scrape target up');
    }
  }
}
