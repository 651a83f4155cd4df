// gRPC (against real grpc-js servers: one implementing grpc.health.v1 with messages encoded by
// protobufjs, one without it, one over TLS), WebSocket (a real `ws` server) and ICMP (the system
// ping on loopback; without privilege; without the program).

import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { WebSocketServer } from 'ws';
import { decodeHealthResponse, encodeHealthRequest } from './grpc.js';
import { parsePing } from './icmp.js';
import { probeErrors, runOne, sample } from './testdata/helpers.js';
import { closedPort, makeCerts, type CertSet } from './testdata/servers.js';
import { binaryPath, needBinary } from '../testing/shared.js';

// The health protocol's messages, as grpc/health/v1/health.proto defines them.
const root = protobuf.Root.fromJSON({
  nested: {
    HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
    HealthCheckResponse: { fields: { status: { type: 'ServingStatus', id: 1 } }, nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } } },
  },
});
const Req = root.lookupType('HealthCheckRequest');
const Res = root.lookupType('HealthCheckResponse');

async function startGrpc(statuses: Record<string, number> | null, creds = grpc.ServerCredentials.createInsecure()): Promise<{ port: number; server: grpc.Server; asked: string[] }> {
  const server = new grpc.Server();
  const asked: string[] = [];
  if (statuses) {
    server.addService(
      {
        Check: {
          path: '/grpc.health.v1.Health/Check',
          requestStream: false,
          responseStream: false,
          requestSerialize: (v: unknown) => Buffer.from(Req.encode(Req.fromObject(v as object)).finish()),
          requestDeserialize: (b: Buffer) => Req.toObject(Req.decode(b)),
          responseSerialize: (v: unknown) => Buffer.from(Res.encode(Res.fromObject(v as object)).finish()),
          responseDeserialize: (b: Buffer) => Res.toObject(Res.decode(b)),
        },
      },
      {
        Check: (call: grpc.ServerUnaryCall<{ service?: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          const svc = call.request.service ?? '';
          asked.push(svc);
          if (!(svc in statuses)) return cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
          cb(null, { status: statuses[svc] });
        },
      },
    );
  } else {
    // Some other service, no health.
    server.addService({ Echo: { path: '/demo.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } }, { Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) });
  }
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
  return { port, server, asked };
}

describe('grpc probes', () => {
  let health: Awaited<ReturnType<typeof startGrpc>>;
  let none: Awaited<ReturnType<typeof startGrpc>>;
  let secure: Awaited<ReturnType<typeof startGrpc>>;
  let certs: CertSet;
  before(async () => {
    certs = makeCerts();
    health = await startGrpc({ '': 1, 'shop.Cart': 1, 'shop.Billing': 2 });
    none = await startGrpc(null);
    secure = await startGrpc({ '': 1 }, grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(certs.good.key), cert_chain: Buffer.from(certs.good.cert) }], false));
  });
  after(() => {
    for (const s of [health, none, secure]) s?.server.forceShutdown();
    certs?.cleanup();
  });

  it('our messages read and write the standard encoding', () => {
    assert.deepEqual(Req.toObject(Req.decode(encodeHealthRequest('shop.Cart'))), { service: 'shop.Cart' });
    assert.equal(encodeHealthRequest('').length, 0);
    assert.equal(decodeHealthResponse(Buffer.from(Res.encode(Res.fromObject({ status: 2 })).finish())), 2);
    assert.equal(decodeHealthResponse(Buffer.alloc(0)), 0);
    assert.throws(() => decodeHealthResponse(Buffer.from([0x08])), /truncated/);
  });

  it('SERVING passes, with blackbox_exporter metric names', async () => {
    const r = await runOne({ type: 'grpc', target: `127.0.0.1:${health.port}` });
    assert.equal(r.reason, '');
    assert.equal(r.success, true);
    assert.equal(sample(r, 'probe_grpc_healthcheck_response', 'SERVING'), 1);
    assert.equal(sample(r, 'probe_grpc_healthcheck_response', 'NOT_SERVING'), 0);
    assert.equal(sample(r, 'probe_grpc_status_code'), 0);
    assert.equal(sample(r, 'probe_grpc_ssl'), 0);
    assert.ok(sample(r, 'probe_grpc_duration_seconds', 'check')! > 0);
    const svc = await runOne({ type: 'grpc', target: `localhost:${health.port}`, service: 'shop.Cart', conditions: ['[RESPONSE_TIME] < 5s'] });
    assert.equal(svc.reason, '');
    assert.ok(health.asked.includes('shop.Cart'));
  });

  it('NOT_SERVING and an unknown service fail naming them', async () => {
    const r = await runOne({ type: 'grpc', target: `127.0.0.1:${health.port}`, service: 'shop.Billing' });
    assert.equal(r.reason, 'health status NOT_SERVING for service "shop.Billing", expected SERVING');
    assert.equal(sample(r, 'probe_grpc_healthcheck_response', 'NOT_SERVING'), 1);
    const u = await runOne({ type: 'grpc', target: `127.0.0.1:${health.port}`, service: 'nope' });
    assert.equal(u.reason, `the health service of 127.0.0.1:${health.port} does not know service "nope" (NOT_FOUND)`);
    assert.equal(sample(u, 'probe_grpc_status_code'), grpc.status.NOT_FOUND);
  });

  it('a server without the health service fails with UNIMPLEMENTED named', async () => {
    const r = await runOne({ type: 'grpc', target: `127.0.0.1:${none.port}` });
    assert.equal(r.success, false);
    assert.equal(r.reason, `127.0.0.1:${none.port} does not implement the gRPC health checking protocol (/grpc.health.v1.Health/Check: UNIMPLEMENTED)`);
    assert.equal(sample(r, 'probe_grpc_status_code'), grpc.status.UNIMPLEMENTED);
  });

  it('nothing listening is UNAVAILABLE, not a crash', async () => {
    const port = await closedPort();
    const r = await runOne({ type: 'grpc', target: `127.0.0.1:${port}`, timeout: '2s' });
    assert.equal(r.success, false);
    assert.match(r.reason, /^gRPC UNAVAILABLE from 127\.0\.0\.1:\d+: /);
  });

  it('TLS: verified against the CA, refused without it, a plaintext client against TLS fails', async () => {
    const ok = await runOne({ type: 'grpc', target: `localhost:${secure.port}`, tls: true, tls_config: { ca_file: certs.caFile } });
    assert.equal(ok.reason, '');
    assert.equal(sample(ok, 'probe_grpc_ssl'), 1);
    const untrusted = await runOne({ type: 'grpc', target: `localhost:${secure.port}`, tls: true });
    assert.equal(untrusted.success, false);
    assert.match(untrusted.reason, /^gRPC UNAVAILABLE/);
    const skip = await runOne({ type: 'grpc', target: `localhost:${secure.port}`, tls: true, tls_config: { insecure_skip_verify: true } });
    assert.equal(skip.reason, '');
    assert.equal(sample(untrusted, 'probe_ssl_earliest_cert_expiry'), undefined);
    const plain = await runOne({ type: 'grpc', target: `localhost:${secure.port}`, timeout: '2s' });
    assert.equal(plain.success, false);
  });

  it('TLS: the certificate expiry, as a metric and for [CERTIFICATE_EXPIRATION]', async () => {
    // The leaf is valid for 30 days (the CA for 60): the chain's earliest expiry is the leaf's.
    const r = await runOne({ type: 'grpc', target: `localhost:${secure.port}`, tls: true, tls_config: { ca_file: certs.caFile }, conditions: ['[CERTIFICATE_EXPIRATION] > 20d'] });
    assert.equal(r.reason, '');
    const days = (sample(r, 'probe_ssl_earliest_cert_expiry')! - Date.now() / 1000) / 86400;
    assert.ok(days > 29 && days < 31, `expiry in ${days} days`);
    const soon = await runOne({ type: 'grpc', target: `localhost:${secure.port}`, tls: true, tls_config: { ca_file: certs.caFile }, conditions: ['[CERTIFICATE_EXPIRATION] > 40d'] });
    assert.equal(soon.success, false);
    assert.match(soon.reason, /^certificate expires in 29 days, minimum 40/);
    const plain = await runOne({ type: 'grpc', target: `127.0.0.1:${health.port}` });
    assert.equal(sample(plain, 'probe_ssl_earliest_cert_expiry'), undefined);
  });

  it('rejects conditions it cannot evaluate and bad targets', () => {
    assert.match(probeErrors(`  - {name: g, type: grpc, target: "127.0.0.1:1", conditions: ['[STATUS] == 200']}\n`).join('\n'), /\[STATUS\] is not available for grpc probes/);
    assert.match(probeErrors(`  - {name: g, type: grpc, target: "nohost"}\n`).join('\n'), /is not host:port/);
  });
});

describe('websocket probes', () => {
  let wss: WebSocketServer;
  let port: number;
  before(async () => {
    wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      verifyClient: (info: { req: { url?: string; headers: Record<string, string | string[] | undefined> } }, cb: (ok: boolean, code?: number) => void) => {
        if (info.req.url === '/private' && info.req.headers.authorization !== 'Bearer t') return cb(false, 401);
        cb(true);
      },
    });
    wss.on('connection', (ws, req) => {
      if (req.url === '/silent-close') return ws.close(1011, 'going away');
      if (req.url === '/hello') ws.send('{"type":"hello","version":3}');
      ws.on('message', (m) => {
        const t = m.toString();
        if (t === 'ping') ws.send('pong');
        else if (t === 'big') ws.send('x'.repeat(200_000));
        else ws.send(`unknown: ${t}`);
      });
    });
    await new Promise<void>((r) => wss.on('listening', () => r()));
    port = (wss.address() as { port: number }).port;
  });
  after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  it('connects; sends and expects a reply', async () => {
    const r = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${port}/` });
    assert.equal(r.reason, '');
    assert.equal(sample(r, 'probe_http_status_code'), 101);
    const pp = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${port}/`, send: 'ping', expect: '^pong$' });
    assert.equal(pp.reason, '');
    assert.equal(sample(pp, 'probe_failed_due_to_regex'), 0);
    assert.ok(sample(pp, 'probe_websocket_duration_seconds', 'reply')! >= 0);
  });

  it('conditions on the first message (JSON)', async () => {
    const r = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${port}/hello`, conditions: ['$.type == hello', '$.version >= 3'] });
    assert.equal(r.reason, '');
    const bad = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${port}/hello`, conditions: ['$.version >= 4'] });
    assert.match(bad.reason, /\$\.version is 3/);
  });

  it('a refused upgrade, a close before the expected message, a reply that never matches, a too large message', async () => {
    const denied = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${port}/private` });
    assert.equal(denied.reason, 'the server answered the WebSocket upgrade with HTTP 401, expected 101');
    assert.equal(sample(denied, 'probe_http_status_code'), 401);
    const authed = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${port}/private`, headers: { authorization: 'Bearer t' } });
    assert.equal(authed.reason, '');
    const closed = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${port}/silent-close`, send: 'ping', expect: 'pong' });
    assert.match(closed.reason, /^expected \/pong\/ but the server closed the connection \(code 1011: going away\)/);
    const never = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${port}/`, send: 'hi', expect: 'pong', timeout: '500ms' });
    assert.equal(never.reason, 'timeout after 500ms during waiting for the expected message');
    assert.equal(sample(never, 'probe_failed_due_to_regex'), 1);
    const big = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${port}/`, send: 'big', expect: 'x' });
    assert.match(big.reason, /exceeds body_size_limit/);
    const cp = await closedPort();
    const refused = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${cp}/` });
    assert.match(refused.reason, /refused/);
  });

  it('resolves the host name like the other socket probes: DNS time, address family, ip_protocol choice', async () => {
    const r = await runOne({ type: 'websocket', target: `ws://localhost:${port}/`, preferred_ip_protocol: 'ip4' });
    assert.equal(r.reason, '');
    assert.equal(sample(r, 'probe_ip_protocol'), 4);
    assert.ok(sample(r, 'probe_dns_lookup_time_seconds')! >= 0);
    const lit = await runOne({ type: 'websocket', target: `ws://127.0.0.1:${port}/` });
    assert.equal(sample(lit, 'probe_dns_lookup_time_seconds'), 0);
    const none = await runOne({ type: 'websocket', target: 'ws://no-such-host.invalid/' });
    assert.equal(none.reason, 'DNS lookup of no-such-host.invalid failed: no such host');
    // An IPv4 literal with IPv6 required and no fallback: the choice is enforced before connecting.
    const v6 = await runOne({ type: 'websocket', target: `ws://localhost:${port}/`, preferred_ip_protocol: 'ip6', ip_protocol_fallback: false });
    if (v6.success) assert.equal(sample(v6, 'probe_ip_protocol'), 6);
    else assert.match(v6.reason, /ip6|::1|refused/);
  });

  it('wss: verified against the CA, with the certificate expiry', async () => {
    const certs = makeCerts();
    const server = https.createServer({ cert: certs.good.cert, key: certs.good.key });
    const secure = new WebSocketServer({ server });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sp = (server.address() as { port: number }).port;
    try {
      const r = await runOne({ type: 'websocket', target: `wss://localhost:${sp}/`, tls_config: { ca_file: certs.caFile }, conditions: ['[CERTIFICATE_EXPIRATION] > 20d'] });
      assert.equal(r.reason, '');
      const days = (sample(r, 'probe_ssl_earliest_cert_expiry')! - Date.now() / 1000) / 86400;
      assert.ok(days > 29 && days < 31, `expiry in ${days} days`);
      const untrusted = await runOne({ type: 'websocket', target: `wss://localhost:${sp}/` });
      assert.equal(untrusted.success, false);
      assert.match(untrusted.reason, /TLS/);
    } finally {
      for (const c of secure.clients) c.terminate();
      secure.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      certs.cleanup();
    }
  });

  it('rejects a non-ws target and a bad expect regex', () => {
    assert.match(probeErrors(`  - {name: w, type: websocket, target: "http://x/"}\n`).join('\n'), /scheme must be ws or wss/);
    assert.match(probeErrors(`  - {name: w, type: websocket, target: "ws://x/", expect: "(a"}\n`).join('\n'), /expect/);
  });
});

const noPing = needBinary('ping');
const PING = noPing ? '' : binaryPath('ping');
const isRoot = process.getuid?.() === 0;
const SETPRIV = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : '';

describe('icmp probes', () => {
  it('reads iputils ping summaries', () => {
    const s = parsePing('PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.\n64 bytes from 10.0.0.1: icmp_seq=1 ttl=63 time=0.5 ms\n\n--- 10.0.0.1 ping statistics ---\n3 packets transmitted, 1 received, 66.6667% packet loss, time 404ms\nrtt min/avg/max/mdev = 0.500/0.500/0.500/0.000 ms\n');
    assert.deepEqual(s, { sent: 3, received: 1, rtt: { min: 0.5, avg: 0.5, max: 0.5, mdev: 0 }, ttl: 63 });
    assert.deepEqual(parsePing('--- x ping statistics ---\n2 packets transmitted, 0 received, 100% packet loss, time 1001ms\n'), { sent: 2, received: 0 });
    assert.equal(parsePing('garbage'), null);
  });

  it('pings loopback: loss and round-trip time', { skip: noPing }, async () => {
    const r = await runOne({ type: 'icmp', target: '127.0.0.1', count: 2, conditions: ['[RESPONSE_TIME] < 1s'] });
    assert.equal(r.reason, '');
    assert.equal(sample(r, 'probe_icmp_packets_sent'), 2);
    assert.equal(sample(r, 'probe_icmp_packets_received'), 2);
    assert.equal(sample(r, 'probe_icmp_packet_loss_ratio'), 0);
    assert.ok(sample(r, 'probe_icmp_duration_seconds', 'rtt')! >= 0);
    assert.ok(sample(r, 'probe_icmp_reply_hop_limit')! > 0);
  });

  it('without privilege the run fails saying what ICMP needs', { skip: noPing || ((!isRoot || SETPRIV === '') && 'needs root and setpriv to run ping as nobody without its capability') }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-ping-'));
    try {
      // A copy of ping loses its file capability; run as nobody it has no privilege at all.
      copyFileSync(PING, join(dir, 'ping'));
      chmodSync(dir, 0o755);
      chmodSync(join(dir, 'ping'), 0o755);
      const wrapper = join(dir, 'ping-as-nobody');
      writeFileSync(wrapper, `#!/bin/sh\nexec ${SETPRIV} --reuid=65534 --regid=65534 --clear-groups ${join(dir, 'ping')} "$@"\n`);
      chmodSync(wrapper, 0o755);
      const r = await runOne({ type: 'icmp', target: '127.0.0.1', count: 1, ping_command: wrapper });
      assert.equal(r.success, false);
      assert.match(r.reason, /^ping 127\.0\.0\.1: ICMP needs privilege: .*cap_net_raw.*\(ping said: .+\)$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing ping program and an unresolvable host fail naming them', async () => {
    const r = await runOne({ type: 'icmp', target: '127.0.0.1', ping_command: 'patrol-no-such-ping' });
    assert.equal(r.reason, 'the ping program "patrol-no-such-ping" is not installed or not on PATH (Debian: apt-get install iputils-ping)');
    const n = await runOne({ type: 'icmp', target: 'no-such-host.invalid' });
    assert.equal(n.success, false);
    assert.match(n.reason, /no-such-host\.invalid/);
  });

  it('rejects bad targets and conditions', () => {
    assert.match(probeErrors(`  - {name: i, type: icmp, target: "-f"}\n`).join('\n'), /is not a host name or IP address/);
    assert.match(probeErrors(`  - {name: i, type: icmp, target: "x", conditions: ['[STATUS] == 200']}\n`).join('\n'), /\[STATUS\] is not available for icmp probes/);
  });
});
