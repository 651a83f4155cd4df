// A small UDP DNS server for the dns_sd tests: answers A, AAAA, SRV, MX and NS questions from a
// zone the test may change between lookups.

import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export type TestRecord = { type: 'A'; ip: string } | { type: 'AAAA'; ip: string } | { type: 'SRV'; target: string; port: number; priority?: number; weight?: number } | { type: 'MX'; exchange: string; priority?: number } | { type: 'NS'; host: string };

const TYPE_CODES = { A: 1, NS: 2, MX: 15, AAAA: 28, SRV: 33 } as const;

export interface TestDns {
  /** `127.0.0.1:port`, for DnsDiscovery's servers. */
  server: string;
  /** Lower-case name → records. Names not present get NXDOMAIN. */
  zone: Map<string, TestRecord[]>;
  /** Names answered with SERVFAIL. */
  servfail: Set<string>;
  queries: number;
  close(): Promise<void>;
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((p) => p !== '');
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'ascii')])), Buffer.from([0])]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function rdata(r: TestRecord): Buffer {
  switch (r.type) {
    case 'A':
      return Buffer.from(r.ip.split('.').map(Number));
    case 'AAAA': {
      const [head, tail] = r.ip.split('::');
      const h = head ? head.split(':') : [];
      const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
      const groups = r.ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : r.ip.split(':');
      return Buffer.concat(groups.map((g) => u16(parseInt(g || '0', 16))));
    }
    case 'SRV':
      return Buffer.concat([u16(r.priority ?? 10), u16(r.weight ?? 5), u16(r.port), encodeName(r.target)]);
    case 'MX':
      return Buffer.concat([u16(r.priority ?? 10), encodeName(r.exchange)]);
    case 'NS':
      return encodeName(r.host);
  }
}

export async function startTestDns(): Promise<TestDns> {
  const sock = dgram.createSocket('udp4');
  const dns: TestDns = {
    server: '',
    zone: new Map(),
    servfail: new Set(),
    queries: 0,
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
  sock.on('message', (msg, rinfo) => {
    dns.queries++;
    if (msg.length < 12) return;
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off] !== 0) {
      labels.push(msg.subarray(off + 1, off + 1 + msg[off]).toString('ascii'));
      off += 1 + msg[off];
    }
    off += 1;
    const qtype = msg.readUInt16BE(off);
    const question = msg.subarray(12, off + 4);
    const name = labels.join('.').toLowerCase();
    const records = dns.zone.get(name);
    const rcode = dns.servfail.has(name) ? 2 : records ? 0 : 3;
    const answers = rcode === 0 ? (records ?? []).filter((r) => TYPE_CODES[r.type] === qtype) : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8180 | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const rrs = answers.map((r) => {
      const data = rdata(r);
      const fixed = Buffer.alloc(10);
      fixed.writeUInt16BE(TYPE_CODES[r.type], 0);
      fixed.writeUInt16BE(1, 2);
      fixed.writeUInt32BE(60, 4);
      fixed.writeUInt16BE(data.length, 8);
      return Buffer.concat([Buffer.from([0xc0, 0x0c]), fixed, data]);
    });
    sock.send(Buffer.concat([header, question, ...rrs]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  dns.server = `127.0.0.1:${(sock.address() as AddressInfo).port}`;
  return dns;
}
