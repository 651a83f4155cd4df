// Bounds on regex work (issue 11): the program size of one pattern, and the patterns one query
// may compile, with clear errors; literal alternations from dashboards stay on the fast path.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseExpr } from '../promql/parser.js';
import { QueryError } from '../promql/types.js';
import { compileAnchored, MAX_PROGRAM_SIZE, MAX_QUERY_PROGRAM, MAX_QUERY_REGEXES, RegexError, withRegexBudget } from './regex.js';

function parseErr(q: string): string {
  try {
    parseExpr(q);
  } catch (e) {
    assert.ok(e instanceof QueryError, String(e));
    return e.message;
  }
  assert.fail('expected a parse error');
}

let uniq = 0;

describe('regex budget', () => {
  test(`a query may hold ${MAX_QUERY_REGEXES} distinct patterns that need the regex engine, not more`, () => {
    const u = ++uniq;
    const sel = (n: number) => `victim{${Array.from({ length: n }, (_, i) => `l${i}!~"(a+)+b${i}_${u}"`).join(',')}}`;
    assert.doesNotThrow(() => parseExpr(sel(MAX_QUERY_REGEXES)));
    // The same query again (now cached) gets the same answer.
    assert.doesNotThrow(() => parseExpr(sel(MAX_QUERY_REGEXES)));
    const msg = parseErr(sel(2000));
    assert.match(msg, new RegExp(`parse error: too many regular expressions in one query: more than ${MAX_QUERY_REGEXES} distinct patterns that need the regex engine .*"\\(a\\+\\)\\+b${MAX_QUERY_REGEXES}_${u}"`));
    // A pattern repeated counts once; literal alternations and prefixes are not counted.
    assert.doesNotThrow(() => parseExpr(`victim{${Array.from({ length: 500 }, (_, i) => `l${i}=~"x.+y_${u}"`).join(',')}}`));
    assert.doesNotThrow(() => parseExpr(`victim{${Array.from({ length: 500 }, (_, i) => `l${i}=~"a${i}|b\\\\.c|d_${u}",m${i}=~"pre${i}.*"`).join(',')}}`));
  });

  test('the over-budget error belongs to the query, not to the pattern', () => {
    const u = ++uniq;
    const pats = Array.from({ length: MAX_QUERY_REGEXES + 1 }, (_, i) => `(x+)+y${i}_${u}`);
    assert.throws(() => withRegexBudget(() => pats.forEach((p) => compileAnchored(p))), (e: unknown) => e instanceof RegexError && /too many regular expressions/.test((e as Error).message));
    // Outside a budget (and in a fresh one) the last pattern compiles and matches.
    assert.ok(compileAnchored(pats[MAX_QUERY_REGEXES]).test(`xxxy${MAX_QUERY_REGEXES}_${u}`));
    assert.doesNotThrow(() => withRegexBudget(() => compileAnchored(pats[MAX_QUERY_REGEXES])));
  });

  test(`patterns together may not pass ${MAX_QUERY_PROGRAM} instructions in one query`, () => {
    const u = ++uniq;
    const big = (i: number) => `${'[^b]{1000}'.repeat(8)}${i}_${u}`; // about 8,000 instructions
    const n = Math.floor(MAX_QUERY_PROGRAM / 8000);
    const msg = parseErr(`victim{${Array.from({ length: n + 1 }, (_, i) => `l${i}=~"${big(i)}"`).join(',')}}`);
    assert.match(msg, new RegExp(`regular expressions in one query too large together: more than ${MAX_QUERY_PROGRAM} instructions`));
    assert.doesNotThrow(() => parseExpr(`victim{${Array.from({ length: n - 1 }, (_, i) => `l${i}=~"${big(i)}"`).join(',')}}`));
  });

  test(`one pattern may not pass ${MAX_PROGRAM_SIZE} instructions, and the error says the limit`, () => {
    const over = '[^b]{1000}'.repeat(Math.ceil(MAX_PROGRAM_SIZE / 1000) + 1);
    assert.throws(() => compileAnchored(over), new RegExp(`expression too large \\(about \\d+ instructions once repeats are expanded, more than the limit of ${MAX_PROGRAM_SIZE}\\)`));
    assert.match(parseErr(`count(victim{v=~"${'[^b]{1000}'.repeat(19)}"})`), /error parsing regexp .*more than the limit of 10000/);
    const k = Math.floor(MAX_PROGRAM_SIZE / 1000) - 1;
    const under = compileAnchored('[^b]{1000}'.repeat(k));
    assert.ok(under.test('a'.repeat(1000 * k)) && !under.test('a'.repeat(1000 * k - 1)));
  });

  test('a 20,000-value alternation matches exactly its values, escaped punctuation included', () => {
    const alt = Array.from({ length: 20_000 }, (_, i) => `value-${i}`).join('|');
    const re = compileAnchored(alt);
    assert.ok(re.test('value-0') && re.test('value-19999'));
    assert.ok(!re.test('value-20000') && !re.test('value-1|value-2') && !re.test(''));
    const hosts = compileAnchored(`(${Array.from({ length: 2000 }, (_, i) => `host-${i}\\.example\\.com:9100`).join('|')})`);
    assert.ok(hosts.test('host-1999.example.com:9100'));
    assert.ok(!hosts.test('host-1999xexample.com:9100'));
    const m = hosts.exec('host-7.example.com:9100');
    assert.deepEqual([m?.[0], m?.[1]], ['host-7.example.com:9100', 'host-7.example.com:9100']);
    assert.ok(compileAnchored('a\\.b|c').test('a.b') && !compileAnchored('a\\.b|c').test('axb'));
  });
});
