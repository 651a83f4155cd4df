// Label matchers (`=`, `!=`, `=~`, `!~`) shared by storage selection, PromQL, silences,
// routes and inhibition rules.

import type { Labels } from './labels.js';
import { getLabel } from './labels.js';

export type MatchType = '=' | '!=' | '=~' | '!~';

export class Matcher {
  readonly re: RegExp | null;

  /** Throws an Error naming the bad pattern when a regex does not compile. */
  constructor(
    readonly type: MatchType,
    readonly name: string,
    readonly value: string,
  ) {
    this.re = type === '=~' || type === '!~' ? compileAnchoredRegex(value) : null;
  }

  matches(v: string): boolean {
    switch (this.type) {
      case '=':
        return v === this.value;
      case '!=':
        return v !== this.value;
      case '=~':
        return this.re!.test(v);
      case '!~':
        return !this.re!.test(v);
    }
  }

  /** True when the matcher also selects series that lack the label (it matches ""). */
  matchesEmpty(): boolean {
    return this.matches('');
  }

  toString(): string {
    return `${this.name}${this.type}${JSON.stringify(this.value)}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * Prometheus regexes are fully anchored and `.` matches newlines (Prometheus 3). JavaScript's
 * syntax is close to RE2's for what people write in label matchers; RE2-only forms such as
 * `(?P<name>…)` are translated.
 */
export function compileAnchoredRegex(src: string): RegExp {
  const translated = translateRE2(src);
  try {
    return new RegExp(`^(?:${translated})$`, 'su');
  } catch {
    try {
      return new RegExp(`^(?:${translated})$`, 's');
    } catch (e) {
      throw new Error(`invalid regular expression ${JSON.stringify(src)}: ${(e as Error).message}`);
    }
  }
}

export function matchLabels(matchers: readonly Matcher[], ls: Labels): boolean {
  for (const m of matchers) if (!m.matches(getLabel(ls, m.name))) return false;
  return true;
}

const MATCHER_RE = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*|"(?:[^"\\]|\\.)*")\s*(=~|!~|!=|=)\s*(.*?)\s*$/s;

/**
 * Parses one matcher in Alertmanager's syntax: `name="value"`, `name=~"re"`, or the unquoted
 * form `name=value`. Throws with the offending text on error.
 */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER_RE.exec(text);
  if (!m) throw new Error(`bad matcher ${JSON.stringify(text)}: expected name, one of = != =~ !~, and a value`);
  let name = m[1];
  if (name.startsWith('"')) name = JSON.parse(name) as string;
  let value = m[3];
  if (value.startsWith('"')) {
    if (!value.endsWith('"') || value.length < 2) throw new Error(`bad matcher ${JSON.stringify(text)}: unterminated quoted value`);
    try {
      value = JSON.parse(value) as string;
    } catch {
      throw new Error(`bad matcher ${JSON.stringify(text)}: invalid escape in quoted value`);
    }
  }
  return new Matcher(m[2] as MatchType, name, value);
}

/**
 * Parses a matcher list: `{a="b", c=~"d"}` or `a="b", c=~"d"` (commas separate; commas inside
 * quotes are kept).
 */
export function parseMatchers(text: string): Matcher[] {
  let s = text.trim();
  if (s.startsWith('{')) {
    if (!s.endsWith('}')) throw new Error(`bad matchers ${JSON.stringify(text)}: missing closing brace`);
    s = s.slice(1, -1);
  }
  const parts: string[] = [];
  let cur = '';
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inQuote && c === '\\') {
      cur += c + (s[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') inQuote = !inQuote;
    if (c === ',' && !inQuote) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  if (inQuote) throw new Error(`bad matchers ${JSON.stringify(text)}: unterminated quote`);
  if (cur.trim() !== '') parts.push(cur);
  return parts.filter((p) => p.trim() !== '').map(parseMatcher);
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/**
 * Rewrites RE2 syntax JavaScript lacks: named groups `(?P<n>`, case-insensitive flag groups
 * `(?i)` / `(?i:…)` (letters become `[xX]`), POSIX classes, `\\A` and `\\z`.
 */
function translateRE2(src: string): string {
  let out = '';
  const stack: boolean[] = [];
  let ci = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const n = src[i + 1] ?? '';
      if (n === 'A') out += '^';
      else if (n === 'z') out += '$';
      else out += c + n;
      i++;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      let cls = '[';
      if (src[j] === '^') {
        cls += '^';
        j++;
      }
      if (src[j] === ']') {
        cls += '\\]';
        j++;
      }
      for (; j < src.length && src[j] !== ']'; j++) {
        const d = src[j];
        if (d === '\\') {
          cls += d + (src[j + 1] ?? '');
          j++;
          continue;
        }
        if (d === '[' && src[j + 1] === ':') {
          const close = src.indexOf(':]', j + 2);
          if (close > 0) {
            const name = src.slice(j + 2, close);
            const neg = name.startsWith('^');
            const body = POSIX_CLASSES[neg ? name.slice(1) : name];
            if (body !== undefined && !neg) {
              cls += body;
              j = close + 1;
              continue;
            }
          }
        }
        if (d === '[') {
          cls += '\\[';
          continue;
        }
        cls += d;
        if (ci && /[a-zA-Z]/.test(d)) {
          if (src[j + 1] === '-' && /[a-zA-Z]/.test(src[j + 2] ?? '')) {
            const e = src[j + 2];
            cls += '-' + e;
            const lo = d === d.toLowerCase() ? d.toUpperCase() : d.toLowerCase();
            const hi = e === e.toLowerCase() ? e.toUpperCase() : e.toLowerCase();
            cls += lo + '-' + hi;
            j += 2;
          } else cls += d === d.toLowerCase() ? d.toUpperCase() : d.toLowerCase();
        }
      }
      // RE2 rejects a class that never closes ("missing closing ]"); so must we.
      if (j >= src.length) throw new Error(`invalid regular expression ${JSON.stringify(src)}: missing closing ]`);
      out += cls + ']';
      i = j;
      continue;
    }
    if (c === '(') {
      const rest = src.slice(i);
      const named = /^\(\?P?<([a-zA-Z_][a-zA-Z0-9_]*)>/.exec(rest);
      if (named) {
        stack.push(ci);
        out += `(?<${named[1]}>`;
        i += named[0].length - 1;
        continue;
      }
      const flags = /^\(\?([a-zA-Z-]*)(:|\))/.exec(rest);
      if (flags) {
        const on = flags[1].split('-')[0];
        const off = flags[1].split('-')[1] ?? '';
        const newCi: boolean = on.includes('i') ? true : off.includes('i') ? false : ci;
        if (flags[2] === ')') {
          ci = newCi;
        } else {
          stack.push(ci);
          ci = newCi;
          out += '(?:';
        }
        i += flags[0].length - 1;
        continue;
      }
      stack.push(ci);
      out += c;
      continue;
    }
    if (c === ')') {
      ci = stack.pop() ?? false;
      out += c;
      continue;
    }
    if (ci && /[a-zA-Z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      continue;
    }
    out += c;
  }
  return out;
}
