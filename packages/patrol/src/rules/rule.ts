// What every rule of a group shares: how it queries, how it reports its health, and the
// evaluation contract the group relies on.

import type { Labels } from '../model/labels.js';
import type { InstantSample } from '../promql/types.js';

/**
 * Runs an instant query at `t` (milliseconds) and returns its result as a vector, the way
 * Prometheus's rule query function does: a scalar becomes one sample without labels; a string
 * or range vector is an error ("rule result is not a vector or scalar").
 */
export type QueryFunc = (expr: string, t: number, signal?: AbortSignal) => Promise<InstantSample[]>;

export type RuleHealth = 'unknown' | 'ok' | 'err';

/** A sample a rule writes: at the evaluation time minus the group's query offset. */
export interface OutputSample {
  labels: Labels;
  t: number;
  v: number;
}

/** What a template sees in labels and annotations ($labels, $value, $externalLabels …). */
export interface TemplateContext {
  labels: Record<string, string>;
  value: number;
  externalLabels: Record<string, string>;
  externalURL: string;
  /** Evaluation time in milliseconds (for query in templates). */
  time: number;
}

/**
 * Expands one label or annotation template. Throws on a template that does not parse or fails
 * while running; the rule reports the message as its health error.
 */
export type Expander = (name: string, text: string, ctx: TemplateContext) => Promise<string> | string;

export interface EvalContext {
  /** The group's evaluation time (milliseconds, not offset). */
  ts: number;
  /** The group's query offset (milliseconds). */
  queryOffset: number;
  query: QueryFunc;
  limit: number;
  signal?: AbortSignal;
}

/** Health bookkeeping shared by recording and alerting rules. */
export abstract class RuleBase {
  health: RuleHealth = 'unknown';
  lastError = '';
  /** Wall-clock time (ms) the last evaluation started, 0 before the first. */
  lastEvaluation = 0;
  /** Seconds the last evaluation took. */
  evaluationTime = 0;

  abstract readonly name: string;
  abstract readonly expr: string;
  /** The rule's labels, group labels merged in (the rule's own win). */
  abstract readonly labels: Record<string, string>;
  abstract eval(ctx: EvalContext): Promise<OutputSample[]>;
  /** Identity across reloads: Prometheus matches rules by name and labels. */
  key(): string {
    return this.name + JSON.stringify(Object.entries(this.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  setError(e: unknown): void {
    this.health = 'err';
    this.lastError = e instanceof Error ? e.message : String(e);
  }
}

/** The label set's identity: sorted name=value pairs joined (labels are sorted). */
export function labelsId(ls: Labels): string {
  let s = '';
  for (const l of ls) s += `${l.name}\xff${l.value}\xff`;
  return s;
}
