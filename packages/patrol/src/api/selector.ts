// Series selectors as the API's match[] parameter takes them (PromQL's ParseMetricSelector):
// `name`, `name{l="v", l2=~"re"}`, `{l!="v"}`, and Prometheus 3's quoted names
// (`{"my.metric", "a.b"="c"}`). Strings use PromQL's quoting: "…" and '…' with Go escapes, `…` raw.
// Errors carry the position and wording of Prometheus's parser for the usual mistakes.

import { METRIC_NAME } from '../model/labels.js';
import { Matcher, type MatchType } from '../model/matchers.js';

export class SelectorError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    reason: string,
  ) {
    super(`${line}:${column}: parse error: ${reason}`);
    this.name = 'SelectorError';
  }
}

const IDENT_START = /[a-zA-Z_:]/;
const IDENT_PART = /[a-zA-Z0-9_:]/;
const LABEL_START = /[a-zA-Z_]/;
const LABEL_PART = /[a-zA-Z0-9_]/;

// Words Prometheus's lexer reads as keywords, printed as <word> in errors.
const KEYWORDS: ReadonlySet<string> = new Set([
  'and', 'or', 'unless', 'atan2', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset',
  'sum', 'avg', 'count', 'min', 'max', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'count_values', 'quantile', 'limitk', 'limit_ratio',
]);

export function parseSelector(text: string): Matcher[] {
  return new SelectorParser(text).parse();
}

class SelectorParser {
  private pos = 0;

  constructor(private readonly src: string) {}

  private fail(reason: string, at = this.pos): never {
    // Prometheus counts columns in bytes from 1 on the line of the error.
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at && i < this.src.length; i++) {
      if (this.src[i] === '\n') {
        line++;
        lineStart = i + 1;
      }
    }
    const col = Buffer.byteLength(this.src.slice(lineStart, at)) + 1;
    throw new SelectorError(line, col, reason);
  }

  private skipSpace(): void {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.pos++;
      else if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else break;
    }
  }

  private describe(at: number): string {
    const c = this.src[at];
    if (c === undefined) return 'end of input';
    if (IDENT_START.test(c)) {
      const id = this.readIdentAt(at);
      return KEYWORDS.has(id.toLowerCase()) ? `<${id.toLowerCase()}>` : `identifier ${JSON.stringify(id)}`;
    }
    if (c === '"' || c === "'" || c === '`') return 'string';
    if (/[0-9.]/.test(c)) {
      const m = /^(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+\.)/.exec(this.src.slice(at));
      return `number ${JSON.stringify(m ? m[0] : c)}`;
    }
    return JSON.stringify(c);
  }

  /** What follows a complete selector, in the words of Prometheus's parser. */
  private failTrailing(): never {
    const c = this.src[this.pos];
    if (c === ')') this.fail("unexpected right parenthesis ')'", this.pos + 1);
    if (c === ']') this.fail("unexpected right bracket ']'");
    const op = /^(?:==|!=|<=|>=|[-+*/%^<>])/.exec(this.src.slice(this.pos));
    if (op) this.fail(`unexpected <op:${op[0]}>`);
    if (IDENT_START.test(c) || /[0-9.]/.test(c) || '([{,=!~@'.includes(c)) this.fail(`unexpected ${this.describe(this.pos)}`);
    this.fail(`unexpected character: ${goQuoteChar(c)}`);
  }

  private readIdentAt(at: number): string {
    let e = at;
    while (e < this.src.length && IDENT_PART.test(this.src[e])) e++;
    return this.src.slice(at, e);
  }

  parse(): Matcher[] {
    this.skipSpace();
    const matchers: Matcher[] = [];
    let name: string | null = null;
    const c = this.src[this.pos];
    if (c === undefined) this.fail('unexpected end of input');
    if (IDENT_START.test(c)) {
      name = this.readIdentAt(this.pos);
      this.pos += name.length;
      this.skipSpace();
    } else if (c !== '{') {
      if (c === '"' || c === "'" || c === '`') this.fail('unexpected string, expected vector selector');
      this.failTrailing();
    }
    if (this.src[this.pos] === '{') {
      this.pos++;
      matchers.push(...this.parseMatchers());
      this.skipSpace();
    }
    if (this.pos < this.src.length) this.failTrailing();
    if (name !== null) matchers.unshift(new Matcher('=', METRIC_NAME, name));
    return matchers;
  }

  /** After `{`: matchers up to and including `}`. */
  private parseMatchers(): Matcher[] {
    const out: Matcher[] = [];
    for (;;) {
      this.skipSpace();
      const c = this.src[this.pos];
      if (c === undefined) this.fail('unexpected end of input inside braces');
      if (c === '}') {
        this.pos++;
        return out;
      }
      let label: string;
      const at = this.pos;
      if (c === '"' || c === "'" || c === '`') {
        label = this.parseString();
        this.skipSpace();
        const next = this.src[this.pos];
        if (next === ',' || next === '}') {
          // A lone quoted string names the metric (Prometheus 3).
          out.push(new Matcher('=', METRIC_NAME, label));
          if (next === ',') this.pos++;
          continue;
        }
      } else if (LABEL_START.test(c)) {
        label = '';
        while (this.pos < this.src.length && LABEL_PART.test(this.src[this.pos])) label += this.src[this.pos++];
        if (this.src[this.pos] === ':') this.fail(`unexpected character inside braces: ${goQuoteChar(':')}`);
      } else if (c === ',') {
        this.fail('unexpected "," in label matching, expected identifier or "}"');
      } else if (IDENT_START.test(c) || /[0-9]/.test(c)) {
        this.fail(`unexpected character inside braces: ${goQuoteChar(c)}`);
      } else {
        this.fail(`unexpected character inside braces: ${goQuoteChar(c)}`);
      }
      this.skipSpace();
      const opc = this.src[this.pos];
      if (opc === '!' && this.src[this.pos + 1] !== '=' && this.src[this.pos + 1] !== '~') {
        if (this.src[this.pos + 1] === undefined) this.fail('unexpected end of input inside braces');
        this.fail(`unexpected character after '!' inside braces: ${goQuoteChar(this.src[this.pos + 1])}`);
      }
      if (opc !== undefined && !/[=!a-zA-Z_"'`,}\s]/.test(opc)) this.fail(`unexpected character inside braces: ${goQuoteChar(opc)}`);
      const op = this.parseOp();
      if (op === null) {
        const d = this.src[this.pos] === undefined ? 'end of input inside braces' : this.describe(this.pos);
        if (this.src[this.pos] === undefined) this.fail('unexpected end of input inside braces');
        this.fail(`unexpected ${d} in label matching, expected label matching operator`);
      }
      this.skipSpace();
      const vc = this.src[this.pos];
      if (vc === undefined) this.fail('unexpected end of input inside braces');
      if (vc !== '"' && vc !== "'" && vc !== '`') this.fail(`unexpected ${this.describe(this.pos)} in label matching, expected string`);
      const value = this.parseString();
      try {
        out.push(new Matcher(op, label, value));
      } catch (e) {
        this.fail((e as Error).message, at);
      }
      this.skipSpace();
      const sep = this.src[this.pos];
      if (sep === ',') this.pos++;
      else if (sep !== '}') {
        if (sep === undefined) this.fail('unexpected end of input inside braces');
        this.fail(`unexpected ${this.describe(this.pos)} in label matching, expected "," or "}"`);
      }
    }
  }

  private parseOp(): MatchType | null {
    const two = this.src.slice(this.pos, this.pos + 2);
    if (two === '=~' || two === '!~' || two === '!=') {
      this.pos += 2;
      return two;
    }
    if (this.src[this.pos] === '=') {
      this.pos++;
      return '=';
    }
    return null;
  }

  private stringStart = 0;

  private parseString(): string {
    const q = this.src[this.pos];
    const start = this.pos;
    this.stringStart = start;
    this.pos++;
    if (q === '`') {
      const end = this.src.indexOf('`', this.pos);
      if (end < 0) this.fail('unterminated raw string', start);
      const s = this.src.slice(this.pos, end);
      this.pos = end + 1;
      return s;
    }
    let out = '';
    while (this.pos < this.src.length) {
      const c = this.src[this.pos];
      if (c === q) {
        this.pos++;
        return out;
      }
      if (c === '\n') break;
      if (c === '\\') {
        out += this.parseEscape(q);
        continue;
      }
      out += c;
      this.pos++;
    }
    this.fail('unterminated quoted string', start);
  }

  private parseEscape(q: string): string {
    const c = this.src[this.pos + 1];
    this.pos += 2;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (c !== undefined && c in simple) return simple[c];
    if (c === q) return q;
    const hex = (n: number) => {
      const h = this.src.slice(this.pos, this.pos + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) this.fail('invalid escape sequence in string', this.stringStart);
      this.pos += n;
      return parseInt(h, 16);
    };
    if (c === 'x') return String.fromCharCode(hex(2));
    if (c === 'u') return String.fromCodePoint(hex(4));
    if (c === 'U') return String.fromCodePoint(hex(8));
    if (c !== undefined && /[0-7]/.test(c)) {
      const o = this.src.slice(this.pos - 1, this.pos + 2);
      if (!/^[0-7]{3}$/.test(o)) this.fail('invalid escape sequence in string', this.stringStart);
      this.pos += 2;
      return String.fromCharCode(parseInt(o, 8));
    }
    const cp = (c ?? '').codePointAt(0) ?? 0;
    this.fail(`unknown escape sequence U+${cp.toString(16).toUpperCase().padStart(4, '0')} ${goQuoteChar(c ?? '')}`, this.stringStart);
  }
}

/** Go's %q of a rune: 'x'. */
function goQuoteChar(c: string): string {
  return c === "'" ? "'\\''" : `'${c}'`;
}
