// Every regular expression a user supplies (PromQL matchers and label_replace, relabelling,
// probe conditions, TCP `expect`, Alertmanager-style matchers) is compiled here, with RE2
// semantics on a linear-time engine (re2js), never on JavaScript's backtracking RegExp: a
// pattern such as `(a+)+b` must not stall the event loop. What RE2 rejects is rejected (Perl
// lookaround, backreferences, repeat counts above 1000, nesting deeper than 1000), with an error
// naming the pattern. Programs are also bounded in size, since matching costs up to program size
// × input length.

import { RE2JS } from 're2js';

/** The shape of a match, as `exec` returns it: group 0 is the whole match; unmatched groups are undefined. */
export interface RegexMatch {
  readonly length: number;
  readonly [group: number]: string | undefined;
  readonly groups?: Readonly<Record<string, string | undefined>>;
}

/** A compiled user regex. Stateless: `test` and `exec` may be called on any input, in any order. */
export interface Regex {
  readonly source: string;
  test(s: string): boolean;
  exec(s: string): RegexMatch | null;
}

export class RegexError extends Error {
  override name = 'RegexError';
}

/**
 * Largest compiled program accepted, in RE2 instructions (RE2's own limit is far larger):
 * matching costs up to program size × value length, and a 19,000-instruction program over
 * 16 KiB values held the event loop for a quarter of a second.
 */
export const MAX_PROGRAM_SIZE = 10_000;
/** Distinct patterns that need the regex engine (no fast path) in one query (withRegexBudget). */
export const MAX_QUERY_REGEXES = 100;
/** Their estimated program sizes together, in instructions, in one query. */
export const MAX_QUERY_PROGRAM = 40_000;
/** Compiled regexes kept for reuse, per mode (least recently used dropped first). */
const CACHE_SIZE = 2000;
/** Characters of pattern source the cache holds at most, per mode (large alternations included). */
const CACHE_MAX_CHARS = 16 * 1024 * 1024;
/** Patterns longer than this are compiled afresh each time rather than cached. */
const CACHE_MAX_SOURCE = 1024 * 1024;
const SHOW = 120;

function show(src: string): string {
  return JSON.stringify(src.length > SHOW ? `${src.slice(0, SHOW)}…` : src);
}

function fail(src: string, why: string): never {
  throw new RegexError(`invalid regular expression ${show(src)}: ${why}`);
}

/** An LRU of compiled patterns (and of the errors of patterns that do not compile). */
class RegexCache {
  private readonly map = new Map<string, Regex | RegexError>();
  private chars = 0;

  get(src: string): Regex | RegexError | undefined {
    const hit = this.map.get(src);
    if (hit !== undefined) {
      this.map.delete(src);
      this.map.set(src, hit);
    }
    return hit;
  }

  set(src: string, v: Regex | RegexError): void {
    this.map.set(src, v);
    this.chars += src.length;
    while (this.map.size > CACHE_SIZE || this.chars > CACHE_MAX_CHARS) {
      const oldest = this.map.keys().next().value!;
      this.map.delete(oldest);
      this.chars -= oldest.length;
    }
  }
}

const anchoredCache = new RegexCache();
const searchCache = new RegexCache();

function cached(cache: RegexCache, src: string, make: (src: string) => Regex): Regex {
  if (src.length > CACHE_MAX_SOURCE) return make(src);
  let hit = cache.get(src);
  if (hit === undefined) {
    try {
      hit = make(src);
    } catch (e) {
      // An over-budget pattern is fine on its own: that error is not the pattern's to keep.
      if (!(e instanceof RegexError) || e instanceof RegexBudgetError) throw e;
      hit = e;
    }
    cache.set(src, hit);
  } else if (hit instanceof Re2Regex) budget?.charge(src, hit.size);
  if (hit instanceof RegexError) throw hit;
  return hit;
}

/** A query's regexes passed MAX_QUERY_REGEXES or MAX_QUERY_PROGRAM (withRegexBudget). */
export class RegexBudgetError extends RegexError {
  override name = 'RegexBudgetError';
}

class Budget {
  private readonly seen = new Set<string>();
  private program = 0;

  /** Counts a pattern that needs the regex engine; throws once the query is over a bound. */
  charge(src: string, size: number): void {
    if (this.seen.has(src)) return;
    if (this.seen.size >= MAX_QUERY_REGEXES) {
      throw new RegexBudgetError(`too many regular expressions in one query: more than ${MAX_QUERY_REGEXES} distinct patterns that need the regex engine (literal alternatives such as "a|b|c" and prefixes such as "abc.*" are not counted); at ${show(src)}`);
    }
    if (this.program + size > MAX_QUERY_PROGRAM) {
      throw new RegexBudgetError(`regular expressions in one query too large together: more than ${MAX_QUERY_PROGRAM} instructions once compiled; at ${show(src)}`);
    }
    this.seen.add(src);
    this.program += size;
  }
}

let budget: Budget | null = null;

/**
 * Runs `fn` (synchronous: parsing one query) with a budget on the regexes it compiles: at most
 * MAX_QUERY_REGEXES distinct patterns that need the regex engine and MAX_QUERY_PROGRAM
 * instructions in all, cached or not, so one query cannot spend seconds compiling. Over the
 * budget, compiling throws RegexBudgetError (a RegexError).
 */
export function withRegexBudget<T>(fn: () => T): T {
  const outer = budget;
  budget = new Budget();
  try {
    return fn();
  } finally {
    budget = outer;
  }
}

/**
 * A fully anchored regex, as Prometheus uses for label matchers, relabelling and label_replace:
 * `^(?s:src)$` (so `.` also matches a newline). Throws RegexError naming the pattern.
 */
export function compileAnchored(src: string): Regex {
  return cached(anchoredCache, src, makeAnchored);
}

/**
 * An unanchored regex that finds a match anywhere in the input (probe conditions, TCP `expect`),
 * with `.` matching newlines too. Throws RegexError naming the pattern.
 */
export function compileSearch(src: string): Regex {
  return cached(searchCache, src, (s) => compileRe2(s, s));
}

/** Regex syntax characters: \\ . + * ? ( ) | [ ] { } ^ $ */
const META_CHARS = new Set([0x5c, 0x2e, 0x2b, 0x2a, 0x3f, 0x28, 0x29, 0x7c, 0x5b, 0x5d, 0x7b, 0x7d, 0x5e, 0x24]);

/** ASCII punctuation, which RE2 takes literally after a backslash. */
function isPunct(c: number): boolean {
  return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

/**
 * The alternatives of a pattern made only of literal text (escaped punctuation such as `\.`
 * included, as Grafana writes multi-value variables), unescaped; null when any other syntax
 * appears. Linear: a 20,000-value alternation is common from dashboards.
 */
function literalAlternatives(src: string): string[] | null {
  const out: string[] = [];
  let cur = '';
  let from = 0; // start of the pending run of plain characters
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (!META_CHARS.has(c)) continue;
    if (c === 0x5c) {
      const n = src.charCodeAt(i + 1);
      if (!isPunct(n)) return null;
      cur += src.slice(from, i) + src[i + 1];
      i++;
      from = i + 1;
    } else if (c === 0x7c) {
      out.push(cur + src.slice(from, i));
      cur = '';
      from = i + 1;
    } else return null;
  }
  out.push(cur + src.slice(from));
  return out;
}

function makeAnchored(src: string): Regex {
  // Fast paths for the forms dashboards send most (no compilation, plain string operations).
  const alts = literalAlternatives(src);
  if (alts?.length === 1) return new FnRegex(src, (s) => s === alts[0]);
  if (alts) {
    const set = new Set(alts);
    return new FnRegex(src, (s) => set.has(s));
  }
  if (src === '.*') return new FnRegex(src, () => true);
  if (src === '.+') return new FnRegex(src, (s) => s.length > 0);
  // Relabelling's default regex: one group holding the whole value.
  if (src === '(.*)') return new FnRegex(src, () => true, true);
  if (src === '(.+)') return new FnRegex(src, (s) => s.length > 0, true);
  // Grafana's multi-value variables: `(a|b|c)`, and the same without capture.
  const group = /^\((\?:)?/.exec(src);
  if (group && src.endsWith(')') && !src.endsWith('\\)')) {
    const inner = literalAlternatives(src.slice(group[0].length, -1));
    if (inner) {
      const set = new Set(inner);
      return new FnRegex(src, (s) => set.has(s), !group[1]);
    }
  }
  if (src.endsWith('.*')) {
    const p = literalAlternatives(src.slice(0, -2));
    if (p?.length === 1) return new FnRegex(src, (s) => s.startsWith(p[0]));
  }
  if (src.startsWith('.*')) {
    const p = literalAlternatives(src.slice(2));
    if (p?.length === 1) return new FnRegex(src, (s) => s.endsWith(p[0]));
  }
  return compileRe2(src, `^(?s:${src})$`);
}

function compileRe2(src: string, pattern: string): Re2Regex {
  const est = estimateSize(src);
  if (est.badRepeat !== undefined) fail(src, `invalid repeat count: \`${est.badRepeat}\``);
  if (est.size > MAX_PROGRAM_SIZE) fail(src, `expression too large (about ${est.size} instructions once repeats are expanded, more than the limit of ${MAX_PROGRAM_SIZE})`);
  budget?.charge(src, est.size);
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern, RE2JS.DOTALL);
  } catch (e) {
    const msg = (e as Error).message.replace(/^error parsing regexp: /, '');
    return fail(src, msg.length > 200 ? `${msg.slice(0, 200)}…` : msg);
  }
  const size = re.programSize();
  if (size > MAX_PROGRAM_SIZE) fail(src, `expression too large (${size} instructions, more than the limit of ${MAX_PROGRAM_SIZE})`);
  return new Re2Regex(src, re, est.size);
}

/**
 * An upper estimate of the compiled size, computed before compiling (compiling a program of a
 * million instructions takes about a second): every atom counts 1, a group its contents, a
 * counted repeat `{n,m}` multiplies what it repeats by its bound. Also reports, as RE2 does, a
 * counted repeat above 1000 or nested counted repeats whose product passes 1000 (`badRepeat`).
 * Other malformed text is left for RE2 to reject.
 */
export function estimateSize(src: string): { size: number; badRepeat?: string } {
  interface Frame {
    total: number;
    last: number;
    lastRep: number;
    rep: number;
  }
  const fresh = (): Frame => ({ total: 0, last: 0, lastRep: 1, rep: 1 });
  const stack: Frame[] = [];
  let cur = fresh();
  const atom = (n: number, rep = 1): void => {
    cur.total += n;
    cur.last = n;
    cur.lastRep = rep;
    cur.rep = Math.max(cur.rep, rep);
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const n = src[i + 1];
      if ((n === 'p' || n === 'P' || n === 'x') && src[i + 2] === '{') {
        const close = src.indexOf('}', i + 2);
        i = close < 0 ? src.length : close;
      } else if (n === 'Q') {
        const end = src.indexOf('\\E', i + 2);
        const lit = (end < 0 ? src.length : end) - (i + 2);
        i = end < 0 ? src.length : end + 1;
        atom(lit);
        continue;
      } else i++;
      atom(1);
    } else if (c === '[') {
      let j = i + 1;
      if (src[j] === '^') j++;
      if (src[j] === ']') j++;
      while (j < src.length && src[j] !== ']') {
        if (src[j] === '\\') j++;
        else if (src[j] === '[' && src[j + 1] === ':') {
          const close = src.indexOf(':]', j + 2);
          if (close > 0) j = close + 1;
        }
        j++;
      }
      i = j;
      atom(1);
    } else if (c === '(') {
      stack.push(cur);
      cur = fresh();
    } else if (c === ')') {
      const inner = cur;
      cur = stack.pop() ?? fresh();
      atom(inner.total + 1, inner.rep);
    } else if (c === '{') {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(src.slice(i, i + 24));
      if (!m) {
        atom(1);
        continue;
      }
      const bound = Math.max(Number(m[1]), m[3] ? Number(m[3]) : 0, 1);
      if (bound > 1000 || bound * cur.lastRep > 1000) return { size: Infinity, badRepeat: m[0] };
      const extra = cur.last * (bound - 1);
      cur.total += extra;
      cur.last += extra;
      cur.lastRep *= bound;
      cur.rep = Math.max(cur.rep, cur.lastRep);
      i += m[0].length - 1;
    } else if (c === '*' || c === '+' || c === '?') {
      cur.total += 1;
    } else if (c !== '|') {
      atom(1);
    }
  }
  let size = cur.total;
  for (const f of stack) size += f.total;
  return { size };
}

class FnRegex implements Regex {
  constructor(
    readonly source: string,
    private readonly fn: (s: string) => boolean,
    /** The pattern is one group around everything: group 1 is the whole input too. */
    private readonly wholeGroup = false,
  ) {}

  test(s: string): boolean {
    return this.fn(s);
  }

  /** Fast-path forms have no groups (or one around everything): a match is the whole input. */
  exec(s: string): RegexMatch | null {
    if (!this.fn(s)) return null;
    return this.wholeGroup ? [s, s] : [s];
  }
}

class Re2Regex implements Regex {
  /** Whether the empty string matches, once known: a label a series lacks is tested as "", often. */
  private empty: boolean | undefined;
  constructor(
    readonly source: string,
    private readonly re: RE2JS,
    /** Estimated program size in instructions (what a query's budget counts). */
    readonly size: number,
  ) {}

  test(s: string): boolean {
    if (s.length === 0) return (this.empty ??= this.re.test(''));
    return this.re.test(s);
  }

  exec(s: string): RegexMatch | null {
    // The DFA answers "no match" cheaply; only a match pays for the capture groups.
    if (!this.re.test(s)) return null;
    return this.re.exec(s) as RegexMatch | null;
  }
}
