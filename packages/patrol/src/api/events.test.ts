import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { AlertStore } from '../alerting/store.js';
import { parseConfig } from '../config/load.js';
import { labelSetFingerprint, type Alert } from '../model/alert.js';
import { ProbeStateChanges } from '../model/probestate.js';
import { ProbeManager } from '../probe/manager.js';
import { startHttp } from '../probe/testdata/servers.js';
import { testRuntime } from '../probe/testdata/runtime.js';
import { EventHub, registerEventsAPI, type EventHubOptions, type EventSources } from './events.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Msg {
  event: string;
  data: unknown;
}

/** Reads a server-sent event stream over fetch; `next(pred)` waits (bounded) for a matching message. */
async function openStream(url: string) {
  const ctl = new AbortController();
  const res = await fetch(url, { signal: ctl.signal });
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const msgs: Msg[] = [];
  const comments: string[] = [];
  let ended = false;
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) msgs.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
    ended = true;
  })();
  return {
    res,
    msgs,
    comments,
    get ended() {
      return ended;
    },
    async next(pred: (m: Msg) => boolean, ms = 8000): Promise<Msg> {
      const end = Date.now() + ms;
      for (;;) {
        const m = msgs.find(pred);
        if (m) return m;
        if (Date.now() > end) assert.fail(`no matching message within ${ms} ms; got ${JSON.stringify(msgs).slice(0, 500)}`);
        await sleep(10);
      }
    },
    async close() {
      ctl.abort();
      await pump;
    },
  };
}

function alert(labels: Record<string, string>, firing: boolean, startsAt: number): Alert {
  const now = Date.now();
  return { labels, annotations: {}, startsAt, endsAt: firing ? now + 300_000 : now - 1, generatorURL: '', updatedAt: now, timeout: false, fingerprint: labelSetFingerprint(labels) };
}

describe('live event stream (server-sent events)', () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  let failing = false;
  const rt = testRuntime();
  const changes = new ProbeStateChanges();
  let manager: ProbeManager;
  let store: AlertStore;
  const apps: FastifyInstance[] = [];
  type AckListener = Parameters<NonNullable<EventSources['onAck']>>[0];
  const ackListeners = new Set<AckListener>();

  before(async () => {
    srv = await startHttp((_req, res) => {
      res.writeHead(failing ? 500 : 200);
      res.end('ok');
    });
    manager = new ProbeManager({ ...rt, probeStateChanges: changes }, { flushIntervalMs: 5 });
    const u = new URL(srv.url);
    const r = parseConfig(
      `probes:
  - {name: flip, type: http, target: "http://user:hunter2@${u.host}/", interval: 100ms, timeout: 100ms, failure_threshold: 1, labels: {team: core}}
  - {name: steady, type: http, target: "${srv.url}/", interval: 1h, timeout: 500ms}
`,
      't.yml',
    );
    assert.ok(r.ok, JSON.stringify(r));
    manager.applyConfig(r.config, { dir: '.' });
    store = new AlertStore();
    const end = Date.now() + 8000;
    while (manager.get('flip').state !== 'up') {
      if (Date.now() > end) assert.fail('probe did not come up');
      await sleep(20);
    }
  });
  after(async () => {
    for (const a of apps) await a.close();
    await manager.stop();
    await srv.close();
    rt.cleanup();
  });

  async function serve(opts: EventHubOptions = {}): Promise<{ url: string; hub: EventHub; app: FastifyInstance }> {
    const app = Fastify();
    const hub = new EventHub(
      {
        onProbeChange: (fn) => changes.subscribe(fn),
        onAlert: (fn) => store.subscribe(fn),
        onAck: (fn) => {
          ackListeners.add(fn);
          return () => ackListeners.delete(fn);
        },
        rows: (names) => manager.overviewOf(names),
      },
      opts,
    );
    registerEventsAPI(app, hub);
    await app.listen({ port: 0, host: '127.0.0.1' });
    apps.push(app);
    const port = (app.server.address() as net.AddressInfo).port;
    return { url: `http://127.0.0.1:${port}/api/patrol/v1/events/stream`, hub, app };
  }

  it('says hello with the counts, then sends a probe going down with its row (password masked), and back up', async () => {
    const { url } = await serve({ batchMs: 50 });
    const s = await openStream(url);
    try {
      assert.equal(s.res.status, 200);
      assert.match(s.res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const hello = (await s.next((m) => m.event === 'hello')).data as { counts: Record<string, number>; seq: number };
      assert.equal(hello.counts.up, 1);
      failing = true;
      const down = (await s.next((m) => m.event === 'probes' && (m.data as { counts: { down: number } }).counts.down === 1)).data as {
        changes: { probe: string; to: string; reason: string }[];
        probes: { name: string; state: string; target: string; last_failure: { reason: string } }[];
      };
      assert.equal(down.changes[0].probe, 'flip');
      assert.equal(down.changes[0].to, 'down');
      assert.equal(down.probes.length, 1);
      assert.equal(down.probes[0].name, 'flip');
      assert.equal(down.probes[0].state, 'down');
      assert.match(down.probes[0].last_failure.reason, /500/);
      assert.ok(!JSON.stringify(down).includes('hunter2'), 'the target password is masked');
      failing = false;
      await s.next((m) => m.event === 'probes' && (m.data as { changes: { to: string }[] }).changes.some((c) => c.to === 'up'));
    } finally {
      failing = false;
      await s.close();
    }
  });

  it('coalesces: many changes in one batch make one message, past the row limit a resync without rows', async () => {
    const { url, hub } = await serve({ batchMs: 200, maxRows: 100 });
    const s = await openStream(url);
    try {
      await s.next((m) => m.event === 'hello');
      const before = hub.sent;
      for (let i = 0; i < 5000; i++) changes.emit({ probe: `p${i % 2000}`, time: Date.now(), from: 'up', to: i % 2 ? 'up' : 'down', reason: 'x' });
      // (The `flip` probe may change state on its own meanwhile: only the burst's messages count.)
      const burst = (x: Msg) => x.event === 'probes' && ((x.data as { resync?: boolean }).resync === true || JSON.stringify(x.data).includes('"p1'));
      const m = (await s.next(burst)).data as { resync?: boolean; probes?: unknown[]; changes: unknown[] };
      assert.equal(m.resync, true);
      assert.equal(m.probes, undefined);
      await sleep(400);
      assert.equal(s.msgs.filter(burst).length, 1, 'one message for the whole batch');
      assert.ok(hub.sent - before <= 2);
    } finally {
      await s.close();
    }
  });

  it('sends alerts that start firing or resolve, not alerts re-sent unchanged; heartbeats while idle', async () => {
    const { url } = await serve({ batchMs: 30, heartbeatMs: 50 });
    const s = await openStream(url);
    try {
      await s.next((m) => m.event === 'hello');
      const t0 = Date.now() - 1000;
      const labels = { alertname: 'ProbeDown', probe: 'flip' };
      store.put([alert(labels, true, t0)]);
      const fired = (await s.next((m) => m.event === 'alerts')).data as { alerts: { alertname: string; state: string; fingerprint: string }[] };
      assert.deepEqual(
        fired.alerts.map((a) => [a.alertname, a.state]),
        [['ProbeDown', 'firing']],
      );
      store.put([alert(labels, true, t0)]);
      store.put([alert(labels, true, t0)]);
      await sleep(150);
      assert.equal(s.msgs.filter((m) => m.event === 'alerts').length, 1, 'unchanged re-sends are not news');
      store.put([alert(labels, false, t0)]);
      await s.next((m) => m.event === 'alerts' && (m.data as { alerts: { state: string }[] }).alerts[0].state === 'resolved');
      const end = Date.now() + 5000;
      while (s.comments.length === 0 && Date.now() < end) await sleep(10);
      assert.ok(s.comments.includes(': ping'), 'heartbeat comment');
    } finally {
      await s.close();
    }
  });

  it('sends acknowledgements given and taken back, with the alert\'s probe, to every client', async () => {
    const { url } = await serve({ batchMs: 50 });
    const s1 = await openStream(url);
    const s2 = await openStream(url);
    try {
      await s1.next((m) => m.event === 'hello');
      await s2.next((m) => m.event === 'hello');
      const labels = { alertname: 'ProbeDown', probe: 'flip' };
      for (const fn of ackListeners) fn({ fingerprint: 'f1', labels, ack: { by: 'ana', at: 1000, expiresAt: 0 } });
      type Acks = { acks: { fingerprint: string; alertname: string; probe: string; acknowledged: { by: string } | null }[] };
      for (const s of [s1, s2]) {
        const m = (await s.next((x) => x.event === 'acks')).data as Acks;
        assert.deepEqual(m.acks, [{ fingerprint: 'f1', alertname: 'ProbeDown', probe: 'flip', acknowledged: { by: 'ana', at: 1000, expiresAt: 0 } }]);
      }
      for (const fn of ackListeners) fn({ fingerprint: 'f1', labels, ack: null });
      const m = (await s1.next((x) => x.event === 'acks' && (x.data as Acks).acks[0].acknowledged === null)).data as Acks;
      assert.equal(m.acks[0].probe, 'flip');
    } finally {
      await s1.close();
      await s2.close();
    }
  });

  it('drops a client that does not read once its buffer passes the bound; others go on', async () => {
    const { url, hub } = await serve({ batchMs: 1, maxBufferedBytes: 256 * 1024 });
    const u = new URL(url);
    // A client that sends the request and never reads.
    const sock = net.connect(Number(u.port), u.hostname);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
    sock.pause();
    const reader = await openStream(url);
    try {
      const end = Date.now() + 8000;
      while (hub.size < 2 && Date.now() < end) await sleep(5);
      // Alerts with long names (the message carries the name), alternating firing and resolved so each round is news.
      const big = 'x'.repeat(20_000);
      let round = 0;
      while (hub.dropped === 0) {
        if (Date.now() > end) assert.fail(`the slow client was not dropped (clients ${hub.size}, sent ${hub.sent}, rounds ${round})`);
        const firing = round++ % 2 === 0;
        store.put(Array.from({ length: 20 }, (_, i) => alert({ alertname: `Big${i}${big}` }, firing, 1000)));
        await sleep(2);
      }
      assert.equal(hub.dropped, 1);
      assert.equal(hub.size, 1, 'the reading client stays');
      assert.equal(reader.ended, false);
    } finally {
      sock.destroy();
      await reader.close();
    }
  });

  it('ends every stream when the server closes', async () => {
    const { url, app } = await serve();
    const s = await openStream(url);
    await s.next((m) => m.event === 'hello');
    await app.close();
    const end = Date.now() + 5000;
    while (!s.ended && Date.now() < end) await sleep(10);
    assert.equal(s.ended, true);
  });
});
