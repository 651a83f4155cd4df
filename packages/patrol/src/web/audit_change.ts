// What a write changed, for the audit log: a route that changes state records the value before
// and after (each masked with the configuration's secret masking, config/secrets.ts) on the
// request, and the audit hook (web/auth.ts) stores them beside the request.

import type { FastifyRequest } from 'fastify';
import { maskSecrets } from '../config/secrets.js';

declare module 'fastify' {
  interface FastifyRequest {
    patrolChange?: { before: unknown; after: unknown };
  }
}

/** Records what the request changed; `null` for "did not exist". Secrets are masked here. */
export function recordChange(req: FastifyRequest, before: unknown, after: unknown): void {
  req.patrolChange = { before: maskSecrets(before ?? null), after: maskSecrets(after ?? null) };
}
