// Targets: from discovered label sets to what a scrape loop needs (URL, interval, timeout, the
// labels it attaches), following Prometheus's PopulateLabels. Also holds the per-target health
// the API reports.

import { hostname } from 'node:os';
import type { ScrapeConfig } from '../config/prometheus.js';
import { formatDuration, parseDuration } from '../model/duration.js';
import type { Labels } from '../model/labels.js';
import { labelsFromPairs, labelsKey } from '../model/labels.js';
import { relabel, type CompiledRelabel } from './relabel.js';

export const ADDRESS_LABEL = '__address__';
export const SCHEME_LABEL = '__scheme__';
export const METRICS_PATH_LABEL = '__metrics_path__';
export const SCRAPE_INTERVAL_LABEL = '__scrape_interval__';
export const SCRAPE_TIMEOUT_LABEL = '__scrape_timeout__';
export const PARAM_PREFIX = '__param_';
export const META_PREFIX = '__meta_';

/** One discovered target: its own labels merged over its group's labels. */
export type DiscoveredTarget = Record<string, string>;

export type TargetHealth = 'up' | 'down' | 'unknown';

export interface PopulateResult {
  /** The labels before relabelling, with job/scheme/path/interval/timeout/params defaults. */
  discovered: Labels;
  /** Labels after relabelling and defaults (instance), including `__` labels; null when dropped. */
  labels: Labels | null;
  /** Why a target that was not dropped is still unusable (bad address, bad interval). */
  error?: string;
}

/** Builds target labels the way Prometheus 3 does (scrape/target.go PopulateLabels). */
export function populateLabels(d: DiscoveredTarget, cfg: ScrapeConfig, steps: readonly CompiledRelabel[]): PopulateResult {
  const m = new Map<string, string>(Object.entries(d));
  const setDefault = (k: string, v: string): void => {
    if (!m.get(k)) m.set(k, v);
  };
  setDefault('job', cfg.job_name);
  setDefault(SCRAPE_INTERVAL_LABEL, formatDuration(cfg.scrape_interval));
  setDefault(SCRAPE_TIMEOUT_LABEL, formatDuration(cfg.scrape_timeout));
  setDefault(METRICS_PATH_LABEL, cfg.metrics_path);
  setDefault(SCHEME_LABEL, cfg.scheme);
  for (const [k, v] of Object.entries(cfg.params)) if (v.length > 0) setDefault(PARAM_PREFIX + k, v[0]);
  const discovered = labelsFromPairs(m);
  const after = relabel(discovered, steps);
  if (!after) return { discovered, labels: null };
  const out = new Map<string, string>();
  for (const l of after) out.set(l.name, l.value);
  const addr = out.get(ADDRESS_LABEL) ?? '';
  if (addr === '') return { discovered, labels: null, error: 'no address' };
  if (addr.includes('/')) return { discovered, labels: null, error: `${JSON.stringify(addr)} is not a valid hostname` };
  // Prometheus 3 no longer appends the scheme's default port (2.x did); the URL still uses it.
  for (const k of [SCRAPE_INTERVAL_LABEL, SCRAPE_TIMEOUT_LABEL]) {
    const v = out.get(k) ?? '';
    const ms = parseDuration(v);
    if (ms === null) return { discovered, labels: null, error: `error parsing ${k === SCRAPE_INTERVAL_LABEL ? 'scrape interval' : 'scrape timeout'}: ${JSON.stringify(v)} is not a duration` };
    if (ms === 0) return { discovered, labels: null, error: `${k === SCRAPE_INTERVAL_LABEL ? 'scrape interval' : 'scrape timeout'} cannot be 0` };
  }
  if (parseDuration(out.get(SCRAPE_TIMEOUT_LABEL)!)! > parseDuration(out.get(SCRAPE_INTERVAL_LABEL)!)!) {
    return { discovered, labels: null, error: `scrape timeout cannot be greater than scrape interval (${out.get(SCRAPE_TIMEOUT_LABEL)} > ${out.get(SCRAPE_INTERVAL_LABEL)})` };
  }
  for (const k of [...out.keys()]) if (k.startsWith(META_PREFIX)) out.delete(k);
  if (!out.get('instance')) out.set('instance', addr);
  return { discovered, labels: labelsFromPairs(out) };
}

/** A target's scrape state, as /api/v1/targets shows it. */
export class Target {
  health: TargetHealth = 'unknown';
  lastError = '';
  /** Milliseconds since the epoch of the last scrape start; 0 before the first. */
  lastScrape = 0;
  /** Seconds. */
  lastScrapeDuration = 0;
  readonly url: URL;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** The labels attached to every sample: target labels without `__` names. */
  readonly publicLabels: Labels;
  /** Identity within a pool: all labels (including `__` ones). */
  readonly key: string;

  constructor(
    readonly discovered: Labels,
    readonly labels: Labels,
    cfg: ScrapeConfig,
  ) {
    const get = (n: string): string => labels.find((l) => l.name === n)?.value ?? '';
    const params = new Map<string, string[]>();
    for (const [k, v] of Object.entries(cfg.params)) params.set(k, [...v]);
    for (const l of labels) {
      if (!l.name.startsWith(PARAM_PREFIX)) continue;
      const k = l.name.slice(PARAM_PREFIX.length);
      const cur = params.get(k);
      if (cur && cur.length > 0) cur[0] = l.value;
      else params.set(k, [l.value]);
    }
    const url = new URL(`${get(SCHEME_LABEL) || 'http'}://${get(ADDRESS_LABEL)}`);
    url.pathname = get(METRICS_PATH_LABEL) || '/metrics';
    const q = new URLSearchParams();
    for (const k of [...params.keys()].sort()) for (const v of params.get(k)!) q.append(k, v);
    url.search = q.toString();
    this.url = url;
    this.intervalMs = parseDuration(get(SCRAPE_INTERVAL_LABEL)) ?? cfg.scrape_interval;
    this.timeoutMs = parseDuration(get(SCRAPE_TIMEOUT_LABEL)) ?? cfg.scrape_timeout;
    this.publicLabels = labels.filter((l) => !l.name.startsWith('__'));
    this.key = labelsKey(labels) + '\xfd' + url.toString();
  }

  get scrapeUrl(): string {
    return this.url.toString();
  }

  /** The URL with a loopback host replaced by this machine's name, as Prometheus shows it. */
  get globalUrl(): string {
    const u = new URL(this.url.toString());
    const h = u.hostname.replace(/^\[|\]$/g, '');
    if (h === 'localhost' || h === '::1' || /^127\./.test(h)) u.hostname = hostname();
    return u.toString();
  }
}
