import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Matcher } from '../model/matchers.js';
import { STALE_NAN } from '../model/value.js';
import { MAX_TIME, parseDurationParam, parseTime } from './params.js';
import { formatSampleValue, formatTimestamp, jsonString, queryDataJSON } from './promjson.js';
import { parseSelector } from './selector.js';

describe('Prometheus number formatting', () => {
  it('formats sample values like strconv.FormatFloat with Go exponents', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [-0, '-0'],
      [1, '1'],
      [0.1, '0.1'],
      [-0.5, '-0.5'],
      [1e-6, '0.000001'],
      [1e-7, '1e-07'],
      [1.5e-7, '1.5e-07'],
      [123456789012, '123456789012'],
      [1e20, '100000000000000000000'],
      [1e21, '1e+21'],
      [1.5e21, '1.5e+21'],
      [1e100, '1e+100'],
      [-2.5e-300, '-2.5e-300'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [Infinity, '+Inf'],
      [-Infinity, '-Inf'],
      [NaN, 'NaN'],
      [STALE_NAN, 'NaN'],
      [0.30000000000000004, '0.30000000000000004'],
    ];
    for (const [v, want] of cases) assert.equal(formatSampleValue(v), want, `value ${v}`);
  });

  it('formats timestamps with three fraction digits when there is a fraction', () => {
    assert.equal(formatTimestamp(1_435_781_451_781), '1435781451.781');
    assert.equal(formatTimestamp(1500), '1.500');
    assert.equal(formatTimestamp(1050), '1.050');
    assert.equal(formatTimestamp(1005), '1.005');
    assert.equal(formatTimestamp(2000), '2');
    assert.equal(formatTimestamp(-1500), '-1.500');
    assert.equal(formatTimestamp(-50), '-0.050');
    assert.equal(formatTimestamp(0), '0');
  });

  it('escapes strings as Go does', () => {
    assert.equal(jsonString('a<b&c>'), '"a\\u003cb\\u0026c\\u003e"');
    assert.equal(jsonString('x\u2028y'), '"x\\u2028y"');
    assert.equal(jsonString('q"\\\n'), '"q\\"\\\\\\n"');
    assert.equal(jsonString('plain'), '"plain"');
  });

  it('encodes every result type in Prometheus shapes', () => {
    const labels = [
      { name: '__name__', value: 'up' },
      { name: 'job', value: 'a' },
    ];
    assert.equal(queryDataJSON({ type: 'scalar', t: 1500, v: 1e-7 }), '{"resultType":"scalar","result":[1.5,"0.0000001"]}');
    assert.equal(queryDataJSON({ type: 'string', t: 1000, v: 'x<' }), '{"resultType":"string","result":[1,"x\\u003c"]}');
    assert.equal(
      queryDataJSON({ type: 'vector', samples: [{ labels, t: 1500, v: NaN }] }),
      '{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1.500,"NaN"]}]}',
    );
    assert.equal(
      queryDataJSON({ type: 'matrix', series: [{ labels: [], timestamps: Float64Array.of(1000, 2000), values: Float64Array.of(Infinity, 2e21) }] }),
      '{"resultType":"matrix","result":[{"metric":{},"values":[[1,"+Inf"],[2,"2e+21"]]}]}',
    );
    assert.equal(queryDataJSON({ type: 'vector', samples: [] }), '{"resultType":"vector","result":[]}');
    // Series with shared, then different timestamps (the encoder reuses timestamp text).
    const grid = Float64Array.of(1000, 2000);
    const m = queryDataJSON({
      type: 'matrix',
      series: [
        { labels: [{ name: 'a', value: '1' }], timestamps: grid, values: Float64Array.of(1, 2) },
        { labels: [{ name: 'a', value: '2' }], timestamps: Float64Array.of(1000, 2000), values: Float64Array.of(3, 4) },
        { labels: [{ name: 'a', value: '3' }], timestamps: Float64Array.of(1000, 2500), values: Float64Array.of(5, 6) },
        { labels: [{ name: 'a', value: '4' }], timestamps: Float64Array.of(3000), values: Float64Array.of(7) },
      ],
    });
    assert.equal(
      m,
      '{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1,"1"],[2,"2"]]},{"metric":{"a":"2"},"values":[[1,"3"],[2,"4"]]},' +
        '{"metric":{"a":"3"},"values":[[1,"5"],[2.500,"6"]]},{"metric":{"a":"4"},"values":[[3,"7"]]}]}',
    );
  });
});

describe('API parameters', () => {
  it('parses Unix seconds with fractions rounded to milliseconds', () => {
    assert.equal(parseTime('1'), 1000);
    assert.equal(parseTime('1.0001'), 1000);
    assert.equal(parseTime('1.0006'), 1001);
    assert.equal(parseTime('-1.5'), -1500);
    assert.equal(parseTime('1e3'), 1_000_000);
    assert.equal(parseTime('1700000000.123'), 1_700_000_000_123);
  });

  it('parses RFC 3339 with zones and nanoseconds (truncated to ms)', () => {
    assert.equal(parseTime('2020-01-01T00:00:00Z'), Date.UTC(2020, 0, 1));
    assert.equal(parseTime('2020-01-01T00:00:00.123999Z'), Date.UTC(2020, 0, 1) + 123);
    assert.equal(parseTime('2020-01-01T02:00:00+02:00'), Date.UTC(2020, 0, 1));
    assert.equal(parseTime('292277025-08-18T07:12:54.999999999Z'), MAX_TIME);
    for (const bad of ['abc', '', '2020-02-30T00:00:00Z', '2020-01-01', '2020-01-01 00:00:00Z', 'NaN', 'Inf']) {
      assert.throws(() => parseTime(bad), { message: `cannot parse ${JSON.stringify(bad)} to a valid timestamp` });
    }
  });

  it('parses durations as float seconds or Prometheus durations', () => {
    assert.equal(parseDurationParam('15'), 15_000);
    assert.equal(parseDurationParam('0.25'), 250);
    assert.equal(parseDurationParam('1m30s'), 90_000);
    assert.equal(parseDurationParam('0'), 0);
    assert.throws(() => parseDurationParam('abc'), { message: 'cannot parse "abc" to a valid duration' });
    assert.throws(() => parseDurationParam(''), { message: 'cannot parse "" to a valid duration' });
    assert.throws(() => parseDurationParam('1e300'), /overflows int64/);
  });
});

describe('series selectors (match[])', () => {
  const str = (ms: Matcher[]) => ms.map(String);
  it('parses names, matchers, quoting and escapes', () => {
    assert.deepEqual(str(parseSelector('up')), ['__name__="up"']);
    assert.deepEqual(str(parseSelector(' up { job = "a" , code=~\'5..\', x!=`raw\\n`, y!~"a\\"b",} ')), [
      '__name__="up"',
      'job="a"',
      'code=~"5.."',
      'x!="raw\\\\n"',
      'y!~"a\\"b"',
    ]);
    assert.deepEqual(str(parseSelector('{"my.metric", "a.b"="c"}')), ['__name__="my.metric"', 'a.b="c"']);
    assert.deepEqual(str(parseSelector('{}')), []);
    assert.deepEqual(str(parseSelector('x{a="\\u00e9\\x41"}')), ['__name__="x"', 'a="éA"']);
  });

  it('reports errors with positions like Prometheus', () => {
    assert.throws(() => parseSelector('up{'), { message: '1:4: parse error: unexpected end of input inside braces' });
    assert.throws(() => parseSelector('up{a}'), { message: '1:5: parse error: unexpected "}" in label matching, expected label matching operator' });
    assert.throws(() => parseSelector('up{a=b}'), { message: '1:6: parse error: unexpected identifier "b" in label matching, expected string' });
    assert.throws(() => parseSelector('up{a="b'), /1:6: parse error: unterminated quoted string/);
    assert.throws(() => parseSelector('up{a=~"("}'), /invalid regular expression/);
    assert.throws(() => parseSelector(''), /1:1: parse error/);
    assert.throws(() => parseSelector('up)'), { message: "1:4: parse error: unexpected right parenthesis ')'" });
    assert.throws(() => parseSelector('up offset 5m'), { message: '1:4: parse error: unexpected <offset>' });
    assert.throws(() => parseSelector('1'), { message: '1:1: parse error: unexpected number "1"' });
    assert.throws(() => parseSelector('a-b'), { message: '1:2: parse error: unexpected <op:->' });
    assert.throws(() => parseSelector('up{a!"b"}'), { message: `1:5: parse error: unexpected character after '!' inside braces: '"'` });
    assert.throws(() => parseSelector('up{a.b="c"}'), { message: "1:5: parse error: unexpected character inside braces: '.'" });
    assert.throws(() => parseSelector('up{a="\\q"}'), { message: "1:6: parse error: unknown escape sequence U+0071 'q'" });
  });
});
