// The `query:` section of the configuration applied to an Engine, as a component (server.ts's
// Component, by shape: the engine does not depend on the server's wiring) so that a
// configuration reload changes the limits of the running engine.

import type { Config } from '../config/schema.js';
import type { Engine } from './engine.js';

/**
 * Applies `query.lookback_delta`, `timeout`, `max_samples` and `max_concurrency` to `engine` at
 * start and on every reload. `lookbackOverride` (milliseconds, e.g. from a command-line flag)
 * wins over the configured lookback delta.
 */
export function queryLimitsComponent(engine: Engine, lookbackOverride?: number): { name: string; applyConfig(cfg: Config): void; stop(): void } {
  return {
    name: 'query',
    applyConfig(cfg: Config): void {
      const q = cfg.query;
      engine.setLimits({
        lookbackDelta: lookbackOverride ?? q.lookback_delta,
        timeout: q.timeout,
        maxSamples: q.max_samples,
        maxConcurrent: q.max_concurrency,
      });
    },
    stop(): void {},
  };
}
