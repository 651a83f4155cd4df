// Patrol's collector sections: `host:` (the machine Patrol runs on, node_exporter's names) and
// `collectors:` (textfile directory, script collectors, Go expvar endpoints). Intervals left out
// take global.scrape_interval; the components resolve them (see resolveInterval).

import { z } from 'zod';
import { duration, labelSet, text, url } from './fields.js';
import { formatDuration } from '../model/duration.js';

export const hostConfig = z.strictObject({
  enabled: z.boolean().default(true),
  /** Defaults to global.scrape_interval. */
  interval: duration.optional(),
  job: text.pipe(z.string().min(1)).default('host'),
  /** Extra labels on every host series; `instance` may be overridden here (default: hostname). */
  labels: labelSet.default({}),
  /** Where procfs and sysfs are mounted (node_exporter's --path.procfs / --path.sysfs). */
  procfs: z.string().default('/proc'),
  sysfs: z.string().default('/sys'),
});

export const textfileCollectorConfig = z.strictObject({
  directory: z.string().min(1),
  /** Defaults to global.scrape_interval. */
  interval: duration.optional(),
});

const collectorName = z
  .string()
  .min(1)
  .regex(/^[a-zA-Z0-9_.:-]+$/, { error: (iss) => `${JSON.stringify(iss.input)} is not a collector name (letters, digits, _ . : - only)` });

const DEFAULT_TIMEOUT = 10_000;

/**
 * Only a timeout the user wrote can be an error: the default one is capped at the interval where
 * the collector runs (the global scrape_interval when it has none).
 */
function explicitTimeoutFits(c: { interval?: number; timeout?: number }, ctx: z.RefinementCtx): void {
  if (c.interval !== undefined && c.timeout !== undefined && c.timeout > c.interval) {
    ctx.addIssue({ code: 'custom', message: `timeout ${formatDuration(c.timeout)} is greater than interval ${formatDuration(c.interval)}`, path: ['timeout'] });
  }
}

export const scriptCollectorConfig = z.strictObject({
  name: collectorName,
  command: z.string().min(1),
  args: z.array(text).default([]),
  /** Defaults to global.scrape_interval. */
  interval: duration.optional(),
  /** Defaults to 10s, or the interval when that is shorter. */
  timeout: duration.optional(),
  labels: labelSet.default({}),
})
  .superRefine(explicitTimeoutFits)
  .transform((c) => ({ ...c, timeout: c.timeout ?? Math.min(DEFAULT_TIMEOUT, c.interval ?? DEFAULT_TIMEOUT) }));

export const expvarCollectorConfig = z.strictObject({
  name: collectorName,
  url,
  /** Defaults to global.scrape_interval. */
  interval: duration.optional(),
  /** Defaults to 10s, or the interval when that is shorter. */
  timeout: duration.optional(),
  labels: labelSet.default({}),
})
  .superRefine(explicitTimeoutFits)
  .transform((c) => ({ ...c, timeout: c.timeout ?? Math.min(DEFAULT_TIMEOUT, c.interval ?? DEFAULT_TIMEOUT) }));

/** Duplicate collector names are checked in semantic.ts, beside the schema errors. */
export const collectorsConfig = z.strictObject({
  textfile: textfileCollectorConfig.optional(),
  scripts: z.array(scriptCollectorConfig).default([]),
  expvar: z.array(expvarCollectorConfig).default([]),
});

export type HostConfig = z.infer<typeof hostConfig>;
export type CollectorsConfig = z.infer<typeof collectorsConfig>;
export type ScriptCollectorConfig = z.infer<typeof scriptCollectorConfig>;
export type ExpvarCollectorConfig = z.infer<typeof expvarCollectorConfig>;
export type TextfileCollectorConfig = z.infer<typeof textfileCollectorConfig>;

/** A collector's interval: its own, else global.scrape_interval. */
export function resolveInterval(own: number | undefined, globalScrapeInterval: number): number {
  return own ?? globalScrapeInterval;
}
