// Kahan–Neumaier compensated summation, as Prometheus's util/kahansum.Inc: returns the new sum and
// the new compensation. Once the sum is infinite the compensation is reset to 0 so that it cannot
// turn the result into NaN.

export function kahanInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (t === Infinity || t === -Infinity) return [t, 0];
  if (Math.abs(sum) >= Math.abs(inc)) return [t, c + (sum - t + inc)];
  return [t, c + (inc - t + sum)];
}
