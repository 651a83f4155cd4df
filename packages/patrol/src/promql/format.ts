// The canonical text of an expression (Prometheus's String()), used by /api/v1/format_query,
// and a JSON tree for /api/v1/parse_query.

import { formatFloatF, formatFloatG } from '../model/gofloat.js';
import { METRIC_NAME } from '../model/labels.js';
import type { AtModifier, DurationExpr, Expr, VectorSelector } from './ast.js';
import { evalDuration } from './parser.js';
import { FUNCTIONS } from './signatures.js';

/** Go's model.Duration.String(): `1h30m`, `0s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let s = '';
  let rest = Math.abs(ms);
  const units: [string, number][] = [
    ['y', 365 * 86400000],
    ['w', 7 * 86400000],
    ['d', 86400000],
    ['h', 3600000],
    ['m', 60000],
    ['s', 1000],
    ['ms', 1],
  ];
  for (const [u, n] of units) {
    // Years and weeks only when exact, as Prometheus prints them (90d rather than 12w6d).
    if ((u === 'y' || u === 'w') && rest % n !== 0) continue;
    if (rest >= n) {
      const q = Math.floor(rest / n);
      s += `${q}${u}`;
      rest -= q * n;
    }
  }
  return (ms < 0 ? '-' : '') + s;
}

function formatDur(d: DurationExpr): string {
  switch (d.kind) {
    case 'literal':
      return /[a-z]$/.test(d.text) ? formatDuration(d.ms) : d.text;
    case 'step':
      return 'step()';
    case 'range':
      return 'range()';
    case 'paren':
      return `(${formatDur(d.arg)})`;
    case 'unary':
      return d.op + formatDur(d.arg);
    case 'minmax':
      return `${d.fn}(${formatDur(d.lhs)}, ${formatDur(d.rhs)})`;
    case 'binary':
      return `${formatDur(d.lhs)} ${d.op} ${formatDur(d.rhs)}`;
  }
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function formatAt(at: AtModifier | null): string {
  if (!at) return '';
  if (at.kind === 'start') return ' @ start()';
  if (at.kind === 'end') return ' @ end()';
  return ` @ ${(at.ms / 1000).toFixed(3)}`;
}

function formatOffset(o: DurationExpr | null): string {
  if (!o) return '';
  return ` offset ${formatDur(o)}`;
}

const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function labelName(n: string): string {
  return LABEL_RE.test(n) ? n : quote(n);
}

function selectorText(vs: VectorSelector): string {
  let name = vs.name;
  const ms = vs.matchers.filter((m) => !(name !== '' && m.name === METRIC_NAME && m.type === '=' && m.value === name));
  const parts = ms.map((m) => `${labelName(m.name)}${m.type}${quote(m.value)}`);
  if (name !== '' && !METRIC_RE.test(name)) {
    parts.unshift(quote(name));
    name = '';
  }
  if (parts.length === 0) return name;
  return `${name}{${parts.join(',')}}`;
}

function grouping(labels: string[]): string {
  return `(${labels.map(labelName).join(', ')})`;
}

export function formatExpr(e: Expr): string {
  switch (e.type) {
    case 'number':
      return formatFloatG(e.value);
    case 'string':
      return quote(e.value);
    case 'vectorSelector':
      return selectorText(e) + formatAt(e.at) + formatOffset(e.offset) + (e.mode ? ` ${e.mode}` : '');
    case 'matrixSelector':
      return `${selectorText(e.selector)}[${formatDur(e.range)}]` + formatAt(e.selector.at) + formatOffset(e.selector.offset) + (e.selector.mode ? ` ${e.selector.mode}` : '');
    case 'subquery':
      return `${formatExpr(e.expr)}[${formatDur(e.range)}:${e.step ? formatDur(e.step) : ''}]` + formatAt(e.at) + formatOffset(e.offset);
    case 'call':
      return `${e.func}(${e.args.map(formatExpr).join(', ')})`;
    case 'paren':
      return `(${formatExpr(e.expr)})`;
    case 'unary':
      return `${e.op}${formatExpr(e.expr)}`;
    case 'aggregate': {
      let s = e.op;
      if (e.hasGrouping) s += ` ${e.without ? 'without' : 'by'} ${grouping(e.grouping)} `;
      const args = e.param ? `${formatExpr(e.param)}, ${formatExpr(e.expr)}` : formatExpr(e.expr);
      return `${s}(${args})`;
    }
    case 'binary': {
      let mod = '';
      if (e.bool) mod += ' bool';
      const m = e.matching;
      if (m && (m.explicit || m.card === 'many-to-one' || m.card === 'one-to-many')) {
        if (m.on || m.labels.length > 0) mod += ` ${m.on ? 'on' : 'ignoring'} ${grouping(m.labels)}`;
        if (m.card === 'many-to-one') mod += ` group_left ${grouping(m.include)}`;
        if (m.card === 'one-to-many') mod += ` group_right ${grouping(m.include)}`;
      }
      if (e.fill) {
        const f = e.fill;
        if (f.lhs !== null && f.rhs !== null && Object.is(f.lhs, f.rhs)) mod += ` fill(${formatFloatG(f.lhs)})`;
        else {
          if (f.lhs !== null) mod += ` fill_left(${formatFloatG(f.lhs)})`;
          if (f.rhs !== null) mod += ` fill_right(${formatFloatG(f.rhs)})`;
        }
      }
      return `${formatExpr(e.lhs)} ${e.op}${mod} ${formatExpr(e.rhs)}`;
    }
  }
}

const GO_TYPES: Record<string, string> = { scalar: 'scalar', vector: 'vector', matrix: 'matrix', string: 'string' };

function durMs(d: DurationExpr | null, ctx: { step: number; range: number }): number {
  return d ? evalDuration(d, ctx) : 0;
}

/** Prometheus appends the matcher made from the metric name after the written ones. */
function jsonMatchers(vs: VectorSelector): { name: string; value: string; type: string }[] {
  const ms = vs.name !== '' ? [...vs.matchers.slice(1), vs.matchers[0]] : vs.matchers;
  return ms.map((m) => ({ name: m.name, value: m.value, type: m.type }));
}

function atFields(at: AtModifier | null): { timestamp: number | null; startOrEnd: string | null } {
  if (!at) return { timestamp: null, startOrEnd: null };
  if (at.kind === 'time') return { timestamp: at.ms, startOrEnd: null };
  return { timestamp: null, startOrEnd: at.kind };
}

/**
 * The tree as Prometheus's /api/v1/parse_query returns it (field names and shapes of its
 * translateAST). Durations are milliseconds; step()/range() in durations count as 0.
 */
export function exprToJSON(e: Expr): unknown {
  const ctx = { step: 0, range: 0 };
  switch (e.type) {
    case 'number':
      return { type: 'numberLiteral', val: formatFloatF(e.value) };
    case 'string':
      return { type: 'stringLiteral', val: e.value };
    case 'vectorSelector':
      return {
        type: 'vectorSelector',
        name: e.name,
        offset: durMs(e.offset, ctx),
        matchers: jsonMatchers(e),
        ...atFields(e.at),
        anchored: e.mode === 'anchored',
        smoothed: e.mode === 'smoothed',
      };
    case 'matrixSelector': {
      const vs = e.selector;
      return {
        type: 'matrixSelector',
        name: vs.name,
        range: durMs(e.range, ctx),
        offset: durMs(vs.offset, ctx),
        matchers: jsonMatchers(vs),
        ...atFields(vs.at),
        anchored: vs.mode === 'anchored',
        smoothed: vs.mode === 'smoothed',
      };
    }
    case 'subquery':
      return {
        type: 'subquery',
        expr: exprToJSON(e.expr),
        range: durMs(e.range, ctx),
        offset: durMs(e.offset, ctx),
        step: durMs(e.step, ctx),
        ...atFields(e.at),
        alignEvalTime: false,
      };
    case 'call': {
      const sig = FUNCTIONS.get(e.func);
      return {
        type: 'call',
        func: {
          name: e.func,
          argTypes: (sig?.args ?? []).map((t) => GO_TYPES[t]),
          variadic: sig?.variadic ?? 0,
          returnType: GO_TYPES[sig?.returns ?? 'vector'],
        },
        args: e.args.map(exprToJSON),
      };
    }
    case 'paren':
      return { type: 'parenExpr', expr: exprToJSON(e.expr) };
    case 'unary':
      return { type: 'unaryExpr', op: e.op, expr: exprToJSON(e.expr) };
    case 'aggregate':
      return { type: 'aggregation', op: e.op, expr: exprToJSON(e.expr), param: e.param ? exprToJSON(e.param) : null, grouping: e.grouping, without: e.without };
    case 'binary':
      return {
        type: 'binaryExpr',
        op: e.op,
        lhs: exprToJSON(e.lhs),
        rhs: exprToJSON(e.rhs),
        matching: e.matching
          ? {
              card: e.matching.card,
              labels: e.matching.labels,
              on: e.matching.on,
              include: e.matching.include,
              fillValues: { lhs: e.fill?.lhs ?? null, rhs: e.fill?.rhs ?? null },
            }
          : null,
        bool: e.bool,
      };
  }
}
