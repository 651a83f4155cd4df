// Dependency-aware suppression (`alerting.patrol.depends_on`): while an alert saying that a
// dependency (B, e.g. the database) is down fires, the firing alerts of the dependent service (A)
// with the same `equal` labels are held back. Resolved alerts are never held, so the recovery of
// an A alert that was already sent still goes out (the notification log decides whether it was).
// Alertmanager's inhibit_rules are untouched by this.

import type { DependsOnConfig } from '../config/patrol_alerting.js';
import { resolvedAt, type Alert } from '../model/alert.js';
import type { Muter } from './pipeline.js';
import { matchesAll } from './route.js';
import type { AlertStore } from './store.js';

export interface HeldBy {
  /** The firing dependency alert. */
  fingerprint: string;
  alertname: string;
  /** Index in alerting.patrol.depends_on. */
  rule: number;
  reason: string;
}

export class DependencyMuter implements Muter {
  /** Per rule: the alerts matching its dependency side, by fingerprint. */
  private readonly cache: Map<string, Alert>[];
  private readonly unsubscribe: () => void;

  constructor(
    private readonly rules: readonly DependsOnConfig[],
    store: AlertStore,
  ) {
    this.cache = rules.map(() => new Map());
    for (const a of store.list()) this.observe(a);
    this.unsubscribe = store.subscribe((a) => this.observe(a));
  }

  private observe(a: Alert): void {
    this.rules.forEach((r, i) => {
      if (matchesAll(r.dependency_matchers, a.labels)) this.cache[i].set(a.fingerprint, a);
    });
  }

  /** Why a firing alert is held back now (empty when it is not). */
  heldBy(a: Pick<Alert, 'labels' | 'endsAt' | 'fingerprint'>, now: number): HeldBy[] {
    if (resolvedAt(a, now)) return [];
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (!matchesAll(r.dependent_matchers, a.labels)) continue;
      outer: for (const b of this.cache[i].values()) {
        if (b.fingerprint === a.fingerprint || resolvedAt(b, now)) continue;
        for (const n of r.equal) if ((b.labels[n] ?? '') !== (a.labels[n] ?? '')) continue outer;
        const name = b.labels.alertname ?? '';
        return [{ fingerprint: b.fingerprint, alertname: name, rule: i, reason: `held back: depends on ${JSON.stringify(name)} (${b.fingerprint}), which is firing` }];
      }
    }
    return [];
  }

  mutes(a: Alert, now: number): boolean {
    return this.heldBy(a, now).length > 0;
  }

  gc(now: number): void {
    for (const m of this.cache) for (const [fp, a] of m) if (resolvedAt(a, now)) m.delete(fp);
  }

  close(): void {
    this.unsubscribe();
  }
}
