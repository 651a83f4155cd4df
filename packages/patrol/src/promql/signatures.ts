// Function signatures for the type checker, taken from the kernels' SIGNATURES (functions/) and
// expressed in the AST's value types. With variadic != 0 the last listed argument type is the
// optional/repeated one, as in Prometheus.

import type { ValueType } from './ast.js';
import { SIGNATURES } from './functions/index.js';

export interface FunctionSignature {
  name: string;
  args: ValueType[];
  variadic: number;
  returns: ValueType;
  keepsName: boolean;
}

const TYPES: Record<string, ValueType> = { scalar: 'scalar', instant: 'vector', range: 'matrix', string: 'string' };

/** Scalar functions the engine implements itself, beyond the kernels' list. */
const EXTRA: FunctionSignature[] = [
  { name: 'min_of', args: ['scalar', 'scalar'], variadic: 0, returns: 'scalar', keepsName: false },
  { name: 'max_of', args: ['scalar', 'scalar'], variadic: 0, returns: 'scalar', keepsName: false },
];

export const FUNCTIONS: ReadonlyMap<string, FunctionSignature> = new Map([
  ...Object.values(SIGNATURES).map((s): [string, FunctionSignature] => [
    s.name,
    { name: s.name, args: s.args.map((a) => TYPES[a]), variadic: s.variadic, returns: TYPES[s.returns], keepsName: s.keepsName === true },
  ]),
  ...EXTRA.filter((s) => !(s.name in SIGNATURES)).map((s): [string, FunctionSignature] => [s.name, s]),
]);
