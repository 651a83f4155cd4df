// Go's fmt for template values: how text/template prints a value (%v) and printf's verbs, so
// that templates written for Prometheus and Alertmanager print the same text here.
// Integers are bigint (Go int), floats are number (Go float64).

import { formatFloatG } from '../model/gofloat.js';
import { goQuote } from '../model/goquote.js';

export type GoValue = unknown;

/** The exact decimal expansion of |v| (finite, non-zero): value = 0.digits × 10^dp. */
function exactDigits(v: number): { digits: string; dp: number } {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, Math.abs(v));
  const bits = dv.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e: number;
  if (expBits === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = expBits - 1075;
  }
  let digits: string;
  let dp: number;
  if (e >= 0) {
    digits = (mant << BigInt(e)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-e)).toString();
    dp = digits.length + e;
  }
  const lead = digits.length - digits.replace(/^0+/, '').length;
  return { digits: digits.slice(lead).replace(/0+$/, '') || '0', dp: dp - lead };
}

/** Rounds to n significant digits, ties to even (as Go's strconv). */
function roundDigits(d: { digits: string; dp: number }, n: number): { digits: string; dp: number } {
  if (n >= d.digits.length) return d;
  if (n < 0) return { digits: '0', dp: d.dp };
  const keep = d.digits.slice(0, n);
  const rest = d.digits.slice(n);
  const up = rest[0] > '5' || (rest[0] === '5' && (/[1-9]/.test(rest.slice(1)) || (n > 0 && Number(keep[n - 1]) % 2 === 1)));
  if (!up) return { digits: keep.replace(/0+$/, '') || '0', dp: keep === '' ? d.dp : d.dp };
  const inc = (BigInt(keep || '0') + 1n).toString().padStart(n, '0');
  if (inc.length > n) return { digits: inc.slice(0, n).replace(/0+$/, '') || '1', dp: d.dp + 1 };
  return { digits: inc.replace(/0+$/, ''), dp: d.dp };
}

function expPart(exp: number, upper: boolean): string {
  const sign = exp < 0 ? '-' : '+';
  const a = Math.abs(exp);
  return `${upper ? 'E' : 'e'}${sign}${a < 10 ? '0' : ''}${a}`;
}

function special(v: number, plus: boolean): string | null {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return plus ? '+Inf' : '+Inf';
  if (v === -Infinity) return '-Inf';
  return null;
}

/** %e with precision (default 6). */
export function formatE(v: number, prec = 6, upper = false): string {
  const s = special(v, false);
  if (s !== null) return s;
  const neg = v < 0 || Object.is(v, -0) ? '-' : '';
  if (v === 0) return `${neg}0${prec > 0 ? '.' + '0'.repeat(prec) : ''}${expPart(0, upper)}`;
  const d = roundDigits(exactDigits(v), prec + 1);
  const all = d.digits.padEnd(prec + 1, '0');
  return `${neg}${all[0]}${prec > 0 ? '.' + all.slice(1) : ''}${expPart(d.dp - 1, upper)}`;
}

/** %f with precision (default 6). */
export function formatF(v: number, prec = 6): string {
  const s = special(v, false);
  if (s !== null) return s;
  const neg = v < 0 || Object.is(v, -0) ? '-' : '';
  if (v === 0) return `${neg}0${prec > 0 ? '.' + '0'.repeat(prec) : ''}`;
  const ex = exactDigits(v);
  const d = ex.dp + prec < 0 ? { digits: '0', dp: 0 } : roundDigits(ex, ex.dp + prec);
  // Lay the digits out around the decimal point.
  const intPart = d.dp > 0 ? d.digits.slice(0, d.dp).padEnd(d.dp, '0') : '0';
  const fracDigits = d.dp >= 0 ? d.digits.slice(d.dp) : '0'.repeat(-d.dp) + d.digits;
  const frac = fracDigits.padEnd(prec, '0').slice(0, prec);
  const out = prec > 0 ? `${intPart}.${frac}` : intPart;
  return /[1-9]/.test(out) ? neg + out : (neg && v !== 0 ? '-' : '') + out;
}

/** %g: shortest when prec < 0 (the %v of a float), else prec significant digits. */
export function formatG(v: number, prec = -1, upper = false): string {
  if (prec < 0) return formatFloatG(v, upper);
  const s = special(v, false);
  if (s !== null) return s;
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const neg = v < 0 ? '-' : '';
  if (prec === 0) prec = 1;
  const { digits, dp } = roundDigits(exactDigits(v), prec);
  const nd = digits.length;
  // strconv: %e when the exponent is < -4 or >= the precision.
  let eprec = prec;
  if (eprec > nd && nd >= dp) eprec = nd;
  const exp = dp - 1;
  if (exp < -4 || exp >= eprec) {
    const mant = nd > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return neg + mant + expPart(exp, upper);
  }
  // Fixed notation with exactly the significant digits.
  if (dp <= 0) return `${neg}0.${'0'.repeat(-dp)}${digits}`;
  if (dp >= nd) return neg + digits + '0'.repeat(dp - nd);
  return `${neg}${digits.slice(0, dp)}.${digits.slice(dp)}`;
}

/** Go's %v of a float64: strconv 'g' shortest, exponent form below 1e-4 and from 1e6 (1e+06). */
export const formatFloat = formatFloatG;

function goType(v: GoValue): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

/** fmt's %v. Missing map keys print as Go's text/template does: <no value>. */
export function formatValue(v: GoValue): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatFloat(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return formatGoTime(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(' ')}]`;
  if (typeof v === 'object') {
    if (isStruct(v)) return `{${Object.values(v as object).map(formatValue).join(' ')}}`;
    const keys = Object.keys(v as object).sort();
    return `map[${keys.map((k) => `${k}:${formatValue((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** Objects marked as structs print as {a b} (Go structs), others as maps. */
const STRUCT = Symbol('struct');
export function struct<T extends object>(o: T): T {
  Object.defineProperty(o, STRUCT, { value: true, enumerable: false });
  return o;
}
function isStruct(o: object): boolean {
  return (o as Record<symbol, unknown>)[STRUCT] === true;
}

/** Go's time.Time String() in UTC: "2006-01-02 15:04:05.999999999 +0000 UTC". */
export function formatGoTime(d: Date): string {
  const iso = d.toISOString(); // 2006-01-02T15:04:05.000Z
  let frac = iso.slice(20, 23).replace(/0+$/, '');
  frac = frac ? `.${frac}` : '';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac} +0000 UTC`;
}

function pad(s: string, width: number, left: boolean, zero: boolean): string {
  if (width <= s.length) return s;
  if (left) return s + ' '.repeat(width - s.length);
  if (zero) {
    const sign = /^[+-]/.test(s) ? s[0] : '';
    return sign + '0'.repeat(width - s.length) + s.slice(sign.length);
  }
  return ' '.repeat(width - s.length) + s;
}

/** fmt.Sprintf for the verbs templates use: v s q d f F e E g G x X t c % with flags, width, precision. */
export function sprintf(format: string, args: GoValue[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const ch = format[i];
    if (ch !== '%') {
      out += ch;
      continue;
    }
    let j = i + 1;
    let left = false;
    let plus = false;
    let zero = false;
    let space = false;
    let sharp = false;
    for (; j < format.length; j++) {
      const f = format[j];
      if (f === '-') left = true;
      else if (f === '+') plus = true;
      else if (f === '0') zero = true;
      else if (f === ' ') space = true;
      else if (f === '#') sharp = true;
      else break;
    }
    let width = -1;
    let prec = -1;
    const w = /^\d+/.exec(format.slice(j));
    if (w) {
      width = Number(w[0]);
      j += w[0].length;
    }
    if (format[j] === '.') {
      j++;
      const p = /^\d+/.exec(format.slice(j));
      prec = p ? Number(p[0]) : 0;
      if (p) j += p[0].length;
    }
    const verb = format[j];
    i = j;
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[argi++];
    const bad = (): string => `%!${verb}(${goType(a)}=${formatValue(a)})`;
    const signed = (s: string, nonneg: boolean): string => (nonneg && plus ? '+' + s : nonneg && space ? ' ' + s : s);
    let s: string;
    switch (verb) {
      case 'v':
        s = typeof a === 'number' ? signed(formatFloat(a), a >= 0) : sharp && typeof a === 'string' ? goQuote(a) : formatValue(a);
        break;
      case 's':
        s = typeof a === 'string' ? a : typeof a === 'number' || typeof a === 'bigint' || typeof a === 'boolean' ? bad() : formatValue(a);
        if (prec >= 0 && typeof a === 'string') s = [...s].slice(0, prec).join('');
        break;
      case 'q':
        s = typeof a === 'string' ? goQuote(a) : bad();
        break;
      case 'd':
        s = typeof a === 'bigint' ? signed(a.toString(), a >= 0n) : bad();
        break;
      case 'c':
        s = typeof a === 'bigint' ? String.fromCodePoint(Number(a)) : bad();
        break;
      case 'f':
      case 'F':
        s = typeof a === 'number' ? signed(formatF(a, prec < 0 ? 6 : prec), a >= 0 || Number.isNaN(a)) : bad();
        break;
      case 'e':
      case 'E':
        s = typeof a === 'number' ? signed(formatE(a, prec < 0 ? 6 : prec, verb === 'E'), a >= 0) : bad();
        break;
      case 'g':
      case 'G':
        s = typeof a === 'number' ? signed(formatG(a, prec, verb === 'G'), a >= 0) : bad();
        break;
      case 'x':
      case 'X': {
        if (typeof a === 'bigint') s = (a < 0n ? '-' : '') + (sharp ? '0x' : '') + (a < 0n ? -a : a).toString(16);
        else if (typeof a === 'string') s = Buffer.from(a, 'utf8').toString('hex');
        else s = bad();
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      case 't':
        s = typeof a === 'boolean' ? String(a) : bad();
        break;
      default:
        s = bad();
    }
    out += pad(s, width, left, zero && !left && verb !== 's' && verb !== 'q');
  }
  if (argi < args.length) {
    out += `%!(EXTRA ${args.slice(argi).map((a) => `${goType(a)}=${formatValue(a)}`).join(', ')})`;
  }
  return out;
}

/** fmt.Sprint: operands joined, with a space between two operands when neither is a string. */
export function sprint(args: GoValue[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

/** fmt.Sprintln: operands always separated by spaces, newline at the end. */
export function sprintln(args: GoValue[]): string {
  return args.map(formatValue).join(' ') + '\n';
}
