// `alerting.patrol:` — what Patrol's dispatcher does beyond Alertmanager: alert and notification
// history, acknowledgement and escalation, digests, and dependency-aware suppression. It is
// one optional key under `alerting:`, so an alertmanager.yml pasted there stays valid and means
// what it means in Alertmanager.

import { z } from 'zod';
import { duration, labelName, matcherList, secret, timeZone } from './fields.js';

const clock = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Matchers that must select something (an empty list would match every alert). */
const someMatchers = (what: string) => matcherList.refine((ms) => ms.length > 0, { error: `${what} must not be empty` });

const history = z.strictObject({
  /** Off: nothing is recorded, and the history APIs answer empty. */
  enabled: z.boolean().default(true),
  /** How long alert state changes and notification attempts are kept. */
  retention: duration.default(30 * 24 * 3600_000),
});

const ack = z.strictObject({
  /** HMAC key for acknowledgement links; by default a random key kept in the data directory. */
  secret: secret.optional(),
  /** Whether default messages carry each firing alert's signed acknowledgement link. */
  links: z.boolean().default(true),
  /** How long a link in a notification stays valid. */
  link_validity: duration.default(24 * 3600_000),
  /** How long an acknowledgement lasts when the request names no expiry (0: until resolved). */
  default_expiry: duration.default(0),
});

const escalation = z.strictObject({
  /** Which alerts the policy applies to (every matcher must match). */
  matchers: someMatchers('matchers'),
  /** How long an alert may fire unacknowledged before the first step. */
  ack_within: duration,
  /** The receivers notified in turn, one per step, while nobody acknowledges. */
  receivers: z.array(z.string()).min(1, { error: 'at least one receiver is required' }),
  /** Time between steps; the last step repeats at this interval until acknowledged or resolved. */
  repeat_interval: duration.default(10 * 60_000),
});

const digest = z
  .strictObject({
    name: z.string().min(1),
    matchers: matcherList,
    receiver: z.string(),
    /** `hourly` (at the top of the hour) or `daily` (at `at`). */
    schedule: z.enum(['hourly', 'daily']).default('daily'),
    at: z
      .string()
      .regex(clock, { error: (iss) => `${JSON.stringify(iss.input)} is not a time of day (HH:MM)` })
      .default('09:00'),
    time_zone: timeZone.default('UTC'),
  });

const dependsOn = z.strictObject({
  /** The alerts of the dependent service (A). */
  dependent_matchers: someMatchers('dependent_matchers'),
  /** The alerts saying the dependency (B) is down. */
  dependency_matchers: someMatchers('dependency_matchers'),
  /** Labels that must be equal for B to hold A back (e.g. cluster). */
  equal: z.array(labelName).default([]),
});

export const patrolAlertingConfig = z.strictObject({
  history: history.default(history.parse({})),
  ack: ack.default(ack.parse({})),
  escalations: z.array(escalation).default([]),
  digests: z.array(digest).default([]),
  depends_on: z.array(dependsOn).default([]),
});

export type PatrolAlertingConfig = z.infer<typeof patrolAlertingConfig>;
export type EscalationPolicyConfig = PatrolAlertingConfig['escalations'][number];
export type DigestConfig = PatrolAlertingConfig['digests'][number];
export type DependsOnConfig = PatrolAlertingConfig['depends_on'][number];

/** Cross-checks against the receivers (called from the `alerting:` section's refinement). */
export function checkPatrolAlerting(p: PatrolAlertingConfig, receivers: ReadonlySet<string>, add: (message: string, path: (string | number)[]) => void): void {
  p.escalations.forEach((e, i) => {
    e.receivers.forEach((r, j) => {
      if (!receivers.has(r)) add(`undefined receiver ${JSON.stringify(r)} used in escalation`, ['patrol', 'escalations', i, 'receivers', j]);
    });
  });
  const names = new Set<string>();
  p.digests.forEach((d, i) => {
    if (!receivers.has(d.receiver)) add(`undefined receiver ${JSON.stringify(d.receiver)} used in digest`, ['patrol', 'digests', i, 'receiver']);
    if (names.has(d.name)) add(`digest ${JSON.stringify(d.name)} is defined twice`, ['patrol', 'digests', i, 'name']);
    names.add(d.name);
  });
}
