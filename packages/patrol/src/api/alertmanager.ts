// Alertmanager API v2 on Patrol's port: alerts, alert groups, status and receivers (silences in
// alertmanager_silences.ts), with Alertmanager's shapes, status codes and messages, so that
// Prometheus, amtool, Grafana and karma talk to Patrol as to Alertmanager.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseYaml, stringify } from 'yaml';
import { openAPITime, resolvedAt, sortedRecord, type Alert } from '../model/alert.js';
import type { AlertDispatcher } from '../alerting/dispatcher.js';
import { matchesAll } from '../alerting/route.js';
import type { Config } from '../config/schema.js';
import { showConfig } from '../config/show.js';
import type { PostableAlert } from '../model/alert.js';
import { BUILD_INFO } from '../version.js';
import { APIError, jsonBody, parseBool, parseFilter, receiverFilter, sendError } from './alertmanager_request.js';
import { registerSilenceRoutes } from './alertmanager_silences.js';

export interface AlertmanagerAPIOptions {
  dispatcher: AlertDispatcher;
  /** The running configuration (its `alerting:` section is /api/v2/status's config.original). */
  config: () => Config | null;
  /** Largest request body (bytes). */
  bodyLimit?: number;
}

/** Alertmanager's gettableAlert, its keys in Alertmanager's order. */
export function gettableAlert(a: Alert, status: ReturnType<AlertDispatcher['status']>, receivers: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    annotations: sortedRecord(a.annotations),
    endsAt: openAPITime(a.endsAt),
    fingerprint: a.fingerprint,
    receivers: receivers.map((name) => ({ name })),
    startsAt: openAPITime(a.startsAt),
    status: { inhibitedBy: status.inhibitedBy, silencedBy: status.silencedBy, state: status.state },
    updatedAt: openAPITime(a.updatedAt),
  };
  if (a.generatorURL) out.generatorURL = a.generatorURL;
  out.labels = sortedRecord(a.labels);
  return out;
}

/** Checks the shape go-swagger checks; returns alerts, or throws with its message. */
function postableAlerts(body: unknown): PostableAlert[] {
  if (!Array.isArray(body)) {
    throw new APIError(400, `parsing alerts body from "" failed, because json: cannot unmarshal ${jsonKind(body)} into Go value of type models.PostableAlerts`, 400);
  }
  return body.map((a: unknown, i) => {
    if (a === null || typeof a !== 'object' || Array.isArray(a)) {
      throw new APIError(400, `parsing alerts body from "" failed, because json: cannot unmarshal ${jsonKind(a)} into Go value of type models.PostableAlert`, 400);
    }
    const o = a as Record<string, unknown>;
    if (o.labels === undefined || o.labels === null) throw new APIError(422, `${i}.labels in body is required`, 602);
    for (const key of ['labels', 'annotations'] as const) {
      const r = o[key];
      if (r === undefined || r === null) continue;
      if (typeof r !== 'object' || Array.isArray(r)) {
        throw new APIError(400, `parsing alerts body from "" failed, because json: cannot unmarshal ${jsonKind(r)} into Go struct field Alert.${key} of type models.LabelSet`, 400);
      }
      for (const v of Object.values(r)) {
        if (typeof v !== 'string') throw new APIError(400, `parsing alerts body from "" failed, because json: cannot unmarshal ${jsonKind(v)} into Go struct field Alert.${key} of type string`, 400);
      }
    }
    for (const key of ['startsAt', 'endsAt', 'generatorURL'] as const) {
      if (o[key] !== undefined && o[key] !== null && typeof o[key] !== 'string') {
        throw new APIError(400, `parsing alerts body from "" failed, because json: cannot unmarshal ${jsonKind(o[key])} into Go struct field PostableAlert.${key} of type string`, 400);
      }
    }
    for (const key of ['startsAt', 'endsAt'] as const) {
      const t = o[key];
      if (typeof t === 'string' && t !== '' && Number.isNaN(Date.parse(t))) {
        throw new APIError(400, `parsing alerts body from "" failed, because parsing time ${JSON.stringify(t)}: not an RFC 3339 time`, 400);
      }
    }
    return {
      labels: o.labels as Record<string, string>,
      annotations: (o.annotations ?? {}) as Record<string, string>,
      startsAt: (o.startsAt as string | undefined) || undefined,
      endsAt: (o.endsAt as string | undefined) || undefined,
      generatorURL: (o.generatorURL as string | undefined) ?? undefined,
    };
  });
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

const startTime = new Date().toISOString();

export function registerAlertmanagerAPI(app: FastifyInstance, o: AlertmanagerAPIOptions): void {
  const d = o.dispatcher;
  void app.register(async (scope) => {
    // Bodies are parsed here, so that non-JSON and other media types get Alertmanager's answers.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: o.bodyLimit ?? 32 * 1024 * 1024 }, (_req, body, done) => done(null, body));

    const handle =
      (fn: (req: FastifyRequest, reply: FastifyReply) => unknown) =>
      async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
        try {
          return await fn(req, reply);
        } catch (e) {
          return sendError(reply, e);
        }
      };

    scope.post(
      '/api/v2/alerts',
      handle(async (req, reply) => {
        const alerts = postableAlerts(jsonBody(req, 'alerts'));
        const errors = d.post(alerts);
        if (errors.length > 0) throw new APIError(400, errors.join('; '));
        return reply.code(200).send();
      }),
    );

    scope.get(
      '/api/v2/alerts',
      handle(async (req, reply) => {
        const q = req.query as Record<string, unknown>;
        const matchers = parseFilter(q);
        const recv = receiverFilter(q);
        const active = parseBool(q, 'active', true);
        const silenced = parseBool(q, 'silenced', true);
        const inhibited = parseBool(q, 'inhibited', true);
        parseBool(q, 'unprocessed', true);
        const now = Date.now();
        const out: Record<string, unknown>[] = [];
        for (const a of d.store.list()) {
          const receivers = d.receiversOf(a.labels);
          if (recv && !receivers.some((r) => recv.test(r))) continue;
          if (!matchesAll(matchers, a.labels)) continue;
          if (resolvedAt(a, now) && a.endsAt < now) continue;
          const status = d.status(a, now);
          if (!active && status.state === 'active') continue;
          if (!silenced && status.silencedBy.length > 0) continue;
          if (!inhibited && status.inhibitedBy.length > 0) continue;
          out.push(gettableAlert(a, status, receivers));
        }
        out.sort((x, y) => ((x.fingerprint as string) < (y.fingerprint as string) ? -1 : 1));
        return reply.type('application/json').send(JSON.stringify(out));
      }),
    );

    scope.get(
      '/api/v2/alerts/groups',
      handle(async (req, reply) => {
        const q = req.query as Record<string, unknown>;
        const matchers = parseFilter(q);
        const recv = receiverFilter(q);
        const active = parseBool(q, 'active', true);
        const silenced = parseBool(q, 'silenced', true);
        const inhibited = parseBool(q, 'inhibited', true);
        const now = Date.now();
        const out: Record<string, unknown>[] = [];
        for (const g of d.groupList()) {
          if (recv && !recv.test(g.receiver)) continue;
          const alerts: Record<string, unknown>[] = [];
          for (const a of g.alerts) {
            if (resolvedAt(a, now) && a.endsAt < now) continue;
            const status = d.status(a, now);
            if (!active && status.state === 'active') continue;
            if (!silenced && status.silencedBy.length > 0) continue;
            if (!inhibited && status.inhibitedBy.length > 0) continue;
            if (!matchesAll(matchers, a.labels)) continue;
            alerts.push(gettableAlert(a, status, d.receiversOf(a.labels)));
          }
          if (alerts.length === 0) continue;
          out.push({ alerts, labels: sortedRecord(g.labels), receiver: { name: g.receiver } });
        }
        return reply.type('application/json').send(JSON.stringify(out));
      }),
    );

    scope.get(
      '/api/v2/status',
      handle(async (_req, reply) => {
        const cfg = o.config();
        let original = '';
        if (cfg) {
          // The alerting: section as written back (secrets masked), as Alertmanager shows its file.
          const all = parseYaml(showConfig(cfg)) as { alerting?: Record<string, unknown> } | null;
          // Patrol's own keys (alerting.patrol) are not Alertmanager's: clients that parse this must not see them.
          const { patrol: _patrol, ...am } = all?.alerting ?? {};
          original = all?.alerting ? stringify(am, { lineWidth: 0 }) : '';
        }
        return reply.send({
          cluster: { peers: [], status: 'disabled' },
          config: { original },
          uptime: startTime,
          versionInfo: {
            branch: BUILD_INFO.branch,
            buildDate: BUILD_INFO.buildDate,
            buildUser: BUILD_INFO.buildUser,
            goVersion: BUILD_INFO.goVersion,
            revision: BUILD_INFO.revision,
            version: BUILD_INFO.version,
          },
        });
      }),
    );

    scope.get(
      '/api/v2/receivers',
      handle(async (_req, reply) => reply.send(d.receiverNames.map((name) => ({ name })))),
    );

    registerSilenceRoutes(scope, d.silences, handle);
  });
}
