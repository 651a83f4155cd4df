// Inhibition (Alertmanager's inhibit package): a firing alert matching a rule's source matchers
// mutes the alerts matching its target matchers that have the same values for the `equal`
// labels. An alert that matches both sides is not inhibited by itself or by other alerts that
// match both sides.

import type { AlertingConfig } from '../config/alertmanager.js';
import { Matcher } from '../model/matchers.js';
import { resolvedAt, type Alert } from '../model/alert.js';
import { compareMatchers, matchesAll } from './route.js';
import type { AlertStore } from './store.js';

type InhibitRuleConfig = AlertingConfig['inhibit_rules'][number];

function sideMatchers(matchers: Matcher[], match: Record<string, string> | undefined, matchRe: Record<string, string> | undefined): Matcher[] {
  const ms: Matcher[] = [];
  for (const [n, v] of Object.entries(match ?? {})) ms.push(new Matcher('=', n, v));
  for (const [n, v] of Object.entries(matchRe ?? {})) ms.push(new Matcher('=~', n, `^(?:${v})$`));
  ms.push(...matchers);
  return ms.sort(compareMatchers);
}

export class InhibitRule {
  readonly source: Matcher[];
  readonly target: Matcher[];
  readonly equal: readonly string[];
  /**
   * Alerts matching the source side, by the values of their `equal` labels, then fingerprint
   * (resolved ones are skipped when read). Alertmanager scans every source alert for each target
   * it checks; with thousands of sources and none equal, a flush (or a GET of all alerts) then
   * costs targets × sources comparisons. Here a target reads only the sources it could match.
   */
  private readonly sources = new Map<string, Map<string, Alert>>();

  constructor(c: InhibitRuleConfig) {
    this.source = sideMatchers(c.source_matchers, c.source_match, c.source_match_re);
    this.target = sideMatchers(c.target_matchers, c.target_match, c.target_match_re);
    this.equal = c.equal;
  }

  private equalKey(labels: Readonly<Record<string, string>>): string {
    if (this.equal.length === 0) return '';
    if (this.equal.length === 1) return labels[this.equal[0]] ?? '';
    return JSON.stringify(this.equal.map((n) => labels[n] ?? ''));
  }

  /** Keeps a source alert (a newer one of the same fingerprint replaces it). */
  addSource(a: Alert): void {
    const k = this.equalKey(a.labels);
    let m = this.sources.get(k);
    if (!m) this.sources.set(k, (m = new Map()));
    m.set(a.fingerprint, a);
  }

  /** Drops resolved source alerts. */
  gc(now: number): void {
    for (const [k, m] of this.sources) {
      for (const [fp, a] of m) if (resolvedAt(a, now)) m.delete(fp);
      if (m.size === 0) this.sources.delete(k);
    }
  }

  /** The fingerprint of a firing source alert with equal labels, if any (Alertmanager's hasEqual). */
  inhibitingSource(labels: Readonly<Record<string, string>>, excludeTwoSided: boolean, now: number): string | undefined {
    const m = this.sources.get(this.equalKey(labels));
    if (!m) return undefined;
    for (const a of m.values()) {
      if (resolvedAt(a, now)) continue;
      if (excludeTwoSided && matchesAll(this.target, a.labels)) continue;
      return a.fingerprint;
    }
    return undefined;
  }
}

export class Inhibitor {
  private readonly rules: InhibitRule[];
  private readonly unsubscribe: () => void;

  constructor(
    configs: readonly InhibitRuleConfig[],
    store: AlertStore,
  ) {
    this.rules = configs.map((c) => new InhibitRule(c));
    for (const a of store.list()) this.observe(a);
    this.unsubscribe = store.subscribe((a) => this.observe(a));
  }

  private observe(a: Alert): void {
    for (const r of this.rules) if (matchesAll(r.source, a.labels)) r.addSource(a);
  }

  /** The source alert that inhibits this one now: at most one, from the first rule that applies. */
  inhibitedBy(a: Pick<Alert, 'labels'>, now: number): string[] {
    for (const r of this.rules) {
      if (!matchesAll(r.target, a.labels)) continue;
      const fp = r.inhibitingSource(a.labels, matchesAll(r.source, a.labels), now);
      if (fp !== undefined) return [fp];
    }
    return [];
  }

  mutes(a: Pick<Alert, 'labels'>, now: number): boolean {
    return this.inhibitedBy(a, now).length > 0;
  }

  /** Drops resolved source alerts. */
  gc(now: number): void {
    for (const r of this.rules) r.gc(now);
  }

  close(): void {
    this.unsubscribe();
  }
}
