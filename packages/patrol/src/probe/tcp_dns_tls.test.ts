import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { closedPort, makeCerts, startTcp, type CertSet, type Running } from './testdata/servers.js';
import { needBinary } from '../testing/shared.js';
import { runOne, sample } from './testdata/helpers.js';
import { startTestDns } from '../testing/dns.js';

describe('tcp probe', () => {
  let echo: Running;
  let banner: Running;
  let silent: Running;
  before(async () => {
    echo = await startTcp((s) => s.on('data', (d) => s.write(`echo:${d.toString()}`)));
    banner = await startTcp((s) => {
      s.write('220 smtp ready\r\n');
      setTimeout(() => s.end(), 10);
    });
    silent = await startTcp(() => undefined);
  });
  after(async () => {
    await echo.close();
    await banner.close();
    await silent.close();
  });

  it('connects', async () => {
    const r = await runOne({ type: 'tcp', target: `127.0.0.1:${echo.port}` });
    assert.equal(r.success, true, r.reason);
    assert.equal(sample(r, 'probe_ip_protocol'), 4);
  });

  it('send and expect', async () => {
    const r = await runOne({ type: 'tcp', target: `127.0.0.1:${echo.port}`, send: 'PING\n', expect: '^echo:PING' });
    assert.equal(r.success, true, r.reason);
    assert.equal(sample(r, 'probe_failed_due_to_regex'), 0);
  });

  it('expect not met before the peer closes', async () => {
    const r = await runOne({ type: 'tcp', target: `127.0.0.1:${banner.port}`, expect: '^SSH-' });
    assert.equal(r.success, false);
    assert.equal(r.reason, 'connection closed before /^SSH-/ was received (got "220 smtp ready\\r\\n")');
    assert.equal(sample(r, 'probe_failed_due_to_regex'), 1);
  });

  it('conditions on what was received', async () => {
    const r = await runOne({ type: 'tcp', target: `127.0.0.1:${banner.port}`, conditions: ['[CONNECTED] == true', '[BODY] contains "220"'] });
    assert.equal(r.success, true, r.reason);
  });

  it('expect with a silent peer is cut off at the timeout', async () => {
    const r = await runOne({ type: 'tcp', target: `127.0.0.1:${silent.port}`, expect: 'hello', timeout: '1s' });
    assert.equal(r.reason, 'timeout after 1s during waiting for the expected reply');
  });

  it('connection refused', async () => {
    const port = await closedPort();
    const r = await runOne({ type: 'tcp', target: `127.0.0.1:${port}` });
    assert.equal(r.reason, `connection refused by 127.0.0.1:${port}`);
  });

  it('unreachable address fails within the timeout', async () => {
    // TEST-NET-1 is not routed; depending on the sandbox this is a timeout or unreachable.
    const r = await runOne({ type: 'tcp', target: '192.0.2.1:9', timeout: '500ms' });
    assert.equal(r.success, false);
    // This sandbox answers with a reset (refused); a real network drops the SYN (timeout).
    assert.match(r.reason, /timeout after 500ms during connect|unreachable|refused by 192\.0\.2\.1:9/);
  });
});

describe('tls and tcp+tls probes', { skip: needBinary('openssl') }, () => {
  let certs: CertSet;
  const servers: tls.Server[] = [];
  before(() => {
    certs = makeCerts();
  });
  after(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    certs.cleanup();
  });
  const serve = async (c: { cert: string; key: string }, onConn: (s: tls.TLSSocket) => void = (s) => s.end()) => {
    const s = tls.createServer({ cert: c.cert, key: c.key }, onConn);
    s.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    return (s.address() as import('node:net').AddressInfo).port;
  };

  it('valid chain and host name, expiry metrics and condition', async () => {
    const port = await serve(certs.good);
    const r = await runOne({ type: 'tls', target: `localhost:${port}`, tls_config: { ca_file: certs.caFile }, conditions: ['[CONNECTED] == true', '[CERTIFICATE_EXPIRATION] > 14d'] });
    assert.equal(r.success, true, r.reason);
    assert.ok(sample(r, 'probe_ssl_earliest_cert_expiry')! > Date.now() / 1000 + 20 * 86400);
    assert.equal(sample(r, 'probe_tls_version_info', 'TLS 1.3'), 1);
  });

  it('days to expiry below the minimum', async () => {
    const port = await serve(certs.short);
    const r = await runOne({ type: 'tls', target: `127.0.0.1:${port}`, tls_config: { ca_file: certs.caFile }, conditions: ['[CERTIFICATE_EXPIRATION] > 14d'] });
    assert.match(r.reason, /^certificate expires in [56] days, minimum 14$/);
  });

  it('expired, self-signed, wrong host', async () => {
    const expired = await serve(certs.expired);
    assert.equal((await runOne({ type: 'tls', target: `localhost:${expired}`, tls_config: { ca_file: certs.caFile } })).reason, 'TLS: certificate has expired');
    const self = await serve(certs.selfSigned);
    assert.equal((await runOne({ type: 'tls', target: `localhost:${self}` })).reason, 'TLS: self-signed certificate');
    const wrong = await serve(certs.wrongHost);
    assert.match((await runOne({ type: 'tls', target: `localhost:${wrong}`, tls_config: { ca_file: certs.caFile } })).reason, /^TLS: certificate does not match the host name/);
    // With verification off, expiry is still measured and judged.
    const r = await runOne({ type: 'tls', target: `localhost:${expired}`, tls_config: { insecure_skip_verify: true }, conditions: ['[CERTIFICATE_EXPIRATION] > 1d'] });
    assert.match(r.reason, /^certificate expired [01](\.\d)? days ago$/);
  });

  it('a plain TCP server is a TLS failure, not a crash', async () => {
    const plain = await startTcp((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const r = await runOne({ type: 'tls', target: `127.0.0.1:${plain.port}` });
    assert.equal(r.success, false);
    assert.match(r.reason, /TLS|closed|reset/);
    await plain.close();
  });

  it('tcp with tls, send and expect', async () => {
    const port = await serve(certs.good, (s) => s.on('data', (d) => s.end(`+OK ${d.toString()}`)));
    const r = await runOne({ type: 'tcp', target: `localhost:${port}`, tls: true, tls_config: { ca_file: certs.caFile }, send: 'hi\n', expect: '^\\+OK hi', conditions: ['[CERTIFICATE_EXPIRATION] > 7d'] });
    assert.equal(r.success, true, r.reason);
    assert.ok(sample(r, 'probe_ssl_earliest_cert_expiry')! > 0);
  });
});

describe('dns probe against a local UDP DNS server', () => {
  let dns: Awaited<ReturnType<typeof startTestDns>>;
  before(async () => {
    dns = await startTestDns(
      {
        'api.test': [
          { type: 'A', value: '10.0.0.1' },
          { type: 'A', value: '10.0.0.2' },
          { type: 'AAAA', value: 'fd00::1' },
          { type: 'TXT', value: 'v=spf1 -all' },
          { type: 'MX', value: 'mail.test', priority: 10 },
        ],
        'www.test': [{ type: 'CNAME', value: 'api.test' }],
        'empty.test': [{ type: 'TXT', value: 'x' }],
      },
      { servfail: ['broken.test'], silent: ['slow.test'] },
    );
  });
  after(() => dns.close());
  const resolver = () => `127.0.0.1:${dns.port}`;

  it('A records with expected answers', async () => {
    const r = await runOne({ type: 'dns', target: 'api.test', resolver: resolver(), conditions: ['[DNS_RCODE] == NOERROR', '[ANSWER] contains 10.0.0.2', '[ANSWER] == [10.0.0.1, 10.0.0.2]', '[ANSWER_COUNT] == 2'] });
    assert.equal(r.success, true, r.reason);
    assert.equal(sample(r, 'probe_dns_answer_rrs'), 2);
    assert.ok(sample(r, 'probe_dns_lookup_time_seconds')! >= 0);
  });

  it('AAAA, CNAME, MX, TXT', async () => {
    for (const [type, name, want] of [
      ['AAAA', 'api.test', 'fd00::1'],
      ['CNAME', 'www.test', 'api.test'],
      ['MX', 'api.test', '10 mail.test'],
      ['TXT', 'api.test', 'v=spf1 -all'],
    ]) {
      const r = await runOne({ type: 'dns', target: name, query_type: type, resolver: resolver(), conditions: [`[ANSWER] contains "${want}"`] });
      assert.equal(r.success, true, `${type}: ${r.reason}`);
    }
  });

  it('unexpected answer', async () => {
    const r = await runOne({ type: 'dns', target: 'api.test', resolver: resolver(), conditions: ['[ANSWER] contains 10.9.9.9'] });
    assert.equal(r.reason, 'answers [10.0.0.1, 10.0.0.2] do not contain 10.9.9.9');
  });

  it('NXDOMAIN, SERVFAIL and no data by default', async () => {
    assert.equal((await runOne({ type: 'dns', target: 'nope.test', resolver: resolver() })).reason, 'rcode NXDOMAIN, expected NOERROR');
    assert.equal((await runOne({ type: 'dns', target: 'broken.test', resolver: resolver() })).reason, 'rcode SERVFAIL, expected NOERROR');
    assert.equal((await runOne({ type: 'dns', target: 'empty.test', resolver: resolver() })).reason, '0 answers, expected > 0');
    const nx = await runOne({ type: 'dns', target: 'nope.test', resolver: resolver(), conditions: ['[DNS_RCODE] == NXDOMAIN'] });
    assert.equal(nx.success, true, nx.reason);
  });

  it('a resolver that never answers is cut off at the timeout', async () => {
    const r = await runOne({ type: 'dns', target: 'slow.test', resolver: resolver(), timeout: '1s' });
    assert.equal(r.success, false);
    assert.match(r.reason, /timeout after 1s during DNS query|DNS query timed out/);
  });

  it('system resolver', async () => {
    // localhost resolves through the system's configuration without the network.
    const r = await runOne({ type: 'dns', target: 'localhost', conditions: ['[RESPONSE_TIME] < 2s'] });
    assert.equal(typeof r.success, 'boolean');
    assert.notEqual(sample(r, 'probe_dns_lookup_time_seconds'), undefined);
  });
});
