// A small UDP DNS server for tests (DNS probes, dns_sd_configs): answers A, AAAA, CNAME, NS, MX,
// TXT and SRV questions from a zone the test may change between lookups.

import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export type TestRecord =
  | { type: 'A' | 'AAAA' | 'CNAME' | 'NS' | 'TXT'; value: string }
  | { type: 'MX'; value: string; priority?: number }
  | { type: 'SRV'; value: string; port: number; priority?: number; weight?: number };

const TYPE_CODES = { A: 1, NS: 2, CNAME: 5, MX: 15, TXT: 16, AAAA: 28, SRV: 33 } as const;

export interface TestDns {
  port: number;
  /** `127.0.0.1:port`, for a resolver's servers. */
  server: string;
  /** Lower-case name → records. Names not present get NXDOMAIN. */
  zone: Map<string, TestRecord[]>;
  /** Names answered with SERVFAIL. */
  servfail: Set<string>;
  /** Names never answered. */
  silent: Set<string>;
  /** Questions received so far. */
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
      return Buffer.from(r.value.split('.').map(Number));
    case 'AAAA': {
      const [head, tail] = r.value.split('::');
      const h = head ? head.split(':') : [];
      const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
      const groups = r.value.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : r.value.split(':');
      return Buffer.concat(groups.map((g) => u16(parseInt(g || '0', 16))));
    }
    case 'CNAME':
    case 'NS':
      return encodeName(r.value);
    case 'TXT':
      return Buffer.concat([Buffer.from([Buffer.byteLength(r.value)]), Buffer.from(r.value)]);
    case 'MX':
      return Buffer.concat([u16(r.priority ?? 10), encodeName(r.value)]);
    case 'SRV':
      return Buffer.concat([u16(r.priority ?? 10), u16(r.weight ?? 5), u16(r.port), encodeName(r.value)]);
  }
}

export async function startTestDns(zone: Record<string, TestRecord[]> = {}, opts: { servfail?: string[]; silent?: string[] } = {}): Promise<TestDns> {
  const sock = dgram.createSocket('udp4');
  const dns: TestDns = {
    port: 0,
    server: '',
    zone: new Map(Object.entries(zone)),
    servfail: new Set(opts.servfail),
    silent: new Set(opts.silent),
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
    if (dns.silent.has(name)) return;
    const records = dns.zone.get(name);
    const rcode = dns.servfail.has(name) ? 2 : records ? 0 : 3;
    const answers = rcode === 0 ? (records ?? []).filter((r) => TYPE_CODES[r.type] === qtype) : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8180 | rcode, 2); // a response; recursion desired and available
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
  dns.port = (sock.address() as AddressInfo).port;
  dns.server = `127.0.0.1:${dns.port}`;
  return dns;
}
