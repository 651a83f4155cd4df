// The seam to the function kernels (functions/, written alongside): the engine looks functions
// up here by name. Until the kernels land, the tables are empty and calls report "not implemented".

export interface RangeWindow {
  t: Float64Array;
  v: Float64Array;
  start: number;
  end: number;
  metricName?: string;
}

export interface KernelContext {
  warn(m: string): void;
  info(m: string): void;
}

export type RangeKernel = (w: RangeWindow, params: number[], ctx: KernelContext) => number | null;
export type ElementwiseKernel = (v: number, params: number[]) => number;

export const RANGE_KERNELS: Record<string, RangeKernel | undefined> = {};
export const ELEMENTWISE: Record<string, ElementwiseKernel | undefined> = {};

export function bucketQuantile(q: number, buckets: { upper: number; count: number }[]): number {
  void q;
  void buckets;
  return NaN;
}

export function bucketFraction(lower: number, upper: number, buckets: { upper: number; count: number }[]): number {
  void lower;
  void upper;
  void buckets;
  return NaN;
}
