import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseConfig } from '../config/load.js';
import type { DnsSDConfig } from '../config/prometheus.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN } from '../model/value.js';
import { MemoryStorage } from '../storage/memory.js';
import type { TargetGroup } from './discovery.js';
import { DnsDiscovery } from './discovery_dns.js';
import { ScrapeManager } from './manager.js';
import { startTestDns, type TestDns } from '../testing/dns.js';
import { config, read, serve, waitFor } from './testutil.js';

const log = pino({ level: 'silent' });

function parse(yaml: string): { cfg?: DnsSDConfig; errors: string[] } {
  const r = parseConfig(`scrape_configs:\n  - job_name: j\n    dns_sd_configs:\n${yaml}`, 'p.yml');
  return r.ok ? { cfg: r.config.scrape_configs[0].dns_sd_configs[0], errors: [] } : { errors: r.errors.map(String) };
}

describe('dns_sd: configuration', () => {
  it('defaults to SRV every 30s; the type is case-insensitive', () => {
    assert.deepEqual(parse('      - names: [_x._tcp.example]\n').cfg, { names: ['_x._tcp.example'], type: 'SRV', refresh_interval: 30_000 });
    assert.equal(parse('      - {names: [a.example], type: aaaa, port: 80}\n').cfg?.type, 'AAAA');
  });
  it('requires names, a known type, and a port for every type but SRV', () => {
    assert.match(parse('      - names: []\n').errors.join('\n'), /dns_sd_configs\[0\]\.names: DNS-SD config must contain at least one name/);
    assert.match(parse('      - {names: [a.example], type: PTR}\n').errors.join('\n'), /dns_sd_configs\[0\]\.type: "PTR" is not one of "SRV", "A", "AAAA", "MX", "NS"/);
    for (const t of ['A', 'AAAA', 'MX', 'NS']) {
      assert.match(parse(`      - {names: [a.example], type: ${t}}\n`).errors.join('\n'), /dns_sd_configs\[0\]\.port: a port is required in DNS-SD configs for all record types except SRV/, t);
    }
    assert.deepEqual(parse('      - {names: [a.example], type: MX, port: 25}\n').errors, []);
  });
});

describe('dns_sd: against a local DNS server', () => {
  let dns: TestDns;
  before(async () => {
    dns = await startTestDns();
  });
  after(async () => {
    await dns.close();
  });

  async function lookupOnce(cfg: Omit<DnsSDConfig, 'refresh_interval'>): Promise<{ groups: TargetGroup[]; error: string }> {
    let groups: TargetGroup[] = [];
    const d = new DnsDiscovery({ ...cfg, refresh_interval: 3_600_000 }, (g) => (groups = g), log, [dns.server]);
    await d.start();
    d.stop();
    return { groups, error: d.lastError };
  }

  const empty = { __meta_dns_srv_record_target: '', __meta_dns_srv_record_port: '', __meta_dns_mx_record_target: '', __meta_dns_ns_record_target: '' };

  it('SRV: one target per record, at the record target and port', async () => {
    dns.zone.set('_node._tcp.sd.test', [
      { type: 'SRV', value: 'n1.sd.test', port: 9100 },
      { type: 'SRV', value: 'n2.sd.test', port: 9101 },
    ]);
    const r = await lookupOnce({ names: ['_node._tcp.sd.test'], type: 'SRV' });
    assert.equal(r.error, '');
    assert.equal(r.groups.length, 1);
    assert.equal(r.groups[0].source, '_node._tcp.sd.test');
    const ts = [...r.groups[0].targets].sort((a, b) => a.__address__.localeCompare(b.__address__));
    assert.deepEqual(ts, [
      { ...empty, __address__: 'n1.sd.test:9100', __meta_dns_name: '_node._tcp.sd.test', __meta_dns_srv_record_target: 'n1.sd.test.', __meta_dns_srv_record_port: '9100' },
      { ...empty, __address__: 'n2.sd.test:9101', __meta_dns_name: '_node._tcp.sd.test', __meta_dns_srv_record_target: 'n2.sd.test.', __meta_dns_srv_record_port: '9101' },
    ]);
  });

  it('A and AAAA: each address at the configured port', async () => {
    dns.zone.set('web.sd.test', [
      { type: 'A', value: '192.0.2.7' },
      { type: 'AAAA', value: '2001:db8::7' },
    ]);
    const a = await lookupOnce({ names: ['web.sd.test'], type: 'A', port: 8080 });
    assert.deepEqual(a.groups[0].targets, [{ ...empty, __address__: '192.0.2.7:8080', __meta_dns_name: 'web.sd.test' }]);
    const aaaa = await lookupOnce({ names: ['web.sd.test'], type: 'AAAA', port: 8080 });
    assert.deepEqual(aaaa.groups[0].targets, [{ ...empty, __address__: '[2001:db8::7]:8080', __meta_dns_name: 'web.sd.test' }]);
  });

  it('MX and NS: the record target at the configured port', async () => {
    dns.zone.set('mail.sd.test', [
      { type: 'MX', value: 'mx1.sd.test', priority: 10 },
      { type: 'NS', value: 'ns1.sd.test' },
    ]);
    const mx = await lookupOnce({ names: ['mail.sd.test'], type: 'MX', port: 25 });
    assert.deepEqual(mx.groups[0].targets, [{ ...empty, __address__: 'mx1.sd.test:25', __meta_dns_name: 'mail.sd.test', __meta_dns_mx_record_target: 'mx1.sd.test.' }]);
    const ns = await lookupOnce({ names: ['mail.sd.test'], type: 'NS', port: 53 });
    assert.deepEqual(ns.groups[0].targets, [{ ...empty, __address__: 'ns1.sd.test:53', __meta_dns_name: 'mail.sd.test', __meta_dns_ns_record_target: 'ns1.sd.test.' }]);
  });

  it('NXDOMAIN and an empty answer mean no targets, without error', async () => {
    const nx = await lookupOnce({ names: ['missing.sd.test'], type: 'A', port: 80 });
    assert.equal(nx.error, '');
    assert.deepEqual(nx.groups, [{ source: 'missing.sd.test', targets: [] }]);
    dns.zone.set('only-a.sd.test', [{ type: 'A', value: '192.0.2.1' }]);
    const none = await lookupOnce({ names: ['only-a.sd.test'], type: 'SRV' });
    assert.equal(none.error, '');
    assert.deepEqual(none.groups, [{ source: 'only-a.sd.test', targets: [] }]);
  });

  it('a failing name keeps its last good targets while the other names update', async () => {
    dns.zone.set('one.sd.test', [{ type: 'A', value: '192.0.2.1' }]);
    dns.zone.set('two.sd.test', [{ type: 'A', value: '192.0.2.2' }]);
    const seen: TargetGroup[][] = [];
    const d = new DnsDiscovery({ names: ['one.sd.test', 'two.sd.test'], type: 'A', port: 9, refresh_interval: 3_600_000 }, (g) => seen.push(g), log, [dns.server]);
    const addrs = (gs: TargetGroup[]) => gs.flatMap((g) => g.targets.map((t) => t.__address__)).sort();
    try {
      await d.start();
      assert.deepEqual(addrs(seen[seen.length - 1]), ['192.0.2.1:9', '192.0.2.2:9']);
      dns.servfail.add('one.sd.test');
      dns.zone.set('one.sd.test', [{ type: 'A', value: '192.0.2.99' }]);
      dns.zone.set('two.sd.test', [{ type: 'A', value: '192.0.2.3' }]);
      await d.refresh();
      assert.match(d.lastError, /A lookup of "one\.sd\.test" failed: ESERVFAIL/);
      assert.deepEqual(addrs(seen[seen.length - 1]), ['192.0.2.1:9', '192.0.2.3:9']);
      dns.servfail.delete('one.sd.test');
      await d.refresh();
      assert.equal(d.lastError, '');
      assert.deepEqual(addrs(seen[seen.length - 1]), ['192.0.2.3:9', '192.0.2.99:9']);
    } finally {
      d.stop();
    }
  });

  it('in the scrape manager: scrapes the addresses found, keeps them through SERVFAIL, counts it, drops a target whose record goes away', async () => {
    const target = await serve((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('dns_scraped 1\n');
    });
    dns.zone.set('app.sd.test', [{ type: 'A', value: '127.0.0.1' }]);
    const storage = new MemoryStorage();
    const registry = new Registry();
    const m = new ScrapeManager({ storage, logger: log, registry }, { dnsServers: [dns.server] });
    const metric = async (name: string, labels: string): Promise<number | undefined> => {
      const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    const yaml = `scrape_configs:
  - job_name: dnssd
    scrape_interval: 100ms
    scrape_timeout: 90ms
    dns_sd_configs: [{names: [app.sd.test], type: A, port: ${target.port}, refresh_interval: 200ms}]
    relabel_configs:
      - {source_labels: [__meta_dns_name], target_label: service}
`;
    try {
      await m.applyConfig(config(yaml), { dir: '.' });
      const s = await waitFor(() => read(storage, 'dns_scraped')[0], 'first scrape of the DNS target');
      assert.deepEqual(s.labels, { __name__: 'dns_scraped', instance: `127.0.0.1:${target.port}`, job: 'dnssd', service: 'app.sd.test' });
      assert.equal(await metric('patrol_sd_discovered_targets', 'job="dnssd"'), 1);
      assert.ok((await metric('patrol_sd_refreshes_total', 'mechanism="dns_sd"'))! >= 1);

      dns.servfail.add('app.sd.test');
      await waitFor(async () => (((await metric('patrol_sd_refresh_failures_total', 'mechanism="dns_sd"')) ?? 0) >= 1 ? true : undefined), 'failed lookup counted');
      assert.match(m.discoveryErrors()[0]?.error ?? '', /ESERVFAIL/);
      assert.equal(m.activeTargets().length, 1, 'the target stays while DNS fails');
      const n = read(storage, 'dns_scraped')[0].values.length;
      await waitFor(() => (read(storage, 'dns_scraped')[0].values.length > n ? true : undefined), 'scrapes go on while DNS fails');
      dns.servfail.delete('app.sd.test');

      dns.zone.set('app.sd.test', []);
      // The target is dropped, and its `up` ends in a stale marker, which only the removal writes
      // (a stale marker on dns_scraped alone is no sign: a scrape timed out under load writes one).
      const last = (name: string) => {
        const v = read(storage, name, new Matcher('=', 'job', 'dnssd'))[0].values;
        return v[v.length - 1];
      };
      await waitFor(() => (m.activeTargets().length === 0 && isStaleNaN(last('up')) && isStaleNaN(last('dns_scraped')) ? true : undefined), 'target removed from DNS dropped, its up and series stale');
    } finally {
      await m.stop();
      await target.close();
    }
  });
});
