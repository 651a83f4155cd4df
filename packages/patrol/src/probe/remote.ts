// Probes run by agents in other locations (`locations:` on a probe, `patrol agent`): what the
// central Patrol sends an agent (the probes of its location, as configuration it parses again),
// what an agent sends back (results), and the quorum that turns each location's state into the
// probe's.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { ProbeConfig } from '../config/probes.js';
import { Secret } from '../config/secret.js';
import type { ProbeState } from '../model/probestate.js';
import type { ProbeSample } from './types.js';

/** One result as an agent sends it (POST /api/patrol/v1/agent/results). */
export interface RemoteResult {
  probe: string;
  /** Run start, ms since the epoch (the agent's clock, checked against max_clock_skew). */
  time: number;
  success: boolean;
  degraded?: boolean;
  duration_seconds: number;
  reason: string;
  status_code?: number;
  samples?: ProbeSample[];
}

export interface ResultBatch {
  /** When the agent sent the batch, ms since the epoch by its clock. */
  sent_at: number;
  results: RemoteResult[];
}

const DURATION_KEYS = new Set(['interval', 'timeout', 'offline_after']);

/**
 * A probe's configuration as the YAML/JSON an agent parses again: durations as "…ms", conditions
 * as their text, secrets revealed (the channel is the agent's authenticated request), without
 * the keys that only the central Patrol reads (locations, down_when).
 */
export function probeSource(cfg: ProbeConfig): Record<string, unknown> {
  const out = toSource(cfg) as Record<string, unknown>;
  delete out.locations;
  delete out.down_when;
  return out;
}

function toSource(v: unknown, key?: string): unknown {
  if (v instanceof Secret) return v.reveal();
  if (Array.isArray(v)) return v.map((x) => toSource(x));
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.text === 'string' && 'operand' in o) return o.text;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) if (x !== undefined) out[k] = toSource(x, k);
    return out;
  }
  if (typeof v === 'number' && key !== undefined && DURATION_KEYS.has(key)) return `${v}ms`;
  return v;
}

/** The location whose token this is, or null. Compares digests in constant time. */
export function locationOfToken(tokens: Record<string, Secret>, token: string): string | null {
  const want = createHash('sha256').update(token).digest();
  let found: string | null = null;
  for (const [loc, s] of Object.entries(tokens)) {
    if (s.isEmpty()) continue;
    if (timingSafeEqual(createHash('sha256').update(s.reveal()).digest(), want)) found = loc;
  }
  return found;
}

export interface LocationView {
  state: ProbeState;
  offline: boolean;
  reason: string;
}

/**
 * The probe's state from its locations': DOWN when at least `quorum` locations are DOWN, else UP
 * when one is UP, DEGRADED when none is UP but one is, UNKNOWN otherwise. The reason names which
 * locations see what.
 */
export function quorumState(locs: ReadonlyMap<string, LocationView>, quorum: number): { state: ProbeState; reason: string } {
  const by: Record<string, string[]> = { down: [], degraded: [], up: [], unknown: [], offline: [] };
  for (const [name, l] of locs) by[l.offline ? 'offline' : l.state].push(name);
  const total = locs.size;
  const parts: string[] = [];
  if (by.down.length) parts.push(`DOWN from ${by.down.map((n) => `${n} (${locs.get(n)!.reason || 'failed'})`).join(', ')}`);
  if (by.degraded.length) parts.push(`DEGRADED from ${by.degraded.join(', ')}`);
  if (by.up.length) parts.push(`UP from ${by.up.join(', ')}`);
  if (by.offline.length) parts.push(`no reports from ${by.offline.join(', ')} (agent offline)`);
  if (by.unknown.length) parts.push(`undecided in ${by.unknown.join(', ')}`);
  const detail = parts.join('; ');
  if (by.down.length >= quorum) return { state: 'down', reason: `${by.down.length} of ${total} locations see it DOWN (down_when ${quorum}): ${detail}` };
  if (by.up.length > 0) return { state: 'up', reason: `${by.down.length} of ${total} locations see it DOWN, below down_when ${quorum}: ${detail}` };
  if (by.degraded.length > 0) return { state: 'degraded', reason: `no location sees it UP: ${detail}` };
  return { state: 'unknown', reason: detail };
}
