// The `probes:` section: Patrol's active inspections. The probe engine (src/probe) owns the
// type-specific keys; this file is the schema it extends.

import { z } from 'zod';
import { duration, labelSet } from './fields.js';

export const probeConfig = z.strictObject({
  name: z.string().min(1),
  type: z.enum(['http', 'tcp', 'dns', 'tls']),
  target: z.string().min(1),
  interval: duration.default(30_000),
  timeout: duration.default(10_000),
  labels: labelSet.default({}),
  failure_threshold: z.number().int().positive().default(3),
  success_threshold: z.number().int().positive().default(1),
});

export type ProbeConfig = z.infer<typeof probeConfig>;

export const probesSection = z.array(probeConfig).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((p, i) => {
    if (seen.has(p.name)) ctx.addIssue({ code: 'custom', message: `probe name ${JSON.stringify(p.name)} is used twice`, path: [i, 'name'] });
    seen.add(p.name);
    if (p.timeout > p.interval) ctx.addIssue({ code: 'custom', message: 'timeout is greater than interval', path: [i, 'timeout'] });
  });
});
