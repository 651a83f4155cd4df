// /api/v1/alertmanagers in Prometheus's shape: the Alertmanagers alerts are sent to, and those
// relabel_configs dropped, each as {url}.

import type { FastifyInstance } from 'fastify';
import type { AlertmanagerURLs } from '../notifier/notifier.js';

export function registerAlertmanagersAPI(app: FastifyInstance, alertmanagers: () => AlertmanagerURLs): void {
  app.get('/api/v1/alertmanagers', async (_req, reply) => {
    const { active, dropped } = alertmanagers();
    return reply.send({
      status: 'success',
      data: { activeAlertmanagers: active.map((url) => ({ url })), droppedAlertmanagers: dropped.map((url) => ({ url })) },
    });
  });
}
