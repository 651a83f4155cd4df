// The dashboard's live updates: GET /api/patrol/v1/events/stream, server-sent events. Probe state
// changes (the runtime's probeStateChanges) and alert changes (the dispatcher's store: an alert
// that starts firing or resolves) are gathered and sent at most once per batch interval (1 s) to
// every client as one message each, so 10,000 probes flapping make one message a second, not a
// storm. A comment line every 15 s keeps proxies from closing an idle stream. Each client has a
// bounded buffer: a client that does not read (more than 1 MiB waiting) is dropped; its
// EventSource reconnects and reads the overview again.
//
// Messages (`event:` name, JSON `data:`):
//   hello   {generation, seq, counts}                       on connect
//   probes  {generation, seq, counts, changes: [{probe, from, to, time, reason}], probes: [overview rows]}
//           or, when more than MAX_ROWS probes changed in one batch, {…, resync: true} without rows:
//           the client reads the overview delta (?after=seq) instead
//   alerts  {alerts: [{fingerprint, alertname, state: firing|resolved, startsAt}]}
//   acks    {acks: [{fingerprint, alertname, probe, acknowledged: {by, at, expiresAt} | null}]}
//           an alert acknowledged (or no longer), so every open dashboard shows it at once

import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { maskUrlPassword } from '../config/secrets.js';
import { resolvedAt, type Alert } from '../model/alert.js';
import type { ProbeEvent, ProbeState } from '../model/probestate.js';
import type { OverviewRow } from '../probe/manager.js';

export interface EventSources {
  /** Subscribes to probe state changes; returns the unsubscribe function. */
  onProbeChange(fn: (e: ProbeEvent) => void): () => void;
  /** Subscribes to stored alerts (every put, changed or not); returns the unsubscribe function. */
  /** Every alert stored, with the one it replaced. */
  onAlert(fn: (a: Alert, previous: Alert | undefined) => void): () => void;
  /** Subscribes to acknowledgements given (ack) and taken back (null); returns the unsubscribe function. */
  onAck?(fn: (e: { fingerprint: string; labels: Record<string, string>; ack: { by: string; at: number; expiresAt: number } | null }) => void): () => void;
  /** Overview rows of the named probes and the counts. */
  rows(names: Iterable<string>): { generation: number; seq: number; counts: Record<ProbeState, number>; probes: OverviewRow[] };
}

export interface EventHubOptions {
  batchMs?: number;
  heartbeatMs?: number;
  /** Bytes waiting to be sent to one client beyond which it is dropped. */
  maxBufferedBytes?: number;
  /** More changed probes than this in one batch: the message says resync instead of carrying rows. */
  maxRows?: number;
  /** Alerts per message at most (the rest are counted in `more`). */
  maxAlerts?: number;
}

interface Client {
  out: PassThrough;
  /** The socket's own buffer (what the kernel has not taken yet). */
  socketBuffered: () => number;
}

export interface AckEvent {
  fingerprint: string;
  alertname: string;
  /** The alert's `probe` label ('' without). */
  probe: string;
  /** ms since the epoch; expiresAt 0: until the alert resolves. */
  acknowledged: { by: string; at: number; expiresAt: number } | null;
}

export interface AlertChange {
  fingerprint: string;
  alertname: string;
  state: 'firing' | 'resolved';
  startsAt: number;
}

/** Masks a URL's password in a row's target and failure reason, as the overview API does. */
export function maskOverviewRow(p: OverviewRow): OverviewRow {
  p.target = maskUrlPassword(p.target);
  if (p.last_failure) p.last_failure = { time: p.last_failure.time, reason: maskUrlPassword(p.last_failure.reason) };
  return p;
}

export class EventHub {
  private readonly clients = new Set<Client>();
  private readonly probeChanges = new Map<string, ProbeEvent[]>();
  private readonly alertChanges = new Map<string, AlertChange>();
  private readonly ackChanges = new Map<string, AckEvent>();
  private batchTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly o: Required<EventHubOptions>;
  /** Clients dropped for not reading. */
  dropped = 0;
  /** Messages written (to all clients). */
  sent = 0;

  constructor(
    private readonly src: EventSources,
    opts: EventHubOptions = {},
  ) {
    this.o = { batchMs: opts.batchMs ?? 1000, heartbeatMs: opts.heartbeatMs ?? 15_000, maxBufferedBytes: opts.maxBufferedBytes ?? 1 << 20, maxRows: opts.maxRows ?? 500, maxAlerts: opts.maxAlerts ?? 200 };
    this.unsubscribe.push(src.onProbeChange((e) => this.onProbe(e)));
    this.unsubscribe.push(src.onAlert((a, previous) => this.onAlert(a, previous)));
    if (src.onAck)
      this.unsubscribe.push(
        src.onAck((e) => {
          if (this.clients.size === 0) return;
          const k = e.ack;
          this.ackChanges.set(e.fingerprint, { fingerprint: e.fingerprint, alertname: e.labels.alertname ?? '', probe: e.labels.probe ?? '', acknowledged: k ? { by: k.by, at: k.at, expiresAt: k.expiresAt } : null });
          this.schedule();
        }),
      );
  }

  get size(): number {
    return this.clients.size;
  }

  private onProbe(e: ProbeEvent): void {
    if (this.clients.size === 0) return;
    const list = this.probeChanges.get(e.probe);
    if (list) {
      // A probe flapping within one batch: its first and last change are enough.
      if (list.length >= 2) list[1] = e;
      else list.push(e);
    } else this.probeChanges.set(e.probe, [e]);
    this.schedule();
  }

  /** An alert stored again with the same state and start is not news (senders repeat firing alerts). */
  private onAlert(a: Alert, previous: Alert | undefined): void {
    if (this.clients.size === 0) return;
    const now = Date.now();
    const state = resolvedAt(a, now) ? 'resolved' : 'firing';
    if (previous && previous.startsAt === a.startsAt && resolvedAt(previous, now) === (state === 'resolved')) return;
    this.alertChanges.set(a.fingerprint, { fingerprint: a.fingerprint, alertname: a.labels.alertname ?? '', state, startsAt: a.startsAt });
    this.schedule();
  }

  private schedule(): void {
    if (this.batchTimer) return;
    this.batchTimer = setTimeout(() => this.flush(), this.o.batchMs);
    this.batchTimer.unref();
  }

  /** Sends what gathered since the last batch (one message per kind) to every client. */
  flush(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    if (this.probeChanges.size > 0) {
      const changes = [...this.probeChanges.values()].flat().map((e) => ({ ...e, reason: maskUrlPassword(e.reason) }));
      const names = [...this.probeChanges.keys()];
      this.probeChanges.clear();
      const resync = names.length > this.o.maxRows;
      const r = this.src.rows(resync ? [] : names);
      const msg = { generation: r.generation, seq: r.seq, counts: r.counts, changes: resync ? [] : changes, ...(resync ? { resync: true } : { probes: r.probes.map(maskOverviewRow) }) };
      this.broadcast(frame('probes', msg));
    }
    this.flushList('alerts', this.alertChanges);
    this.flushList('acks', this.ackChanges);
  }

  /** One message `{[kind]: [...], more?}` of what gathered in `changes` (at most maxAlerts), then cleared. */
  private flushList(kind: 'alerts' | 'acks', changes: Map<string, AlertChange | AckEvent>): void {
    if (changes.size === 0) return;
    const all = [...changes.values()];
    changes.clear();
    const list = all.slice(0, this.o.maxAlerts);
    this.broadcast(frame(kind, { [kind]: list, ...(all.length > list.length ? { more: all.length - list.length } : {}) }));
  }

  private broadcast(text: string): void {
    for (const c of this.clients) this.write(c, text);
  }

  private write(c: Client, text: string): void {
    // Bounded: what waits in the stream and in the socket; past the bound the client is dropped.
    if (c.out.writableLength + c.socketBuffered() > this.o.maxBufferedBytes) {
      this.dropped++;
      this.remove(c);
      c.out.destroy();
      return;
    }
    c.out.write(text);
    this.sent++;
  }

  /** A new client: the stream to send as the response body, and the socket's buffered-bytes gauge. */
  add(socketBuffered: () => number): PassThrough {
    const out = new PassThrough();
    const c: Client = { out, socketBuffered };
    this.clients.add(c);
    out.on('close', () => this.remove(c));
    const r = this.src.rows([]);
    // retry: how long EventSource waits before reconnecting (ms).
    out.write(`retry: 2000\n${frame('hello', { generation: r.generation, seq: r.seq, counts: r.counts })}`);
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => {
        for (const x of this.clients) this.write(x, ': ping\n\n');
      }, this.o.heartbeatMs);
      this.heartbeat.unref();
    }
    return out;
  }

  private remove(c: Client): void {
    this.clients.delete(c);
    if (this.clients.size === 0) {
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = null;
      this.probeChanges.clear();
      this.alertChanges.clear();
      this.ackChanges.clear();
    }
  }

  /** Ends every client's stream (they reconnect); the hub goes on. */
  disconnectAll(): void {
    for (const c of [...this.clients]) {
      this.remove(c);
      c.out.end();
    }
  }

  /** Ends every stream and stops listening. */
  close(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    for (const u of this.unsubscribe) u();
    this.disconnectAll();
  }
}

function frame(event: string, data: unknown): string {
  // JSON has no raw newlines, so one data: line carries it.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function registerEventsAPI(app: FastifyInstance, hub: EventHub): void {
  app.get('/api/patrol/v1/events/stream', async (req, reply) => {
    const sock = req.raw.socket;
    const out = hub.add(() => sock.writableLength);
    req.raw.on('close', () => out.destroy());
    req.socket.setNoDelay(true);
    return reply
      .type('text/event-stream; charset=utf-8')
      .header('Cache-Control', 'no-cache, no-transform')
      .header('X-Accel-Buffering', 'no')
      .send(out);
  });
  app.addHook('preClose', (done) => {
    hub.close();
    done();
  });
}
