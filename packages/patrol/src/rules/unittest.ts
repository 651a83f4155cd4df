// `patrol test rules`: promtool's rule unit-test files (rule_files, evaluation_interval,
// group_eval_order, tests with interval, input_series in the expanding notation,
// alert_rule_test, promql_expr_test, external_labels, external_url), evaluated on a simulated
// clock from time 0 with the same rule engine the server runs, and reported as promtool reports.
// Test groups with native-histogram series or samples are skipped, with a note: the engine
// works on floats.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { createLogger } from '../logger.js';
import { Registry } from 'prom-client';
import { isMap, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { formatDuration, parseDuration } from '../model/duration.js';
import { formatFloatE } from '../model/gofloat.js';
import { compareLabels, labelsEqual, labelsFromRecord, type Labels } from '../model/labels.js';
import { Engine } from '../promql/engine.js';
import { parseMetric, parseSeriesDesc } from '../promql/testscript/series.js';
import { MemoryStorage } from '../storage/memory.js';
import { AlertingRule } from './alerting.js';
import { Group } from './group.js';
import { buildRules, engineQueryFunc, templateExpander } from './manager.js';
import { ruleMetrics } from './metrics.js';
import { loadRuleFiles } from './parse.js';

export interface Output {
  out(s: string): void;
  err(s: string): void;
}

const FILE_KEYS = ['rule_files', 'evaluation_interval', 'group_eval_order', 'tests', 'fuzzy_compare'];
const GROUP_KEYS = ['interval', 'input_series', 'alert_rule_test', 'promql_expr_test', 'external_labels', 'external_url', 'name'];
const SERIES_KEYS = ['series', 'values'];
const ALERT_TEST_KEYS = ['eval_time', 'alertname', 'exp_alerts'];
const EXP_ALERT_KEYS = ['exp_labels', 'exp_annotations'];
const EXPR_TEST_KEYS = ['expr', 'eval_time', 'exp_samples'];
const SAMPLE_KEYS = ['labels', 'value'];

interface TestGroup {
  interval?: string;
  input_series?: { series: string; values: string }[];
  alert_rule_test?: { eval_time?: string; alertname?: string; exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[] }[];
  promql_expr_test?: { expr?: string; eval_time?: string; exp_samples?: { labels?: string; value?: number | string; histogram?: string }[] }[];
  external_labels?: Record<string, string>;
  external_url?: string;
  name?: string;
}

interface TestFile {
  rule_files?: string[];
  evaluation_interval?: string;
  group_eval_order?: string[];
  tests?: TestGroup[];
}

/** Go's time.Duration String for milliseconds: 0s, 500ms, 1.5s, 5m0s, 2m59.999s, 24h0m0s. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0 ? '-' : '';
  let a = Math.abs(ms);
  if (a < 1000) return `${neg}${a}ms`;
  const h = Math.floor(a / 3_600_000);
  a -= h * 3_600_000;
  const m = Math.floor(a / 60_000);
  a -= m * 60_000;
  const s = (a / 1000).toString();
  if (h > 0) return `${neg}${h}h${m}m${s}s`;
  if (m > 0) return `${neg}${m}m${s}s`;
  return `${neg}${s}s`;
}

/** Go's %q of a string. */
function q(s: string): string {
  return JSON.stringify(s);
}

/** Prometheus's labels.String(): {a="b", c="d"}, the metric name as __name__. */
function labelsString(ls: Labels): string {
  return `{${ls.map((l) => `${l.name}=${q(l.value)}`).join(', ')}}`;
}

function indentLines(lines: string, indent: string): string {
  const parts = lines.split('\n');
  return [parts[0], ...parts.slice(1).map((l) => indent + l)].join('\n');
}

interface LabelsAndAnnotations {
  labels: Labels;
  annotations: Labels;
}

function alertsString(la: LabelsAndAnnotations[]): string {
  if (la.length === 0) return '[]';
  const one = (a: LabelsAndAnnotations): string => `Labels:${labelsString(a.labels)}\nAnnotations:${labelsString(a.annotations)}`;
  let s = '[\n0:' + indentLines('\n' + one(la[0]), '  ');
  la.slice(1).forEach((a, i) => (s += `,\n${i + 1}:` + indentLines('\n' + one(a), '  ')));
  return s + '\n]';
}

function checkKeys(node: unknown, allowed: string[], type: string, lc: (n: YamlNode) => number, errors: string[]): void {
  if (!isMap(node)) return;
  for (const pair of node.items) {
    const k = String((pair.key as { value?: unknown })?.value ?? pair.key);
    if (!allowed.includes(k)) errors.push(`  line ${lc(pair.key as YamlNode)}: field ${k} not found in type ${type}`);
  }
}

/** Checks promtool's strict decoding: every key known, at every level. Returns Go-like errors. */
function strictCheck(text: string): { data: TestFile; errors: string[]; histogramGroups: Set<number> } {
  const lines: number[] = [];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lines.push(i);
  const lineOf = (n: YamlNode): number => {
    const off = n?.range?.[0] ?? 0;
    let lo = 0;
    while (lo < lines.length && lines[lo] < off) lo++;
    return lo + 1;
  };
  // Every scalar as written (0x10 is a series notation, not sixteen): Go decodes into strings.
  const doc = parseDocument(text, { uniqueKeys: false, schema: 'failsafe' });
  if (doc.errors.length) return { data: {}, errors: [`yaml: ${doc.errors[0].message.split('\n')[0]}`], histogramGroups: new Set() };
  const errors: string[] = [];
  const histogramGroups = new Set<number>();
  const root = doc.contents;
  checkKeys(root, FILE_KEYS, 'main.unitTestFile', lineOf, errors);
  const tests = isMap(root) ? root.get('tests', true) : undefined;
  if (isSeq(tests)) {
    tests.items.forEach((g, gi) => {
      if (!isMap(g)) return;
      checkKeys(g, GROUP_KEYS, 'main.testGroup', lineOf, errors);
      const series = g.get('input_series', true);
      if (isSeq(series))
        for (const s of series.items) {
          checkKeys(s, SERIES_KEYS, 'main.series', lineOf, errors);
          if (isMap(s) && String(s.get('values') ?? '').includes('{{')) histogramGroups.add(gi);
        }
      const at = g.get('alert_rule_test', true);
      if (isSeq(at))
        for (const t of at.items) {
          checkKeys(t, ALERT_TEST_KEYS, 'main.alertTestCase', lineOf, errors);
          const ea = isMap(t) ? t.get('exp_alerts', true) : undefined;
          if (isSeq(ea)) for (const a of ea.items) checkKeys(a, EXP_ALERT_KEYS, 'main.alert', lineOf, errors);
        }
      const pt = g.get('promql_expr_test', true);
      if (isSeq(pt))
        for (const t of pt.items) {
          checkKeys(t, EXPR_TEST_KEYS, 'main.promqlTestCase', lineOf, errors);
          const es = isMap(t) ? t.get('exp_samples', true) : undefined;
          if (isSeq(es))
            for (const smp of es.items) {
              if (isMap(smp) && smp.has('histogram')) {
                histogramGroups.add(gi);
                continue;
              }
              checkKeys(smp, SAMPLE_KEYS, 'main.sample', lineOf, errors);
            }
        }
    });
  }
  return { data: (doc.toJS() ?? {}) as TestFile, errors: errors.length ? ['yaml: unmarshal errors:', ...errors] : [], histogramGroups };
}

function duration(text: string | undefined, what: string, dflt: number): number {
  if (text === undefined || text === null) return dflt;
  const d = parseDuration(String(text));
  if (d === null) throw new Error(`not a valid duration string: ${q(String(text))} (${what})`);
  return d;
}

/** Runs every file; returns the exit code (0 all passed, 1 otherwise) as promtool does. */
export async function testRuleFiles(files: string[], o: Output): Promise<number> {
  let failed = false;
  for (const f of files) {
    o.out(`Unit Testing:  ${f}\n`);
    const errs = await testRuleFile(f, o);
    if (errs.length > 0) {
      failed = true;
      o.err('  FAILED:\n');
      for (const e of errs) {
        o.err(`${e}\n`);
        o.out('\n');
      }
    } else o.out('  SUCCESS\n');
    o.out('\n');
  }
  return failed ? 1 : 0;
}

async function testRuleFile(file: string, o: Output): Promise<string[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return [(e as Error).message];
  }
  const { data, errors, histogramGroups } = strictCheck(text);
  if (errors.length) return [errors.join('\n')];
  let evalInterval: number;
  try {
    evalInterval = duration(data.evaluation_interval, 'evaluation_interval', 60_000);
  } catch (e) {
    return [(e as Error).message];
  }
  const dir = dirname(file);
  const ruleFiles = (data.rule_files ?? []).map((r) => (isAbsolute(r) ? r : resolve(dir, r)));
  const out: string[] = [];
  for (const [i, tg] of (data.tests ?? []).entries()) {
    if (histogramGroups.has(i)) {
      o.err(`  skipped test group ${i + 1}${tg.name ? ` (${tg.name})` : ''}: native histograms are not supported\n`);
      continue;
    }
    try {
      out.push(...(await runGroup(tg, ruleFiles, evalInterval, data.group_eval_order ?? [])));
    } catch (e) {
      out.push(`    ${(e as Error).message}`);
    }
  }
  return out;
}

async function runGroup(tg: TestGroup, ruleFiles: string[], evalInterval: number, order: string[]): Promise<string[]> {
  const interval = duration(tg.interval, 'interval', evalInterval);
  const storage = new MemoryStorage();
  const app = storage.appender();
  for (const s of tg.input_series ?? []) {
    const desc = parseSeriesDesc(`${s.series} ${s.values ?? ''}`);
    desc.values.forEach((v, i) => {
      if (v.kind === 'float') app.append(0, desc.labels, i * interval, v.value);
    });
  }
  app.commit();
  const engine = new Engine();
  const query = engineQueryFunc(engine, storage);
  // Every group file;name → its rules; evaluated at every step of evaluation_interval.
  const loaded = loadRuleFiles(ruleFiles, join(ruleFiles[0] ? dirname(ruleFiles[0]) : '.', 'x'), () => ({ line: 0, col: 0 }));
  if (loaded.errors.length) return loaded.errors.map(String);
  const registry = new Registry();
  const metrics = ruleMetrics(registry);
  const expand = templateExpander(query);
  let groups = loaded.groups.map(
    (g) =>
      new Group({
        file: g.file, name: g.name, interval: g.interval ?? evalInterval, queryOffset: 0, limit: g.limit,
        rules: buildRules(g, { externalLabels: tg.external_labels ?? {}, externalURL: tg.external_url ?? '', expand, restored: true }),
        storage, query, notify: () => undefined, metrics, logger: createLogger('silent'), shouldRestore: false, now: () => 0,
      }),
  );
  if (order.length) {
    const idx = (name: string): number => (order.includes(name) ? order.indexOf(name) : order.length);
    groups = [...groups].sort((a, b) => idx(a.name) - idx(b.name));
  }

  const alertTests = new Map<number, NonNullable<TestGroup['alert_rule_test']>>();
  for (const t of tg.alert_rule_test ?? []) {
    const at = duration(t.eval_time, 'eval_time', 0);
    alertTests.set(at, [...(alertTests.get(at) ?? []), t]);
  }
  const alertTimes = [...alertTests.keys()].sort((a, b) => a - b);
  const exprTimes = (tg.promql_expr_test ?? []).map((t) => duration(t.eval_time, 'eval_time', 0));
  const maxt = Math.max(0, ...alertTimes, ...exprTimes);
  const errs: string[] = [];
  const name = tg.name ? `    name: ${tg.name},\n` : '';
  let curr = 0;
  for (let ts = 0; ts <= maxt; ts += evalInterval) {
    const evalErrs: string[] = [];
    for (const g of groups) {
      await g.eval(ts);
      for (const r of g.rules) if (r.health === 'err') evalErrs.push(`    rule: ${r.name}, time: ${goDuration(ts)}, err: ${r.lastError}`);
    }
    errs.push(...evalErrs);
    if (evalErrs.length) return errs;
    while (curr < alertTimes.length && ts <= alertTimes[curr] && alertTimes[curr] < ts + evalInterval) {
      const t = alertTimes[curr];
      const tests = alertTests.get(t)!;
      const wanted = new Set(tests.map((x) => x.alertname ?? ''));
      const got = new Map<string, LabelsAndAnnotations[]>();
      for (const g of groups)
        for (const r of g.rules) {
          if (!(r instanceof AlertingRule) || !wanted.has(r.name)) continue;
          const list = got.get(r.name) ?? [];
          for (const a of r.activeAlerts()) if (a.state === 'firing') list.push({ labels: a.labels, annotations: labelsFromRecord(a.annotations) });
          got.set(r.name, list);
        }
      for (const tc of tests) {
        const alertname = tc.alertname ?? '';
        const gotAlerts = [...(got.get(alertname) ?? [])].sort(compareLA);
        const exp = (tc.exp_alerts ?? []).map((a) => ({ labels: labelsFromRecord({ ...stringMap(a?.exp_labels), alertname }), annotations: labelsFromRecord(stringMap(a?.exp_annotations)) })).sort(compareLA);
        const same = exp.length === gotAlerts.length && exp.every((e, i) => labelsEqual(e.labels, gotAlerts[i].labels) && labelsEqual(e.annotations, gotAlerts[i].annotations));
        if (!same) {
          errs.push(`${name}    alertname: ${alertname}, time: ${formatDuration(t)}, \n        exp:${indentLines(alertsString(exp), '            ')}, \n        got:${indentLines(alertsString(gotAlerts), '            ')}`);
        }
      }
      curr++;
    }
  }

  outer: for (const tc of tg.promql_expr_test ?? []) {
    const t = duration(tc.eval_time, 'eval_time', 0);
    const expr = tc.expr ?? '';
    let got: { labels: Labels; v: number }[];
    try {
      got = (await query(expr, t)).map((s) => ({ labels: s.labels, v: s.v }));
    } catch (e) {
      errs.push(`    expr: ${q(expr)}, time: ${formatDuration(t)}, err: ${(e as Error).message}`);
      continue;
    }
    const exp: { labels: Labels; v: number }[] = [];
    for (const s of tc.exp_samples ?? []) {
      let labels: Labels;
      try {
        const m = parseMetric(s.labels ?? '{}');
        if (m.rest.trim() !== '') throw new Error(`unexpected ${q(m.rest.trim())}`);
        labels = m.labels;
      } catch (e) {
        errs.push(`    expr: ${q(expr)}, time: ${formatDuration(t)}, err: labels ${q(s.labels ?? '')}: ${(e as Error).message}`);
        continue outer;
      }
      exp.push({ labels, v: typeof s.value === 'number' ? s.value : Number(s.value ?? 0) });
    }
    const byLabels = (a: { labels: Labels }, b: { labels: Labels }): number => compareLabels(a.labels, b.labels);
    exp.sort(byLabels);
    got.sort(byLabels);
    const same = exp.length === got.length && exp.every((e, i) => labelsEqual(e.labels, got[i].labels) && e.v === got[i].v);
    if (!same) {
      const str = (ss: { labels: Labels; v: number }[]): string => (ss.length === 0 ? 'nil' : ss.map((x) => `${labelsString(x.labels)} ${formatFloatE(x.v, true)}`).join(', '));
      errs.push(`    expr: ${q(expr)}, time: ${formatDuration(t)},\n        exp: ${str(exp)}\n        got: ${str(got)}`);
    }
  }
  return errs;
}

function stringMap(m: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m ?? {})) out[k] = v === null || v === undefined ? '' : String(v);
  return out;
}

function compareLA(a: LabelsAndAnnotations, b: LabelsAndAnnotations): number {
  return compareLabels(a.labels, b.labels);
}
