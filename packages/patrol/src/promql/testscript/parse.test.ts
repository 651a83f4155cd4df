import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { labelsFromRecord } from '../../model/labels.js';
import { isStaleNaN } from '../../model/value.js';
import type { EvalCommand, LoadCommand } from './parse.js';
import { parseScript } from './parse.js';
import type { SequenceValue } from './series.js';
import { parseScalarLine, parseSeriesDesc, parseSequence } from './series.js';
import { almostEqual, checkAnnotations, compareResult } from './compare.js';
import { formatReport } from './report.js';

function floats(vs: SequenceValue[]): (number | '_' | 'H')[] {
  return vs.map((v) => (v.kind === 'float' ? v.value : v.kind === 'omitted' ? '_' : 'H'));
}

describe('series notation', () => {
  test('expands a+bxn, axn, blanks, stale and specials', () => {
    const d = parseSeriesDesc('my_metric{env="prod"} 5 2+3x2 _ stale Inf -Inf NaN');
    assert.deepEqual(d.labels, labelsFromRecord({ __name__: 'my_metric', env: 'prod' }));
    const v = floats(d.values);
    assert.deepEqual(v.slice(0, 5), [5, 2, 5, 8, '_']);
    assert.ok(isStaleNaN((d.values[5] as { value: number }).value));
    assert.deepEqual(v.slice(6, 8), [Infinity, -Infinity]);
    assert.ok(Number.isNaN(v[8]));
  });

  test('decrements, negative starts and repeats', () => {
    assert.deepEqual(floats(parseSequence('-1-1x4')), [-1, -2, -3, -4, -5]);
    assert.deepEqual(floats(parseSequence('-2+4x3')), [-2, 2, 6, 10]);
    assert.deepEqual(floats(parseSequence('1x4')), [1, 1, 1, 1, 1]);
    assert.deepEqual(floats(parseSequence('1 _x3 2')), [1, '_', '_', '_', 2]);
    // No hexadecimal in series values: 0x3 is 0 repeated.
    assert.deepEqual(floats(parseSequence('0x3')), [0, 0, 0, 0]);
    assert.deepEqual(floats(parseSequence('1e3 1.5e-1+1e-1x1')), [1000, 0.15, 0.15 + 0.1]);
  });

  test('accumulates increments as Prometheus does', () => {
    const v = floats(parseSequence('0+0.1x3'));
    assert.equal(v[3], 0.1 + 0.1 + 0.1);
  });

  test('recognises native histograms without interpreting them', () => {
    const d = parseSeriesDesc('h {{schema:1 sum:3 count:22 buckets:[5 10 7]}} {{count:1}}x2 {{count:1}}+{{count:2}}x1 3');
    assert.deepEqual(floats(d.values), ['H', 'H', 'H', 'H', 'H', 'H', 3]);
  });

  test('labels: quoting styles, escapes, no name, trailing comma', () => {
    assert.deepEqual(parseSeriesDesc(`{a='x', b=\`y\\n\`, c="q\\"z",} 1`).labels, labelsFromRecord({ a: 'x', b: 'y\\n', c: 'q"z' }));
    assert.deepEqual(parseSeriesDesc('{"my.metric", a="1"} 1').labels, labelsFromRecord({ __name__: 'my.metric', a: '1' }));
    assert.deepEqual(parseSeriesDesc('up:rate5m 1').labels, labelsFromRecord({ __name__: 'up:rate5m' }));
  });

  test('rejects bad values with the token in the message', () => {
    assert.throws(() => parseSequence('1+2'), /needs a repeat count/);
    assert.throws(() => parseSequence('abc'), /invalid series value "abc"/);
    assert.throws(() => parseSeriesDesc('m{a=1} 1'), /quoted string/);
  });

  test('scalar result lines use Go number syntax', () => {
    assert.equal(parseScalarLine('42'), 42);
    assert.equal(parseScalarLine('-0x10'), -16);
    assert.equal(parseScalarLine('017'), 15);
    assert.equal(parseScalarLine('1.5e3'), 1500);
    assert.equal(parseScalarLine('+Inf'), Infinity);
    assert.ok(Number.isNaN(parseScalarLine('NaN')));
    assert.equal(parseScalarLine('{} 1'), null);
    assert.equal(parseScalarLine('foo'), null);
  });
});

describe('script commands', () => {
  const script = `
# comment
load 1m
    a{b="c"} 1+1x3
    a{b="d"} _ 2

eval instant at 2m a
    expect no_warn
    expect info msg: PromQL info: something
    a{b="c"} 3
    a{b="d"} 2

eval range from 0 to 2m step 1m sum(a)
    expect warn regex: some.*thing
    {} 1 4 6

eval_ordered instant at 1m sort(a)
    a{b="c"} 2
    a{b="d"} 2

eval_fail instant at 0 foo(
    expected_fail_message unexpected end

eval instant at 1m some_metric[1m]
  expect range vector from 10s to 1m step 10s
  some_metric 1 2 3 4 5 6

eval instant at 50m "Foo"
  expect string \`Foo\`

eval instant at 0 1
  1

clear
eval instant at 0 x
    x 1 2
`;
  const cmds = parseScript(script);

  test('load blocks with steps and series', () => {
    const load = cmds[0] as LoadCommand;
    assert.equal(load.kind, 'load');
    assert.equal(load.step, 60_000);
    assert.equal(load.line, 3);
    assert.equal(load.series.length, 2);
    assert.deepEqual(floats(load.series[1].values), ['_', 2]);
  });

  test('instant eval with expectations and results', () => {
    const ev = cmds[1] as EvalCommand;
    assert.equal(ev.kind, 'eval');
    assert.equal(ev.range, false);
    assert.equal(ev.evalTime, 120_000);
    assert.equal(ev.expr, 'a');
    assert.deepEqual(
      ev.expectations.map((e) => [e.type, e.message]),
      [
        ['no_warn', undefined],
        ['info', 'PromQL info: something'],
      ],
    );
    assert.equal(ev.expected.length, 2);
    assert.deepEqual(ev.expected.map((e) => e.pos), [1, 2]);
  });

  test('range eval', () => {
    const ev = cmds[2] as EvalCommand;
    assert.equal(ev.range, true);
    assert.deepEqual([ev.start, ev.end, ev.step], [0, 120_000, 60_000]);
    assert.ok(ev.expectations[0].regex?.test('some other thing'));
    assert.deepEqual(floats(ev.expected[0].values), [1, 4, 6]);
  });

  test('deprecated variants', () => {
    assert.equal((cmds[3] as EvalCommand).legacy.ordered, true);
    const f = cmds[4] as EvalCommand;
    assert.equal(f.legacy.fail, true);
    assert.equal(f.expectedFailMessage, 'unexpected end');
  });

  test('expect range vector and expect string', () => {
    const rv = cmds[5] as EvalCommand;
    assert.equal(rv.expectRangeVector, true);
    assert.deepEqual([rv.start, rv.end, rv.step, rv.evalTime], [10_000, 60_000, 10_000, 60_000]);
    assert.equal(rv.excludeFromRangeQuery, true);
    const s = cmds[6] as EvalCommand;
    assert.equal(s.expectString, 'Foo');
  });

  test('scalar expectation, clear, and a bad instant eval is reported with its line', () => {
    assert.equal((cmds[7] as EvalCommand).expectScalar, 1);
    assert.equal(cmds[8].kind, 'clear');
    const bad = cmds[9];
    assert.equal(bad.kind, 'error');
    assert.equal(bad.line, script.split('\n').indexOf('eval instant at 0 x') + 1);
    assert.match((bad as { message: string }).message, /multiple values in instant evaluation/);
  });

  test('conflicting expectations are errors', () => {
    const c = parseScript('eval instant at 0 a\n  expect warn\n  expect no_warn\n');
    assert.equal(c[0].kind, 'error');
  });
});

describe('comparison', () => {
  const ev = (parseScript('eval instant at 1m a\n  a{x="1"} 1\n  a{x="2"} NaN\n')[0]) as EvalCommand;

  test('almostEqual is relative with 1e-6', () => {
    assert.ok(almostEqual(1, 1 + 1e-7));
    assert.ok(!almostEqual(1, 1 + 1e-5));
    assert.ok(almostEqual(NaN, NaN));
    assert.ok(!almostEqual(0, 1e-300));
    assert.ok(almostEqual(Infinity, Infinity));
  });

  test('vectors match by label set; NaN equals NaN; missing and extra series are named', () => {
    const s = (x: string, v: number) => ({ labels: labelsFromRecord({ __name__: 'a', x }), t: 60_000, v });
    assert.equal(compareResult(ev, { type: 'vector', samples: [s('2', NaN), s('1', 1.0000001)] }), null);
    assert.match(compareResult(ev, { type: 'vector', samples: [s('1', 1)] }) ?? '', /not found/);
    assert.match(compareResult(ev, { type: 'vector', samples: [s('1', 1), s('2', NaN), s('3', 1)] }) ?? '', /unexpected metric a\{x="3"\}/);
    assert.match(compareResult(ev, { type: 'vector', samples: [s('1', 2), s('2', NaN)] }) ?? '', /expected 1 for a\{x="1"\} but got 2/);
  });

  test('ordered evals check positions', () => {
    const o = parseScript('eval instant at 1m sort(a)\n  expect ordered\n  a{x="1"} 1\n  a{x="2"} 2\n')[0] as EvalCommand;
    const s = (x: string, v: number) => ({ labels: labelsFromRecord({ __name__: 'a', x }), t: 60_000, v });
    assert.equal(compareResult(o, { type: 'vector', samples: [s('1', 1), s('2', 2)] }), null);
    assert.match(compareResult(o, { type: 'vector', samples: [s('2', 2), s('1', 1)] }) ?? '', /position/);
  });

  test('matrices: timestamps from start and step, blanks are absent points', () => {
    const r = parseScript('eval range from 0 to 2m step 1m a\n  a 1 _ 3\n')[0] as EvalCommand;
    const series = (ts: number[], vs: number[]) => ({ type: 'matrix' as const, series: [{ labels: labelsFromRecord({ __name__: 'a' }), timestamps: Float64Array.from(ts), values: Float64Array.from(vs) }] });
    assert.equal(compareResult(r, series([0, 120_000], [1, 3])), null);
    assert.match(compareResult(r, series([0, 60_000], [1, 3])) ?? '', /timestamp/);
    assert.match(compareResult(r, series([0, 60_000, 120_000], [1, 2, 3])) ?? '', /expected 2 float points/);
  });

  test('annotations: every expected one must appear and every actual one must be expected', () => {
    const a = parseScript('eval instant at 0 a\n  expect warn msg: W1\n  expect no_info\n')[0] as EvalCommand;
    assert.equal(checkAnnotations(a, ['W1'], []), null);
    assert.match(checkAnnotations(a, [], []) ?? '', /none were found/);
    assert.match(checkAnnotations(a, ['W1', 'W2'], []) ?? '', /unexpected warn annotation "W2"/);
    assert.match(checkAnnotations(a, ['W1'], ['I']) ?? '', /unexpected info/);
    const plain = parseScript('eval instant at 0 a\n')[0] as EvalCommand;
    assert.equal(checkAnnotations(plain, ['anything'], ['x']), null);
  });
});

test('formatReport prints counts per file and skip reasons', () => {
  const out = formatReport([
    {
      file: 'x.test',
      evals: [
        { line: 3, expr: 'a', status: 'pass', nativeHistogram: false },
        { line: 5, expr: 'h', status: 'skip', reason: 'expects native histogram values', nativeHistogram: true },
      ],
      errors: [],
      counts: { other: { pass: 1, fail: 0, skip: 0 }, nativeHistogram: { pass: 0, fail: 0, skip: 1 }, total: { pass: 1, fail: 0, skip: 1 } },
    },
  ]);
  assert.match(out, /x\.test\s+passed 1, failed 0, skipped 0/);
  assert.match(out, /1 × expects native histogram values: x\.test:5/);
});

describe('@ modifier variants', () => {
  test('adds @ to selectors and subqueries without one, not inside subqueries', async () => {
    const { atModifierRewrite } = await import('./atmodifier.js');
    assert.equal(atModifierRewrite('foo', 100_000), 'foo @ 100.000');
    assert.equal(atModifierRewrite('rate(foo[5m] offset 1m) + bar @ 50', 100_000), 'rate(foo[5m] offset 1m @ 100.000) + bar @ 50');
    assert.equal(atModifierRewrite('max_over_time((rate(x[1m]))[5m:])', -2_000), 'max_over_time((rate(x[1m]))[5m:] @ -2.000)');
    assert.equal(atModifierRewrite('sum by (a) (foo{a="b"})', 0), 'sum by (a) (foo{a="b"} @ 0.000)');
    assert.equal(atModifierRewrite('1 + 2', 5_000), '1 + 2');
    assert.equal(atModifierRewrite('time() + foo', 1_000), null);
    assert.equal(atModifierRewrite('max_over_time(time()[5m:1m])', 1_000), 'max_over_time(time()[5m:1m] @ 1.000)');
    assert.equal(atModifierRewrite('foo[1m] anchored', 1_000), null);
  });
});

test('@ variants leave query-context functions alone', async () => {
  const { atModifierRewrite } = await import('./atmodifier.js');
  assert.equal(atModifierRewrite('start()', 1_000), null);
  assert.equal(atModifierRewrite('foo[step()]', 1_000), null);
});
