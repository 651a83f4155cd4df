// Functions applied to each float of an instant vector. Date functions read the value as
// seconds since the epoch (UTC), truncated towards zero like Go's int64 conversion.

export type ElementwiseKernel = (v: number, params: number[]) => number;

/** Go's time.Unix(int64(v), 0).UTC() as a Date; NaN and ±Inf become Go's int64 minimum. */
function utc(v: number): Date {
  let secs = Math.trunc(v);
  // Go converts out-of-range floats to math.MinInt64 on amd64; time.Unix of that is far before
  // any Date can hold, so keep the closest representable instant.
  if (!Number.isFinite(secs) || Math.abs(secs) > 8.64e12) secs = -8.64e12;
  return new Date(secs * 1000);
}

function daysInMonth(d: Date): number {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
}

function dayOfYear(d: Date): number {
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return Math.round((day - start) / 86_400_000) + 1;
}

/** Ties round up (towards +Inf), to the nearest multiple of params[0] (default 1). */
function round(v: number, params: number[]): number {
  const toNearest = params.length > 0 ? params[0] : 1;
  const inverse = 1 / toNearest;
  return Math.floor(v * inverse + 0.5) / inverse;
}

function clamp(v: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, v));
}

export const ELEMENTWISE: Record<string, ElementwiseKernel> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  exp: Math.exp,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  sqrt: Math.sqrt,
  sgn: (v) => (v < 0 ? -1 : v > 0 ? 1 : v),
  round,
  // clamp returns no sample at all when max < min: the evaluator checks clampBoundsEmpty first.
  clamp: (v, p) => clamp(v, p[0], p[1]),
  clamp_min: (v, p) => clamp(v, p[0], Infinity),
  clamp_max: (v, p) => clamp(v, -Infinity, p[0]),
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  asin: Math.asin,
  acos: Math.acos,
  atan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  asinh: Math.asinh,
  acosh: Math.acosh,
  atanh: Math.atanh,
  deg: (v) => (v * 180) / Math.PI,
  rad: (v) => (v * Math.PI) / 180,
  day_of_month: (v) => utc(v).getUTCDate(),
  day_of_week: (v) => utc(v).getUTCDay(),
  day_of_year: (v) => dayOfYear(utc(v)),
  days_in_month: (v) => daysInMonth(utc(v)),
  hour: (v) => utc(v).getUTCHours(),
  minute: (v) => utc(v).getUTCMinutes(),
  month: (v) => utc(v).getUTCMonth() + 1,
  year: (v) => utc(v).getUTCFullYear(),
};

/** True when clamp/clamp_min/clamp_max must return an empty vector (max < min). */
export function clampBoundsEmpty(name: string, params: number[]): boolean {
  if (name === 'clamp') return params[1] < params[0];
  return false;
}
