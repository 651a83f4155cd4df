// Real local servers for probe tests: HTTP, HTTPS with certificates made by the openssl CLI,
// raw TCP, and a small UDP DNS server. All listen on 127.0.0.1 port 0.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface Running {
  port: number;
  close(): Promise<void>;
}

function portOf(s: net.Server): number {
  return (s.address() as AddressInfo).port;
}

/** Closes a server and destroys its open connections (hanging clients included). */
function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

function track(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  return sockets;
}

export async function startHttp(handler: http.RequestListener): Promise<Running & { url: string }> {
  const server = http.createServer(handler);
  const sockets = track(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = portOf(server);
  return { port, url: `http://127.0.0.1:${port}`, close: closer(server, sockets) };
}

export async function startHttps(cert: { cert: string; key: string }, handler: http.RequestListener): Promise<Running & { url: string }> {
  const server = https.createServer({ cert: cert.cert, key: cert.key }, handler);
  const sockets = track(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = portOf(server);
  return { port, url: `https://127.0.0.1:${port}`, close: closer(server, sockets) };
}

export async function startTcp(onConn: (s: net.Socket) => void): Promise<Running> {
  const server = net.createServer(onConn);
  const sockets = track(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: portOf(server), close: closer(server, sockets) };
}

/** A port nothing listens on (bound then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = portOf(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---- certificates ----

export interface CertSet {
  dir: string;
  caFile: string;
  ca: string;
  /** Signed by the CA for localhost and 127.0.0.1, valid 30 days. */
  good: { cert: string; key: string };
  /** Signed by the CA, valid 6 days. */
  short: { cert: string; key: string };
  /** Signed by the CA, already expired. */
  expired: { cert: string; key: string };
  /** Signed by the CA for other.example only. */
  wrongHost: { cert: string; key: string };
  /** Self-signed for localhost. */
  selfSigned: { cert: string; key: string };
  cleanup(): void;
}

export function makeCerts(): CertSet {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-certs-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '60', '-subj', '/CN=Patrol Test CA']);
  const leaf = (name: string, days: number, san: string) => {
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
    run(['req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
    return { cert: readFileSync(join(dir, `${name}.pem`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
  };
  const local = 'DNS:localhost,IP:127.0.0.1';
  const good = leaf('good', 30, local);
  const short = leaf('short', 6, local);
  const expired = leaf('expired', -1, local);
  const wrongHost = leaf('wrong', 30, 'DNS:other.example');
  run(['req', '-x509', ...ec, '-keyout', 'self.key', '-out', 'self.pem', '-days', '30', '-subj', '/CN=localhost', '-addext', `subjectAltName=${local}`]);
  const selfSigned = { cert: readFileSync(join(dir, 'self.pem'), 'utf8'), key: readFileSync(join(dir, 'self.key'), 'utf8') };
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    good,
    short,
    expired,
    wrongHost,
    selfSigned,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

