// Function signatures used by the type checker: argument types, how many trailing arguments are
// optional (variadic > 0) or repeatable (variadic < 0), and the result type. Same rules as
// Prometheus: with variadic != 0 the last listed argument type is the optional/repeated one.

import type { ValueType } from './ast.js';

export interface FunctionSignature {
  name: string;
  args: ValueType[];
  variadic: number;
  returns: ValueType;
}

const S: ValueType = 'scalar';
const V: ValueType = 'vector';
const M: ValueType = 'matrix';
const STR: ValueType = 'string';

function sig(name: string, args: ValueType[], returns: ValueType, variadic = 0): FunctionSignature {
  return { name, args, variadic, returns };
}

const list: FunctionSignature[] = [
  sig('abs', [V], V),
  sig('absent', [V], V),
  sig('absent_over_time', [M], V),
  sig('acos', [V], V),
  sig('acosh', [V], V),
  sig('asin', [V], V),
  sig('asinh', [V], V),
  sig('atan', [V], V),
  sig('atanh', [V], V),
  sig('avg_over_time', [M], V),
  sig('ceil', [V], V),
  sig('changes', [M], V),
  sig('clamp', [V, S, S], V),
  sig('clamp_max', [V, S], V),
  sig('clamp_min', [V, S], V),
  sig('cos', [V], V),
  sig('cosh', [V], V),
  sig('count_over_time', [M], V),
  sig('days_in_month', [V], V, 1),
  sig('day_of_month', [V], V, 1),
  sig('day_of_week', [V], V, 1),
  sig('day_of_year', [V], V, 1),
  sig('deg', [V], V),
  sig('delta', [M], V),
  sig('deriv', [M], V),
  sig('exp', [V], V),
  sig('first_over_time', [M], V),
  sig('floor', [V], V),
  sig('histogram_avg', [V], V),
  sig('histogram_count', [V], V),
  sig('histogram_sum', [V], V),
  sig('histogram_stddev', [V], V),
  sig('histogram_stdvar', [V], V),
  sig('histogram_fraction', [S, S, V], V),
  sig('histogram_quantile', [S, V], V),
  sig('double_exponential_smoothing', [M, S, S], V),
  sig('hour', [V], V, 1),
  sig('idelta', [M], V),
  sig('increase', [M], V),
  sig('info', [V, V], V, 1),
  sig('irate', [M], V),
  sig('label_replace', [V, STR, STR, STR, STR], V),
  sig('label_join', [V, STR, STR, STR], V, -1),
  sig('last_over_time', [M], V),
  sig('ln', [V], V),
  sig('log10', [V], V),
  sig('log2', [V], V),
  sig('mad_over_time', [M], V),
  sig('max_over_time', [M], V),
  sig('min_over_time', [M], V),
  sig('ts_of_first_over_time', [M], V),
  sig('ts_of_last_over_time', [M], V),
  sig('ts_of_max_over_time', [M], V),
  sig('ts_of_min_over_time', [M], V),
  sig('minute', [V], V, 1),
  sig('month', [V], V, 1),
  sig('pi', [], S),
  sig('start', [], S),
  sig('end', [], S),
  sig('step', [], S),
  sig('range', [], S),
  sig('predict_linear', [M, S], V),
  sig('present_over_time', [M], V),
  sig('quantile_over_time', [S, M], V),
  sig('rad', [V], V),
  sig('rate', [M], V),
  sig('resets', [M], V),
  sig('round', [V, S], V, 1),
  sig('scalar', [V], S),
  sig('sgn', [V], V),
  sig('sin', [V], V),
  sig('sinh', [V], V),
  sig('sort', [V], V),
  sig('sort_desc', [V], V),
  sig('sort_by_label', [V, STR], V, -1),
  sig('sort_by_label_desc', [V, STR], V, -1),
  sig('sqrt', [V], V),
  sig('stddev_over_time', [M], V),
  sig('stdvar_over_time', [M], V),
  sig('sum_over_time', [M], V),
  sig('tan', [V], V),
  sig('tanh', [V], V),
  sig('time', [], S),
  sig('timestamp', [V], V),
  sig('vector', [S], V),
  sig('year', [V], V, 1),
];

export const FUNCTIONS: ReadonlyMap<string, FunctionSignature> = new Map(list.map((s) => [s.name, s]));
