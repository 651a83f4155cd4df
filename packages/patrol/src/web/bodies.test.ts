import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';

/** A raw connection that sends a request head and collects what comes back until it closes. */
function open(addr: string, head: string): { socket: Socket; answer: Promise<string> } {
  const [host, port] = addr.split(':');
  const socket = connect(Number(port), host);
  socket.write(head);
  let got = '';
  const answer = new Promise<string>((ok) => {
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('close', () => ok(got));
    socket.on('error', () => undefined);
  });
  return { socket, answer };
}

const head = (length: number | 'chunked') =>
  `POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nConnection: close\r\n` +
  (length === 'chunked' ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${length}\r\n`) +
  '\r\n';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('request bodies: time and in-flight bytes bounded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-bodies-'));
  let patrol: Patrol;
  const sockets: Socket[] = [];

  before(async () => {
    const file = join(dir, 'patrol.yml');
    writeFileSync(file, 'server:\n  request_timeout: 1s\n  max_inflight_body_bytes: 1MB\n');
    patrol = new Patrol({ configFile: file, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('warn', new PassThrough()) });
    await patrol.start();
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await patrol.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('cuts a trickling body after server.request_timeout with 408 and closes the connection', async () => {
    const { socket, answer } = open(patrol.listen, head(100_000));
    sockets.push(socket);
    const trickle = setInterval(() => socket.writable && socket.write('x'), 100);
    try {
      // Bounded: without the timeout this would wait for the test runner's own limit.
      const got = await Promise.race([answer, tick(20_000).then(() => 'still open after 20 s')]);
      assert.match(got, /^HTTP\/1\.1 408 /);
      assert.match(got, /request body not received within server\.request_timeout \(1s\)/);
    } finally {
      clearInterval(trickle);
    }
  });

  it('refuses bodies over the in-flight budget with 503 and gives the bytes back', async () => {
    // Two unfinished bodies hold 800 KB of the 1 MB budget.
    const held = [open(patrol.listen, head(500_000)), open(patrol.listen, head(500_000))];
    for (const h of held) {
      sockets.push(h.socket);
      h.socket.write(Buffer.alloc(400_000, 1));
    }
    for (let i = 0; i < 100 && patrol.bodyBudget.used < 800_000; i++) await tick(20);
    assert.equal(patrol.bodyBudget.used, 800_000);

    // A declared length that does not fit is refused before its body is read.
    const declared = open(patrol.listen, head(300_000));
    sockets.push(declared.socket);
    assert.match(await declared.answer, /^HTTP\/1\.1 503 [\s\S]*server\.max_inflight_body_bytes/);

    // A chunked body is refused once its bytes go over.
    const chunked = open(patrol.listen, head('chunked'));
    sockets.push(chunked.socket);
    const piece = Buffer.alloc(100_000, 2);
    for (let i = 0; i < 4 && !chunked.socket.destroyed; i++) chunked.socket.write(`${piece.length.toString(16)}\r\n${piece.toString('latin1')}\r\n`);
    assert.match(await chunked.answer, /^HTTP\/1\.1 503 /);
    assert.ok(patrol.bodyBudget.refused >= 2);

    // Abandoned bodies give their bytes back.
    for (const h of held) h.socket.destroy();
    for (let i = 0; i < 100 && patrol.bodyBudget.used > 0; i++) await tick(20);
    assert.equal(patrol.bodyBudget.used, 0);

    // And a body that fits is read again (an empty snappy body is a 400 from the decoder, not a 503).
    const ok = open(patrol.listen, head(1) + 'x');
    sockets.push(ok.socket);
    const got = await Promise.race([ok.answer, tick(5000).then(() => '')]);
    ok.socket.destroy();
    assert.doesNotMatch(got, /^HTTP\/1\.1 503/);
    assert.match(got, /^HTTP\/1\.1 4\d\d /);
  });
});
