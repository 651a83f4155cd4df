// Detection quality of dynamic baselines against a static threshold. A seeded generator makes
// request-rate-like series with a daily cycle (low at night, high in the afternoon), day-to-day
// variation and noise, sampled every minute for DAYS days; on the days after the warm-up it
// injects anomalies, each type on its own series: short spikes, level shifts (up and down), slow
// drifts and dead-flat outages (the value falls to 0 and stays there). Two series get no
// anomaly at all. Patrol's own rule groups run over the data minute by minute on an on-disk TSDB
// in a temporary folder, with Patrol's PromQL engine:
//  - baseline: the rules `baselines:` generates (daily seasonality, 1h window, 3 past days, 3σ);
//  - static: value > max(day 1) × 1.2 or value < min(day 1) × 0.8, per series, "tuned on the
//    first day" (the day with no anomaly, as a person setting a threshold would do);
// both with the same `for`. Only the days after the warm-up are scored.
//
// Scoring: a firing episode (consecutive minutes with the alert firing for a series) is a true
// positive when it overlaps an injected anomaly (from its start to GRACE after its end), else a
// false positive. Precision = true episodes / all episodes; recall = anomalies with a firing
// minute inside that span / all anomalies; time to detect = first firing minute − anomaly start.
// `npm run bench:baseline` (DAYS=7 SEED=1 by default; VERBOSE=1 lists false alerts and misses).

import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/logger.js';
import { labelsFromRecord, labelsToRecord } from '../src/model/labels.js';
import { Engine } from '../src/promql/engine.js';
import { AlertingRule } from '../src/rules/alerting.js';
import { baselineRuleGroups } from '../src/rules/baseline.js';
import { Group } from '../src/rules/group.js';
import { buildRules, engineQueryFunc, templateExpander } from '../src/rules/manager.js';
import { ruleMetrics } from '../src/rules/metrics.js';
import { parseRuleFile, type RuleGroup } from '../src/rules/parse.js';
import { openTSDB } from '../src/tsdb/tsdb.js';

const DAYS = Number(process.env.DAYS ?? 7);
const SEED = Number(process.env.SEED ?? 1);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Days before scoring: the baseline needs 3 past days of its own recorded series. */
const WARMUP_DAYS = 3;
const FOR = '5m';
/** How long after an anomaly ends a firing alert still counts as its detection (recovery). */
const GRACE = 30 * MIN;
/** A fixed Monday 00:00 UTC, so runs are reproducible. */
const START = Date.UTC(2026, 0, 5);

if (DAYS <= WARMUP_DAYS) throw new Error(`DAYS must be more than the ${WARMUP_DAYS} warm-up days`);

/** mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

type Kind = 'spike' | 'level_shift' | 'slow_drift' | 'flat_outage';
const KINDS: Kind[] = ['spike', 'level_shift', 'slow_drift', 'flat_outage'];

interface Anomaly {
  series: string;
  kind: Kind;
  start: number;
  end: number;
  /** The anomalous value, given the normal one and the time. */
  apply: (normal: number, t: number) => number;
}

interface Series {
  name: string;
  kind: Kind | 'none';
  values: Float64Array;
}

/** Normal traffic: 10 % of the peak at 02:00, the peak at 14:00, ±4 % a day, 3 % noise. */
function normalSeries(r: () => number, base: number, minutes: number): Float64Array {
  const out = new Float64Array(minutes);
  const dayFactor = Array.from({ length: DAYS }, () => 1 + 0.04 * gaussian(r));
  for (let i = 0; i < minutes; i++) {
    const h = ((i % 1440) / 60);
    const shape = 0.55 - 0.45 * Math.cos((2 * Math.PI * (h - 2)) / 24);
    const v = base * shape * dayFactor[Math.floor(i / 1440)];
    out[i] = Math.max(0, v * (1 + 0.03 * gaussian(r)) + 0.01 * base * gaussian(r));
  }
  return out;
}

/** Anomalies of one kind on the scored days, at hours across the day (night, morning, peak, evening). */
function anomaliesOf(kind: Kind, series: string, r: () => number): Anomaly[] {
  // Two a day, far enough apart for the longest anomaly: night, morning, afternoon peak, evening.
  const hours = [3, 9, 14, 20, 14, 21, 3, 9];
  const out: Anomaly[] = [];
  const scored = DAYS - WARMUP_DAYS;
  for (let i = 0; i < hours.length; i++) {
    const day = WARMUP_DAYS + (i % scored);
    const start = START + day * DAY + hours[i] * HOUR + Math.floor(r() * 30) * MIN;
    const up = i % 2 === 0;
    switch (kind) {
      case 'spike': {
        const factor = 1.8 + r();
        out.push({ series, kind, start, end: start + 15 * MIN, apply: (v) => v * factor });
        break;
      }
      case 'level_shift': {
        const factor = up ? 1.5 : 0.55;
        out.push({ series, kind, start, end: start + 2 * HOUR, apply: (v) => v * factor });
        break;
      }
      case 'slow_drift': {
        // +80 % (or −60 %) reached linearly over 3 h, then held for 1 h.
        const to = up ? 0.8 : -0.6;
        const ramp = 3 * HOUR;
        out.push({ series, kind, start, end: start + 4 * HOUR, apply: (v, t) => v * (1 + to * Math.min(1, (t - start) / ramp)) });
        break;
      }
      case 'flat_outage':
        out.push({ series, kind, start, end: start + 45 * MIN, apply: () => 0 });
        break;
    }
  }
  // One anomaly at a time per series: drop any that would overlap the previous one.
  out.sort((a, b) => a.start - b.start);
  return out.filter((a, i) => i === 0 || a.start > out[i - 1].end + GRACE);
}

function generate(): { series: Series[]; anomalies: Anomaly[] } {
  const r = rng(SEED);
  const minutes = DAYS * 1440;
  const series: Series[] = [];
  const anomalies: Anomaly[] = [];
  const specs: [string, Kind | 'none', number][] = [
    ['spike', 'spike', 200],
    ['level_shift', 'level_shift', 80],
    ['slow_drift', 'slow_drift', 500],
    ['flat_outage', 'flat_outage', 120],
    ['control_a', 'none', 300],
    ['control_b', 'none', 50],
  ];
  for (const [name, kind, base] of specs) {
    const values = normalSeries(r, base, minutes);
    if (kind !== 'none') {
      const list = anomaliesOf(kind, name, r);
      for (const a of list) {
        for (let t = a.start; t < a.end; t += MIN) {
          const i = (t - START) / MIN;
          values[i] = a.apply(values[i], t);
        }
      }
      anomalies.push(...list);
    }
    series.push({ name, kind, values });
  }
  return { series, anomalies };
}

/** The static rule: per series, above max(day 1) × 1.2 or below min(day 1) × 0.8. */
function staticGroup(series: Series[]): RuleGroup {
  const parts: string[] = [];
  for (const s of series) {
    const day1 = s.values.subarray(0, 1440);
    const hi = Math.max(...day1) * 1.2;
    const lo = Math.min(...day1) * 0.8;
    parts.push(`bench_requests:rate1m{series="${s.name}"} > ${hi.toFixed(3)}`, `bench_requests:rate1m{series="${s.name}"} < ${lo.toFixed(3)}`);
  }
  const text = `groups:\n  - name: static\n    interval: 1m\n    rules:\n      - alert: StaticThreshold\n        expr: ${JSON.stringify(parts.join(' or '))}\n        for: ${FOR}\n`;
  const r = parseRuleFile(text, '<static>');
  if (r.errors.length) throw new Error(r.errors.map(String).join('\n'));
  return r.groups[0];
}

interface Episode {
  series: string;
  start: number;
  end: number;
}

interface Score {
  episodes: number;
  truePositive: number;
  detected: number;
  anomalies: number;
  ttd: number[];
}

function score(episodes: Episode[], anomalies: Anomaly[], filter: (series: string) => boolean): Score {
  const eps = episodes.filter((e) => filter(e.series));
  const an = anomalies.filter((a) => filter(a.series));
  const hits = (e: Episode, a: Anomaly) => e.series === a.series && e.start <= a.end + GRACE && e.end >= a.start;
  const s: Score = { episodes: eps.length, truePositive: eps.filter((e) => an.some((a) => hits(e, a))).length, detected: 0, anomalies: an.length, ttd: [] };
  for (const a of an) {
    const first = eps.filter((e) => hits(e, a)).sort((x, y) => x.start - y.start)[0];
    if (!first) continue;
    s.detected++;
    s.ttd.push(Math.max(0, first.start - a.start));
  }
  return s;
}

async function main(): Promise<void> {
  const { series, anomalies } = generate();
  const parsed = parseConfig(
    `baselines:\n  - {name: requests, expr: 'bench_requests:rate1m', window: 1h, seasonality: daily, seasons: 3, band: 3, for: ${FOR}, interval: 1m, min_deviation: 1}\n`,
    'bench.yml',
  );
  if (!parsed.ok) throw new Error(parsed.errors.map(String).join('\n'));
  const dir = mkdtempSync(join(tmpdir(), 'patrol-baseline-bench-'));
  let clock = START;
  const storage = await openTSDB({ dir, retention: 365 * DAY, now: () => clock, compactInterval: 0, logger: createLogger('silent') });
  try {
    const engine = new Engine();
    const query = engineQueryFunc(engine, storage);
    const expand = templateExpander(query);
    const metrics = ruleMetrics(new Registry());
    const logger = createLogger('silent');
    const groupOf = (g: RuleGroup) =>
      new Group({
        file: g.file, name: g.name, interval: g.interval ?? MIN, queryOffset: 0, limit: 0,
        rules: buildRules(g, { externalLabels: {}, externalURL: '', expand, restored: true }),
        storage, query, notify: () => undefined, metrics, logger, shouldRestore: false, now: () => clock,
      });
    const systems = [
      { name: 'baseline', group: groupOf(baselineRuleGroups(parsed.config.baselines, MIN)[0]), episodes: [] as Episode[], open: new Map<string, Episode>(), evalMs: 0 },
      { name: 'static', group: groupOf(staticGroup(series)), episodes: [] as Episode[], open: new Map<string, Episode>(), evalMs: 0 },
    ];
    const labels = series.map((s) => labelsFromRecord({ __name__: 'bench_requests:rate1m', series: s.name }));
    const scoredFrom = START + WARMUP_DAYS * DAY;
    let example = '';
    const started = performance.now();
    for (let i = 0; i < DAYS * 1440; i++) {
      const t = START + i * MIN;
      clock = t;
      const app = storage.appender();
      series.forEach((s, j) => app.append(0, labels[j], t, s.values[i]));
      app.commit();
      for (const sys of systems) {
        const t0 = performance.now();
        await sys.group.eval(t);
        sys.evalMs += performance.now() - t0;
        if (t < scoredFrom) continue;
        const firing = new Set<string>();
        for (const rule of sys.group.rules) {
          if (!(rule instanceof AlertingRule)) continue;
          if (rule.health === 'err') throw new Error(`${sys.name}: ${rule.name}: ${rule.lastError}`);
          for (const a of rule.activeAlerts()) {
            if (a.state !== 'firing') continue;
            const name = labelsToRecord(a.labels).series;
            firing.add(name);
            if (sys.name === 'baseline' && !example && name === 'spike') example = `${a.annotations.summary} / ${a.annotations.summary_zh}`;
          }
        }
        for (const name of firing) {
          const ep = sys.open.get(name);
          if (ep) ep.end = t;
          else sys.open.set(name, { series: name, start: t, end: t });
        }
        for (const [name, ep] of sys.open) {
          if (firing.has(name)) continue;
          sys.episodes.push(ep);
          sys.open.delete(name);
        }
      }
    }
    for (const sys of systems) for (const ep of sys.open.values()) sys.episodes.push(ep);
    const wall = (performance.now() - started) / 1000;

    const pct = (a: number, b: number) => (b === 0 ? '   n/a' : `${((100 * a) / b).toFixed(0).padStart(5)}%`);
    const mttd = (xs: number[]) => (xs.length === 0 ? '     n/a' : `${(xs.reduce((a, b) => a + b, 0) / xs.length / MIN).toFixed(1).padStart(6)} m`);
    console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; seed ${SEED}; ${series.length} series × ${DAYS} days at 1m (${WARMUP_DAYS} warm-up days, ${DAYS - WARMUP_DAYS} scored); for ${FOR}; ${anomalies.length} anomalies`);
    console.log(`rule evaluation over ${DAYS * 1440} minutes: baseline group ${(systems[0].evalMs / 1000).toFixed(1)} s (${systems[0].group.rules.length} rules), static ${(systems[1].evalMs / 1000).toFixed(1)} s; wall ${wall.toFixed(1)} s`);
    console.log('');
    console.log('| anomaly type | anomalies | baseline precision | baseline recall | baseline mean TTD | static precision | static recall | static mean TTD |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    const rows: [string, (s: string) => boolean][] = [...KINDS.map((k): [string, (s: string) => boolean] => [k, (s) => s === k]), ['no anomaly (control)', (s) => s.startsWith('control')], ['overall', () => true]];
    for (const [label, filter] of rows) {
      const [b, s] = systems.map((sys) => score(sys.episodes, anomalies, filter));
      const fp = (x: Score) => `${x.episodes - x.truePositive} false alerts`;
      const prec = (x: Score) => (label.startsWith('no anomaly') ? fp(x) : `${pct(x.truePositive, x.episodes)} (${x.truePositive}/${x.episodes})`);
      console.log(`| ${label} | ${b.anomalies} | ${prec(b)} | ${pct(b.detected, b.anomalies)} (${b.detected}/${b.anomalies}) | ${mttd(b.ttd)} | ${prec(s)} | ${pct(s.detected, s.anomalies)} (${s.detected}/${s.anomalies}) | ${mttd(s.ttd)} |`);
    }
    console.log('');
    console.log(`example baseline alert: ${example || '(none)'}`);
    if (process.env.VERBOSE) {
      // Every false alert and every missed anomaly, with the day and time of day.
      const when = (t: number) => `day ${Math.floor((t - START) / DAY) + 1} ${new Date(t).toISOString().slice(11, 16)}`;
      for (const sys of systems) {
        for (const e of sys.episodes) {
          if (!anomalies.some((a) => e.series === a.series && e.start <= a.end + GRACE && e.end >= a.start)) console.log(`${sys.name}: false alert on ${e.series} ${when(e.start)}–${new Date(e.end).toISOString().slice(11, 16)}`);
        }
        for (const a of anomalies) {
          if (!sys.episodes.some((e) => e.series === a.series && e.start <= a.end + GRACE && e.end >= a.start)) console.log(`${sys.name}: missed ${a.kind} ${when(a.start)}–${new Date(a.end).toISOString().slice(11, 16)}`);
        }
      }
    }
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
