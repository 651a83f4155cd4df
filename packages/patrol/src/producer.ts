// The edge of every producer (probe runs, scrapes, collectors, discovery refreshes, rule
// evaluations): whatever one run throws, synchronously or asynchronously, is caught here,
// counted in patrol_producer_errors_total{producer}, logged (at most once a minute per producer,
// with how many were not logged), and the producer's loop goes on. Nothing escapes as an
// uncaught exception or an unhandled rejection.

import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

export type ProducerKind = 'probe' | 'scrape' | 'collector' | 'host' | 'discovery' | 'rule' | 'request' | 'other';

/** Process-wide: producers of every Patrol instance in the process count here. */
export const producerErrors = new Counter({
  name: 'patrol_producer_errors_total',
  help: 'Errors that escaped one run of a producer (probe, scrape, collector, discovery, rule) and were caught at its edge; the producer kept running.',
  labelNames: ['producer'] as const,
  registers: [],
});

/** Minimum time between two log lines for the same producer kind. */
export const LOG_EVERY_MS = 60_000;

let fallbackLog: Logger | undefined;
const lastLogged = new Map<string, { at: number; suppressed: number }>();

/** Adds the counter to a registry (once per registry) and sets the logger used when a producer has none. */
export function registerProducerErrors(registry: Registry, log?: Logger): void {
  if (!registry.getSingleMetric('patrol_producer_errors_total')) registry.registerMetric(producerErrors);
  if (log) fallbackLog = log;
}

/** Counts and (rate-limited) logs an error caught at a producer's edge. Never throws. */
export function reportProducerError(producer: ProducerKind, err: unknown, log?: Logger, context: Record<string, unknown> = {}): void {
  try {
    producerErrors.inc({ producer });
    const now = Date.now();
    const seen = lastLogged.get(producer);
    if (seen && now - seen.at < LOG_EVERY_MS) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    lastLogged.set(producer, { at: now, suppressed: 0 });
    const l = log ?? fallbackLog;
    const e = err instanceof Error ? err : new Error(String(err));
    l?.error({ producer, err: e, ...context, ...(suppressed ? { notLogged: suppressed } : {}) }, `${producer} run failed unexpectedly; it keeps running`);
  } catch {
    // Reporting must never be what breaks a loop.
  }
}

/**
 * Runs one producer run and resolves when it is over, whatever it did: a synchronous throw or
 * a rejection is reported and resolves to undefined.
 */
export async function guarded<T>(producer: ProducerKind, fn: () => T | Promise<T>, log?: Logger, context?: Record<string, unknown>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    reportProducerError(producer, e, log, context);
    return undefined;
  }
}
