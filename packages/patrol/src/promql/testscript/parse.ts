// Parses a PromQL test script (Prometheus's promqltest language) into commands. Pure: no engine,
// no storage. Line numbers are 1-based. The grammar follows promqltest: a blank or comment line
// ends a block, lines are trimmed, commands are `load[_with_nhcb] <step>`, `clear`,
// `eval[_fail|_warn|_info|_ordered] instant at <t> <expr>` and
// `eval[_fail|_warn|_info] range from <t> to <t> step <d> <expr>`.

import type { Labels } from '../../model/labels.js';
import { parseDuration } from '../../model/duration.js';
import type { SequenceValue } from './series.js';
import { parseMetric, parseScalarLine, parseSequence, readQuoted, ScriptSyntaxError } from './series.js';

export interface LoadSeries {
  line: number;
  labels: Labels;
  values: SequenceValue[];
  /** The line defines start timestamps (`metric@st …`), which Patrol's storage cannot hold. */
  startTimestamps?: boolean;
}

export interface LoadCommand {
  kind: 'load';
  line: number;
  /** Milliseconds between consecutive values. */
  step: number;
  /** `load_with_nhcb`: classic histograms are also loaded as native histograms with custom buckets. */
  withNHCB: boolean;
  series: LoadSeries[];
}

export interface ClearCommand {
  kind: 'clear';
  line: number;
}

export type ExpectType = 'fail' | 'warn' | 'no_warn' | 'info' | 'no_info' | 'ordered';

export interface Expectation {
  type: ExpectType;
  /** Exact message (msg:) or pattern (regex:); neither means "any". */
  message?: string;
  regex?: RegExp;
}

export interface ExpectedSeries {
  /** 1-based position among the expected series, for ordered comparison. */
  pos: number;
  line: number;
  labels: Labels;
  values: SequenceValue[];
}

export interface EvalCommand {
  kind: 'eval';
  line: number;
  expr: string;
  range: boolean;
  /** Milliseconds. For instant evals start is the evaluation time. */
  start: number;
  end: number;
  step: number;
  /** Instant evaluation time (the end of `expect range vector` when given). */
  evalTime: number;
  expectations: Expectation[];
  /** Deprecated eval_fail / eval_warn / eval_info / eval_ordered. */
  legacy: { fail: boolean; warn: boolean; info: boolean; ordered: boolean };
  expectedFailMessage?: string;
  expectedFailRegexp?: RegExp;
  /** A bare number line: the result must be this scalar. */
  expectScalar?: number;
  expectString?: string;
  expectRangeVector: boolean;
  expected: ExpectedSeries[];
  /** Instant evals are also run as range queries unless this is set. */
  excludeFromRangeQuery: boolean;
  /** Expected values contain native histograms. */
  histogramsExpected: boolean;
}

/** A line that could not be parsed; the runner reports it and goes on. */
export interface ParseProblem {
  kind: 'error';
  line: number;
  message: string;
  /** For a bad eval: its expression, so the eval is counted as failed. */
  expr?: string;
}

export type Command = LoadCommand | ClearCommand | EvalCommand | ParseProblem;

const EVAL_INSTANT_RE = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$/;
const EVAL_RANGE_RE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$/;
const EXPECT_RE = /^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$/;
const EXPECT_RANGE_RE = /^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$/;
const LOAD_RE = /^load(?:_(with_nhcb))?\s+(.+?)$/;

function duration(text: string, what: string): number {
  const d = parseDuration(text.trim());
  if (d === null) throw new ScriptSyntaxError(`invalid ${what} ${JSON.stringify(text)}`);
  return d;
}

/** Go regexps (RE2) as JavaScript ones; the forms the test files use are common to both. */
export function goRegex(src: string): RegExp {
  let s = src.replace(/\(\?P</g, '(?<');
  let flags = 'u';
  const inline = /^\(\?([imsU]+)\)/.exec(s);
  if (inline) {
    s = s.slice(inline[0].length);
    for (const f of inline[1]) if (f !== 'U' && !flags.includes(f)) flags += f;
  }
  try {
    return new RegExp(s, flags);
  } catch {
    return new RegExp(s, flags.replace('u', ''));
  }
}

function getLines(text: string): string[] {
  return text.split('\n').map((l) => {
    const t = l.trim();
    return t.startsWith('#') ? '' : t;
  });
}

export function parseScript(text: string): Command[] {
  const lines = getLines(text);
  const out: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l === '') continue;
    const word = l.split(/[\t ]+/, 1)[0].toLowerCase();
    try {
      if (word === 'clear') {
        out.push({ kind: 'clear', line: i + 1 });
      } else if (word.startsWith('load')) {
        const r = parseLoad(lines, i);
        i = r.next;
        out.push(r.cmd);
      } else if (word.startsWith('eval')) {
        const r = parseEval(lines, i);
        i = r.next;
        out.push(r.cmd);
      } else {
        out.push({ kind: 'error', line: i + 1, message: `invalid command ${JSON.stringify(l)}` });
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const problem: ParseProblem = { kind: 'error', line: i + 1, message };
      if (word.startsWith('eval')) {
        const m = EVAL_INSTANT_RE.exec(l) ?? EVAL_RANGE_RE.exec(l);
        problem.expr = m ? m[m.length - 1] : l;
      }
      out.push(problem);
      // Skip the rest of the block.
      while (i + 1 < lines.length && lines[i + 1] !== '') i++;
    }
  }
  return out;
}

function parseLoad(lines: string[], i: number): { next: number; cmd: LoadCommand } {
  const m = LOAD_RE.exec(lines[i]);
  if (!m) throw new ScriptSyntaxError('invalid load command. (load[_with_nhcb] <step:duration>)');
  const cmd: LoadCommand = { kind: 'load', line: i + 1, step: duration(m[2], 'step definition'), withNHCB: m[1] === 'with_nhcb', series: [] };
  while (i + 1 < lines.length && lines[i + 1] !== '') {
    i++;
    const def = lines[i];
    const firstWord = def.split(/[\t ]/, 1)[0];
    if (firstWord.endsWith('@st')) {
      // Start timestamps (`metric@st <offsets>`): parsed only as far as their labels go.
      const metricPart = firstWord.slice(0, -3);
      const labels = metricPart === '' ? [] : parseMetric(metricPart).labels;
      cmd.series.push({ line: i + 1, labels, values: [], startTimestamps: true });
      continue;
    }
    const { labels, rest } = parseMetric(def);
    cmd.series.push({ line: i + 1, labels, values: parseSequence(rest) });
  }
  return { next: i, cmd };
}

function parseEval(lines: string[], i: number): { next: number; cmd: EvalCommand } {
  const l = lines[i];
  const inst = EVAL_INSTANT_RE.exec(l);
  const rng = inst ? null : EVAL_RANGE_RE.exec(l);
  if (!inst && !rng) {
    throw new ScriptSyntaxError(
      "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered] instant [at <offset:duration>] <query>' or 'eval[_fail|_warn] range from <from> to <to> step <step> <query>'",
    );
  }
  const mod = (inst ? inst[1] : rng![1]) ?? '';
  const expr = inst ? inst[3] : rng![5];
  let start: number;
  let end: number;
  let step: number;
  if (inst) {
    if (inst[2] === undefined) throw new ScriptSyntaxError('missing evaluation time (instant at <time>)');
    start = duration(inst[2], 'timestamp definition');
    // Go's zero time: every expected point of an instant eval lies after it.
    end = -Infinity;
    step = 0;
  } else {
    start = duration(rng![2], 'start timestamp definition');
    end = duration(rng![3], 'end timestamp definition');
    if (end < start) throw new ScriptSyntaxError(`invalid test definition, end timestamp (${rng![3]}) is before start timestamp (${rng![2]})`);
    step = duration(rng![4], 'step definition');
  }
  const cmd: EvalCommand = {
    kind: 'eval',
    line: i + 1,
    expr,
    range: !inst,
    start,
    end,
    step,
    evalTime: start,
    expectations: [],
    legacy: { fail: mod === 'fail', warn: mod === 'warn', info: mod === 'info', ordered: mod === 'ordered' },
    expectRangeVector: false,
    expected: [],
    excludeFromRangeQuery: false,
    histogramsExpected: false,
  };
  let pos = 0;
  while (i + 1 < lines.length && lines[i + 1] !== '') {
    i++;
    const def = lines[i];
    if (cmd.legacy.fail && def.startsWith('expected_fail_message')) {
      cmd.expectedFailMessage = def.slice('expected_fail_message'.length).trim();
      break;
    }
    if (cmd.legacy.fail && def.startsWith('expected_fail_regexp')) {
      cmd.expectedFailRegexp = goRegex(def.slice('expected_fail_regexp'.length).trim());
      break;
    }
    if (def.startsWith('expect range vector')) {
      const m = EXPECT_RANGE_RE.exec(def);
      if (!m) throw new ScriptSyntaxError(`invalid range vector definition ${JSON.stringify(def)}`);
      cmd.start = duration(m[1], 'start timestamp definition');
      cmd.end = duration(m[2], 'end timestamp definition');
      if (cmd.end < cmd.start) throw new ScriptSyntaxError(`invalid test definition, end timestamp (${m[2]}) is before start timestamp (${m[1]})`);
      cmd.step = duration(m[3], 'step definition');
      cmd.evalTime = cmd.end;
      cmd.expectRangeVector = true;
      cmd.excludeFromRangeQuery = true;
      continue;
    }
    if (def.startsWith('expect string')) {
      const rest = def.slice('expect string'.length).trim();
      if (rest === '') throw new ScriptSyntaxError('expected string literal not valid - a quoted string literal is required');
      const q = readQuoted(rest);
      if (q.rest.trim() !== '') throw new ScriptSyntaxError('expected string literal not valid - check that the string is correctly quoted');
      cmd.expectString = q.value;
      cmd.excludeFromRangeQuery = true;
      continue;
    }
    if (def.split(' ', 1)[0] === 'expect') {
      cmd.expectations.push(parseExpect(def));
      validateExpectations(cmd.expectations);
      continue;
    }
    const scalar = parseScalarLine(def);
    if (scalar !== null) {
      cmd.expectScalar = scalar;
      break;
    }
    const { labels, rest } = parseMetric(def);
    const values = parseSequence(rest);
    if (values.length > 1 && !cmd.range && !cmd.expectRangeVector) {
      throw new ScriptSyntaxError(
        "expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' directive to enable a range vector result for an instant query",
      );
    }
    if (values.some((v) => v.kind === 'histogram')) cmd.histogramsExpected = true;
    pos++;
    cmd.expected.push({ pos, line: i + 1, labels, values });
  }
  return { next: i, cmd };
}

export function parseExpect(def: string): Expectation {
  const m = EXPECT_RE.exec(def.trim());
  if (!m) throw new ScriptSyntaxError('invalid expect statement, must match `expect <type> <match_type>: <string>` format');
  const e: Expectation = { type: m[1] as ExpectType };
  if (m[2] === 'msg') e.message = m[3].trim();
  else if (m[2] === 'regex') {
    const pattern = m[3].trim();
    try {
      e.regex = goRegex(pattern);
    } catch {
      throw new ScriptSyntaxError(`invalid regex ${pattern} for ${m[1]}`);
    }
  }
  return e;
}

function validateExpectations(list: Expectation[]): void {
  const has = (t: ExpectType): boolean => list.some((e) => e.type === t);
  if (has('info') && has('no_info')) throw new ScriptSyntaxError('invalid expect lines, info and no_info cannot be used together');
  if (has('warn') && has('no_warn')) throw new ScriptSyntaxError('invalid expect lines, warn and no_warn cannot be used together');
  if (list.filter((e) => e.type === 'fail').length > 1) throw new ScriptSyntaxError('invalid expect lines, multiple expect fail lines are not allowed');
}

/** True when the expectation matches the message (no msg/regex matches anything). */
export function expectationMatches(e: Expectation, text: string): boolean {
  if (e.message !== undefined) return e.message === text;
  if (e.regex) return e.regex.test(text);
  return true;
}
