// The checks that relate parts of a configuration to each other (duplicate names) and the
// per-probe checks, run on the text as written so they still report when other parts of the
// file have schema errors: a file with a type error and a duplicate job_name gets both in one
// pass. Each check looks only at values of the right shape; a value with a schema error of its
// own is left to that error. Duplicate names are checked only here; the per-probe checks run in
// the schema too (same functions, same messages), and load.ts keeps one error per key.

import { parseDuration, formatDuration } from '../model/duration.js';
import { checkProbeTarget } from './probes.js';

type ConfigPath = readonly (string | number)[];

export interface SemanticIssue {
  path: ConfigPath;
  message: string;
}

type Raw = Record<string, unknown>;

function isRecord(v: unknown): v is Raw {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Every later element of `items` whose string `key` repeats an earlier one. */
function duplicates(items: unknown[], key: string, at: ConfigPath, where: Where, message: (name: string, first: string) => string): SemanticIssue[] {
  const out: SemanticIssue[] = [];
  const seen = new Map<string, number>();
  items.forEach((it, i) => {
    if (!isRecord(it) || typeof it[key] !== 'string') return;
    const name = it[key];
    const first = seen.get(name);
    if (first !== undefined) out.push({ path: [...at, i, key], message: message(name, where([...at, first, key])) });
    else seen.set(name, i);
  });
  return out;
}

/** Where a key is in the file (`patrol.yml:3:15`), for "first at" in messages. */
export type Where = (path: ConfigPath) => string;

/** The semantic checks of a whole configuration file, on its values as written. */
export function semanticIssues(raw: Raw, where: Where): SemanticIssue[] {
  const out: SemanticIssue[] = [];
  out.push(...duplicates(list(raw.scrape_configs), 'job_name', ['scrape_configs'], where, (n, first) => `found multiple scrape configs with job name ${JSON.stringify(n)} (first at ${first})`));
  const probes = list(raw.probes);
  out.push(...duplicates(probes, 'name', ['probes'], where, (n, first) => `probe name ${JSON.stringify(n)} is used twice (first at ${first})`));
  probes.forEach((p, i) => {
    if (!isRecord(p)) return;
    if (typeof p.type === 'string' && typeof p.target === 'string' && p.target !== '') {
      const err = checkProbeTarget(p.type, p.target);
      if (err) out.push({ path: ['probes', i, 'target'], message: err });
    }
    const interval = typeof p.interval === 'string' ? parseDuration(p.interval) : p.interval === undefined ? 30_000 : null;
    const timeout = typeof p.timeout === 'string' ? parseDuration(p.timeout) : null;
    if (interval !== null && timeout !== null && timeout > interval) {
      out.push({ path: ['probes', i, 'timeout'], message: `timeout ${formatDuration(timeout)} is greater than interval ${formatDuration(interval)}` });
    }
  });
  if (isRecord(raw.collectors)) {
    for (const k of ['scripts', 'expvar']) out.push(...duplicates(list(raw.collectors[k]), 'name', ['collectors', k], where, (n, first) => `collector name ${JSON.stringify(n)} is used twice (first at ${first})`));
  }
  out.push(...duplicates(list(raw.baselines), 'name', ['baselines'], where, (n, first) => `baseline name ${JSON.stringify(n)} is used twice (first at ${first})`));
  if (isRecord(raw.alerting)) out.push(...duplicates(list(raw.alerting.receivers), 'name', ['alerting', 'receivers'], where, (n, first) => `receiver ${JSON.stringify(n)} is defined twice (first at ${first})`));
  if (isRecord(raw.alerting) && isRecord(raw.alerting.route)) {
    out.push(...duplicates(list(raw.alerting.route.routes), 'name', ['alerting', 'route', 'routes'], where, (n, first) => `route name ${JSON.stringify(n)} is used twice (first at ${first})`));
  }
  return out;
}
