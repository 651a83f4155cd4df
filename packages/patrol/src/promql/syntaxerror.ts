// Prometheus-worded syntax errors. The lezer grammar finds where a query stops parsing; this
// module says why, the way Prometheus's own parser does: its lexer's errors (`unclosed left
// parenthesis`, `unexpected right parenthesis ')'`, `unterminated quoted string`, …) and its
// grammar's error rules (`unexpected ")" in subquery or range, expected ":" or "]"`), with the
// position Prometheus reports. Runs only on a failed parse, in time linear in the query's length.

type Kind =
  | 'ident'
  | 'metricIdent'
  | 'keyword'
  | 'aggr'
  | 'op'
  | 'number'
  | 'duration'
  | 'string'
  | 'punct'
  | 'eof';

interface Token {
  kind: Kind;
  /** The token's text (for punctuation and operators, the symbol). */
  val: string;
  start: number;
  end: number;
}

/** A syntax error: 0-based offset (Prometheus's column is offset + 1) and message. */
export interface SyntaxDiagnosis {
  pos: number;
  msg: string;
}

const KEYWORDS: ReadonlySet<string> = new Set(['offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'start', 'end']);
const OP_WORDS: ReadonlySet<string> = new Set(['and', 'or', 'unless', 'atan2']);
const AGGREGATORS: ReadonlySet<string> = new Set([
  'sum',
  'avg',
  'count',
  'min',
  'max',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'count_values',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const DURATION_TOKEN = /^(?:\d+(?:y|w|d|h|ms|m|s))+$/;
// Each part of a number is read once: `\d[\d_]*\.?[\d_]*` split a run of digits between its two
// stars in every way before failing, so 18 KB of digits and a letter took seconds (fuzz, issue 11).
const NUMBER_TOKEN = /^(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)$/;

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isAlpha(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}

function isAlnum(c: string): boolean {
  return isAlpha(c) || isDigit(c);
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** Go's %q of a rune: 'x', with Go's escapes. */
function quoteRune(c: string): string {
  const esc: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', "'": "\\'", '\\': '\\\\' };
  if (esc[c]) return `'${esc[c]}'`;
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  return `'${c}'`;
}

/** Go's %q of a string (JSON's escaping is the same for what a query holds). */
function quote(s: string): string {
  return JSON.stringify(s);
}

/** How Prometheus names a token in "unexpected …" (its Item.desc). */
function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input';
    case 'punct':
      return quote(t.val);
    case 'op':
      return `<op:${t.val}>`;
    case 'keyword':
      return `<${t.val}>`;
    case 'aggr':
      return `<aggr:${t.val}>`;
    case 'ident':
      return `identifier ${quote(t.val)}`;
    case 'metricIdent':
      return `metric identifier ${quote(t.val)}`;
    default: {
      const chars = [...t.val];
      const shown = chars.length > 10 ? `${quote(chars.slice(0, 10).join(''))}...` : quote(t.val);
      return `${t.kind} ${shown}`;
    }
  }
}

class LexError {
  constructor(
    readonly pos: number,
    readonly msg: string,
  ) {}
}

/**
 * Prometheus's lexer, as far as errors go: yields tokens up to `limit` (the first token ending
 * after it included), or throws the LexError Prometheus's lexer would report first.
 */
function lex(text: string, limit: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  let parenDepth = 0;
  let braceOpen = false;
  let bracketOpen = false;
  let gotColon = false;
  const n = text.length;
  const push = (kind: Kind, start: number, end: number, val = text.slice(start, end)): void => {
    out.push({ kind, val, start, end });
  };
  const lexString = (start: number, q: string): void => {
    let j = start + 1;
    for (;;) {
      if (j >= n || (text[j] === '\n' && q !== '`')) throw new LexError(start, 'unterminated quoted string');
      const c = text[j];
      if (c === '\\' && q !== '`') {
        j += 2;
        continue;
      }
      j++;
      if (c === q) break;
    }
    push('string', start, j);
    i = j;
  };
  while (out.length === 0 || out[out.length - 1].end <= limit) {
    if (i >= n) {
      if (braceOpen) throw new LexError(n, 'unexpected end of input inside braces');
      if (parenDepth > 0) throw new LexError(n, 'unclosed left parenthesis');
      if (bracketOpen) throw new LexError(n, 'unclosed left bracket');
      push('eof', n, n, '');
      break;
    }
    const c = text[i];
    const start = i;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (braceOpen) {
      if (isAlpha(c)) {
        while (i < n && isAlnum(text[i])) i++;
        push('ident', start, i);
      } else if (c === ',') push('punct', start, ++i);
      else if (c === '"' || c === "'" || c === '`') lexString(start, c);
      else if (c === '=') {
        i += text[i + 1] === '~' ? 2 : 1;
        push(i - start === 2 ? 'op' : 'punct', start, i);
      } else if (c === '!') {
        const d = text[i + 1] ?? '';
        if (d !== '~' && d !== '=') throw new LexError(start, `unexpected character after '!' inside braces: ${quoteRune(d || '\u0000')}`);
        i += 2;
        push('op', start, i);
      } else if (c === '{') throw new LexError(start, `unexpected left brace ${quoteRune(c)}`);
      else if (c === '}') {
        push('punct', start, ++i);
        braceOpen = false;
      } else throw new LexError(start, `unexpected character inside braces: ${quoteRune(String.fromCodePoint(text.codePointAt(i) ?? 0))}`);
      continue;
    }
    if (c === ',') push('punct', start, ++i);
    else if ('*/%+-^'.includes(c)) push('op', start, ++i);
    else if (c === '=') {
      const d = text[i + 1];
      if (d === '~') throw new LexError(start, `unexpected character after '=': ${quoteRune(d)}`);
      i += d === '=' ? 2 : 1;
      push(i - start === 2 ? 'op' : 'punct', start, i);
    } else if (c === '!') {
      const d = text[i + 1] ?? '';
      if (d !== '=') throw new LexError(start, `unexpected character after '!': ${quoteRune(d || '\u0000')}`);
      i += 2;
      push('op', start, i);
    } else if (c === '<' || c === '>') {
      i += text[i + 1] === '=' ? 2 : 1;
      push('op', start, i);
    } else if (isDigit(c) || (c === '.' && isDigit(text[i + 1] ?? ''))) {
      while (i < n && (isAlnum(text[i]) || text[i] === '.' || ((text[i] === '+' || text[i] === '-') && /[eE]/.test(text[i - 1]) && !/^0[xX]/.test(text.slice(start, i))))) i++;
      const s = text.slice(start, i);
      if (DURATION_TOKEN.test(s)) push('duration', start, i);
      else if (NUMBER_TOKEN.test(s)) push('number', start, i);
      else {
        // Prometheus names the part it could read as a number.
        const m = /^(?:\d[\d_]*(?:\.[\d_]*)?|\.\d+)/.exec(s);
        const what = out[out.length - 1]?.val === '[' && out[out.length - 1].kind === 'punct' ? 'bad duration syntax' : 'bad number or duration syntax';
        throw new LexError(start, `${what}: ${quote(m ? m[0] : s)}`);
      }
    } else if (c === '"' || c === "'" || c === '`') lexString(start, c);
    else if (isAlpha(c) || c === ':') {
      if (bracketOpen && c === ':') {
        if (gotColon) throw new LexError(start, `unexpected colon ${quoteRune(c)}`);
        gotColon = true;
        push('punct', start, ++i);
        continue;
      }
      while (i < n && (isAlnum(text[i]) || (text[i] === ':' && !bracketOpen))) i++;
      const word = text.slice(start, i);
      const lower = word.toLowerCase();
      if (KEYWORDS.has(lower)) push('keyword', start, i, lower);
      else if (OP_WORDS.has(lower)) push('op', start, i, lower);
      else if (AGGREGATORS.has(lower)) push('aggr', start, i, lower);
      else if (lower === 'inf' || lower === 'nan') push('number', start, i);
      else push(word.includes(':') ? 'metricIdent' : 'ident', start, i);
    } else if (c === '(') {
      push('punct', start, ++i);
      parenDepth++;
    } else if (c === ')') {
      push('punct', start, ++i);
      if (--parenDepth < 0) throw new LexError(i, `unexpected right parenthesis ${quoteRune(c)}`);
    } else if (c === '{') {
      push('punct', start, ++i);
      braceOpen = true;
    } else if (c === '[') {
      if (bracketOpen) throw new LexError(start, `unexpected left bracket ${quoteRune(c)}`);
      push('punct', start, ++i);
      bracketOpen = true;
      gotColon = false;
    } else if (c === ']') {
      if (!bracketOpen) throw new LexError(start, `unexpected right bracket ${quoteRune(c)}`);
      push('punct', start, ++i);
      bracketOpen = false;
    } else if (c === '@') push('op', start, ++i);
    else throw new LexError(start, `unexpected character: ${quoteRune(String.fromCodePoint(text.codePointAt(i) ?? 0))}`);
  }
  return out;
}

type Frame = 'paren' | 'call' | 'aggregation' | 'grouping' | 'brace' | 'bracket';

const GROUPING_KEYWORDS: ReadonlySet<string> = new Set(['by', 'without', 'on', 'ignoring']);
const MATCH_OPS: ReadonlySet<string> = new Set(['=', '!=', '=~', '!~']);

/** Context and expectation of Prometheus's grammar error rule that a token fails in. */
function context(toks: Token[], k: number): { ctx: string; expected: string } | { pos: number; msg: string } {
  const frames: Frame[] = [];
  /** An aggregation operator seen, its "(" not yet. */
  let aggPending = false;
  let colonInBracket = false;
  for (let j = 0; j < k; j++) {
    const t = toks[j];
    const prev = toks[j - 1];
    if (t.kind === 'punct') {
      if (t.val === '(') {
        if (prev && prev.kind === 'keyword' && (GROUPING_KEYWORDS.has(prev.val) || prev.val === 'group_left' || prev.val === 'group_right')) frames.push('grouping');
        else if (aggPending) {
          frames.push('aggregation');
          aggPending = false;
        } else frames.push(prev && (prev.kind === 'ident' || prev.kind === 'metricIdent') ? 'call' : 'paren');
      } else if (t.val === '{') frames.push('brace');
      else if (t.val === '[') {
        frames.push('bracket');
        colonInBracket = false;
      } else if (t.val === ':' && frames[frames.length - 1] === 'bracket') colonInBracket = true;
      else if (t.val === ')' || t.val === '}' || t.val === ']') frames.pop();
    } else if (t.kind === 'aggr') aggPending = true;
    // An aggregation operator not followed by "(" or by/without is a metric name.
    if (prev?.kind === 'aggr' && t.kind !== 'aggr' && !(t.kind === 'punct' && t.val === '(') && !(t.kind === 'keyword' && (t.val === 'by' || t.val === 'without'))) aggPending = false;
  }
  const tok = toks[k];
  const prev = toks[k - 1];
  if (prev?.kind === 'aggr') aggPending = false;
  const top = frames[frames.length - 1];
  if (top === 'brace') {
    if (!prev || prev.val === '{' || prev.val === ',') return { ctx: 'label matching', expected: 'identifier or "}"' };
    if (MATCH_OPS.has(prev.val) && (prev.kind === 'op' || prev.kind === 'punct')) return { ctx: 'label matching', expected: 'string' };
    if (prev.kind === 'string') return { ctx: 'label matching', expected: '"," or "}"' };
    return { ctx: 'label matching', expected: 'label matching operator' };
  }
  if (top === 'grouping') {
    if (prev && (prev.val === '(' || prev.val === ',') && prev.kind === 'punct') return { ctx: 'grouping opts', expected: 'label' };
    return { ctx: 'grouping opts', expected: '"," or ")"' };
  }
  if (prev && prev.kind === 'keyword' && GROUPING_KEYWORDS.has(prev.val)) return { ctx: 'grouping opts', expected: '"("' };
  if (prev && prev.kind === 'keyword' && prev.val === 'offset') return { ctx: 'offset', expected: 'duration' };
  if (prev && prev.kind === 'op' && prev.val === '-' && toks[k - 2]?.kind === 'keyword' && toks[k - 2]?.val === 'offset') return { ctx: 'offset', expected: 'duration' };
  if (prev && prev.kind === 'op' && prev.val === '@') return { ctx: '@', expected: 'timestamp' };
  if (top === 'bracket') {
    if (prev?.val === '[' && prev.kind === 'punct') return { ctx: 'subquery selector', expected: 'duration' };
    if (prev?.val === ':' && prev.kind === 'punct') return { ctx: 'subquery selector', expected: 'duration or "]"' };
    return colonInBracket ? { ctx: 'subquery selector', expected: '"]"' } : { ctx: 'subquery or range', expected: '":" or "]"' };
  }
  if (tok.kind === 'punct' && tok.val === ')' && prev?.kind === 'punct' && prev.val === ',' && (top === 'call' || top === 'aggregation')) {
    return { pos: prev.start, msg: 'trailing commas not allowed in function call args' };
  }
  if (aggPending || frames.includes('aggregation')) return { ctx: 'aggregation', expected: '' };
  return { ctx: '', expected: '' };
}

/**
 * Why `text` does not parse, given the offset where the grammar stopped: the message and
 * position Prometheus gives for the same query (its lexer's error when the lexer fails first,
 * else `unexpected <token> [in <context>][, expected <what>]`).
 */
export function diagnoseSyntax(text: string, stoppedAt: number): SyntaxDiagnosis {
  let toks: Token[];
  try {
    toks = lex(text, stoppedAt);
  } catch (e) {
    if (e instanceof LexError) return { pos: e.pos, msg: e.msg };
    throw e;
  }
  let k = toks.findIndex((t) => t.end > stoppedAt || t.kind === 'eof');
  if (k < 0) k = toks.length - 1;
  const c = context(toks, k);
  if ('msg' in c) return c;
  const tok = toks[k];
  return { pos: tok.start, msg: `unexpected ${describe(tok)}${c.ctx ? ` in ${c.ctx}` : ''}${c.expected ? `, expected ${c.expected}` : ''}` };
}
