// PromQL text → typed AST, using the official lezer grammar for syntax and Prometheus's rules
// (and messages) for types and arity. Errors are QueryError('bad_data') with the position and a
// message shaped like Prometheus's: `1:6: parse error: expected type range vector in call to
// function "rate", got instant vector`.

import { parser as lezer } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import { METRIC_NAME } from '../model/labels.js';
import { Matcher, type MatchType } from '../model/matchers.js';
import { withRegexBudget } from '../model/regex.js';
import type {
  Aggregate,
  AggregateOp,
  AtModifier,
  Binary,
  BinaryOp,
  DurationExpr,
  Expr,
  Span,
  SubqueryExpr,
  ValueType,
  VectorMatching,
  VectorSelector,
} from './ast.js';
import { COMPARISON_OPS, SET_OPS, typeName } from './ast.js';
import { ANCHORED_FUNCTIONS, SMOOTHED_FUNCTIONS } from './functions/index.js';
import { FUNCTIONS } from './signatures.js';
import { QueryError } from './types.js';
import { diagnoseSyntax } from './syntaxerror.js';

/** The grammar without error recovery: a parse stops at the first token that fits nowhere. */
const strictLezer = lezer.configure({ strict: true });

/**
 * Runs the strict lezer parse. lezer forces a parse out of a production after 300 reductions
 * over 2,000 characters with the same start (its guard against left-associative trees too deep
 * to walk), which fails a flat `a + b + c + …` of about 450 terms with "unexpected identifier"
 * in strict mode although Prometheus parses it. The guard's counter is reset between steps; the
 * depth it protects is bounded by MAX_BINARY_OPERATORS, checked before lezer runs.
 */
function parseLezer(text: string): LezerTree {
  const ahead = parsedAhead.get(text);
  if (ahead) {
    parsedAhead.delete(text);
    return ahead;
  }
  const parse = startLezer(text);
  for (;;) {
    const tree = parse.advance();
    if (tree) return tree;
    if (typeof parse.bigReductionCount === 'number') parse.bigReductionCount = 0;
  }
}

type LezerTree = ReturnType<typeof strictLezer.parse>;

function startLezer(text: string) {
  return strictLezer.startParse(text) as ReturnType<typeof strictLezer.startParse> & { bigReductionCount?: number };
}

/** Trees parseExprSliced made ahead, each taken (and dropped) by the build that follows it. */
const parsedAhead = new Map<string, LezerTree>();

/** Work between two yields of parseExprSliced, ms. */
const PARSE_SLICE_MS = 4;

/**
 * parseExpr for long texts that must not hold the event loop: lezer's parse, the costly part (a
 * selector with 2,000 matchers held the loop for 30-250 ms of CPU), runs in slices of
 * PARSE_SLICE_MS with a yield to the event loop (setImmediate) between them; the tree is then
 * built as parseExpr builds it (errors and messages are parseExpr's own).
 */
export async function parseExprSliced(text: string, sliceMs = PARSE_SLICE_MS): Promise<Expr> {
  let src: string;
  try {
    src = lezerText(text);
    checkNesting(src);
  } catch {
    return parseExpr(text); // which reports the error
  }
  try {
    const parse = startLezer(src);
    let start = performance.now();
    for (let n = 1; ; n++) {
      const tree = parse.advance();
      if (tree) {
        parsedAhead.set(src, tree);
        break;
      }
      if (typeof parse.bigReductionCount === 'number') parse.bigReductionCount = 0;
      if ((n & 63) === 0 && performance.now() - start >= sliceMs) {
        await new Promise<void>((r) => setImmediate(r));
        start = performance.now();
      }
    }
  } catch {
    // A syntax error: the strict parse stops at the first token that fits nowhere, so
    // parseExpr finds it again at once and words it.
  }
  try {
    return parseExpr(text);
  } finally {
    parsedAhead.delete(src);
  }
}

class ParseFailure extends Error {
  constructor(
    readonly pos: number,
    message: string,
  ) {
    super(message);
  }
}

function positionOf(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      last = i;
    }
  }
  return { line, column: pos - last };
}

export function parseError(text: string, pos: number, msg: string): QueryError {
  const p = positionOf(text, pos);
  return new QueryError('bad_data', `${p.line}:${p.column}: parse error: ${msg}`, p);
}

/**
 * Go accepts number literals with a trailing dot (`1.`); the lezer grammar does not. Replaces
 * such a dot by a space (positions stay the same), outside strings and identifiers.
 */
function normalizeTrailingDots(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' && c !== '`' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
      continue;
    }
    if (c === '#') {
      const j = text.indexOf('\n', i);
      const e = j < 0 ? text.length : j;
      out += text.slice(i, e);
      i = e - 1;
      continue;
    }
    if (/[0-9]/.test(c) && !/[a-zA-Z_:0-9.]/.test(text[i - 1] ?? ' ')) {
      let j = i;
      while (j < text.length && /[0-9_]/.test(text[j])) j++;
      out += text.slice(i, j);
      if (text[j] === '.' && !/[0-9]/.test(text[j + 1] ?? '')) {
        out += ' ';
        j++;
      }
      i = j - 1;
      continue;
    }
    out += c;
  }
  return out;
}

/**
 * Functions newer than the lezer grammar: their names are swapped for a known function name of
 * the same length before lezer runs, and restored from the positions afterwards.
 */
const ALIASES: Record<string, string> = { min_of: 'minute', max_of: 'minute' };

function substituteAliases(text: string, withAliases: boolean): { text: string; names: Map<number, string> } {
  const names = new Map<number, string>();
  const out = text.replace(/\b(min_of|max_of)(?=\s*\()|\b(step|range)(?=\s*\(\s*\))/gi, (m: string, alias: string | undefined, fn: string | undefined, pos: number) => {
    if (alias && withAliases) {
      const lower = alias.toLowerCase();
      names.set(pos, lower);
      return ALIASES[lower];
    }
    return fn ? fn.toLowerCase() : m;
  });
  return { text: out, names };
}

/**
 * Deepest nesting a query may have: open parentheses, brackets, braces and function calls plus
 * unary signs and `^` operators still waiting for their right operand. The lezer grammar parses
 * a signed number two ways (literal and unary minus) and keeps both parse stacks alive under a
 * chain of `^`, comparing them at every token, so parse time grows with the square of the depth:
 * `2/-2^-2^…-2` 500 levels deep took 0.8 s and 1,000 levels failed with a wrong error.
 */
export const MAX_NESTING = 64;

/**
 * Most binary operators a query may have. Every stage walks the AST recursively, and a flat
 * `a + b + c + …` is a tree as deep as it is long: 2,000 terms overflowed the call stack in the
 * parser (the engine still evaluated 1,500). Prometheus has no such bound; 1,000 leaves room for
 * the nesting above and for callers already deep in their own stack.
 */
export const MAX_BINARY_OPERATORS = 1000;

/** Deepest syntax tree lezer may build (each operand of a chain can add a few levels). */
const MAX_TREE_DEPTH = 2000;

const DQ_STOP = /["\\]/g;
const SQ_STOP = /['\\]/g;
const BQ_STOP = /`/g;
const BINARY_WORDS: ReadonlySet<string> = new Set(['and', 'or', 'unless', 'atan2']);

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
/** [a-zA-Z_:] */
const isIdentStart = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a;
/** [a-zA-Z0-9_] */
const isWordChar = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || isDigit(c);

/**
 * Throws a ParseFailure at the first token that nests the query deeper than MAX_NESTING.
 * A linear pre-scan of the tokens, before lezer sees the text; strings and comments are skipped.
 */
function checkNesting(text: string): void {
  // pending[i]: unary signs and `^` waiting at bracket level i; `depth` counts levels + pending.
  const pending: number[] = [0];
  // Open brackets, one character each: operators inside `{…}` (matchers) and `[…]` (ranges)
  // are not binary operators.
  let open = '';
  let binaries = 0;
  let depth = 0;
  let operand = false; // the previous token ends an operand (so a sign here is binary)
  const deeper = (pos: number): void => {
    if (++depth > MAX_NESTING) {
      throw new ParseFailure(pos, `expression nested too deeply: more than ${MAX_NESTING} levels of parentheses, function calls, unary signs and ^ operators`);
    }
  };
  const binary = (pos: number): void => {
    if (open.includes('{') || open.includes('[')) return;
    if (++binaries > MAX_BINARY_OPERATORS) {
      throw new ParseFailure(pos, `expression too long: more than ${MAX_BINARY_OPERATORS} binary operators`);
    }
  };
  const discharge = (): void => {
    depth -= pending[pending.length - 1];
    pending[pending.length - 1] = 0;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (c === '#') {
      const j = text.indexOf('\n', i);
      i = j < 0 ? text.length : j;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      // To the closing quote (a backslash escapes the next character, except in backquotes).
      const stop = c === '"' ? DQ_STOP : c === "'" ? SQ_STOP : BQ_STOP;
      stop.lastIndex = i + 1;
      let m: RegExpExecArray | null;
      while ((m = stop.exec(text)) !== null && m[0] === '\\') stop.lastIndex = m.index + 2;
      i = m ? m.index : text.length;
      operand = true;
      continue;
    }
    const code = text.charCodeAt(i);
    if (isDigit(code) || code === 0x2e) {
      const hex = c === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X');
      let j = i + 1;
      while (j < text.length && (isWordChar(text.charCodeAt(j)) || text[j] === '.' || ((text[j] === '-' || text[j] === '+') && !hex && (text[j - 1] === 'e' || text[j - 1] === 'E')))) j++;
      i = j - 1;
      operand = true;
      continue;
    }
    if (isIdentStart(code)) {
      let j = i + 1;
      while (j < text.length && (isWordChar(text.charCodeAt(j)) || text[j] === ':')) j++;
      const word = text.slice(i, j).toLowerCase();
      i = j - 1;
      if (BINARY_WORDS.has(word) && operand) {
        binary(i);
        discharge();
        operand = false;
      } else operand = true;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') {
      deeper(i);
      pending.push(0);
      open += c;
      operand = false;
      continue;
    }
    if (c === ')' || c === ']' || c === '}') {
      if (pending.length > 1) {
        depth -= pending.pop()! + 1;
        open = open.slice(0, -1);
      }
      operand = true;
      continue;
    }
    if (c === ',') {
      discharge();
      operand = false;
      continue;
    }
    if (c === '^') {
      binary(i);
      deeper(i);
      pending[pending.length - 1]++;
      operand = false;
      continue;
    }
    if ((c === '-' || c === '+') && !operand) {
      deeper(i);
      pending[pending.length - 1]++;
      continue;
    }
    // Any other operator (+ - * / % comparisons, @, =~ …) ends what is pending at this level.
    if (operand) {
      if (c !== '@') binary(i);
      discharge();
    }
    operand = false;
  }
}

/**
 * Parses and type-checks a PromQL expression; throws QueryError('bad_data'). The regexes of its
 * matchers are compiled under one budget (model/regex.ts withRegexBudget).
 */
export function parseExpr(text: string): Expr {
  return withRegexBudget(() => parseUnbudgeted(text));
}

/** The text lezer parses: trailing dots normalised, the step()/range() aliases substituted. */
function lezerText(text: string): string {
  const src = /\d\.(?!\d)/.test(text) ? normalizeTrailingDots(text) : text;
  return /step|range/i.test(src) ? substituteAliases(src, false).text : src;
}

function parseUnbudgeted(text: string): Expr {
  try {
    const src = lezerText(text);
    checkNesting(src);
    let e: Expr;
    try {
      e = new Builder(src).build();
    } catch (err) {
      // min_of/max_of as scalar functions (outside durations) are not in the lezer grammar.
      if (!/min_of|max_of/i.test(src)) throw err;
      const sub = substituteAliases(src, true);
      try {
        e = new Builder(sub.text, sub.names).build();
      } catch {
        throw err;
      }
    }
    checkTypes(e);
    return e;
  } catch (err) {
    if (err instanceof ParseFailure) throw parseError(text, err.pos, err.message);
    if (err instanceof QueryError) throw err;
    throw parseError(text, 0, (err as Error).message);
  }
}

const AGG_OPS: ReadonlySet<string> = new Set([
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'limitk',
  'limit_ratio',
]);

const BIN_OPS: Record<string, BinaryOp> = {
  Pow: '^',
  Mul: '*',
  Div: '/',
  Mod: '%',
  Atan2: 'atan2',
  Add: '+',
  Sub: '-',
  Eql: '==',
  Neq: '!=',
  Gte: '>=',
  Gtr: '>',
  Lte: '<=',
  Lss: '<',
  And: 'and',
  Or: 'or',
  Unless: 'unless',
};

const UNIT_MS = [365 * 86400000, 7 * 86400000, 86400000, 3600000, 60000, 1000, 1];

const UNITS = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];

/**
 * Parses a Prometheus duration like `1h30m`; null when the text is not one. A linear scan (a
 * regex with seven optional digit groups backtracked for 0.4 s on an 18 KB run of digits).
 */
export function parseDurationMs(s: string): number | null {
  if (s === '' || !/[a-z]$/.test(s)) return null;
  let ms = 0;
  let last = -1;
  let i = 0;
  while (i < s.length) {
    let j = i;
    while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
    if (j === i) return null;
    const unit = s.startsWith('ms', j) ? 'ms' : s[j];
    const u = UNITS.indexOf(unit);
    if (u <= last) return null; // each unit once, largest first
    last = u;
    ms += Number(s.slice(i, j)) * UNIT_MS[u];
    i = j + unit.length;
  }
  return ms;
}

/** A number token as Prometheus reads it: decimal, hex, octal, Inf/NaN, or a duration in seconds. */
export function parseNumber(text: string): number {
  let s = text.replace(/_/g, '');
  let sign = 1;
  if (s.startsWith('-')) {
    sign = -1;
    s = s.slice(1);
  } else if (s.startsWith('+')) s = s.slice(1);
  const lower = s.toLowerCase();
  if (lower === 'inf' || lower === '+inf') return sign * Infinity;
  if (lower === 'nan') return NaN;
  const d = parseDurationMs(s);
  if (d !== null) return (sign * d) / 1000;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) return sign * parseInt(s.slice(2), 16);
  if (/^0[0-7]+$/.test(s)) return sign * parseInt(s.slice(1), 8);
  const n = Number(s);
  if (s === '' || Number.isNaN(n)) throw new Error(`bad number or duration syntax: "${text}"`);
  return sign * n;
}

/** Go's %#U of a character: U+007A 'z'. */
function goUnicode(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

/** Prometheus's message for a \x, \u or \U escape whose digits `h` are not all hex (`q` ends the string). */
function badHexEscape(h: string, q: string): string {
  let i = 0;
  while (i < h.length && /[0-9a-fA-F]/.test(h[i])) i++;
  return `illegal character ${goUnicode(h[i] ?? q)} in escape sequence`;
}

/** Go's strconv.Unquote for the three PromQL string forms. */
export function unquoteString(raw: string): string {
  const q = raw[0];
  if (raw.length < 2 || raw[raw.length - 1] !== q) throw new Error('unterminated quoted string');
  const body = raw.slice(1, -1);
  if (q === '`') return body;
  // Most strings (a 20,000-value alternation among them) have no escapes: no copying needed.
  if (!body.includes('\\')) {
    if (body.includes(q)) throw new Error('unescaped quote in string');
    return body;
  }
  // Escapes like \xc5 are bytes; decoding the result as UTF-8 turns invalid sequences into U+FFFD.
  const bytes: number[] = [];
  let hasByteEscape = false;
  let out = '';
  const flush = (): void => {
    if (bytes.length === 0) return;
    out += Buffer.from(bytes).toString('utf8');
    bytes.length = 0;
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\' || body[i + 1] !== 'x' && !/^[0-7]/.test(body[i + 1] ?? '')) flush();
    if (c !== '\\') {
      if (c === q) throw new Error('unescaped quote in string');
      out += c;
      continue;
    }
    const n = body[++i];
    switch (n) {
      case 'a':
        out += '\x07';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
      case "'":
        out += n;
        break;
      case 'x': {
        const h = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Error(badHexEscape(h, q));
        bytes.push(parseInt(h, 16));
        hasByteEscape = true;
        i += 2;
        continue;
      }
      case 'u':
      case 'U': {
        const len = n === 'u' ? 4 : 8;
        const h = body.slice(i + 1, i + 1 + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(h)) throw new Error(badHexEscape(h, q));
        out += String.fromCodePoint(parseInt(h, 16));
        i += len;
        break;
      }
      default: {
        const o = body.slice(i, i + 3);
        if (/^[0-7]{3}$/.test(o)) {
          bytes.push(parseInt(o, 8));
          hasByteEscape = true;
          i += 2;
          continue;
        }
        throw new Error(n === undefined ? 'escape sequence not terminated' : `unknown escape sequence ${goUnicode(n)}`);
      }
    }
  }
  flush();
  void hasByteEscape;
  return out;
}

function children(n: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) if (c.name !== 'LineComment') out.push(c);
  return out;
}

const EXPR_NODES: ReadonlySet<string> = new Set([
  'AggregateExpr',
  'BinaryExpr',
  'FunctionCall',
  'MatrixSelector',
  'NumberDurationLiteral',
  'OffsetExpr',
  'AnchoredExpr',
  'SmoothedExpr',
  'ParenExpr',
  'StringLiteral',
  'SubqueryExpr',
  'UnaryExpr',
  'VectorSelector',
  'StepInvariantExpr',
]);

function isIdentChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
}

/**
 * The identifier (`[a-zA-Z_][a-zA-Z0-9_]*`) that ends just before `end`, whitespace allowed
 * between, found by scanning backwards (linear in the identifier's length, whatever the input).
 */
export function identBefore(text: string, end: number): { name: string; start: number } | null {
  let i = end;
  while (i > 0 && isSpace(text.charCodeAt(i - 1))) i--;
  const identEnd = i;
  while (i > 0 && isIdentChar(text.charCodeAt(i - 1))) i--;
  while (i < identEnd && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  return i < identEnd ? { name: text.slice(i, identEnd), start: i } : null;
}

class Builder {
  constructor(
    private readonly text: string,
    private readonly aliases: ReadonlyMap<number, string> = new Map(),
  ) {}

  private src(n: { from: number; to: number }): string {
    return this.text.slice(n.from, n.to);
  }

  private fail(pos: number, msg: string): never {
    throw new ParseFailure(pos, msg);
  }

  build(): Expr {
    if (this.text.trim() === '') this.fail(0, 'no expression found in input');
    let tree;
    try {
      tree = parseLezer(this.text);
    } catch (e) {
      // Strict mode stops at the first token no parse can take (error recovery is superlinear on
      // long malformed input: 20,000 characters took seconds).
      const m = e instanceof SyntaxError ? /^No parse at (\d+)$/.exec(e.message) : null;
      if (!m) throw e;
      this.syntaxError({ from: Number(m[1]), to: Number(m[1]) });
    }
    let err: { from: number; to: number } | null = null;
    let depth = 0;
    tree.iterate({
      enter: (n) => {
        if (err) return false;
        // lezer flattens what lies deeper than 2,500 nodes, which the walk below cannot read.
        if (++depth > MAX_TREE_DEPTH) this.fail(n.from, `expression too long: nested more than ${MAX_TREE_DEPTH} syntax levels deep`);
        if (n.type.isError) {
          err = { from: n.from, to: n.to };
          return false;
        }
        return undefined;
      },
      leave: () => {
        depth--;
      },
    });
    if (err !== null) this.syntaxError(err);
    const top = tree.topNode;
    const kids = children(top);
    if (kids.length !== 1) this.fail(0, 'no expression found in input');
    return this.expr(kids[0]);
  }

  private syntaxError(e: { from: number; to: number }): never {
    const rest = this.text.slice(e.from).trimStart();
    if (rest.startsWith('(')) {
      const ident = identBefore(this.text, e.from);
      if (ident && !FUNCTIONS.has(ident.name) && !AGG_OPS.has(ident.name)) this.fail(ident.start, `unknown function with name "${ident.name}"`);
    }
    const d = diagnoseSyntax(this.text, e.from);
    this.fail(d.pos, d.msg);
  }

  private expr(n: SyntaxNode): Expr {
    const span: Span = { start: n.from, end: n.to };
    const k = children(n);
    switch (n.name) {
      case 'NumberDurationLiteral': {
        const text = this.src(n);
        let value: number;
        try {
          value = parseNumber(text.replace(/\s+/g, ''));
        } catch (e) {
          this.fail(n.from, (e as Error).message);
        }
        return { type: 'number', value, text, ...span };
      }
      case 'StringLiteral':
        return { type: 'string', value: this.unquote(n), ...span };
      case 'VectorSelector':
        return this.vectorSelector(n);
      case 'MatrixSelector': {
        const range = this.duration(k[1]);
        // Prometheus reports these at the range's "[".
        const bracket = Math.max(0, this.text.lastIndexOf('[', k[1].from));
        return this.postfix(
          this.expr(k[0]),
          (inner) => {
            if (inner.type !== 'vectorSelector') this.fail(bracket, 'ranges only allowed for vector selectors');
            if (inner.offset) this.fail(bracket, 'no offset modifiers allowed before range');
            if (inner.at) this.fail(bracket, 'no @ modifiers allowed before range');
            return { type: 'matrixSelector', selector: inner, range, start: inner.start, end: n.to };
          },
          n.to,
        );
      }
      case 'SubqueryExpr': {
        const durs = k.filter((c) => c.name === 'DurationExpr');
        const range = this.duration(durs[0]);
        const step = durs.length > 1 ? this.duration(durs[1]) : null;
        return this.postfix(this.expr(k[0]), (inner) => ({ type: 'subquery', expr: inner, range, step, offset: null, at: null, start: inner.start, end: n.to }), n.to);
      }
      case 'OffsetExpr': {
        const d = this.offsetDuration(k[2]);
        return this.postfix(
          this.expr(k[0]),
          (inner) => {
            const target = this.modifierTarget(inner, 'offset');
            if (target.offset) this.fail(n.from, 'offset may not be set multiple times');
            target.offset = d;
            target.end = n.to;
            inner.end = n.to;
            return inner;
          },
          n.to,
        );
      }
      case 'StepInvariantExpr': {
        const arg = k[2];
        let at: AtModifier;
        if (arg.name === 'AtModifierPreprocessors') {
          at = { kind: arg.firstChild?.name === 'AtEnd' ? 'end' : 'start' };
        } else {
          const v = parseNumber(this.src(arg).replace(/\s+/g, ''));
          if (!Number.isFinite(v) || Math.abs(v * 1000) > 9.2e18) this.fail(arg.from, `timestamp out of bounds for @ modifier: ${v}`);
          at = { kind: 'time', ms: Math.round(v * 1000) };
        }
        return this.postfix(
          this.expr(k[0]),
          (inner) => {
            const target = this.modifierTarget(inner, '@');
            if (target.at) this.fail(n.from, '@ <timestamp> may not be set multiple times');
            target.at = at;
            target.end = n.to;
            inner.end = n.to;
            return inner;
          },
          n.to,
        );
      }
      case 'ParenExpr':
        return { type: 'paren', expr: this.expr(k[0]), ...span };
      case 'UnaryExpr': {
        const op = this.src(k[0]) === '-' ? '-' : '+';
        const e = this.expr(k[1]);
        // Prometheus folds a sign into a number literal.
        if (e.type === 'number') return { ...e, value: op === '-' ? -e.value : e.value, text: op + e.text, ...span };
        return { type: 'unary', op, expr: e, ...span };
      }
      case 'FunctionCall': {
        const name = this.aliases.get(k[0].from) ?? this.src(k[0]);
        const body = k[1];
        const args = children(body).filter((c) => EXPR_NODES.has(c.name)).map((c) => this.expr(c));
        if (!FUNCTIONS.has(name)) this.fail(n.from, `unknown function with name "${name}"`);
        return { type: 'call', func: name, args, ...span };
      }
      case 'AggregateExpr':
        return this.aggregate(n, k, span);
      case 'BinaryExpr':
        return this.binary(n, k, span);
      case 'AnchoredExpr':
      case 'SmoothedExpr': {
        const mode = n.name === 'AnchoredExpr' ? 'anchored' : 'smoothed';
        return this.postfix(
          this.expr(k[0]),
          (inner) => {
            const vs = inner.type === 'matrixSelector' ? inner.selector : inner.type === 'vectorSelector' ? inner : null;
            if (!vs || (mode === 'anchored' && inner.type !== 'matrixSelector')) {
              this.fail(inner.start, `${mode} modifier must be preceded by ${mode === 'anchored' ? 'a range vector selector' : 'an instant or range vector selector'}`);
            }
            if (vs.mode) this.fail(n.from, `${mode} modifier may not be combined with ${vs.mode}`);
            vs.mode = mode;
            inner.end = n.to;
            return inner;
          },
          n.to,
        );
      }
    }
    this.fail(n.from, `unexpected ${n.name}`);
  }

  /**
   * The lezer grammar lets postfix modifiers (offset, @, [range], [range:step]) attach to a whole
   * binary or unary expression; in PromQL they bind to the operand right before them.
   */
  private postfix(e: Expr, apply: (x: Expr) => Expr, end: number): Expr {
    if (e.type === 'binary') {
      e.rhs = this.postfix(e.rhs, apply, end);
      e.end = end;
      return e;
    }
    if (e.type === 'unary') {
      e.expr = this.postfix(e.expr, apply, end);
      e.end = end;
      return e;
    }
    return apply(e);
  }

  private modifierTarget(e: Expr, what: string): VectorSelector | SubqueryExpr {
    if (e.type === 'vectorSelector' || e.type === 'subquery') return e;
    if (e.type === 'matrixSelector') return e.selector;
    const msg =
      what === 'offset'
        ? 'offset modifier must be preceded by an instant vector selector or range vector selector or a subquery'
        : '@ modifier must be preceded by an instant vector selector or range vector selector or a subquery';
    this.fail(e.start, msg);
  }

  private unquote(n: SyntaxNode): string {
    try {
      return unquoteString(this.src(n));
    } catch (e) {
      this.fail(n.from, (e as Error).message);
    }
  }

  private vectorSelector(n: SyntaxNode): VectorSelector {
    let name = '';
    const matchers: Matcher[] = [];
    for (const c of children(n)) {
      if (c.name === 'Identifier') {
        name = this.src(c);
        continue;
      }
      if (c.name !== 'LabelMatchers') continue;
      for (const m of children(c)) {
        if (m.name === 'QuotedLabelName') {
          const v = this.unquote(m.firstChild ?? m);
          if (name !== '') this.fail(m.from, `metric name must not be set twice: ${JSON.stringify(name)} or ${JSON.stringify(v)}`);
          name = v;
          continue;
        }
        const mk = children(m);
        const lname = m.name === 'QuotedLabelMatcher' ? this.unquote(mk[0].firstChild ?? mk[0]) : this.src(mk[0]);
        const op = this.src(mk[1]) as MatchType;
        const value = this.unquote(mk[2]);
        try {
          matchers.push(new Matcher(op, lname, value));
        } catch (e) {
          this.fail(m.from, (e as Error).message.replace(/^invalid regular expression/, 'error parsing regexp'));
        }
      }
    }
    if (name !== '') {
      if (matchers.some((m) => m.name === METRIC_NAME)) {
        this.fail(n.from, `metric name must not be set twice: ${JSON.stringify(name)} or ${JSON.stringify(matchers.find((m) => m.name === METRIC_NAME)!.value)}`);
      }
      matchers.unshift(new Matcher('=', METRIC_NAME, name));
    }
    return { type: 'vectorSelector', name, matchers, offset: null, at: null, mode: null, start: n.from, end: n.to };
  }

  private groupingLabels(n: SyntaxNode): string[] {
    return children(n).map((c) => (c.name === 'QuotedLabelName' ? this.unquote(c.firstChild ?? c) : this.src(c)));
  }

  private aggregate(n: SyntaxNode, k: SyntaxNode[], span: Span): Aggregate {
    const op = this.src(k[0]).toLowerCase() as AggregateOp;
    let grouping: string[] = [];
    let without = false;
    let hasGrouping = false;
    let body: SyntaxNode | null = null;
    for (const c of k.slice(1)) {
      if (c.name === 'AggregateModifier') {
        const mk = children(c);
        without = mk[0].name === 'Without';
        grouping = this.groupingLabels(mk[1]);
        hasGrouping = true;
      } else if (c.name === 'FunctionCallBody') body = c;
    }
    const args = body ? children(body).filter((c) => EXPR_NODES.has(c.name)).map((c) => this.expr(c)) : [];
    const needsParam = op === 'topk' || op === 'bottomk' || op === 'quantile' || op === 'count_values' || op === 'limitk' || op === 'limit_ratio';
    const want = needsParam ? 2 : 1;
    if (args.length !== want) {
      this.fail(n.from, `wrong number of arguments for aggregate expression provided, expected ${want}, got ${args.length}`);
    }
    return { type: 'aggregate', op, expr: args[want - 1], param: needsParam ? args[0] : null, grouping, without, hasGrouping, ...span };
  }

  private binary(n: SyntaxNode, k: SyntaxNode[], span: Span): Binary {
    const lhs = this.expr(k[0]);
    const opNode = k[1];
    const op = BIN_OPS[opNode.name];
    if (!op) this.fail(opNode.from, `operator ${JSON.stringify(this.src(opNode))} is not supported`);
    let bool = false;
    let matching: VectorMatching | null = null;
    let fill: Binary['fill'] = null;
    let rhsNode: SyntaxNode | null = null;
    for (const c of k.slice(2)) {
      if (c.name === 'BoolModifier') bool = true;
      else if (c.name === 'MatchingModifierClause') {
        const mk = children(c);
        const on = mk[0].name === 'On';
        const labels = this.groupingLabels(mk[1]);
        let card: VectorMatching['card'] = 'one-to-one';
        let include: string[] = [];
        if (mk[2]) {
          card = mk[2].name === 'GroupLeft' ? 'many-to-one' : 'one-to-many';
          if (mk[3]) include = this.groupingLabels(mk[3]);
        }
        matching = { card, on, labels, include, explicit: true };
      } else if (c.name === 'FillModifier') {
        fill = { lhs: null, rhs: null };
        for (const f of children(c)) {
          const lit = children(f).find((x) => x.name === 'NumberDurationLiteral');
          const v = lit ? parseNumber(this.src(lit).replace(/\s+/g, '')) : NaN;
          if (f.name === 'FillClause') fill = { lhs: v, rhs: v };
          else if (f.name === 'FillLeftClause') fill.lhs = v;
          else fill.rhs = v;
        }
      } else if (EXPR_NODES.has(c.name)) rhsNode = c;
    }
    if (!rhsNode) this.fail(n.to, 'unexpected end of input');
    const rhs = this.expr(rhsNode);
    return rebalance({ type: 'binary', op, lhs, rhs, bool, matching, fill, ...span });
  }

  private duration(n: SyntaxNode): DurationExpr {
    const k = children(n);
    if (n.name === 'NumberDurationLiteralInDurationContext' || n.name === 'NumberDurationLiteral') {
      const text = this.src(n);
      const ms = parseDurationMs(text);
      if (ms !== null) return { kind: 'literal', ms, text };
      const v = parseNumber(text);
      if (!Number.isFinite(v)) this.fail(n.from, `invalid duration ${text}`);
      return { kind: 'literal', ms: Math.round(v * 1000), text };
    }
    if (n.name === 'DurationExpr' || n.name === 'OffsetDurationExpr') {
      if (k.length === 1) {
        const c = k[0];
        if (c.name === 'DurationExpr' || c.name === 'OffsetDurationExpr') return { kind: 'paren', arg: this.duration(c) };
        return this.duration(c);
      }
      if (k.length === 2 && k[0].name === 'UnaryOp') {
        return { kind: 'unary', op: this.src(k[0]) === '-' ? '-' : '+', arg: this.duration(k[1]) };
      }
      if (k.length === 2 && (k[0].name === 'DurationStep' || k[0].name === 'DurationRange')) {
        return { kind: k[0].name === 'DurationStep' ? 'step' : 'range' };
      }
      if (k.length === 1 + 2 && (k[0].name === 'DurationMinOf' || k[0].name === 'DurationMaxOf')) {
        return { kind: 'minmax', fn: k[0].name === 'DurationMinOf' ? 'min' : 'max', lhs: this.duration(k[1]), rhs: this.duration(k[2]) };
      }
      if (k.length === 3) {
        const op = BIN_OPS[k[1].name];
        if (op === '+' || op === '-' || op === '*' || op === '/' || op === '%' || op === '^') {
          return { kind: 'binary', op, lhs: this.duration(k[0]), rhs: this.duration(k[2]) };
        }
      }
    }
    if (n.name === 'DurationStep') return { kind: 'step' };
    if (n.name === 'DurationRange') return { kind: 'range' };
    this.fail(n.from, `unexpected ${JSON.stringify(this.src(n))} in duration`);
  }

  private offsetDuration(n: SyntaxNode): DurationExpr {
    return this.duration(n);
  }
}

const PRECEDENCE: Record<BinaryOp, number> = {
  or: 1,
  and: 2,
  unless: 2,
  '==': 3,
  '!=': 3,
  '>': 3,
  '<': 3,
  '>=': 3,
  '<=': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  atan2: 5,
  '^': 6,
};

/**
 * Restores operator precedence where moving a postfix modifier into an operand left a looser
 * binary expression as the left operand of a tighter one: (a + b) * c → a + (b * c).
 */
function rebalance(b: Binary): Binary {
  const l = b.lhs;
  if (l.type !== 'binary') return b;
  const pl = PRECEDENCE[l.op];
  const pb = PRECEDENCE[b.op];
  if (pl < pb || (pl === pb && b.op === '^')) {
    b.lhs = l.rhs;
    b.start = b.lhs.start;
    l.rhs = rebalance(b);
    l.end = b.end;
    return l;
  }
  return b;
}

/** Evaluates a duration expression to milliseconds. */
export function evalDuration(d: DurationExpr, ctx: { step: number; range: number }): number {
  switch (d.kind) {
    case 'literal':
      return d.ms;
    case 'step':
      return ctx.step;
    case 'range':
      return ctx.range;
    case 'paren':
      return evalDuration(d.arg, ctx);
    case 'unary':
      return d.op === '-' ? -evalDuration(d.arg, ctx) : evalDuration(d.arg, ctx);
    case 'minmax': {
      const a = evalDuration(d.lhs, ctx);
      const b = evalDuration(d.rhs, ctx);
      return d.fn === 'min' ? Math.min(a, b) : Math.max(a, b);
    }
    case 'binary': {
      const a = evalDuration(d.lhs, ctx) / 1000;
      const b = evalDuration(d.rhs, ctx) / 1000;
      let r: number;
      switch (d.op) {
        case '+':
          r = a + b;
          break;
        case '-':
          r = a - b;
          break;
        case '*':
          r = a * b;
          break;
        case '/':
          if (b === 0) throw new QueryError('bad_data', 'division by zero in duration expression');
          r = a / b;
          break;
        case '%':
          if (b === 0) throw new QueryError('bad_data', 'modulo by zero in duration expression');
          r = a % b;
          break;
        case '^':
          r = Math.pow(a, b);
          break;
      }
      return Math.round(r * 1000);
    }
  }
}

/** The value type an expression evaluates to. */
export function exprType(e: Expr): ValueType {
  switch (e.type) {
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'vectorSelector':
      return 'vector';
    case 'matrixSelector':
    case 'subquery':
      return 'matrix';
    case 'call':
      return FUNCTIONS.get(e.func)?.returns ?? 'vector';
    case 'aggregate':
      return 'vector';
    case 'binary':
      return exprType(e.lhs) === 'scalar' && exprType(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'unary':
    case 'paren':
      return exprType(e.expr);
  }
}

function checkSelector(vs: VectorSelector): void {
  if (!vs.matchers.some((m) => !m.matchesEmpty())) throw new ParseFailure(vs.start, 'vector selector must contain at least one non-empty matcher');
}

function expectType(e: Expr, want: ValueType, context: string): void {
  const got = exprType(e);
  if (got !== want) throw new ParseFailure(e.start, `expected type ${typeName(want)} in ${context}, got ${typeName(got)}`);
}

/** Prometheus's checkAST: types, arity, vector matching rules. */
export function checkTypes(e: Expr): void {
  switch (e.type) {
    case 'number':
    case 'string':
      return;
    case 'vectorSelector':
      checkSelector(e);
      return;
    case 'matrixSelector':
      checkSelector(e.selector);
      return;
    case 'subquery': {
      const t = exprType(e.expr);
      if (t !== 'vector') throw new ParseFailure(e.start, `subquery is only allowed on instant vector, got ${typeName(t)} instead`);
      checkTypes(e.expr);
      return;
    }
    case 'paren':
      checkTypes(e.expr);
      return;
    case 'unary': {
      const t = exprType(e.expr);
      if (t !== 'scalar' && t !== 'vector') {
        throw new ParseFailure(e.start, `unary expression only allowed on expressions of type scalar or instant vector, got ${JSON.stringify(typeName(t))}`);
      }
      checkTypes(e.expr);
      return;
    }
    case 'call': {
      const sig = FUNCTIONS.get(e.func)!;
      const nargs = sig.args.length;
      if (sig.variadic === 0) {
        if (nargs !== e.args.length) throw new ParseFailure(e.start, `expected ${nargs} argument(s) in call to ${JSON.stringify(e.func)}, got ${e.args.length}`);
      } else {
        const na = nargs - 1;
        if (na > e.args.length) throw new ParseFailure(e.start, `expected at least ${na} argument(s) in call to ${JSON.stringify(e.func)}, got ${e.args.length}`);
        if (sig.variadic > 0 && na + sig.variadic < e.args.length) {
          throw new ParseFailure(e.start, `expected at most ${na + sig.variadic} argument(s) in call to ${JSON.stringify(e.func)}, got ${e.args.length}`);
        }
      }
      for (let i = 0; i < e.args.length; i++) {
        const t = sig.args[Math.min(i, nargs - 1)];
        expectType(e.args[i], t, `call to function ${JSON.stringify(e.func)}`);
        const a = e.args[i];
        const mode = a.type === 'matrixSelector' ? a.selector.mode : null;
        if (mode) {
          const allowed = mode === 'anchored' ? ANCHORED_FUNCTIONS : SMOOTHED_FUNCTIONS;
          if (!allowed.has(e.func)) {
            // Prometheus reports this one without a position.
            throw new QueryError('bad_data', `${mode} modifier can only be used with: ${[...allowed].sort().join(', ')} - not with ${e.func}`);
          }
        }
      }
      if (e.func === 'label_replace' || e.func === 'label_join') {
        // Destination label names are validated at evaluation time, as Prometheus does.
      }
      for (let i = 0; i < e.args.length; i++) {
        // info()'s second argument selects info series and may match the empty string.
        if (e.func === 'info' && i === 1) {
          if (e.args[i].type !== 'vectorSelector') throw new ParseFailure(e.args[i].start, 'expected a label selector as the second argument of info()');
          continue;
        }
        checkTypes(e.args[i]);
      }
      return;
    }
    case 'aggregate': {
      const t = exprType(e.expr);
      if (t !== 'vector') throw new ParseFailure(e.expr.start, `expected type instant vector in aggregation expression, got ${typeName(t)}`);
      if (e.param) {
        if (e.op === 'count_values') expectType(e.param, 'string', 'aggregation parameter');
        else expectType(e.param, 'scalar', 'aggregation parameter');
        checkTypes(e.param);
      }
      checkTypes(e.expr);
      return;
    }
    case 'binary': {
      const lt = exprType(e.lhs);
      const rt = exprType(e.rhs);
      if ((lt !== 'scalar' && lt !== 'vector') || (rt !== 'scalar' && rt !== 'vector')) {
        throw new ParseFailure(e.start, 'binary expression must contain only scalar and instant vector types');
      }
      if (e.bool && !COMPARISON_OPS.has(e.op)) throw new ParseFailure(e.start, 'bool modifier can only be used on comparison operators');
      if (COMPARISON_OPS.has(e.op) && lt === 'scalar' && rt === 'scalar' && !e.bool) {
        throw new ParseFailure(e.start, 'comparisons between scalars must use BOOL modifier');
      }
      const isSet = SET_OPS.has(e.op);
      if (isSet && (lt === 'scalar' || rt === 'scalar')) {
        throw new ParseFailure(e.start, `set operator "${e.op}" not allowed in binary scalar expression`);
      }
      if (e.matching && (lt !== 'vector' || rt !== 'vector')) {
        throw new ParseFailure(e.start, 'vector matching only allowed between instant vectors');
      }
      if (lt === 'vector' && rt === 'vector') {
        if (!e.matching) e.matching = { card: 'one-to-one', on: false, labels: [], include: [], explicit: false };
        if (isSet) {
          if (e.matching.card === 'many-to-one' || e.matching.card === 'one-to-many') {
            throw new ParseFailure(e.start, `no grouping allowed for "${e.op}" operation`);
          }
          e.matching.card = 'many-to-many';
        }
        if (e.matching.on) {
          for (const l of e.matching.include) {
            if (e.matching.labels.includes(l)) throw new ParseFailure(e.start, `label "${l}" must not occur in ON and GROUP clause at once`);
          }
        }
      }
      if (e.fill && isSet) throw new ParseFailure(e.start, `fill modifiers are not allowed with set operator "${e.op}"`);
      checkTypes(e.lhs);
      checkTypes(e.rhs);
      return;
    }
  }
}
