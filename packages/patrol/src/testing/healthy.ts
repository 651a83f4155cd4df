// Watches a server's /-/healthy while a test does something hostile to it, to show that nothing
// one request does stalls the event loop. Used by the robustness tests (regex, subquery, remote
// write bombs, slow bodies). Works in-process too: a blocked loop delays the answers, and the
// delay is what is measured.

export interface HealthyWatch {
  /** Stops polling and returns what was seen. */
  stop(): Promise<HealthyReport>;
}

export interface HealthyReport {
  /** Answers received (status 200) while watching. */
  answers: number;
  /** Requests that failed or answered other than 200. */
  failures: number;
  /** Slowest round trip seen, in milliseconds (an unanswered request counts until stop()). */
  worstMs: number;
}

/**
 * Polls `${base}/-/healthy` every `everyMs` (one request in flight at a time) until stop().
 * The report's worstMs is the figure the closing notes quote; tests assert on answers and on a
 * generous bound for worstMs that only a stalled loop can miss.
 */
export function watchHealthy(base: string, everyMs = 20): HealthyWatch {
  let stopped = false;
  let answers = 0;
  let failures = 0;
  let worstMs = 0;
  let inflightSince = 0;
  const loop = (async () => {
    while (!stopped) {
      inflightSince = performance.now();
      try {
        const r = await fetch(`${base}/-/healthy`, { signal: AbortSignal.timeout(30_000) });
        await r.arrayBuffer();
        if (r.status === 200) answers++;
        else failures++;
      } catch {
        failures++;
      }
      worstMs = Math.max(worstMs, performance.now() - inflightSince);
      inflightSince = 0;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      if (inflightSince) worstMs = Math.max(worstMs, performance.now() - inflightSince);
      await loop;
      return { answers, failures, worstMs: Math.round(worstMs * 10) / 10 };
    },
  };
}
