// The agents' endpoints (`patrol agent`), under /api/patrol/v1/agent, authenticated by the
// location's token (agents.tokens) in `Authorization: Bearer …`:
//   GET  /probes   the probes of the agent's location as configuration, with a generation that
//                  changes on every reload (the agent re-reads when it changes);
//   POST /results  {sent_at, results: [...]}: results, also an empty list as a heartbeat. A
//                  sender whose clock is off by more than agents.max_clock_skew is refused (400),
//                  naming the offset. GET /api/patrol/v1/agents lists the locations and whether
//                  each reports.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatDuration } from '../model/duration.js';
import type { ProbeManager } from '../probe/manager.js';
import type { ResultBatch } from '../probe/remote.js';

const PREFIX = '/api/patrol/v1/agent';

function fail(reply: FastifyReply, code: number, errorType: string, error: string) {
  return reply.code(code).send({ status: 'error', errorType, error });
}

/** Batches per location whose skew the offset estimate looks at. */
const OFFSET_WINDOW = 30;

/**
 * An agent's clock offset, as NTP estimates one: a batch's `sent_at - now` is the offset minus
 * the time the batch took to arrive and be read, which varies with load (hundreds of ms on a busy
 * central), so the largest of the recent ones is the closest to the true offset. Correcting each
 * batch by its own skew moved its results by that batch's delay: intervals measured from the
 * stored times came out up to 13 % short.
 */
export class ClockOffsets {
  private readonly recent = new Map<string, number[]>();

  estimate(location: string, skew: number): number {
    let w = this.recent.get(location);
    if (!w) this.recent.set(location, (w = []));
    w.push(skew);
    if (w.length > OFFSET_WINDOW) w.shift();
    return Math.max(...w);
  }
}

export function registerAgentAPI(app: FastifyInstance, manager: ProbeManager): void {
  const offsets = new ClockOffsets();
  const auth = (req: FastifyRequest, reply: FastifyReply): string | null => {
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
    if (!m) {
      void fail(reply, 401, 'unauthorized', 'missing agent token (Authorization: Bearer <token of the location in agents.tokens>)');
      return null;
    }
    const loc = manager.agentLocation(m[1]);
    // The token is never echoed.
    if (loc === null) void fail(reply, 401, 'unauthorized', 'unknown agent token: no location in agents.tokens has it');
    return loc;
  };

  app.get(`${PREFIX}/probes`, async (req, reply) => {
    const loc = auth(req, reply);
    if (loc === null) return reply;
    return reply.send({ status: 'success', data: { location: loc, ...manager.agentProbes(loc) } });
  });

  app.post(`${PREFIX}/results`, { bodyLimit: 32 * 1024 * 1024 }, async (req, reply) => {
    const loc = auth(req, reply);
    if (loc === null) return reply;
    const body = req.body as Partial<ResultBatch> | null;
    if (body === null || typeof body !== 'object' || typeof body.sent_at !== 'number' || !Array.isArray(body.results)) {
      return fail(reply, 400, 'bad_data', 'expected {"sent_at": <ms since the epoch>, "results": [...]}');
    }
    const now = Date.now();
    const skew = body.sent_at - now;
    if (Math.abs(skew) > manager.maxClockSkew) {
      return fail(reply, 400, 'clock_skew', `the clock of agent ${loc} is ${formatDuration(Math.abs(Math.round(skew / 1000) * 1000))} ${skew > 0 ? 'ahead of' : 'behind'} this Patrol's (max_clock_skew ${formatDuration(manager.maxClockSkew)}): fix its time (NTP); results refused`);
    }
    // Result times are the agent's; ingest takes its clock offset out, and skips results it
    // already has (a batch sent again after a lost answer).
    const out = manager.ingest(loc, body.results, now, offsets.estimate(loc, skew));
    return reply.send({ status: 'success', data: out });
  });

  app.get('/api/patrol/v1/agents', async (_req, reply) => reply.send({ status: 'success', data: manager.agentStatus() }));
}
