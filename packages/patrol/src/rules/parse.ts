// Prometheus rule files (`rule_files:`): groups of recording and alerting rules, read with the
// positions of every node so each error names file:line:column. Follows Prometheus's rulefmt:
// unknown keys are errors, group names are unique in a file, a rule is either `record` or
// `alert`, recording rules take no `for`/`keep_firing_for`/`annotations`, every `expr` parses as
// PromQL. Parsing only; evaluation is the rules manager's.

import { dirname, isAbsolute, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { parseDuration } from '../model/duration.js';
import { BadPatternError, globSync } from '../config/glob.js';
import type { Expr } from '../promql/ast.js';
import { parseExpr } from '../promql/parser.js';
import { QueryError } from '../promql/types.js';
import { checkAlertTemplate } from '../template/prometheus.js';

export class RuleFileError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly message: string,
  ) {}

  toString(): string {
    return `${this.file}:${this.line}:${this.column}: ${this.message}`;
  }
}

export interface Rule {
  /** Exactly one of record and alert is set. */
  record?: string;
  alert?: string;
  expr: string;
  ast: Expr;
  /** Milliseconds; 0 when not given. */
  for: number;
  keepFiringFor: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  line: number;
}

export interface RuleGroup {
  file: string;
  name: string;
  /** Milliseconds; undefined means the global evaluation_interval. */
  interval?: number;
  queryOffset?: number;
  limit: number;
  labels: Record<string, string>;
  rules: Rule[];
  line: number;
}

export interface RuleFileResult {
  groups: RuleGroup[];
  errors: RuleFileError[];
}

const GROUP_KEYS = new Set(['name', 'interval', 'query_offset', 'limit', 'labels', 'rules']);
const RULE_KEYS = new Set(['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);

/** Parses one rule file's text; never throws for bad input, every problem is in `errors`. */
export function parseRuleFile(text: string, file: string): RuleFileResult {
  const lc = new LineCounter();
  const errors: RuleFileError[] = [];
  const at = (node: YamlNode | Pair | null | undefined, msg: string): void => {
    const off = node && 'range' in node && node.range ? node.range[0] : node && 'key' in node && isScalar(node.key) && node.key.range ? node.key.range[0] : 0;
    const p = lc.linePos(off);
    errors.push(new RuleFileError(file, p.line, p.col, msg));
  };
  const lineOf = (node: YamlNode | null | undefined): number => (node?.range ? lc.linePos(node.range[0]).line : 1);
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    errors.push(new RuleFileError(file, p.line, p.col, e.message.split('\n')[0]));
  }
  if (errors.length) return { groups: [], errors };
  const aliasError = expandAliases(doc);
  if (aliasError) {
    errors.push(new RuleFileError(file, 1, 1, aliasError));
    return { groups: [], errors };
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return { groups: [], errors };
  if (!isMap(root)) {
    at(root, 'a rule file is a mapping with a "groups" list');
    return { groups: [], errors };
  }
  for (const pair of root.items) {
    const k = keyOf(pair);
    if (k !== 'groups') at(pair, `field ${k} not found in type rulefmt.RuleGroups`);
  }
  const groupsNode = root.get('groups', true) as YamlNode | undefined;
  if (groupsNode === undefined || (isScalar(groupsNode) && groupsNode.value === null)) return { groups: [], errors };
  if (!isSeq(groupsNode)) {
    at(groupsNode, '"groups" must be a list');
    return { groups: [], errors };
  }
  const groups: RuleGroup[] = [];
  const seen = new Set<string>();
  for (const gNode of groupsNode.items as YamlNode[]) {
    if (!isMap(gNode)) {
      at(gNode, 'a group is a mapping with name and rules');
      continue;
    }
    for (const pair of gNode.items) {
      const k = keyOf(pair);
      if (!GROUP_KEYS.has(k)) at(pair, `field ${k} not found in type rulefmt.RuleGroup`);
    }
    const name = stringField(gNode, 'name', at);
    if (!name) {
      at(gNode, 'groupname must not be empty');
    } else if (seen.has(name)) {
      at(gNode, `groupname: "${name}" is repeated in the same file`);
    } else seen.add(name);
    const group: RuleGroup = {
      file,
      name: name ?? '',
      interval: durationField(gNode, 'interval', at),
      queryOffset: durationField(gNode, 'query_offset', at),
      limit: 0,
      labels: stringMap(gNode, 'labels', at),
      rules: [],
      line: lineOf(gNode),
    };
    const limitNode = gNode.get('limit', true) as YamlNode | undefined;
    if (limitNode !== undefined) {
      const v = isScalar(limitNode) ? limitNode.value : undefined;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) at(limitNode, 'limit must be a non-negative integer');
      else group.limit = v;
    }
    const rulesNode = gNode.get('rules', true) as YamlNode | undefined;
    if (rulesNode !== undefined && !(isScalar(rulesNode) && rulesNode.value === null)) {
      if (!isSeq(rulesNode)) at(rulesNode, '"rules" must be a list');
      else
        (rulesNode.items as YamlNode[]).forEach((rNode, i) => {
          const rule = parseRule(rNode, at, lc, file, errors, { group: name ?? '', index: i + 1 });
          if (rule) group.rules.push(rule);
        });
    }
    groups.push(group);
  }
  return { groups, errors };
}

type At = (node: YamlNode | Pair | null | undefined, msg: string) => void;

function keyOf(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

function stringField(m: YAMLMap, key: string, at: At): string | undefined {
  const n = m.get(key, true) as YamlNode | undefined;
  if (n === undefined) return undefined;
  if (!isScalar(n) || (n.value !== null && typeof n.value === 'object')) {
    at(n, `${key} must be a string`);
    return undefined;
  }
  return n.value === null ? '' : String(n.value);
}

function durationField(m: YAMLMap, key: string, at: At): number | undefined {
  const s = stringField(m, key, at);
  if (s === undefined) return undefined;
  const d = parseDuration(s);
  if (d === null) {
    at(m.get(key, true) as YamlNode, `${key}: not a valid duration string: "${s}"`);
    return undefined;
  }
  return d;
}

/** Nodes that alias expansion may copy in all, so `&a [*a, *a]`-style nesting cannot blow up memory. */
const ALIAS_NODE_BUDGET = 100_000;

function countNodes(n: YamlNode): number {
  let c = 0;
  visit(n, { Node: () => void c++ });
  return c;
}

/**
 * Anchors, aliases (`*name`) and merge keys (`<<: *name`), as Prometheus's YAML reader takes
 * them: each alias becomes a copy of its anchored node (keeping the anchor's positions for
 * messages), then each `<<` key's mapping(s) are merged in without overriding the keys written
 * beside it. Returns an error message when the copies would exceed ALIAS_NODE_BUDGET or an
 * alias names no anchor.
 */
function expandAliases(doc: Document): string | null {
  let budget = ALIAS_NODE_BUDGET;
  let error: string | null = null;
  visit(doc, {
    Alias(_key, alias) {
      const target = alias.resolve(doc);
      if (!target) {
        error = `unknown anchor '${alias.source}' referenced`;
        return visit.BREAK;
      }
      budget -= countNodes(target);
      if (budget < 0) {
        error = 'the YAML aliases expand to too many nodes';
        return visit.BREAK;
      }
      return target.clone() as YamlNode;
    },
  });
  if (error) return error;
  visit(doc, {
    Map(_key, map) {
      if (error) return visit.BREAK;
      const merges = map.items.filter((p) => isScalar(p.key) && p.key.value === '<<' && p.key.type === 'PLAIN');
      if (merges.length === 0) return;
      map.items = map.items.filter((p) => !merges.includes(p));
      const have = new Set(map.items.map(keyOf));
      for (const m of merges) {
        const sources = isSeq(m.value) ? m.value.items : [m.value];
        for (const src of sources) {
          if (!isMap(src)) {
            error = 'map merge requires map or sequence of maps as the value';
            return visit.BREAK;
          }
          for (const p of src.items) {
            const k = keyOf(p);
            if (have.has(k)) continue;
            have.add(k);
            map.items.push(p);
          }
        }
      }
    },
  });
  return error;
}

function stringMap(m: YAMLMap, key: string, at: At): Record<string, string> {
  const n = m.get(key, true) as YamlNode | undefined;
  const out: Record<string, string> = {};
  if (n === undefined || (isScalar(n) && n.value === null)) return out;
  if (!isMap(n)) {
    at(n, `${key} must be a mapping of names to strings`);
    return out;
  }
  for (const pair of n.items) {
    const k = keyOf(pair);
    if (k === '') at(pair, `${key}: empty name`);
    const v = pair.value as YamlNode | null;
    if (v !== null && (!isScalar(v) || (v.value !== null && typeof v.value === 'object'))) at(v, `${key}.${k} must be a string`);
    else out[k] = v === null || v.value === null ? '' : String(v.value);
  }
  return out;
}

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * One rule. Errors of the rule's content carry promtool's context, `group "G", rule N, "NAME": `;
 * errors of the YAML shape (unknown fields, bad durations) do not, as in promtool.
 */
function parseRule(node: YamlNode, at: At, lc: LineCounter, file: string, errors: RuleFileError[], where: { group: string; index: number }): Rule | undefined {
  if (!isMap(node)) {
    at(node, 'a rule is a mapping with record or alert, and expr');
    return undefined;
  }
  const before = errors.length;
  for (const pair of node.items) {
    const k = keyOf(pair);
    if (!RULE_KEYS.has(k)) at(pair, `field ${k} not found in type rulefmt.RuleNode`);
  }
  const record = stringField(node, 'record', at);
  const alert = stringField(node, 'alert', at);
  const ctx = `group ${JSON.stringify(where.group)}, rule ${where.index}, ${JSON.stringify(record || alert || '')}: `;
  const ruleAt: At = (n, msg) => at(n, ctx + msg);
  const has = (k: string): boolean => node.has(k);
  if (has('record') && has('alert')) ruleAt(node, "only one of 'record' and 'alert' must be set");
  else if (!record && !alert) ruleAt(node.get(has('record') ? 'record' : 'alert', true) as YamlNode | undefined ?? node, "one of 'record' or 'alert' must be set");
  else if (record && !METRIC_NAME_RE.test(record)) ruleAt(node.get('record', true) as YamlNode, `invalid recording rule name: ${record}`);
  if (has('record')) {
    if (has('for')) ruleAt(node.get('for', true) as YamlNode, "invalid field 'for' in recording rule");
    if (has('keep_firing_for')) ruleAt(node.get('keep_firing_for', true) as YamlNode, "invalid field 'keep_firing_for' in recording rule");
    if (has('annotations')) ruleAt(node.get('annotations', true) as YamlNode, "invalid field 'annotations' in recording rule");
  }
  const forMs = durationField(node, 'for', at) ?? 0;
  const keepMs = durationField(node, 'keep_firing_for', at) ?? 0;
  const labels = stringMap(node, 'labels', at);
  const annotations = stringMap(node, 'annotations', at);
  for (const [key, what] of [['labels', 'label'], ['annotations', 'annotation']] as const) {
    const m = node.get(key, true) as YamlNode | undefined;
    if (!isMap(m)) continue;
    for (const pair of m.items) {
      const k = keyOf(pair);
      if (!LABEL_NAME_RE.test(k) || (key === 'labels' && k === '__name__')) ruleAt(pair, `invalid ${what} name: ${k}`);
    }
  }
  const exprNode = node.get('expr', true) as YamlNode | undefined;
  const expr = stringField(node, 'expr', at);
  let ast: Expr | undefined;
  if (!expr) {
    ruleAt(exprNode ?? node, "field 'expr' must be set in rule");
  } else {
    try {
      ast = parseExpr(expr);
    } catch (e) {
      if (!(e instanceof QueryError)) throw e;
      // promtool's wording with the position inside the expression ("could not parse
      // expression: 1:7: parse error: …"); the file position is the error's own (promtool gives
      // the expression's start: the same line for a one-line expression, and Patrol names the
      // line inside a block expression).
      const p = exprPosition(exprNode as Scalar, lc, e.position);
      const inner = e.position ? `${e.position.line}:${e.position.column}: ` : '';
      const msg = e.message.replace(/^\d+:\d+: /, '');
      errors.push(new RuleFileError(file, p.line, p.col, `${ctx}could not parse expression: ${inner}${msg}`));
    }
  }
  if (alert) {
    // Templates must parse (Prometheus checks them when loading the rule file).
    for (const key of ['labels', 'annotations'] as const) {
      const m = node.get(key, true) as YamlNode | undefined;
      if (!isMap(m)) continue;
      for (const pair of m.items) {
        const v = pair.value as YamlNode | null;
        if (!v || !isScalar(v) || typeof v.value !== 'string') continue;
        const err = checkAlertTemplate(alert, v.value);
        if (err) ruleAt(v, `${key === 'labels' ? 'label' : 'annotation'} ${JSON.stringify(keyOf(pair))}: ${err}`);
      }
    }
  }
  if (errors.length > before || !ast || expr === undefined) return undefined;
  const line = node.range ? lc.linePos(node.range[0]).line : 1;
  return { record, alert, expr, ast, for: forMs, keepFiringFor: keepMs, labels, annotations, line };
}

/**
 * The file position of a position inside an expression. Exact for plain and quoted one-line
 * scalars; for block scalars (`expr: |`) the line inside the block is added to the block's first
 * content line, with the column as in the expression.
 */
function exprPosition(node: Scalar, lc: LineCounter, pos: { line: number; column: number } | undefined): { line: number; col: number } {
  const start = node.range ? lc.linePos(node.range[0]) : { line: 1, col: 1 };
  if (!pos) return start;
  const type = node.type;
  if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') {
    // The block's content starts on the line after the indicator; its indent is not in the value.
    return { line: start.line + pos.line, col: pos.column };
  }
  const quoted = type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE' ? 1 : 0;
  if (pos.line === 1) return { line: start.line, col: start.col + quoted + pos.column - 1 };
  return { line: start.line + pos.line - 1, col: pos.column };
}

export interface RuleFilesResult {
  /** The files the patterns matched, in order. */
  files: string[];
  groups: RuleGroup[];
  errors: RuleFileError[];
}

/**
 * Expands `rule_files` patterns (relative ones against the configuration file's folder, as
 * Prometheus does) and parses every file. `where(i)` gives the config position of pattern i, for
 * errors about the pattern itself (a malformed glob).
 */
export function loadRuleFiles(patterns: string[], configFile: string, where: (i: number) => { line: number; col: number }): RuleFilesResult {
  const files: string[] = [];
  const groups: RuleGroup[] = [];
  const errors: RuleFileError[] = [];
  const base = dirname(configFile);
  patterns.forEach((pat, i) => {
    const full = isAbsolute(pat) ? pat : join(base, pat);
    let matched: string[];
    try {
      matched = globSync(full);
    } catch (e) {
      if (!(e instanceof BadPatternError)) throw e;
      const p = where(i);
      errors.push(new RuleFileError(configFile, p.line, p.col, `rule_files: ${JSON.stringify(pat)} is not a valid file name pattern: ${e.message}`));
      return;
    }
    for (const f of matched) {
      if (files.includes(f)) continue;
      files.push(f);
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch (e) {
        const p = where(i);
        errors.push(new RuleFileError(configFile, p.line, p.col, `rule_files: cannot read ${f}: ${(e as Error).message}`));
        continue;
      }
      const r = parseRuleFile(text, f);
      groups.push(...r.groups);
      errors.push(...r.errors);
    }
  });
  return { files, groups, errors };
}

/** The config position of each `rule_files` entry, found in the configuration text. */
export function ruleFilePositions(configText: string): (i: number) => { line: number; col: number } {
  const lc = new LineCounter();
  const doc = parseDocument(configText, { lineCounter: lc, prettyErrors: false });
  const seq = isMap(doc.contents) ? (doc.contents.get('rule_files', true) as YamlNode | undefined) : undefined;
  return (i) => {
    const item = isSeq(seq) ? (seq.items[i] as YamlNode | undefined) : undefined;
    const off = item?.range?.[0] ?? seq?.range?.[0] ?? 0;
    return lc.linePos(off);
  };
}
