// Sample values shared by producers, storage and queries.

/** The staleness marker: a NaN with this exact bit pattern marks a series as gone. */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
const u32 = new Uint32Array(f64.buffer);

export const STALE_NAN: number = (() => {
  u64[0] = STALE_NAN_BITS;
  return f64[0];
})();

/**
 * True only for the staleness marker, not for any other NaN. The marker is a signalling NaN and
 * V8 sets its quiet bit when it passes through arithmetic or a plain double array
 * (0x7ff8000000000002), so both forms count; encoders always write the canonical bits.
 * Keep values in Float64Array or object fields to carry the exact bits.
 */
export function isStaleNaN(v: number): boolean {
  if (v === v) return false;
  f64[0] = v;
  return u32[0] === 0x00000002 && (u32[1] & 0xfff7ffff) === 0x7ff00000;
}

/** Float bits as two 32-bit halves [hi, lo]; used by encoders. */
export function floatBits(v: number): [number, number] {
  f64[0] = v;
  return [u32[1], u32[0]];
}
