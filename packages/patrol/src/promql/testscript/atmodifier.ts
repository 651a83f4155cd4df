// The `@` variants promqltest runs for every instant eval: the expression with `@ <t>` added to
// each selector and subquery that has none (not descending into subqueries), evaluated at other
// times, must give the same answer. Built on the lezer PromQL grammar by inserting text, so the
// rest of the expression stays exactly as written.

import { parser } from '@prometheus-io/lezer-promql';
import { AT_MODIFIER_UNSAFE_FUNCTIONS } from '../functions/signatures.js';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

// Modifiers written after a selector or subquery. The lezer grammar (made for editors) does not
// always nest them the way Prometheus's parser binds them, so they are read from the text.
// start(), end(), range() and step() answer from the query, not the data: moving the evaluation
// time changes them, so the harness leaves such expressions alone.
const QUERY_CONTEXT_FUNCTIONS = new Set(['start', 'end', 'range', 'step']);
const QUERY_CONTEXT_RE = /\b(?:start|end|range|step)\s*\(\s*\)/i;

const MODIFIERS_RE = /^(?:\s*(?:offset\s+[-+]?[0-9a-zA-Z_.]+|@\s*(?:start\(\s*\)|end\(\s*\)|[-+]?[0-9a-zA-Z_.+]+)))*/;

/** Where an `@` goes after the node (past its offset), or null when it already has one. */
function insertionPoint(expr: string, node: SyntaxNode): number | null {
  const m = MODIFIERS_RE.exec(expr.slice(node.to))!;
  if (m[0].includes('@')) return null;
  return node.to + m[0].length;
}

/**
 * Returns the expression with `@ <evalTime seconds>` set on every selector and subquery lacking
 * one, or null when it cannot be done the way Prometheus's harness does it: the expression has a
 * syntax error, uses the anchored/smoothed modifiers, or calls a function whose value depends on
 * the evaluation time (time(), predict_linear, the date functions) outside a subquery.
 */
export function atModifierRewrite(expr: string, evalTimeMs: number): string | null {
  // Also inside durations (`foo[step()]`), where the grammar has its own node names.
  if (QUERY_CONTEXT_RE.test(expr)) return null;
  const tree = parser.parse(expr);
  const inserts: number[] = [];
  let unsafe = false;
  let broken = false;
  const visit = (node: SyntaxNode): void => {
    if (node.type.isError || node.name === 'AnchoredExpr' || node.name === 'SmoothedExpr') {
      broken = true;
      return;
    }
    switch (node.name) {
      case 'SubqueryExpr':
      case 'MatrixSelector':
      case 'VectorSelector': {
        // Selectors inside a range selector or subquery keep their own times.
        const pos = insertionPoint(expr, node);
        if (pos !== null) inserts.push(pos);
        return;
      }
      case 'FunctionIdentifier': {
        const name = expr.slice(node.from, node.to).toLowerCase();
        if (AT_MODIFIER_UNSAFE_FUNCTIONS.has(name) || QUERY_CONTEXT_FUNCTIONS.has(name)) unsafe = true;
        return;
      }
    }
    for (let c = node.firstChild; c; c = c.nextSibling) visit(c);
  };
  visit(tree.topNode);
  if (broken || unsafe) return null;
  const at = ` @ ${(evalTimeMs / 1000).toFixed(3)}`;
  let out = expr;
  for (const pos of [...new Set(inserts)].sort((a, b) => b - a)) out = out.slice(0, pos) + at + out.slice(pos);
  return out;
}
