// Expression rewrites used by the conformance runner: pinning every selector to `@ t`.

import type { Expr } from './ast.js';
import { formatExpr } from './format.js';
import { parseExpr } from './parser.js';

const TIME_DEPENDENT: ReadonlySet<string> = new Set([
  'time',
  'timestamp',
  'predict_linear',
  'days_in_month',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'hour',
  'minute',
  'month',
  'year',
  'vector',
  'scalar',
  'pi',
  'start',
  'end',
  'step',
  'range',
]);

function walk(e: Expr, t: number, inPinned: boolean): boolean {
  switch (e.type) {
    case 'number':
    case 'string':
      return true;
    case 'vectorSelector':
      if (!e.at && !inPinned) e.at = { kind: 'time', ms: t };
      return true;
    case 'matrixSelector':
      if (!e.selector.at && !inPinned) e.selector.at = { kind: 'time', ms: t };
      return true;
    case 'subquery': {
      const pinned = inPinned || e.at !== null;
      if (!e.at && !inPinned) e.at = { kind: 'time', ms: t };
      return walk(e.expr, t, true) && pinned === pinned;
    }
    case 'call':
      if (TIME_DEPENDENT.has(e.func)) return false;
      return e.args.every((a) => walk(a, t, inPinned));
    case 'aggregate':
      return walk(e.expr, t, inPinned) && (e.param ? walk(e.param, t, inPinned) : true);
    case 'binary':
      return walk(e.lhs, t, inPinned) && walk(e.rhs, t, inPinned);
    case 'unary':
    case 'paren':
      return walk(e.expr, t, inPinned);
  }
}

/** The expression with `@ t` on every selector and subquery lacking one; null if it depends on the evaluation time. */
export function pinToTime(expr: string, t: number): string | null {
  let ast: Expr;
  try {
    ast = parseExpr(expr);
  } catch {
    return null;
  }
  if (!walk(ast, t, false)) return null;
  return formatExpr(ast);
}
