// Label matchers (`=`, `!=`, `=~`, `!~`) shared by storage selection, PromQL, silences,
// routes and inhibition rules.

import type { Labels } from './labels.js';
import { getLabel } from './labels.js';
import { compileAnchored, type Regex } from './regex.js';

export type MatchType = '=' | '!=' | '=~' | '!~';

export class Matcher {
  readonly re: Regex | null;

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
 * Prometheus regexes are fully anchored and `.` matches newlines (Prometheus 3); compiled with
 * RE2 semantics on a linear-time engine (see regex.ts). Throws an Error naming a bad pattern.
 */
export function compileAnchoredRegex(src: string): Regex {
  return compileAnchored(src);
}

export function matchLabels(matchers: readonly Matcher[], ls: Labels): boolean {
  for (const m of matchers) if (!m.matches(getLabel(ls, m.name))) return false;
  return true;
}

// The value is taken whole and trimmed after: `(.*?)\s*$` tried every split of a value's inner
// spaces, quadratic in their number.
const MATCHER_RE = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*|"(?:[^"\\]|\\.)*")\s*(=~|!~|!=|=)\s*(.*)$/s;

/**
 * Parses one matcher in Alertmanager's syntax: `name="value"`, `name=~"re"`, or the unquoted
 * form `name=value`. Throws with the offending text on error.
 */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER_RE.exec(text);
  if (!m) throw new Error(`bad matcher ${JSON.stringify(text)}: expected name, one of = != =~ !~, and a value`);
  let name = m[1];
  if (name.startsWith('"')) name = JSON.parse(name) as string;
  let value = m[3].trimEnd();
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
