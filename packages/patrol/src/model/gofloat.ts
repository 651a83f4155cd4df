// Go's float64 text conversions (strconv.ParseFloat, strconv.FormatFloat with the shortest
// precision), one of each, so that every value Patrol prints or reads where Prometheus would use
// Go's strconv reads the same: `+Inf`, `-Inf`, `NaN`, two-digit exponents (`1e+06`, `1.5e-07`).
// Formats with a fixed precision (printf's %.3f and friends) are template/gofmt.ts's.

function special(v: number): string | null {
  if (v !== v) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  return null;
}

/** The shortest round-tripping digits of a finite non-zero |v| and its decimal exponent. */
function shortest(v: number): { digits: string; exp: number } {
  const s = Math.abs(v).toExponential();
  const e = s.indexOf('e');
  const mant = s.slice(0, e);
  return { digits: mant.length > 1 ? mant[0] + mant.slice(2) : mant, exp: Number(s.slice(e + 1)) };
}

function expSuffix(exp: number, upper: boolean): string {
  const a = Math.abs(exp);
  return `${upper ? 'E' : 'e'}${exp < 0 ? '-' : '+'}${a < 10 ? '0' : ''}${a}`;
}

/** Digits with the decimal point placed `exp` places after the first digit, no exponent. */
function plain(sign: string, digits: string, exp: number): string {
  const point = exp + 1; // digits before the decimal point
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent (`0.0000001`). */
export function formatFloatF(v: number): string {
  const s = special(v);
  if (s !== null) return s;
  const text = String(v);
  if (text.indexOf('e') < 0) return text;
  const { digits, exp } = shortest(v);
  return plain(v < 0 ? '-' : '', digits, exp);
}

/**
 * strconv.FormatFloat(v, 'g', -1, 64), which is also fmt's %v of a float64: the shortest digits,
 * in exponent form when the decimal exponent is below -4 or at least 6 (`1e+06`, `1.5e-05`,
 * `123456`, `0.0001`). `upper` gives 'G' (`1E+06`).
 */
export function formatFloatG(v: number, upper = false): string {
  const s = special(v);
  if (s !== null) return s;
  const { digits, exp } = shortest(v);
  const sign = v < 0 ? '-' : '';
  if (exp < -4 || exp >= 6) return `${sign}${digits[0]}${digits.length > 1 ? '.' + digits.slice(1) : ''}${expSuffix(exp, upper)}`;
  return plain(sign, digits, exp);
}

/** strconv.FormatFloat(v, 'e', -1, 64), or 'E' with `upper`: `1.5e+00`, `1E-07`. */
export function formatFloatE(v: number, upper = false): string {
  const s = special(v);
  if (s !== null) return s === '0' || s === '-0' ? `${s}${expSuffix(0, upper)}` : s;
  const { digits, exp } = shortest(v);
  return `${v < 0 ? '-' : ''}${digits[0]}${digits.length > 1 ? '.' + digits.slice(1) : ''}${expSuffix(exp, upper)}`;
}

/** Prometheus's labels.FormatOpenMetricsFloat: %g, with ".0" added to integral values (`1.0`, `0.25`, `+Inf`). */
export function formatOpenMetricsFloat(v: number): string {
  const s = formatFloatG(v);
  if (Number.isFinite(v) && !/[.eE]/.test(s)) return `${s}.0`;
  return s;
}

/**
 * Go's strconv.ParseFloat(s, 64): decimal, hex floats (`0x1p-2`, underscores allowed there),
 * inf/infinity/nan in any case. Null when Go would return an error.
 */
export function parseGoFloat(s: string): number | null {
  const m = /^([+-]?)(.*)$/s.exec(s)!;
  const sign = m[1] === '-' ? -1 : 1;
  const body = m[2];
  const low = body.toLowerCase();
  if (low === 'inf' || low === 'infinity') return sign * Infinity;
  if (low === 'nan') return m[1] === '' ? NaN : null;
  if (/^(\d+(?:\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(body)) return sign * Number(body);
  const hex = /^0[xX]([0-9a-fA-F_]*)(?:\.([0-9a-fA-F_]*))?[pP]([+-]?\d+)$/.exec(body);
  if (hex && (hex[1] + (hex[2] ?? '')).replace(/_/g, '') !== '') {
    const int = hex[1].replace(/_/g, '');
    const frac = (hex[2] ?? '').replace(/_/g, '');
    const mantissa = parseInt(int + frac || '0', 16) / 16 ** frac.length;
    return sign * mantissa * 2 ** Number(hex[3]);
  }
  return null;
}
