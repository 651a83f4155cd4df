// The typed PromQL syntax tree the parser produces and the engine evaluates. Nodes are plain
// objects (JSON-serialisable apart from matchers' compiled regexes) with the source span they
// came from, so type errors can point at the query text.

import type { Matcher } from '../model/matchers.js';

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** Prometheus's names for value types in messages. */
export function typeName(t: ValueType): string {
  switch (t) {
    case 'scalar':
      return 'scalar';
    case 'vector':
      return 'instant vector';
    case 'matrix':
      return 'range vector';
    case 'string':
      return 'string';
  }
}

export interface Span {
  start: number;
  end: number;
}

/** A duration that may depend on the query (step(), range()); milliseconds once evaluated. */
export type DurationExpr =
  | { kind: 'literal'; ms: number; text: string }
  | { kind: 'step' }
  | { kind: 'range' }
  | { kind: 'unary'; op: '-' | '+'; arg: DurationExpr }
  | { kind: 'binary'; op: '+' | '-' | '*' | '/' | '%' | '^'; lhs: DurationExpr; rhs: DurationExpr }
  | { kind: 'minmax'; fn: 'min' | 'max'; lhs: DurationExpr; rhs: DurationExpr }
  | { kind: 'paren'; arg: DurationExpr };

export type AtModifier = { kind: 'time'; ms: number } | { kind: 'start' } | { kind: 'end' };

export interface NumberLiteral extends Span {
  type: 'number';
  value: number;
  text: string;
}

export interface StringLiteral extends Span {
  type: 'string';
  value: string;
}

export interface VectorSelector extends Span {
  type: 'vectorSelector';
  name: string;
  matchers: Matcher[];
  offset: DurationExpr | null;
  at: AtModifier | null;
  /** The experimental `anchored` / `smoothed` modifiers (on the range for a matrix selector). */
  mode: 'anchored' | 'smoothed' | null;
}

export interface MatrixSelector extends Span {
  type: 'matrixSelector';
  selector: VectorSelector;
  range: DurationExpr;
}

export interface SubqueryExpr extends Span {
  type: 'subquery';
  expr: Expr;
  range: DurationExpr;
  step: DurationExpr | null;
  offset: DurationExpr | null;
  at: AtModifier | null;
}

export interface Call extends Span {
  type: 'call';
  func: string;
  args: Expr[];
}

export type AggregateOp =
  | 'sum'
  | 'avg'
  | 'min'
  | 'max'
  | 'count'
  | 'group'
  | 'stddev'
  | 'stdvar'
  | 'topk'
  | 'bottomk'
  | 'quantile'
  | 'count_values'
  | 'limitk'
  | 'limit_ratio';

export interface Aggregate extends Span {
  type: 'aggregate';
  op: AggregateOp;
  expr: Expr;
  param: Expr | null;
  grouping: string[];
  without: boolean;
  /** True when `by`/`without` was written (even with an empty list). */
  hasGrouping: boolean;
}

export type BinaryOp =
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '^'
  | 'atan2'
  | '=='
  | '!='
  | '>'
  | '<'
  | '>='
  | '<='
  | 'and'
  | 'or'
  | 'unless';

export interface VectorMatching {
  card: 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';
  on: boolean;
  labels: string[];
  include: string[];
  /** Whether on()/ignoring() was written. */
  explicit: boolean;
}

export interface Binary extends Span {
  type: 'binary';
  op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
  bool: boolean;
  matching: VectorMatching | null;
  fill: { lhs: number | null; rhs: number | null } | null;
}

export interface Unary extends Span {
  type: 'unary';
  op: '-' | '+';
  expr: Expr;
}

export interface Paren extends Span {
  type: 'paren';
  expr: Expr;
}

/** `expr @ t` or `expr offset d` on something that is not a selector or subquery (error), kept for messages. */
export type Expr = NumberLiteral | StringLiteral | VectorSelector | MatrixSelector | SubqueryExpr | Call | Aggregate | Binary | Unary | Paren;

export const COMPARISON_OPS: ReadonlySet<string> = new Set(['==', '!=', '>', '<', '>=', '<=']);
export const SET_OPS: ReadonlySet<string> = new Set(['and', 'or', 'unless']);
