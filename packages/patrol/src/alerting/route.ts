// The routing tree (Alertmanager's dispatch.Route): each node's matchers, options inherited
// from the parent, `continue`, and the key that names its aggregation groups.

import type { RouteConfig } from '../config/alertmanager.js';
import { Matcher, type MatchType } from '../model/matchers.js';
import { goQuote } from '../model/goquote.js';

export interface RouteOpts {
  receiver: string;
  /** Label names to group by; ignored when groupByAll. */
  groupBy: ReadonlySet<string>;
  groupByAll: boolean;
  groupWait: number;
  groupInterval: number;
  repeatInterval: number;
  muteTimeIntervals: readonly string[];
  activeTimeIntervals: readonly string[];
}

/** Alertmanager's DefaultRouteOpts. */
export const DEFAULT_ROUTE_OPTS: RouteOpts = {
  receiver: '',
  groupBy: new Set(),
  groupByAll: false,
  groupWait: 30_000,
  groupInterval: 5 * 60_000,
  repeatInterval: 4 * 3600_000,
  muteTimeIntervals: [],
  activeTimeIntervals: [],
};

const TYPE_ORDER: Record<MatchType, number> = { '=': 0, '!=': 1, '=~': 2, '!~': 3 };

/** Alertmanager's labels.Matchers order: name, then value, then type. */
export function compareMatchers(a: Matcher, b: Matcher): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.value !== b.value) return a.value < b.value ? -1 : 1;
  return TYPE_ORDER[a.type] - TYPE_ORDER[b.type];
}

/** Alertmanager 0.25's labels.Matcher String(): name, operator, Go-quoted value. */
export function matcherString(m: Matcher): string {
  return `${m.name}${m.type}${goQuote(m.value)}`;
}

export function matchersString(ms: readonly Matcher[]): string {
  return '{' + ms.map(matcherString).join(',') + '}';
}

export function matchesAll(ms: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  for (const m of ms) if (!m.matches(labels[m.name] ?? '')) return false;
  return true;
}

export class Route {
  readonly opts: RouteOpts;
  readonly matchers: Matcher[];
  readonly continue: boolean;
  readonly routes: Route[];
  /** Alertmanager's Route.Key(): the parent's key, '/', this node's matchers. */
  readonly key: string;

  constructor(cfg: RouteConfig, readonly parent: Route | null = null) {
    const base = parent ? parent.opts : DEFAULT_ROUTE_OPTS;
    let groupBy = base.groupBy;
    let groupByAll = base.groupByAll;
    if (cfg.group_by && cfg.group_by.length > 0) {
      const names = cfg.group_by.filter((n) => n !== '...');
      if (names.length > 0) {
        groupBy = new Set(names);
        groupByAll = false;
      } else {
        groupByAll = true;
      }
    }
    this.opts = {
      receiver: cfg.receiver || base.receiver,
      groupBy,
      groupByAll,
      groupWait: cfg.group_wait ?? base.groupWait,
      groupInterval: cfg.group_interval ?? base.groupInterval,
      repeatInterval: cfg.repeat_interval ?? base.repeatInterval,
      muteTimeIntervals: cfg.mute_time_intervals,
      activeTimeIntervals: cfg.active_time_intervals,
    };
    const ms: Matcher[] = [];
    for (const [n, v] of Object.entries(cfg.match ?? {})) ms.push(new Matcher('=', n, v));
    // As Alertmanager's config.Regexp, match_re values are anchored in their text too (the
    // text shows in group keys).
    for (const [n, v] of Object.entries(cfg.match_re ?? {})) ms.push(new Matcher('=~', n, `^(?:${v})$`));
    ms.push(...cfg.matchers);
    this.matchers = ms.sort(compareMatchers);
    this.continue = cfg.continue;
    this.key = (parent ? parent.key + '/' : '') + matchersString(this.matchers);
    this.routes = cfg.routes.map((c) => new Route(c, this));
  }

  /**
   * The routes an alert goes to: depth first, stopping after the first matching child unless
   * that child has `continue`; a node with no matching child is the match itself.
   */
  match(labels: Readonly<Record<string, string>>): Route[] {
    if (!matchesAll(this.matchers, labels)) return [];
    const all: Route[] = [];
    for (const child of this.routes) {
      const m = child.match(labels);
      all.push(...m);
      if (m.length > 0 && !child.continue) break;
    }
    if (all.length === 0) all.push(this);
    return all;
  }

  /** The labels of an alert that name its aggregation group on this route. */
  groupLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, v] of Object.entries(labels)) if (this.opts.groupByAll || this.opts.groupBy.has(n)) out[n] = v;
    return out;
  }

  /** Every node, depth first. */
  *walk(): Generator<Route> {
    yield this;
    for (const c of this.routes) yield* c.walk();
  }
}
