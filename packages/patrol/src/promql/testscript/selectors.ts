// The label matchers of every selector in an expression, read with the lezer PromQL grammar. The
// runner uses them to tell which evals touch series that held native histograms.

import { parser } from '@prometheus-io/lezer-promql';
import type { MatchType } from '../../model/matchers.js';
import { Matcher } from '../../model/matchers.js';
import { readQuoted } from './series.js';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

const OPS: Record<string, MatchType> = { EqlSingle: '=', Neq: '!=', EqlRegex: '=~', NeqRegex: '!~' };

function unquote(text: string): string {
  return readQuoted(text).value;
}

/** Matchers of each selector, or null when the expression does not parse or a matcher is invalid. */
export function selectorMatchers(expr: string): Matcher[][] | null {
  const tree = parser.parse(expr);
  const out: Matcher[][] = [];
  let ok = true;
  const text = (n: SyntaxNode): string => expr.slice(n.from, n.to);
  const visit = (node: SyntaxNode): void => {
    if (node.type.isError) {
      ok = false;
      return;
    }
    if (node.name === 'VectorSelector') {
      const ms: Matcher[] = [];
      try {
        for (let c = node.firstChild; c; c = c.nextSibling) {
          if (c.name === 'Identifier') ms.push(new Matcher('=', '__name__', text(c)));
          if (c.name !== 'LabelMatchers') continue;
          for (let m = c.firstChild; m; m = m.nextSibling) {
            if (m.name === 'QuotedLabelName') {
              ms.push(new Matcher('=', '__name__', unquote(text(m))));
              continue;
            }
            if (m.name !== 'UnquotedLabelMatcher' && m.name !== 'QuotedLabelMatcher') continue;
            const nameNode = m.getChild('LabelName') ?? m.getChild('QuotedLabelName');
            const opNode = m.getChild('MatchOp')?.firstChild;
            const valueNode = m.getChildren('StringLiteral').at(-1);
            if (!nameNode || !opNode || !valueNode) continue;
            const name = nameNode.name === 'QuotedLabelName' ? unquote(text(nameNode)) : text(nameNode);
            ms.push(new Matcher(OPS[opNode.name] ?? '=', name, unquote(text(valueNode))));
          }
        }
      } catch {
        ok = false;
        return;
      }
      out.push(ms);
      return;
    }
    for (let c = node.firstChild; c; c = c.nextSibling) visit(c);
  };
  visit(tree.topNode);
  return ok ? out : null;
}
