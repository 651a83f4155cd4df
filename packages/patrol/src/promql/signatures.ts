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

export const FUNCTIONS: ReadonlyMap<string, FunctionSignature> = new Map(
  Object.values(SIGNATURES).map((s) => [
    s.name,
    { name: s.name, args: s.args.map((a) => TYPES[a]), variadic: s.variadic, returns: TYPES[s.returns], keepsName: s.keepsName === true },
  ]),
);
