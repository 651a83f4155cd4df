// Go's text/template language, the subset Prometheus rule templates and Alertmanager
// notification templates use: {{ }} actions with trim markers and comments, pipelines,
// variables, fields, if/else if/else, range (with $i, $v and else), with/else, define, template,
// block, break/continue, and the built-in functions. Generic: the caller supplies the functions
// (Prometheus's humanize…, Alertmanager's toUpper…) and the data. Execution is async so a
// function may query; output and work are bounded so no template can stall the process.
// Integers are bigint (Go int), floats number (Go float64); a missing map key prints <no value>.

import { formatValue, sprint, sprintf, sprintln, type GoValue } from './gofmt.js';

export type TemplateFunc = (...args: GoValue[]) => GoValue | Promise<GoValue>;
export type FuncMap = Record<string, TemplateFunc>;

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

// ---------------------------------------------------------------- lexer

type Tok =
  | { k: 'text'; v: string; pos: number }
  | { k: 'open' | 'close' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'eof'; v: string; pos: number }
  | { k: 'ident' | 'field' | 'chain' | 'var' | 'string' | 'number' | 'char' | 'bool' | 'nil' | 'dot'; v: string; pos: number };

function lex(src: string, err: (pos: number, msg: string) => never): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    let open = src.indexOf('{{', i);
    if (open < 0) open = src.length;
    let text = src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    const trimLeft = /^\{\{-[ \t\r\n]/.test(src.slice(open, open + 4));
    if (trimLeft) {
      // Scanned back from the end: an unanchored `[ \t\r\n]+$` retried every inner run of spaces.
      let end = text.length;
      while (end > 0 && ' \t\r\n'.includes(text[end - 1])) end--;
      text = text.slice(0, end);
    }
    if (text) toks.push({ k: 'text', v: text, pos: i });
    if (open >= src.length) break;
    let j = open + 2 + (trimLeft ? 2 : 0);
    if (src.startsWith('/*', j)) {
      // A comment: {{/* … */}}, optionally with trim markers.
      const end = src.indexOf('*/', j + 2);
      if (end < 0) err(open, 'unclosed comment');
      let k = end + 2;
      if (/^[ \t\r\n]-\}\}/.test(src.slice(k, k + 4))) {
        trimNext = true;
        k += 4;
      } else if (src.startsWith('}}', k)) k += 2;
      else err(k, 'comment ends before closing delimiter');
      i = k;
      continue;
    }
    toks.push({ k: 'open', v: '{{', pos: open });
    for (;;) {
      while (j < src.length && /[ \t\r\n]/.test(src[j])) {
        if (/[ \t\r\n]-}}/.test(src.slice(j, j + 4)) && src.startsWith('-}}', j + 1)) break;
        j++;
      }
      if (j >= src.length) err(open, 'unclosed action');
      if (/^[ \t\r\n]-}}/.test(src.slice(j, j + 4))) {
        toks.push({ k: 'close', v: '}}', pos: j });
        trimNext = true;
        j += 4;
        break;
      }
      if (src.startsWith('}}', j)) {
        toks.push({ k: 'close', v: '}}', pos: j });
        j += 2;
        break;
      }
      const c = src[j];
      const rest = src.slice(j);
      let m: RegExpMatchArray | null;
      if (c === '|') toks.push({ k: 'pipe', v: c, pos: j++ });
      else if (c === '(') toks.push({ k: 'lparen', v: c, pos: j++ });
      else if (c === ')') {
        toks.push({ k: 'rparen', v: c, pos: j++ });
        if ((m = src.slice(j).match(/^(\.[A-Za-z_][A-Za-z0-9_]*)+/))) {
          toks.push({ k: 'chain', v: m[0], pos: j });
          j += m[0].length;
        }
      }
      else if (c === ',') toks.push({ k: 'comma', v: c, pos: j++ });
      else if (rest.startsWith(':=')) {
        toks.push({ k: 'declare', v: ':=', pos: j });
        j += 2;
      } else if (c === '=') toks.push({ k: 'assign', v: c, pos: j++ });
      else if (c === '"') {
        let k = j + 1;
        while (k < src.length && src[k] !== '"') {
          if (src[k] === '\\') k++;
          if (src[k] === '\n') err(j, 'unterminated quoted string');
          k++;
        }
        if (k >= src.length) err(j, 'unterminated quoted string');
        toks.push({ k: 'string', v: unquote(src.slice(j, k + 1), () => err(j, `invalid syntax in string ${src.slice(j, k + 1)}`)), pos: j });
        j = k + 1;
      } else if (c === '`') {
        const k = src.indexOf('`', j + 1);
        if (k < 0) err(j, 'unterminated raw quoted string');
        toks.push({ k: 'string', v: src.slice(j + 1, k), pos: j });
        j = k + 1;
      } else if (c === "'") {
        m = rest.match(/^'(\\.[^']*|[^'\\])'/);
        if (!m) err(j, 'unterminated character constant');
        const ch = unquote(`"${m![1]}"`, () => err(j, 'invalid character constant'));
        toks.push({ k: 'char', v: String(ch.codePointAt(0)), pos: j });
        j += m![0].length;
      } else if ((m = rest.match(/^\$[A-Za-z0-9_]*/))) {
        toks.push({ k: 'var', v: m[0], pos: j });
        j += m[0].length;
        if ((m = src.slice(j).match(/^(\.[A-Za-z_][A-Za-z0-9_]*)+/))) {
          toks.push({ k: 'chain', v: m[0], pos: j });
          j += m[0].length;
        }
      } else if ((m = rest.match(/^(\.[A-Za-z_][A-Za-z0-9_]*)+/))) {
        toks.push({ k: 'field', v: m[0], pos: j });
        j += m[0].length;
      } else if (c === '.' && !/^\.\d/.test(rest)) {
        toks.push({ k: 'dot', v: '.', pos: j++ });
      } else if ((m = rest.match(/^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)([eE][+-]?\d+)?)/))) {
        toks.push({ k: 'number', v: m[0], pos: j });
        j += m[0].length;
      } else if ((m = rest.match(/^[A-Za-z_][A-Za-z0-9_]*/))) {
        const w = m[0];
        toks.push({ k: w === 'true' || w === 'false' ? 'bool' : w === 'nil' ? 'nil' : 'ident', v: w, pos: j });
        j += w.length;
        if (src[j] === '.' && /[A-Za-z_]/.test(src[j + 1] ?? '')) err(j, `unexpected . after term "${w}"`);
      } else err(j, `unexpected ${JSON.stringify(c)} in command`);
    }
    i = j;
  }
  toks.push({ k: 'eof', v: '', pos: src.length });
  return toks;
}

function unquote(q: string, bad: () => never): string {
  try {
    // Go's escapes are a superset of JSON's for the common cases; map \x, \a, \v, octal first.
    const s = q.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1').replace(/\\a/g, '\\u0007').replace(/\\v/g, '\\u000b').replace(/\\'/g, "'").replace(/\\([0-7]{3})/g, (_m, o: string) => `\\u${parseInt(o, 8).toString(16).padStart(4, '0')}`).replace(/\\U([0-9a-fA-F]{8})/g, (_m, h: string) => JSON.stringify(String.fromCodePoint(parseInt(h, 16))).slice(1, -1));
    return JSON.parse(s) as string;
  } catch {
    return bad();
  }
}

// ---------------------------------------------------------------- parse tree

type Arg =
  | { t: 'field'; base: Arg | null; names: string[]; pos: number } // base null: dot
  | { t: 'var'; name: string; names: string[]; pos: number }
  | { t: 'ident'; name: string; pos: number }
  | { t: 'dot'; pos: number }
  | { t: 'lit'; v: GoValue; pos: number }
  | { t: 'pipe'; p: Pipe; names: string[]; pos: number };

interface Cmd {
  args: Arg[];
  pos: number;
}
interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
  pos: number;
}

type Node =
  | { t: 'text'; v: string }
  | { t: 'action'; p: Pipe }
  | { t: 'if' | 'with' | 'range'; p: Pipe; list: Node[]; else: Node[] | null }
  | { t: 'template'; name: string; p: Pipe | null; pos: number }
  | { t: 'break' | 'continue'; pos: number };

/** A parsed set of named templates; the main one is named when parsing. */
export class Template {
  private readonly trees = new Map<string, Node[]>();
  private readonly funcs: FuncMap;

  /**
   * Parses `text` as the template `name` (its {{define}}s are added to the set). Throws a
   * TemplateError "template: NAME:LINE: message" for a text that does not parse, including a
   * call of a function that is not defined.
   */
  constructor(
    readonly name: string,
    text: string,
    funcs: FuncMap = {},
    /** Templates parsed before (Alertmanager's template files); shared, not copied. */
    base?: Template,
  ) {
    this.funcs = { ...BUILTINS, ...funcs };
    if (base) for (const [k, v] of base.trees) this.trees.set(k, v);
    this.parse(name, text);
  }

  /** Names of the templates in the set. */
  names(): string[] {
    return [...this.trees.keys()];
  }

  has(name: string): boolean {
    return this.trees.has(name);
  }

  private parse(name: string, src: string): void {
    const fail = (pos: number, msg: string): never => {
      const line = src.slice(0, pos).split('\n').length;
      throw new TemplateError(`template: ${name}:${line}: ${msg}`);
    };
    const toks = lex(src, fail);
    let i = 0;
    const peek = (): Tok => toks[i];
    const next = (): Tok => toks[i++];
    const expect = (k: Tok['k'], what: string): Tok => {
      const t = next();
      if (t.k !== k) fail(t.pos, `unexpected ${describe(t)} in ${what}`);
      return t;
    };
    const declared: Set<string>[] = [new Set(['$'])];
    const isDeclared = (v: string): boolean => declared.some((s) => s.has(v));

    const parseArg = (): Arg | null => {
      const t = peek();
      let a: Arg;
      switch (t.k) {
        case 'field':
          next();
          return { t: 'field', base: null, names: t.v.slice(1).split('.'), pos: t.pos };
        case 'var': {
          next();
          if (!isDeclared(t.v)) fail(t.pos, `undefined variable "${t.v}"`);
          const names = peek().k === 'chain' ? next().v.slice(1).split('.') : [];
          return { t: 'var', name: t.v, names, pos: t.pos };
        }
        case 'ident': {
          next();
          if (KEYWORDS.has(t.v)) fail(t.pos, `unexpected <${t.v}> in command`);
          if (!(t.v in this.funcs)) fail(t.pos, `function "${t.v}" not defined`);
          a = { t: 'ident', name: t.v, pos: t.pos };
          return a;
        }
        case 'dot':
          next();
          return { t: 'dot', pos: t.pos };
        case 'string':
          next();
          return { t: 'lit', v: t.v, pos: t.pos };
        case 'char':
          next();
          return { t: 'lit', v: BigInt(t.v), pos: t.pos };
        case 'bool':
          next();
          return { t: 'lit', v: t.v === 'true', pos: t.pos };
        case 'nil':
          next();
          return { t: 'lit', v: null, pos: t.pos };
        case 'number': {
          next();
          return { t: 'lit', v: parseNumber(t.v, () => fail(t.pos, `bad number syntax: "${t.v}"`)), pos: t.pos };
        }
        case 'lparen': {
          next();
          const p = parsePipe('parenthesized pipeline', 'rparen');
          const names = peek().k === 'chain' ? next().v.slice(1).split('.') : [];
          return { t: 'pipe', p, names, pos: t.pos };
        }
        default:
          return null;
      }
    };

    const parsePipe = (ctx: string, end: 'close' | 'rparen', allowDecl = true): Pipe => {
      const pos = peek().pos;
      const pipe: Pipe = { decl: [], assign: false, cmds: [], pos };
      // Declarations: $x := … / $i, $v := … / $x = …
      if (allowDecl && peek().k === 'var') {
        const save = i;
        const vars: string[] = [next().v];
        if (peek().k === 'comma') {
          next();
          if (peek().k === 'var') vars.push(next().v);
        }
        const op = peek();
        if (op.k === 'declare' || op.k === 'assign') {
          next();
          pipe.decl = vars;
          pipe.assign = op.k === 'assign';
          if (pipe.assign) for (const v of vars) if (!isDeclared(v)) fail(op.pos, `undefined variable "${v}"`);
        } else i = save;
      }
      for (;;) {
        const cmd: Cmd = { args: [], pos: peek().pos };
        for (;;) {
          const a = parseArg();
          if (!a) break;
          cmd.args.push(a);
        }
        if (cmd.args.length === 0) fail(peek().pos, `missing value for ${ctx}`);
        pipe.cmds.push(cmd);
        const t = next();
        if (t.k === 'pipe') continue;
        if (t.k === end) break;
        fail(t.pos, `unexpected ${describe(t)} in ${ctx}`);
      }
      for (let c = 1; c < pipe.cmds.length; c++) {
        const first = pipe.cmds[c].args[0];
        if (first.t === 'lit' || first.t === 'dot') fail(first.pos, `non executable command in pipeline stage ${c + 1}`);
      }
      if (!pipe.assign) for (const v of pipe.decl) declared[declared.length - 1].add(v);
      return pipe;
    };

    // Returns the list and what ended it ('end', 'else', or 'eof').
    const parseList = (inRange: boolean): { list: Node[]; stop: 'end' | 'else' | 'eof'; elsePos: number } => {
      const list: Node[] = [];
      for (;;) {
        const t = next();
        if (t.k === 'eof') return { list, stop: 'eof', elsePos: t.pos };
        if (t.k === 'text') {
          list.push({ t: 'text', v: t.v });
          continue;
        }
        // open
        const kw = peek();
        if (kw.k === 'ident' && KEYWORDS.has(kw.v)) {
          next();
          switch (kw.v) {
            case 'end':
              expect('close', 'end');
              return { list, stop: 'end', elsePos: kw.pos };
            case 'else':
              return { list, stop: 'else', elsePos: kw.pos };
            case 'if':
            case 'with':
            case 'range':
              list.push(parseControl(kw.v, inRange));
              continue;
            case 'template':
            case 'block': {
              const nameTok = next();
              if (nameTok.k !== 'string') fail(nameTok.pos, `unexpected ${describe(nameTok)} in template clause`);
              let p: Pipe | null = null;
              if (peek().k !== 'close') {
                declared.push(new Set());
                p = parsePipe(`template clause`, 'close', false);
                declared.pop();
              } else next();
              if (kw.v === 'block') {
                declared.push(new Set(['$']));
                const body = parseList(false);
                declared.pop();
                if (body.stop !== 'end') fail(kw.pos, 'unexpected EOF');
                this.trees.set(nameTok.v, body.list);
              }
              list.push({ t: 'template', name: nameTok.v, p, pos: kw.pos });
              continue;
            }
            case 'define': {
              const nameTok = next();
              if (nameTok.k !== 'string') fail(nameTok.pos, `unexpected ${describe(nameTok)} in define clause`);
              expect('close', 'define clause');
              const saved = declared.splice(0);
              declared.push(new Set(['$']));
              const body = parseList(false);
              declared.splice(0, declared.length, ...saved);
              if (body.stop !== 'end') fail(kw.pos, 'unexpected EOF');
              this.trees.set(nameTok.v, body.list);
              continue;
            }
            case 'break':
            case 'continue':
              if (!inRange) fail(kw.pos, `{{${kw.v}}} outside {{range}}`);
              expect('close', kw.v);
              list.push({ t: kw.v, pos: kw.pos });
              continue;
          }
        }
        const p = parsePipe('command', 'close');
        list.push({ t: 'action', p });
      }
    };

    const parseControl = (kind: 'if' | 'with' | 'range', inRange: boolean): Node => {
      declared.push(new Set());
      const p = parsePipe(kind, 'close');
      const body = parseList(kind === 'range' || inRange);
      let elseList: Node[] | null = null;
      if (body.stop === 'eof') fail(body.elsePos, `unexpected EOF`);
      if (body.stop === 'else') {
        // {{else if …}} / {{else with …}} chain into a nested control ending at the same {{end}}.
        const nk = peek();
        if ((kind === 'if' && nk.k === 'ident' && nk.v === 'if') || (kind === 'with' && nk.k === 'ident' && nk.v === 'with')) {
          next();
          declared.pop();
          declared.push(new Set());
          elseList = [parseControl(nk.v as 'if' | 'with', inRange)];
        } else {
          expect('close', 'else');
          declared.pop();
          declared.push(new Set());
          const e = parseList(inRange);
          if (e.stop !== 'end') fail(e.elsePos, e.stop === 'else' ? 'expected end; found {{else}}' : 'unexpected EOF');
          elseList = e.list;
        }
      }
      declared.pop();
      return { t: kind, p, list: body.list, else: elseList };
    };

    const top = parseList(false);
    if (top.stop !== 'eof') fail(top.elsePos, `unexpected {{${top.stop}}}`);
    // A text of only defines leaves the main template empty (Go keeps the defines).
    if (!this.trees.has(name) || top.list.some((n) => n.t !== 'text' || n.v.trim() !== '')) this.trees.set(name, top.list);
  }

  /** Runs the named template (default: the main one) on `data`. Throws TemplateError. */
  /**
   * `missingKey: 'zero'` is Go's missingkey=zero (Prometheus's rule templates): a missing map
   * key gives "" instead of printing <no value>.
   */
  async execute(data: GoValue, name = this.name, limits: { maxOutput?: number; maxSteps?: number; funcs?: FuncMap; missingKey?: 'default' | 'zero' } = {}): Promise<string> {
    const tree = this.trees.get(name);
    if (!tree) throw new TemplateError(`template: no template ${JSON.stringify(name)} associated with template ${JSON.stringify(this.name)}`);
    // Functions bound to this execution (a query at the evaluation time) replace the parse-time ones.
    const funcs = limits.funcs ? { ...this.funcs, ...limits.funcs } : this.funcs;
    const st = new ExecState(this, funcs, name, limits.maxOutput ?? 1 << 20, limits.maxSteps ?? 1_000_000, limits.missingKey === 'zero');
    await st.walkList(tree, data, [{ name: '$', value: data }]);
    return st.out;
  }

  /** For the executor. */
  tree(name: string): Node[] | undefined {
    return this.trees.get(name);
  }
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

function describe(t: Tok): string {
  if (t.k === 'close') return '"}}"';
  if (t.k === 'eof') return 'EOF';
  if (t.k === 'rparen') return '")"';
  if (t.k === 'text') return 'text';
  return `<${t.v}>`;
}

function parseNumber(s: string, bad: () => never): GoValue {
  const clean = s.replace(/_/g, '');
  if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(clean) || /^[+-]?0[bB][01]+$/.test(clean) || /^[+-]?0[oO][0-7]+$/.test(clean)) {
    const neg = clean.startsWith('-');
    const v = BigInt(clean.replace(/^[+-]/, ''));
    return neg ? -v : v;
  }
  if (/^[+-]?\d+$/.test(clean)) return BigInt(clean);
  const f = Number(clean);
  if (Number.isNaN(f)) return bad();
  return f;
}

// ---------------------------------------------------------------- execution

interface Var {
  name: string;
  value: GoValue;
}

class BreakSignal {}
class ContinueSignal {}

/** Go truthiness: false, 0, "", nil and empty collections are false. */
export function truth(v: GoValue): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0 || v instanceof Date;
  return true;
}

class ExecState {
  out = '';
  private steps = 0;
  private depth = 0;
  constructor(
    private readonly tmpl: Template,
    private readonly funcs: FuncMap,
    private readonly name: string,
    private readonly maxOutput: number,
    private readonly maxSteps: number,
    private readonly missingZero: boolean,
  ) {}

  private fail(msg: string): never {
    throw new TemplateError(`template: ${this.name}: executing "${this.name}": ${msg}`);
  }

  private step(): void {
    if (++this.steps > this.maxSteps) this.fail(`too many steps (more than ${this.maxSteps})`);
  }

  private write(s: string): void {
    this.out += s;
    if (this.out.length > this.maxOutput) this.fail(`output longer than ${this.maxOutput} characters`);
  }

  async walkList(list: Node[], dot: GoValue, vars: Var[]): Promise<void> {
    for (const n of list) await this.walk(n, dot, vars);
  }

  private async walk(n: Node, dot: GoValue, vars: Var[]): Promise<void> {
    this.step();
    switch (n.t) {
      case 'text':
        this.write(n.v);
        return;
      case 'action': {
        const v = await this.pipe(n.p, dot, vars);
        if (n.p.decl.length === 0) this.write(formatValue(v));
        return;
      }
      case 'if':
      case 'with': {
        const mark = vars.length;
        const v = await this.pipe(n.p, dot, vars);
        if (truth(v)) await this.walkList(n.list, n.t === 'with' ? v : dot, vars);
        else if (n.else) await this.walkList(n.else, dot, vars);
        vars.length = mark;
        return;
      }
      case 'range': {
        const mark = vars.length;
        const decl = n.p.decl;
        const p: Pipe = { ...n.p, decl: [] };
        const v = await this.pipe(p, dot, vars);
        let items: [GoValue, GoValue][];
        if (v === null || v === undefined) items = [];
        else if (Array.isArray(v)) items = v.map((x, i) => [BigInt(i), x]);
        else if (v instanceof Map) items = [...v.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
        else if (typeof v === 'bigint') items = Array.from({ length: Number(v) }, (_x, i) => [BigInt(i), BigInt(i)]);
        else if (typeof v === 'object') items = Object.keys(v).sort().map((k) => [k, (v as Record<string, GoValue>)[k]]);
        else this.fail(`range can't iterate over ${formatValue(v)}`);
        if (items.length === 0) {
          if (n.else) await this.walkList(n.else, dot, vars);
          vars.length = mark;
          return;
        }
        for (const [k, x] of items) {
          vars.length = mark;
          if (decl.length === 1) vars.push({ name: decl[0], value: x });
          else if (decl.length === 2) vars.push({ name: decl[0], value: k }, { name: decl[1], value: x });
          try {
            await this.walkList(n.list, x, vars);
          } catch (e) {
            if (e instanceof BreakSignal) break;
            if (e instanceof ContinueSignal) continue;
            throw e;
          }
        }
        vars.length = mark;
        return;
      }
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
      case 'template': {
        const tree = this.tmpl.tree(n.name);
        if (!tree) this.fail(`template: no template ${JSON.stringify(n.name)} associated with template ${JSON.stringify(this.name)}`);
        const d = n.p ? await this.pipe(n.p, dot, vars) : null;
        if (++this.depth > 100) this.fail('exceeded maximum template depth (100)');
        await this.walkList(tree!, d, [{ name: '$', value: d }]);
        this.depth--;
        return;
      }
    }
  }

  private async pipe(p: Pipe, dot: GoValue, vars: Var[]): Promise<GoValue> {
    let v: GoValue = undefined;
    let first = true;
    for (const c of p.cmds) {
      v = await this.cmd(c, dot, vars, first ? NO_FINAL : v);
      first = false;
    }
    if (p.assign) {
      for (const name of p.decl) {
        for (let i = vars.length - 1; i >= 0; i--) {
          if (vars[i].name === name) {
            vars[i].value = v;
            break;
          }
        }
      }
    } else for (const name of p.decl) vars.push({ name, value: v });
    return v;
  }

  private async cmd(c: Cmd, dot: GoValue, vars: Var[], final: GoValue): Promise<GoValue> {
    const head = c.args[0];
    if (head.t === 'ident') {
      const args: GoValue[] = [];
      // and/or evaluate lazily, as Go does.
      if (head.name === 'and' || head.name === 'or') {
        const rest = c.args.slice(1);
        if (rest.length === 0 && final === NO_FINAL) this.fail(`wrong number of args for ${head.name}: want at least 1 got 0`);
        let v: GoValue = undefined;
        for (const a of rest) {
          v = await this.arg(a, dot, vars);
          if (truth(v) === (head.name === 'or')) return v;
        }
        if (final !== NO_FINAL) v = final;
        return v;
      }
      for (const a of c.args.slice(1)) args.push(await this.arg(a, dot, vars));
      if (final !== NO_FINAL) args.push(final);
      const f = this.funcs[head.name];
      try {
        return await f(...args);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        this.fail(`error calling ${head.name}: ${(e as Error).message}`);
      }
    }
    if (c.args.length > 1 || final !== NO_FINAL) {
      const what = head.t === 'field' ? `.${head.names.join('.')}` : head.t === 'var' ? head.name : head.t === 'dot' ? '.' : 'value';
      if (head.t === 'field' || head.t === 'var') {
        // A function-valued field may take arguments (Alertmanager's .Alerts.Firing etc.).
        const fv = await this.arg(head, dot, vars);
        if (typeof fv === 'function') {
          const args: GoValue[] = [];
          for (const a of c.args.slice(1)) args.push(await this.arg(a, dot, vars));
          if (final !== NO_FINAL) args.push(final);
          return (await (fv as TemplateFunc)(...args)) as GoValue;
        }
      }
      this.fail(`can't give argument to non-function ${what}`);
    }
    return this.arg(head, dot, vars);
  }

  private async arg(a: Arg, dot: GoValue, vars: Var[]): Promise<GoValue> {
    switch (a.t) {
      case 'lit':
        return a.v;
      case 'dot':
        return dot;
      case 'field':
        return this.fields(dot, a.names);
      case 'var': {
        for (let i = vars.length - 1; i >= 0; i--) if (vars[i].name === a.name) return this.fields(vars[i].value, a.names);
        this.fail(`undefined variable: ${a.name}`);
        break;
      }
      case 'pipe':
        return this.fields(await this.pipe(a.p, dot, vars), a.names);
      case 'ident': {
        const f = this.funcs[a.name];
        try {
          return await f();
        } catch (e) {
          if (e instanceof TemplateError) throw e;
          this.fail(`error calling ${a.name}: ${(e as Error).message}`);
        }
      }
    }
    return undefined;
  }

  private fields(v: GoValue, names: string[]): GoValue {
    let cur = v;
    for (const n of names) {
      if (cur === undefined || cur === null) {
        if (cur === null) this.fail(`nil pointer evaluating interface {}.${n}`);
        return undefined;
      }
      if (cur instanceof Map) cur = cur.has(n) ? cur.get(n) : this.missingZero ? '' : undefined;
      // Arrays carry Go methods as own function properties (Alertmanager's .Alerts.Firing).
      else if (typeof cur === 'object' && (!Array.isArray(cur) || (Object.hasOwn(cur, n) && typeof (cur as unknown as Record<string, unknown>)[n] === 'function'))) {
        const has = Object.prototype.hasOwnProperty.call(cur, n);
        const val = has ? (cur as Record<string, GoValue>)[n] : undefined;
        cur = typeof val === 'function' ? (val as () => GoValue).call(cur) : has ? val : this.missingZero ? '' : undefined;
      } else this.fail(`can't evaluate field ${n} in type ${typeof cur === 'string' ? 'string' : typeof cur === 'number' ? 'float64' : typeof cur === 'bigint' ? 'int' : 'value'}`);
    }
    return cur;
  }
}

const NO_FINAL = Symbol('no final');

// ---------------------------------------------------------------- built-in functions

function num(v: GoValue): number | bigint | string {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string') return v;
  throw new Error(`invalid type for comparison`);
}

function basicEq(a: GoValue, b: GoValue): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a !== typeof b) throw new Error('incompatible types for comparison');
  if (typeof a === 'object') throw new Error('invalid type for comparison');
  return a === b;
}

function cmp(a: GoValue, b: GoValue): number {
  const x = num(a);
  const y = num(b);
  if (typeof x !== typeof y) throw new Error('incompatible types for comparison');
  return x < y ? -1 : x > y ? 1 : 0;
}

function length(v: GoValue): bigint {
  if (typeof v === 'string') return BigInt(Buffer.byteLength(v, 'utf8'));
  if (Array.isArray(v)) return BigInt(v.length);
  if (v instanceof Map) return BigInt(v.size);
  if (v && typeof v === 'object') return BigInt(Object.keys(v).length);
  throw new Error(`len of type ${typeof v}`);
}

function index(v: GoValue, ...keys: GoValue[]): GoValue {
  let cur = v;
  for (const k of keys) {
    if (Array.isArray(cur) || typeof cur === 'string') {
      const i = Number(k);
      if (typeof k !== 'bigint' && typeof k !== 'number') throw new Error('cannot index slice/array with non-integer');
      if (i < 0 || i >= cur.length) throw new Error(`index out of range: ${i}`);
      cur = typeof cur === 'string' ? BigInt(Buffer.from(cur)[i]) : cur[i];
    } else if (cur instanceof Map) cur = cur.get(k);
    else if (cur && typeof cur === 'object') cur = (cur as Record<string, GoValue>)[String(k)];
    else if (cur === null || cur === undefined) throw new Error('index of untyped nil');
    else throw new Error(`can't index item of type ${typeof cur}`);
  }
  return cur;
}

function htmlEscape(s: string): string {
  return s.replace(/[&'<>"\0]/g, (c) => ({ '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;', '\0': '\uFFFD' })[c]!);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<') out += '\\u003C';
    else if (ch === '>') out += '\\u003E';
    else if (ch === '&') out += '\\u0026';
    else if (ch === '=') out += '\\u003D';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

export const BUILTINS: FuncMap = {
  and: () => undefined, // evaluated lazily by the executor
  or: () => undefined,
  not: (v) => !truth(v),
  len: (v) => length(v),
  index,
  slice: (v, ...ix) => {
    const n = typeof v === 'string' || Array.isArray(v) ? v.length : -1;
    if (n < 0) throw new Error(`can't slice item of type ${typeof v}`);
    const a = ix[0] === undefined ? 0 : Number(ix[0]);
    const b = ix[1] === undefined ? n : Number(ix[1]);
    if (a < 0 || b < a || b > n) throw new Error(`index out of range: ${a}:${b}`);
    return (v as string | GoValue[]).slice(a, b);
  },
  print: (...a) => sprint(a),
  printf: (f, ...a) => {
    if (typeof f !== 'string') throw new Error('wrong type for value; expected string');
    return sprintf(f, a);
  },
  println: (...a) => sprintln(a),
  eq: (a, ...bs) => {
    if (bs.length === 0) throw new Error('missing argument for comparison');
    return bs.some((b) => basicEq(a, b));
  },
  ne: (a, b) => !basicEq(a, b),
  lt: (a, b) => cmp(a, b) < 0,
  le: (a, b) => cmp(a, b) <= 0,
  gt: (a, b) => cmp(a, b) > 0,
  ge: (a, b) => cmp(a, b) >= 0,
  html: (...a) => htmlEscape(sprint(a)),
  js: (...a) => jsEscape(sprint(a)),
  urlquery: (...a) => encodeURIComponent(sprint(a)).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
  call: (f, ...a) => {
    if (typeof f !== 'function') throw new Error('non-function of type');
    return (f as TemplateFunc)(...a);
  },
};
