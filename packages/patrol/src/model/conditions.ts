// Probe assertions ("conditions"): one line each, in the style status pages use.
//
//   [STATUS] == 2xx                  [STATUS] in [200, 204, 3xx]
//   [RESPONSE_TIME] < 500ms          [BODY_SIZE] <= 1MB
//   [BODY] contains "ok"             [BODY] =~ "ready|up"       [BODY] !~ "error"
//   [BODY].status == up              $.data.items[0].id > 10    [BODY].version exists
//   [HEADER:Content-Type] =~ json    [HEADER:X-Trace] exists
//   [CERTIFICATE_EXPIRATION] > 14d   [REDIRECTS] <= 2
//   [CONNECTED] == true              [DNS_RCODE] == NOERROR     [ANSWER] contains 10.0.0.1
//
// Parsing is pure and happens at config load, so a bad condition is a config error that names
// the condition. Evaluation never throws: a failed condition yields a reason saying what was
// seen and what was expected.

import { formatDuration, parseByteSize, parseDuration } from './duration.js';
import { compileSearch, type Regex } from './regex.js';

export type Placeholder =
  | 'STATUS'
  | 'RESPONSE_TIME'
  | 'BODY'
  | 'JSON'
  | 'HEADER'
  | 'CERTIFICATE_EXPIRATION'
  | 'BODY_SIZE'
  | 'REDIRECTS'
  | 'CONNECTED'
  | 'DNS_RCODE'
  | 'ANSWER'
  | 'ANSWER_COUNT';

export type Operator = '==' | '!=' | '<' | '<=' | '>' | '>=' | '=~' | '!~' | 'contains' | '!contains' | 'in' | 'exists' | '!exists';

/** Every member of an object or element of an array: `$.checks.*.status`, `$.items[*].ok`. */
export const WILDCARD: unique symbol = Symbol('*');
/** A JSON path step: an object key, an array index or the wildcard. */
export type PathStep = string | number | typeof WILDCARD;

/** A status pattern: an exact code or a class such as 2xx (stored as its hundreds digit). */
export type StatusPattern = { code: number } | { klass: number };

export type Operand =
  | { kind: 'STATUS' | 'RESPONSE_TIME' | 'BODY' | 'CERTIFICATE_EXPIRATION' | 'BODY_SIZE' | 'REDIRECTS' | 'CONNECTED' | 'DNS_RCODE' | 'ANSWER' | 'ANSWER_COUNT' }
  | { kind: 'JSON'; path: PathStep[]; text: string }
  | { kind: 'HEADER'; header: string };

/** A parsed condition. `value` holds the right-hand side in the form its operand needs. */
export interface Condition {
  readonly text: string;
  readonly operand: Operand;
  readonly op: Operator;
  /** Numbers for numeric operands (ms, bytes, counts), strings otherwise. */
  readonly value: number | string | boolean | null;
  /** Lists for `in` and for [ANSWER] ==. */
  readonly list: readonly string[] | null;
  readonly statuses: readonly StatusPattern[] | null;
  readonly re: Regex | null;
  /** Regex conditions on the body or headers feed probe_failed_due_to_regex. */
  readonly isRegex: boolean;
}

/** What a probe run saw, for conditions to judge. Absent fields were not observed. */
export interface Observation {
  durationMs: number;
  status?: number;
  /** The body text, when some condition needs it (otherwise only its size is kept). */
  body?: string;
  bodySize?: number;
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** Milliseconds since the epoch when the earliest certificate of the chain expires. */
  certNotAfter?: number;
  redirects?: number;
  connected?: boolean;
  rcode?: string;
  answers?: readonly string[];
  /** Wall-clock time of the check, for certificate expiry. */
  now: number;
}

export type Verdict = { ok: true } | { ok: false; reason: string; regex: boolean };

export class ConditionSyntaxError extends Error {
  constructor(
    readonly condition: string,
    detail: string,
  ) {
    super(`condition ${JSON.stringify(condition)}: ${detail}`);
    this.name = 'ConditionSyntaxError';
  }
}

const OPERATORS: readonly Operator[] = ['!contains', 'contains', '!exists', 'exists', '==', '!=', '<=', '>=', '=~', '!~', '<', '>', 'in'];
const NUMERIC_OPS = new Set<Operator>(['==', '!=', '<', '<=', '>', '>=']);
const TEXT_OPS = new Set<Operator>(['==', '!=', '=~', '!~', 'contains', '!contains']);

const OPS_BY_KIND: Record<Placeholder, ReadonlySet<Operator>> = {
  STATUS: new Set(['==', '!=', '<', '<=', '>', '>=', 'in']),
  RESPONSE_TIME: NUMERIC_OPS,
  CERTIFICATE_EXPIRATION: NUMERIC_OPS,
  BODY_SIZE: NUMERIC_OPS,
  REDIRECTS: NUMERIC_OPS,
  ANSWER_COUNT: NUMERIC_OPS,
  BODY: TEXT_OPS,
  HEADER: new Set([...TEXT_OPS, 'exists', '!exists', 'in']),
  JSON: new Set([...NUMERIC_OPS, '=~', '!~', 'contains', '!contains', 'exists', '!exists', 'in']),
  CONNECTED: new Set(['==', '!=']),
  DNS_RCODE: new Set(['==', '!=', 'in']),
  ANSWER: new Set(['contains', '!contains', '==', '!=', '=~', '!~']),
};

/** Parses one condition; throws ConditionSyntaxError naming the condition and the problem. */
export function parseCondition(text: string): Condition {
  const src = text.trim();
  const fail = (detail: string): never => {
    throw new ConditionSyntaxError(text, detail);
  };
  if (src === '') fail('is empty');
  const { operand, rest } = parseOperand(src, fail);
  const afterOperand = rest.trimStart();
  const op = OPERATORS.find((o) => afterOperand.startsWith(o) && (/^[a-z!]/.test(o) ? !/^[A-Za-z0-9_]/.test(afterOperand.slice(o.length)) : true));
  if (!op) fail(`expected an operator (one of ${OPERATORS.filter((o) => o !== '!contains' && o !== '!exists').join(' ')}) after the operand, got ${JSON.stringify(afterOperand.slice(0, 20))}`);
  const rhsText = afterOperand.slice(op!.length).trim();
  if (/^[=<>!~]/.test(rhsText) && !/^[a-z]/.test(op!)) fail(`unknown operator ${JSON.stringify(op + rhsText.match(/^[=<>!~]+/)![0])}`);
  const kind = operand.kind;
  if (!OPS_BY_KIND[kind].has(op!)) fail(`operator ${op} cannot be used with ${operandName(operand)} (allowed: ${[...OPS_BY_KIND[kind]].join(' ')})`);
  const base = { text: src, operand, op: op!, value: null, list: null, statuses: null, re: null, isRegex: false };
  if (op === 'exists' || op === '!exists') {
    if (rhsText !== '') fail(`${op} takes no value, got ${JSON.stringify(rhsText)}`);
    return base;
  }
  if (rhsText === '') fail(`missing a value after ${op}`);
  if (op === '=~' || op === '!~') {
    const pattern = unquote(rhsText, fail);
    let re: Regex;
    try {
      re = compileSearch(pattern);
    } catch (e) {
      return fail((e as Error).message);
    }
    return { ...base, value: pattern, re, isRegex: kind === 'BODY' || kind === 'HEADER' || kind === 'JSON' };
  }
  switch (kind) {
    case 'STATUS': {
      if (op === 'in' || op === '==' || op === '!=') {
        const items = op === 'in' ? parseList(rhsText, fail) : [unquote(rhsText, fail)];
        return { ...base, statuses: items.map((s) => parseStatus(s, fail)) };
      }
      const n = Number(rhsText);
      if (!Number.isInteger(n)) fail(`${JSON.stringify(rhsText)} is not a status code`);
      return { ...base, value: n };
    }
    case 'RESPONSE_TIME':
    case 'CERTIFICATE_EXPIRATION': {
      const v = unquote(rhsText, fail);
      if (/^\d+(\.\d+)?$/.test(v)) {
        // A bare number is ambiguous (milliseconds? seconds like Prometheus? days?): a unit is
        // required, and the message suggests the reading a Prometheus user most likely meant.
        const n = Number(v);
        const suggestion = kind === 'CERTIFICATE_EXPIRATION' ? `${v}d` : formatDuration(Math.round(n * 1000));
        fail(`${JSON.stringify(v)} has no unit: write a duration such as ${JSON.stringify(suggestion)}${kind === 'RESPONSE_TIME' ? ` (for ${v} seconds)` : ` (for ${v} days)`}`);
      }
      const ms = parseDuration(v);
      if (ms === null) fail(`${JSON.stringify(v)} is not a duration (expected e.g. "500ms", "2s", "14d")`);
      return { ...base, value: ms };
    }
    case 'BODY_SIZE': {
      const b = parseByteSize(unquote(rhsText, fail));
      if (b === null) fail(`${JSON.stringify(rhsText)} is not a byte size (expected e.g. "512KB", "1MB", 1000)`);
      return { ...base, value: b };
    }
    case 'REDIRECTS':
    case 'ANSWER_COUNT': {
      const n = Number(rhsText);
      if (!Number.isInteger(n) || n < 0) fail(`${JSON.stringify(rhsText)} is not a count`);
      return { ...base, value: n };
    }
    case 'CONNECTED': {
      if (rhsText !== 'true' && rhsText !== 'false') fail(`expected true or false, got ${JSON.stringify(rhsText)}`);
      return { ...base, value: rhsText === 'true' };
    }
    case 'DNS_RCODE': {
      const items = op === 'in' ? parseList(rhsText, fail) : [unquote(rhsText, fail)];
      return { ...base, list: items.map((s) => s.toUpperCase()) };
    }
    case 'ANSWER': {
      if (op === '==' || op === '!=') return { ...base, list: rhsText.startsWith('[') ? parseList(rhsText, fail).sort() : [unquote(rhsText, fail)] };
      return { ...base, value: unquote(rhsText, fail) };
    }
    case 'HEADER':
    case 'BODY':
      if (op === 'in') return { ...base, list: parseList(rhsText, fail) };
      return { ...base, value: unquote(rhsText, fail) };
    case 'JSON': {
      if (op === 'in') return { ...base, list: parseList(rhsText, fail) };
      const v = unquote(rhsText, fail);
      if (op === '<' || op === '<=' || op === '>' || op === '>=') {
        const n = Number(v);
        if (v === '' || !Number.isFinite(n)) fail(`${op} needs a number, got ${JSON.stringify(v)}`);
        return { ...base, value: n };
      }
      // Unquoted true/false/null/numbers compare as JSON values; quoted text stays text.
      const quoted = /^["']/.test(rhsText);
      return { ...base, value: quoted ? v : jsonLiteral(v) };
    }
  }
}

function jsonLiteral(v: string): number | string | boolean | null {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v === 'null') return null;
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) return Number(v);
  return v;
}

function parseOperand(src: string, fail: (d: string) => never): { operand: Operand; rest: string } {
  if (src.startsWith('$')) {
    const { path, rest, text } = parsePath(src.slice(1), fail);
    return { operand: { kind: 'JSON', path, text: '$' + text }, rest };
  }
  const m = /^\[([A-Z_]+)(?::([^\]]*))?\]/.exec(src);
  if (!m) fail('must start with a placeholder such as [STATUS], [BODY], [RESPONSE_TIME] or a JSON path such as $.status');
  const name = m![1];
  const rest = src.slice(m![0].length);
  if (name === 'HEADER') {
    if (!m![2]) fail('[HEADER:<name>] needs a header name, e.g. [HEADER:Content-Type]');
    return { operand: { kind: 'HEADER', header: m![2].trim().toLowerCase() }, rest };
  }
  if (m![2] !== undefined) fail(`[${name}] takes no argument`);
  if (name === 'BODY' && (rest.startsWith('.') || rest.startsWith('['))) {
    const p = parsePath(rest, fail);
    return { operand: { kind: 'JSON', path: p.path, text: '$' + p.text }, rest: p.rest };
  }
  const known: Placeholder[] = ['STATUS', 'RESPONSE_TIME', 'BODY', 'CERTIFICATE_EXPIRATION', 'BODY_SIZE', 'REDIRECTS', 'CONNECTED', 'DNS_RCODE', 'ANSWER', 'ANSWER_COUNT'];
  if (!known.includes(name as Placeholder)) fail(`unknown placeholder [${name}] (known: ${known.map((k) => `[${k}]`).join(' ')} [HEADER:name])`);
  return { operand: { kind: name as Exclude<Placeholder, 'JSON' | 'HEADER'> }, rest };
}

/** Parses `.a.b[0]["c d"]` up to the first space or operator character. */
function parsePath(src: string, fail: (d: string) => never): { path: PathStep[]; rest: string; text: string } {
  const path: PathStep[] = [];
  let i = 0;
  // `$` alone, `$.a`, and `$a` are accepted; `data.items[0].id` after [BODY] is `.data.items[0].id`.
  if (src[0] !== '.' && src[0] !== '[' && /[A-Za-z_]/.test(src[0] ?? '')) src = '.' + src;
  while (i < src.length) {
    const c = src[i];
    if (c === '.' && src[i + 1] === '*') {
      path.push(WILDCARD);
      i += 2;
    } else if (c === '.') {
      const m = /^[A-Za-z_$@][\w$@-]*/.exec(src.slice(i + 1));
      if (!m) fail(`bad JSON path at ${JSON.stringify(src.slice(i))}: expected a field name after "."`);
      path.push(m![0]);
      i += 1 + m![0].length;
    } else if (c === '[') {
      const close = src.indexOf(']', i);
      if (close < 0) fail(`bad JSON path at ${JSON.stringify(src.slice(i))}: missing "]"`);
      const inner = src.slice(i + 1, close).trim();
      if (/^\d+$/.test(inner)) path.push(Number(inner));
      else if (inner === '*') path.push(WILDCARD);
      else if (/^(["']).*\1$/.test(inner)) path.push(inner.slice(1, -1));
      else fail(`bad JSON path at ${JSON.stringify(src.slice(i))}: expected an index or a quoted key in [...]`);
      i = close + 1;
    } else break;
  }
  const text = src.slice(0, i);
  return { path, rest: src.slice(i), text };
}

function unquote(s: string, fail: (d: string) => never): string {
  const t = s.trim();
  if (t.startsWith('"')) {
    try {
      const v: unknown = JSON.parse(t);
      if (typeof v === 'string') return v;
    } catch {
      /* reported below */
    }
    return fail(`bad quoted value ${t}`);
  }
  if (t.startsWith("'")) {
    if (t.length < 2 || !t.endsWith("'")) fail(`unterminated quoted value ${t}`);
    return t.slice(1, -1);
  }
  return t;
}

function parseList(s: string, fail: (d: string) => never): string[] {
  const t = s.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) fail(`expected a list such as [200, 3xx], got ${JSON.stringify(t)}`);
  const inner = t.slice(1, -1).trim();
  if (inner === '') fail('the list is empty');
  return inner.split(',').map((x) => unquote(x, fail));
}

function parseStatus(s: string, fail: (d: string) => never): StatusPattern {
  const m = /^([1-5])xx$/i.exec(s.trim());
  if (m) return { klass: Number(m[1]) };
  const n = Number(s);
  if (!Number.isInteger(n) || n < 100 || n > 599) fail(`${JSON.stringify(s)} is not a status code or class (expected e.g. 200 or 2xx)`);
  return { code: n };
}

function operandName(o: Operand): string {
  if (o.kind === 'JSON') return o.text;
  if (o.kind === 'HEADER') return `[HEADER:${o.header}]`;
  return `[${o.kind}]`;
}

/** The placeholder a condition reads, for checking that a probe type can observe it. */
export function placeholderOf(c: Condition): Placeholder {
  return c.operand.kind;
}

/** True when some condition needs the body text (so the prober keeps it in memory). */
export function needsBody(conds: readonly Condition[]): boolean {
  return conds.some((c) => c.operand.kind === 'BODY' || c.operand.kind === 'JSON');
}

// ---- evaluation ----

/** Lazily parsed JSON body, shared by the conditions of one run. */
export class EvalContext {
  private parsed: { ok: true; value: unknown } | { ok: false; error: string } | null = null;
  constructor(readonly obs: Observation) {}

  json(): { ok: true; value: unknown } | { ok: false; error: string } {
    if (this.parsed) return this.parsed;
    const body = this.obs.body;
    if (body === undefined) return (this.parsed = { ok: false, error: 'no body was received' });
    try {
      this.parsed = { ok: true, value: JSON.parse(body) as unknown };
    } catch (e) {
      this.parsed = { ok: false, error: `body is not valid JSON (${(e as Error).message})` };
    }
    return this.parsed;
  }
}

/** Evaluates conditions in order; the first failure decides the reason. Never throws. */
export function evaluateAll(conds: readonly Condition[], obs: Observation): { ok: true } | { ok: false; reason: string; regex: boolean } {
  const ctx = new EvalContext(obs);
  for (const c of conds) {
    let v: Verdict;
    try {
      v = evaluate(c, ctx);
    } catch (e) {
      v = { ok: false, reason: `condition ${JSON.stringify(c.text)} failed to evaluate: ${(e as Error).message}`, regex: false };
    }
    if (!v.ok) return v;
  }
  return { ok: true };
}

const OK: Verdict = { ok: true };
const bad = (reason: string, regex = false): Verdict => ({ ok: false, reason, regex });

function compareNum(a: number, op: Operator, b: number): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    default:
      return false;
  }
}

function statusMatches(code: number, p: StatusPattern): boolean {
  return 'code' in p ? p.code === code : Math.floor(code / 100) === p.klass;
}

function showStatuses(ps: readonly StatusPattern[]): string {
  return '[' + ps.map((p) => ('code' in p ? String(p.code) : `${p.klass}xx`)).join(', ') + ']';
}

export function showMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 2).replace(/\.?0+$/, '')}s`;
  return formatDuration(Math.round(ms));
}

export function showBytes(b: number): string {
  if (b < 1024) return `${b}B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = b / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${units[u]}`;
}

function showJson(v: unknown): string {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

function snippet(s: string): string {
  const one = s.replace(/\s+/g, ' ');
  return JSON.stringify(one.length > 60 ? one.slice(0, 57) + '...' : one);
}

export function evaluate(c: Condition, ctx: EvalContext): Verdict {
  const o = ctx.obs;
  switch (c.operand.kind) {
    case 'STATUS': {
      if (o.status === undefined) return bad('no HTTP status was received');
      if (c.statuses) {
        const hit = c.statuses.some((p) => statusMatches(o.status!, p));
        if (c.op === '!=') return hit ? bad(`status ${o.status} is in ${showStatuses(c.statuses)}, expected otherwise`) : OK;
        return hit ? OK : bad(`status ${o.status} not in ${showStatuses(c.statuses)}`);
      }
      return compareNum(o.status, c.op, c.value as number) ? OK : bad(`status ${o.status}, expected ${c.op} ${c.value as number}`);
    }
    case 'RESPONSE_TIME':
      return compareNum(o.durationMs, c.op, c.value as number) ? OK : bad(`response time ${showMs(o.durationMs)}, expected ${c.op} ${showMs(c.value as number)}`);
    case 'BODY_SIZE': {
      const size = o.bodySize ?? 0;
      return compareNum(size, c.op, c.value as number) ? OK : bad(`body size ${showBytes(size)}, expected ${c.op} ${showBytes(c.value as number)}`);
    }
    case 'REDIRECTS': {
      const n = o.redirects ?? 0;
      return compareNum(n, c.op, c.value as number) ? OK : bad(`${n} redirects, expected ${c.op} ${c.value as number}`);
    }
    case 'ANSWER_COUNT': {
      const n = o.answers?.length ?? 0;
      return compareNum(n, c.op, c.value as number) ? OK : bad(`${n} answers, expected ${c.op} ${c.value as number}`);
    }
    case 'CERTIFICATE_EXPIRATION': {
      if (o.certNotAfter === undefined) return bad('no certificate was presented (not a TLS connection?)');
      const left = o.certNotAfter - o.now;
      if (compareNum(left, c.op, c.value as number)) return OK;
      const days = (ms: number) => {
        const d = ms / 86_400_000;
        return Number.isInteger(d) ? String(d) : d.toFixed(1);
      };
      if (left <= 0) return bad(`certificate expired ${days(-left)} days ago`);
      const want = c.value as number;
      const bound = c.op === '>' || c.op === '>=' ? 'minimum' : c.op === '<' || c.op === '<=' ? 'maximum' : 'expected';
      const wantText = want % 86_400_000 === 0 ? days(want) : showMs(want);
      return bad(`certificate expires in ${Math.floor(left / 86_400_000)} days, ${bound} ${wantText}`);
    }
    case 'CONNECTED': {
      const v = o.connected === true;
      const want = c.value as boolean;
      return (c.op === '==') === (v === want) ? OK : bad(v ? 'connected, expected no connection' : 'not connected');
    }
    case 'DNS_RCODE': {
      const rc = o.rcode ?? 'none';
      const hit = c.list!.includes(rc);
      if (c.op === '!=') return hit ? bad(`rcode ${rc}, expected otherwise`) : OK;
      return hit ? OK : bad(`rcode ${rc}, expected ${c.list!.length === 1 ? c.list![0] : `one of ${c.list!.join(', ')}`}`);
    }
    case 'ANSWER': {
      const answers = o.answers ?? [];
      const shown = `[${answers.join(', ')}]`;
      switch (c.op) {
        case 'contains':
          return answers.includes(c.value as string) ? OK : bad(`answers ${shown} do not contain ${c.value as string}`);
        case '!contains':
          return answers.includes(c.value as string) ? bad(`answers ${shown} contain ${c.value as string}`) : OK;
        case '=~':
          return answers.some((a) => c.re!.test(a)) ? OK : bad(`no answer in ${shown} matches /${c.value as string}/`);
        case '!~':
          return answers.some((a) => c.re!.test(a)) ? bad(`an answer in ${shown} matches /${c.value as string}/`) : OK;
        default: {
          const same = [...answers].sort().join('\n') === c.list!.join('\n');
          if (c.op === '==') return same ? OK : bad(`answers ${shown}, expected [${c.list!.join(', ')}]`);
          return same ? bad(`answers ${shown}, expected something else`) : OK;
        }
      }
    }
    case 'BODY': {
      if (o.body === undefined) return bad('no body was received');
      return textVerdict('body', o.body, c);
    }
    case 'HEADER': {
      const raw = o.headers?.[c.operand.header];
      const present = raw !== undefined;
      if (c.op === 'exists') return present ? OK : bad(`header ${c.operand.header} is missing`);
      if (c.op === '!exists') return present ? bad(`header ${c.operand.header} is present, expected none`) : OK;
      if (!present) return bad(`header ${c.operand.header} is missing`, c.isRegex);
      const v = Array.isArray(raw) ? raw.join(', ') : raw;
      if (c.op === 'in') return c.list!.includes(v) ? OK : bad(`header ${c.operand.header} is ${snippet(v)}, expected one of ${c.list!.map((x) => JSON.stringify(x)).join(', ')}`);
      return textVerdict(`header ${c.operand.header}`, v, c);
    }
    case 'JSON':
      return jsonVerdict(c, ctx);
  }
}

function textVerdict(what: string, v: string, c: Condition): Verdict {
  const want = c.value as string;
  switch (c.op) {
    case '==':
      return v === want ? OK : bad(`${what} is ${snippet(v)}, expected ${JSON.stringify(want)}`);
    case '!=':
      return v !== want ? OK : bad(`${what} is ${JSON.stringify(want)}, expected anything else`);
    case 'contains':
      return v.includes(want) ? OK : bad(`${what} does not contain ${JSON.stringify(want)}`);
    case '!contains':
      return v.includes(want) ? bad(`${what} contains ${JSON.stringify(want)}`) : OK;
    case '=~':
      return c.re!.test(v) ? OK : bad(`${what} does not match /${want}/`, true);
    case '!~':
      return c.re!.test(v) ? bad(`${what} matches /${want}/`, true) : OK;
    default:
      return bad(`operator ${c.op} is not supported here`);
  }
}

type Walked = { found: true; value: unknown } | { found: false };

/**
 * A JSON path as conditions write it (`$.data.token`, `$.items[0].id`), for other readers
 * (flow captures). Throws an Error naming the problem; wildcards are refused.
 */
export function parseJsonPath(src: string): { path: PathStep[]; text: string } {
  const fail = (d: string): never => {
    throw new Error(`JSON path ${JSON.stringify(src)}: ${d}`);
  };
  if (!src.startsWith('$')) fail('must start with $ (e.g. $.token)');
  const { path, rest, text } = parsePath(src.slice(1), fail);
  if (rest.trim() !== '') fail(`unexpected ${JSON.stringify(rest)}`);
  if (path.includes(WILDCARD)) fail('a wildcard matches several values; name one (e.g. $.items[0].id)');
  return { path, text: '$' + text };
}

/** The value at a path without wildcards. */
export function lookupJson(value: unknown, path: readonly PathStep[]): Walked {
  return walk(value, path);
}

function walk(value: unknown, path: readonly PathStep[]): Walked {
  let cur: unknown = value;
  for (const step of path) {
    if (step === WILDCARD) return { found: false };
    if (typeof step === 'number') {
      if (!Array.isArray(cur) || step >= cur.length) return { found: false };
      cur = cur[step];
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, step)) return { found: false };
      cur = (cur as Record<string, unknown>)[step];
    }
  }
  return { found: true, value: cur };
}

/** The most members a wildcard path expands to; beyond it the rest are not judged. */
const MAX_EXPANSION = 1000;

/**
 * Expands a path with wildcards into the concrete paths it reaches (`$.checks.db.status`), each
 * with what it finds; a missing intermediate field yields that concrete path as not found.
 */
function expand(value: unknown, path: readonly PathStep[], text: string, out: { text: string; r: Walked }[]): void {
  const w = path.indexOf(WILDCARD);
  if (w < 0) {
    out.push({ text: text + showPath(path), r: walk(value, path) });
    return;
  }
  const head = walk(value, path.slice(0, w));
  const prefix = text + showPath(path.slice(0, w));
  if (!head.found) {
    out.push({ text: prefix, r: head });
    return;
  }
  const v = head.value;
  const members: [PathStep, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : v !== null && typeof v === 'object' ? Object.entries(v) : [];
  if (members.length === 0 && (v === null || typeof v !== 'object')) {
    out.push({ text: `${prefix}.*`, r: { found: false } });
    return;
  }
  for (const [k, x] of members) {
    if (out.length >= MAX_EXPANSION) return;
    expand(x, path.slice(w + 1), prefix + showPath([k]), out);
  }
}

function showPath(path: readonly PathStep[]): string {
  let s = '';
  for (const step of path) {
    if (step === WILDCARD) s += '.*';
    else if (typeof step === 'number') s += `[${step}]`;
    else s += /^[A-Za-z_$@][\w$@-]*$/.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`;
  }
  return s;
}

function jsonVerdict(c: Condition, ctx: EvalContext): Verdict {
  if (c.operand.kind !== 'JSON') return bad('internal: not a JSON condition');
  const doc = ctx.json();
  if (!doc.ok) return bad(`${c.operand.text}: ${doc.error}`);
  if (!c.operand.path.includes(WILDCARD)) return jsonValueVerdict(c, c.operand.text, walk(doc.value, c.operand.path));
  // A wildcard condition holds when it holds for every member; the reason names the first member
  // that fails by its concrete path ($.checks.db.status is "down", expected "up").
  const all: { text: string; r: Walked }[] = [];
  expand(doc.value, c.operand.path, '$', all);
  for (const { text, r } of all) {
    const v = jsonValueVerdict(c, text, r);
    if (!v.ok) return v;
  }
  return OK;
}

function jsonValueVerdict(c: Condition, name: string, r: Walked): Verdict {
  if (c.op === 'exists') return r.found ? OK : bad(`${name} does not exist`);
  if (c.op === '!exists') return r.found ? bad(`${name} exists (${showJson(r.value)}), expected none`) : OK;
  if (!r.found) return bad(`${name} does not exist`, c.isRegex);
  const v = r.value;
  switch (c.op) {
    case '==':
    case '!=': {
      const want = c.value;
      // A JSON value equals the condition's value when both are the same JSON, or when the
      // condition was written as text and the field prints as that text (e.g. 42 == "42").
      const same = v === want || (typeof want === 'string' && (typeof v === 'number' || typeof v === 'boolean') && String(v) === want);
      if (c.op === '==') return same ? OK : bad(`${name} is ${showJson(v)}, expected ${showJson(want)}`);
      return same ? bad(`${name} is ${showJson(v)}, expected anything else`) : OK;
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) return bad(`${name} is ${showJson(v)}, not a number (expected ${c.op} ${c.value as number})`);
      return compareNum(n, c.op, c.value as number) ? OK : bad(`${name} is ${showJson(v)}, expected ${c.op} ${c.value as number}`);
    }
    case 'in': {
      const s = typeof v === 'string' ? v : JSON.stringify(v);
      return c.list!.includes(s) ? OK : bad(`${name} is ${showJson(v)}, expected one of ${c.list!.map((x) => JSON.stringify(x)).join(', ')}`);
    }
    case 'contains':
    case '!contains': {
      const want = c.value;
      const has = Array.isArray(v) ? v.some((x) => x === want || String(x) === String(want)) : typeof v === 'string' ? v.includes(String(want)) : false;
      if (c.op === 'contains') return has ? OK : bad(`${name} is ${showJson(v)}, does not contain ${showJson(want)}`);
      return has ? bad(`${name} is ${showJson(v)}, contains ${showJson(want)}`) : OK;
    }
    case '=~':
    case '!~': {
      const s = typeof v === 'string' ? v : JSON.stringify(v);
      const m = c.re!.test(s);
      if (c.op === '=~') return m ? OK : bad(`${name} is ${showJson(v)}, does not match /${c.value as string}/`, true);
      return m ? bad(`${name} is ${showJson(v)}, matches /${c.value as string}/`, true) : OK;
    }
    default:
      return bad(`operator ${c.op} is not supported for ${name}`);
  }
}
