// The `baselines:` section: dynamic baselines. Each entry names a PromQL expression and how its
// normal range is learned (a window, a seasonality, a band in standard deviations); Patrol turns
// it into plain Prometheus recording and alerting rules (src/rules/baseline.ts).

import { z } from 'zod';
import { formatDuration } from '../model/duration.js';
import { duration, labelSet } from './fields.js';

export const SEASONALITIES = ['none', 'daily', 'weekly'] as const;
export type Seasonality = (typeof SEASONALITIES)[number];

/** Length of one season in milliseconds. */
export const SEASON_MS: Record<Exclude<Seasonality, 'none'>, number> = { daily: 24 * 3600 * 1000, weekly: 7 * 24 * 3600 * 1000 };

/** Past seasons averaged when `seasons` is not given. */
export const DEFAULT_SEASONS: Record<Exclude<Seasonality, 'none'>, number> = { daily: 3, weekly: 2 };

/** How the value and the band are printed in the alert's annotations (Prometheus's humanize functions). */
export const FORMATS = { number: 'humanize', seconds: 'humanizeDuration', percent: 'humanizePercentage', bytes: 'humanize1024' } as const;

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/**
 * The watched expression. Only its shape is checked here (config/ does not import the PromQL
 * parser): rules/baseline.ts parses it, for `check config` with its line and column and at
 * every load, where a bad one rejects the whole configuration.
 */
const exprText = z.string().refine((s) => s.trim() !== '', { message: 'must not be empty' });

const positiveNumber = (what: string, example: string) =>
  z.unknown().transform((v, ctx): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      ctx.addIssue({ code: 'custom', message: v === undefined ? 'expected a number, got undefined' : `${what} must be a number greater than 0, got ${show(v)} (e.g. ${example})` });
      return z.NEVER;
    }
    return v;
  });

export const baselineConfig = z
  .strictObject({
    /** Names the generated series (`baseline:NAME:…`) and the rule group; letters, digits and _. */
    name: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { error: (iss) => `${show(iss.input)} is not a baseline name (letters, digits and _, not starting with a digit; it becomes part of the recorded series names)` }),
    /** The watched value: PromQL returning an instant vector (each series gets its own band). */
    expr: exprText,
    /** Width of the window the mean and spread are taken over (around the same time in past seasons). */
    window: duration.refine((ms) => ms > 0, { message: 'window must be longer than 0 (e.g. "1h")' }).default(3600 * 1000),
    seasonality: z.enum(SEASONALITIES).default('daily'),
    /** Past seasons (days or weeks) averaged; default 3 days or 2 weeks. */
    seasons: z.number().int().min(1).max(30).optional(),
    /** Half-width of the normal band in standard deviations. */
    band: positiveNumber('band', '3 for 3σ').default(3),
    /** The band is never narrower than this (absolute, in the expression's unit) on either side. */
    min_deviation: z.number().nonnegative().default(0),
    /** Which side of the band fires. */
    direction: z.enum(['above', 'below', 'both']).default('both'),
    /** How long the value must stay outside the band before the alert fires. */
    for: duration.default(5 * 60 * 1000),
    /** Evaluation interval of the generated group; default global.evaluation_interval. */
    interval: duration.refine((ms) => ms > 0, { message: 'interval must be longer than 0 (e.g. "1m")' }).optional(),
    severity: z.enum(['critical', 'warning', 'info']).default('warning'),
    /** Extra labels on the alert. */
    labels: labelSet.default({}),
    /** The alert's name; default BaselineAnomaly (the `baseline` label tells baselines apart). */
    alert: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { error: (iss) => `${show(iss.input)} is not an alert name (letters, digits and _)` }).default('BaselineAnomaly'),
    /** How values print in the annotations: number (humanize), seconds, percent (a 0–1 ratio), bytes. */
    format: z.enum(Object.keys(FORMATS) as [keyof typeof FORMATS, ...(keyof typeof FORMATS)[]]).default('number'),
  })
  .superRefine((b, ctx) => {
    if (b.seasonality === 'none' && b.seasons !== undefined) ctx.addIssue({ code: 'custom', message: 'seasons has no meaning with seasonality none (the band is taken over the last `window`)', path: ['seasons'] });
    if (b.seasonality !== 'none' && b.window >= SEASON_MS[b.seasonality]) {
      ctx.addIssue({ code: 'custom', message: `window ${formatDuration(b.window)} must be shorter than the ${b.seasonality === 'daily' ? 'day' : 'week'} of seasonality ${b.seasonality}`, path: ['window'] });
    }
    if (b.interval !== undefined && b.window < 2 * b.interval) {
      ctx.addIssue({ code: 'custom', message: `window ${formatDuration(b.window)} must hold at least two evaluations (interval ${formatDuration(b.interval)})`, path: ['window'] });
    }
    if ('baseline' in b.labels) ctx.addIssue({ code: 'custom', message: 'the label "baseline" is set by Patrol (to the baseline\'s name)', path: ['labels', 'baseline'] });
    if ('severity' in b.labels) ctx.addIssue({ code: 'custom', message: 'set the severity with the `severity` key, not in labels', path: ['labels', 'severity'] });
  });

/** Duplicate names are checked in semantic.ts, beside the schema errors. */
export const baselinesSection = z.array(baselineConfig);

export type BaselineConfig = z.output<typeof baselineConfig>;
