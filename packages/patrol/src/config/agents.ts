// The `agents:` section: the locations whose agents (`patrol agent`) run the probes that list
// them in `locations:`, each with its token, and how the central Patrol judges their reports.

import { z } from 'zod';
import { duration, secret } from './fields.js';

export const LOCATION_NAME = /^[A-Za-z0-9_.-]+$/;

export const locationName = z.string().regex(LOCATION_NAME, 'is not a location name (letters, digits, _ . -)');

export const agentsConfig = z.strictObject({
  /** Location → the token its agent presents (Authorization: Bearer). */
  tokens: z.record(locationName, secret).default({}),
  /** A location that reported nothing for this long is offline (patrol_agent_up 0). */
  offline_after: duration.default(60_000),
  /** Reports whose sender's clock is further than this from the central clock are refused. */
  max_clock_skew: duration.default(60_000),
});

export type AgentsConfig = z.output<typeof agentsConfig>;
