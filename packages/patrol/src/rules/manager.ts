// The rules component: loads `rule_files` at start and on every reload, runs one Group per rule
// group, and keeps alert state across reloads. It receives the query engine, storage and the
// alert sender from the runtime; it imports neither the HTTP layer nor the dispatcher.

import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Component, ConfigContext, PreparedConfig, Runtime } from '../component.js';
import type { Config } from '../config/schema.js';
import { labelsToRecord } from '../model/labels.js';
import { STALE_NAN } from '../model/value.js';
import { AlertTemplateExpander } from '../template/prometheus.js';
import { QueryError, type InstantSample, type QueryEngine } from '../promql/types.js';
import type { Storage } from '../storage/interface.js';
import { AlertingRule } from './alerting.js';
import { baselineRuleGroups } from './baseline.js';
import { Group, type NotifyFunc } from './group.js';
import { forgetGroup, ruleMetrics, type RuleMetrics } from './metrics.js';
import { PACKS_DIR, packFile } from './packs.js';
import { loadRuleFiles, type RuleGroup } from './parse.js';
import { RecordingRule } from './recording.js';
import type { Expander, QueryFunc, RuleBase } from './rule.js';

export interface RulesManagerOptions {
  /** Where alerts due for sending go; by default nowhere (no dispatcher yet). */
  notify?: NotifyFunc;
  /** Label and annotation templates; by default Prometheus's template language. */
  expand?: Expander;
  /** Wall clock (ms) for the groups; tests may pass their own. */
  now?: () => number;
}

/** Template expansion that uses the text as written (tests of evaluation without templates). */
export const passThroughExpander: Expander = (_name, text) => text;

/** Prometheus's alert templates, with `query` running against the rule engine. */
export function templateExpander(query: QueryFunc): Expander {
  const exp = new AlertTemplateExpander(async (expr, t) => (await query(expr, t)).map((s) => ({ labels: labelsToRecord(s.labels), value: s.v })));
  return (name, text, ctx) => exp.expand(name, text, { labels: ctx.labels, externalLabels: ctx.externalLabels, externalURL: ctx.externalURL, value: ctx.value }, ctx.time);
}

/** A query function over an engine and a storage, with Prometheus's rule result rules. */
export function engineQueryFunc(engine: QueryEngine, storage: Storage): QueryFunc {
  return async (expr, t, signal): Promise<InstantSample[]> => {
    const r = await engine.instantQuery(storage, expr, t, { signal });
    const v = r.value;
    if (v.type === 'vector') return v.samples;
    if (v.type === 'scalar') return [{ labels: [], t: v.t, v: v.v }];
    throw new QueryError('execution', 'rule result is not a vector or scalar');
  };
}

/** The rules of a parsed group, group labels merged into each rule's (the rule's own win). */
export function buildRules(g: RuleGroup, o: { externalLabels: Record<string, string>; externalURL: string; expand: Expander; restored: boolean }): RuleBase[] {
  return g.rules.map((r) => {
    const labels = { ...g.labels, ...r.labels };
    if (r.record !== undefined) return new RecordingRule(r.record, r.expr, labels);
    return new AlertingRule({
      name: r.alert ?? '',
      expr: r.expr,
      holdDuration: r.for,
      keepFiringFor: r.keepFiringFor,
      labels,
      annotations: r.annotations,
      externalLabels: o.externalLabels,
      externalURL: o.externalURL,
      expand: o.expand,
      restored: o.restored,
    });
  });
}

export class RulesManager implements Component {
  readonly name = 'rules';
  private groups = new Map<string, Group>();
  private loaded: readonly RuleGroup[] = [];
  /** Settings the groups were built with; a change rebuilds every group. */
  private settingsKey = '';
  /** True after the first configuration: later groups do not restore `for` state. */
  private restoredOnce = false;
  private readonly staleTimers = new Set<NodeJS.Timeout>();
  private readonly metrics: RuleMetrics;
  private readonly log: Logger;
  private readonly query: QueryFunc;
  private readonly expander: Expander;

  constructor(
    private readonly rt: Runtime,
    private readonly opts: RulesManagerOptions = {},
  ) {
    if (!rt.engine) throw new Error('the rules manager needs a query engine');
    this.log = rt.logger;
    this.metrics = ruleMetrics(rt.registry);
    this.query = engineQueryFunc(rt.engine, rt.storage);
    this.expander = opts.expand ?? templateExpander(this.query);
  }

  /** The running groups, in file then name order. */
  ruleGroups(): Group[] {
    return [...this.groups.values()];
  }

  /** The rule groups of the running configuration as their files define them (the config API reads these). */
  loadedGroups(): readonly RuleGroup[] {
    return this.loaded;
  }

  prepareConfig(cfg: Config, ctx: ConfigContext): PreparedConfig {
    const loaded = loadRuleFiles(cfg.rule_files, join(ctx.dir, 'config'), () => ({ line: 0, col: 0 }));
    // The rule packs switched on by name, found beside the installed package.
    const packs = loadRuleFiles(cfg.rule_packs.map(packFile), PACKS_DIR, () => ({ line: 0, col: 0 }));
    loaded.groups.push(...packs.groups);
    loaded.errors.push(...packs.errors);
    if (loaded.errors.length > 0) throw new Error(loaded.errors.map(String).join('\n'));
    // The baselines: section's generated groups run beside the rule files' (file "<baselines>").
    loaded.groups.push(...baselineRuleGroups(cfg.baselines, cfg.global.evaluation_interval));
    const restore = !this.restoredOnce;
    const external = cfg.global.external_labels;
    const externalURL = cfg.server.external_url ?? `http://${this.rt.listen}`;
    const alert = cfg.rules.alert;
    const settingsKey = JSON.stringify([external, externalURL, alert]);
    const built = new Map<string, Group>();
    for (const g of loaded.groups) {
      const rules = buildRules(g, { externalLabels: external, externalURL, expand: this.expander, restored: !restore });
      const group = new Group({
        file: g.file,
        name: g.name,
        interval: g.interval ?? cfg.global.evaluation_interval,
        queryOffset: g.queryOffset ?? cfg.global.rule_query_offset,
        limit: g.limit,
        rules,
        storage: this.rt.storage,
        query: this.query,
        notify: this.opts.notify ?? (() => undefined),
        metrics: this.metrics,
        logger: this.log,
        shouldRestore: restore,
        resendDelay: alert.resend_delay,
        outageTolerance: alert.for_outage_tolerance,
        forGracePeriod: alert.for_grace_period,
        now: this.opts.now,
      });
      built.set(group.key, group);
    }
    return {
      commit: async () => {
        await this.switchTo(built, settingsKey);
        this.loaded = loaded.groups;
      },
      discard: () => undefined,
    };
  }

  async applyConfig(cfg: Config, ctx: ConfigContext): Promise<void> {
    await this.prepareConfig(cfg, ctx).commit();
  }

  private async switchTo(built: Map<string, Group>, settingsKey: string): Promise<void> {
    const sameSettings = settingsKey === this.settingsKey;
    const next = new Map<string, Group>();
    for (const [key, g] of built) {
      const old = this.groups.get(key);
      if (old && sameSettings && old.equals(g)) {
        next.set(key, old);
        continue;
      }
      if (old) {
        await old.stop();
        g.copyState(old);
      }
      this.metrics.interval.set({ rule_group: key }, g.interval / 1000);
      this.metrics.rules.set({ rule_group: key }, g.rules.length);
      g.start();
      next.set(key, g);
    }
    for (const [key, old] of this.groups) {
      if (next.has(key)) continue;
      await old.stop();
      forgetGroup(this.metrics, key);
      this.markStaleLater(old);
    }
    this.groups = next;
    this.settingsKey = settingsKey;
    this.restoredOnce = true;
  }

  /**
   * Series of a removed group are marked stale two intervals later (as Prometheus does), which
   * leaves a renamed group time to write its series first.
   */
  private markStaleLater(g: Group): void {
    const series = g.allSeries();
    if (series.length === 0) return;
    const t = setTimeout(() => {
      this.staleTimers.delete(t);
      try {
        const app = this.rt.storage.appender();
        const now = Date.now();
        for (const ls of series) {
          try {
            app.append(0, ls, now, STALE_NAN);
          } catch {
            // The series got a newer sample from elsewhere: nothing to mark.
          }
        }
        app.commit();
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'marking series of a removed rule group stale failed');
      }
    }, 2 * g.interval);
    t.unref();
    this.staleTimers.add(t);
  }

  async stop(): Promise<void> {
    for (const t of this.staleTimers) clearTimeout(t);
    this.staleTimers.clear();
    await Promise.all([...this.groups.values()].map((g) => g.stop()));
  }
}
