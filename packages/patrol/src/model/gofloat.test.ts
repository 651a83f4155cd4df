import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatFloatE, formatFloatF, formatFloatG, formatOpenMetricsFloat, parseGoFloat } from './gofloat.js';

test("'f' formatting never uses an exponent", () => {
  const cases: [number, string][] = [
    [1, '1'],
    [0.5, '0.5'],
    [1e21, '1000000000000000000000'],
    [1.5e21, '1500000000000000000000'],
    [1.5e-7, '0.00000015'],
    [1e-7, '0.0000001'],
    [-1.25e-8, '-0.0000000125'],
    [-2e22, '-20000000000000000000000'],
    [123.456, '123.456'],
    [-0, '-0'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ];
  for (const [v, want] of cases) assert.equal(formatFloatF(v), want, `value ${v}`);
});

test("'g' formatting switches to an exponent below 1e-4 and from 1e6, like Go's %v", () => {
  const cases: [number, string][] = [
    [1.5, '1.5'],
    [1e6, '1e+06'],
    [123456, '123456'],
    [1234567, '1.234567e+06'],
    [1e-5, '1e-05'],
    [0.0001, '0.0001'],
    [-1.1, '-1.1'],
    [2, '2'],
    [100, '100'],
    [1e21, '1e+21'],
    [2 ** 63, '9.223372036854776e+18'],
    [1e-300, '1e-300'],
    [-0, '-0'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
  ];
  for (const [v, want] of cases) assert.equal(formatFloatG(v), want, `value ${v}`);
  assert.equal(formatFloatG(1e6, true), '1E+06');
});

test("'e' formatting always uses an exponent", () => {
  assert.equal(formatFloatE(1), '1e+00');
  assert.equal(formatFloatE(1.5), '1.5e+00');
  assert.equal(formatFloatE(0), '0e+00');
  assert.equal(formatFloatE(-123456), '-1.23456e+05');
  assert.equal(formatFloatE(1e-7, true), '1E-07');
  assert.equal(formatFloatE(1e100), '1e+100');
  assert.equal(formatFloatE(-Infinity), '-Inf');
});

test('OpenMetrics floats add ".0" to integral values', () => {
  assert.deepEqual([0, 0.25, 1, 1e6, Infinity].map(formatOpenMetricsFloat), ['0.0', '0.25', '1.0', '1e+06', '+Inf']);
});

test('floats parse like Go ParseFloat', () => {
  assert.equal(parseGoFloat('0.5'), 0.5);
  assert.equal(parseGoFloat('+Inf'), Infinity);
  assert.equal(parseGoFloat('inf'), Infinity);
  assert.equal(parseGoFloat('-Infinity'), -Infinity);
  assert.equal(parseGoFloat('1e3'), 1000);
  assert.equal(parseGoFloat('.5'), 0.5);
  assert.equal(parseGoFloat('0x1p-2'), 0.25);
  assert.equal(parseGoFloat('0x1_0p0'), 16);
  assert.ok(Number.isNaN(parseGoFloat('NaN')!));
  for (const bad of ['Hello World', '', '1,5', ' 1', '0x10', '1_000', '-NaN']) assert.equal(parseGoFloat(bad), null, bad);
});

test('parseGoFloat reads a long run of digits in one pass', () => {
  // `\d+\.?\d*` split a run of digits between its two quantifiers in every way before failing.
  const digits = '1'.repeat(200_000);
  assert.equal(parseGoFloat(`${digits}x`), null);
  assert.equal(parseGoFloat(`${digits}.${digits}e+5x`), null);
  assert.equal(parseGoFloat(`-${digits}`), -Infinity);
  assert.equal(parseGoFloat('12.5e1'), 125);
  assert.equal(parseGoFloat('12.'), 12);
});
