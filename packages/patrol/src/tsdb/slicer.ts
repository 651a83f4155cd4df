// Long work (compaction, retention, large deletes) runs in slices of at most SLICE_MS with
// setImmediate between them, so appends and queries keep being served. Owns the slice clock and
// the longest block seen.

import { performance } from 'node:perf_hooks';

/** Longest stretch of work between two yields to the event loop. */
export const SLICE_MS = 10;

export class Slicer {
  private sliceStart = 0;
  /** Longest event-loop block of sliced work so far, in ms. */
  maxSliceMs = 0;

  /** Starts timing a run of sliced work. */
  begin(): void {
    this.sliceStart = performance.now();
  }

  /** Yields to the event loop when the current slice has run for SLICE_MS or longer. */
  async pause(): Promise<void> {
    const now = performance.now();
    const took = now - this.sliceStart;
    if (took < SLICE_MS) return;
    if (took > this.maxSliceMs) this.maxSliceMs = took;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }

  /** Ends a run: its last slice counts too. */
  end(): void {
    const took = performance.now() - this.sliceStart;
    if (took > this.maxSliceMs) this.maxSliceMs = took;
  }
}
