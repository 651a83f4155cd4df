// GET /api/patrol/v1/collectors: the state of the host collector and every custom collector
// (health, last error with its reason, last run, duration), in Patrol's API envelope.

import type { FastifyInstance } from 'fastify';
import type { HostCollector } from '../host/collector.js';
import type { CollectorsManager } from '../collect/manager.js';

export interface CollectorSources {
  host: HostCollector | null;
  collectors: CollectorsManager | null;
}

/** `sources` is read per request, so components built after the routes are seen. */
export function registerCollectorsApi(app: FastifyInstance, sources: () => CollectorSources): void {
  app.get('/api/patrol/v1/collectors', async (_req, reply) => {
    const { host, collectors } = sources();
    return reply.send({ status: 'success', data: { host: host?.status() ?? null, collectors: collectors?.status() ?? [] } });
  });
}
