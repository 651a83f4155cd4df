import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateAll, parseCondition, type Observation } from './conditions.js';
import { probeErrors, probesFromYaml } from '../probe/testdata/helpers.js';

const obs = (o: Partial<Observation>): Observation => ({ durationMs: 10, now: Date.now(), ...o });

describe('condition syntax', () => {
  it('parses every placeholder and operator', () => {
    const ok = [
      '[STATUS] == 2xx',
      '[STATUS] in [200, 204, 3xx]',
      '[STATUS] < 500',
      '[RESPONSE_TIME] < 500ms',
      '[RESPONSE_TIME] <= 2s',
      '[BODY] contains "ok"',
      '[BODY] !contains error',
      '[BODY] =~ "ready|up"',
      '[BODY] !~ error',
      '[BODY].status == up',
      '$.data.items[0].id > 10',
      "$['odd key'] exists",
      '[BODY].version !exists',
      '[HEADER:Content-Type] =~ json',
      '[CERTIFICATE_EXPIRATION] > 14d',
      '[BODY_SIZE] <= 1MB',
      '[REDIRECTS] <= 2',
      '[CONNECTED] == true',
      '[DNS_RCODE] == NOERROR',
      '[DNS_RCODE] in [NOERROR, NXDOMAIN]',
      '[ANSWER] contains 10.0.0.1',
      '[ANSWER] == [10.0.0.2, 10.0.0.1]',
      '[ANSWER_COUNT] > 0',
    ];
    for (const c of ok) assert.doesNotThrow(() => parseCondition(c), c);
    assert.equal(parseCondition('[CERTIFICATE_EXPIRATION] > 30d').value, 30 * 86_400_000);
    assert.equal(parseCondition('[RESPONSE_TIME] < 1s500ms').value, 1500);
    assert.deepEqual((parseCondition('$.data.items[0].id > 10').operand as { path: unknown }).path, ['data', 'items', 0, 'id']);
  });

  const bad: [string, RegExp][] = [
    ['', /is empty/],
    ['STATUS == 200', /must start with a placeholder/],
    ['[STATUS] 200', /expected an operator/],
    ['[STATUS] == 2yy', /"2yy" is not a status code or class/],
    ['[STATUS] == 999', /"999" is not a status code/],
    ['[RESPONSE_TIME] < fast', /"fast" is not a duration/],
    // A bare number needs a unit; the suggestion reads it as Prometheus would (seconds).
    ['[RESPONSE_TIME] > 0.5', /"0\.5" has no unit: write a duration such as "500ms" \(for 0\.5 seconds\)/],
    ['[RESPONSE_TIME] < 1.25', /"1.25" has no unit: write a duration such as "1s250ms"/],
    ['[CERTIFICATE_EXPIRATION] > 30', /"30" has no unit: write a duration such as "30d" \(for 30 days\)/],
    ['[BODY] =~ "(unclosed"', /invalid regular expression "\(unclosed"/],
    ['[NOPE] == 1', /unknown placeholder \[NOPE\]/],
    ['[BODY] > 3', /operator > cannot be used with \[BODY\]/],
    ['[STATUS] ==', /missing a value after ==/],
    ['$.a[x] == 1', /bad JSON path/],
    ['[HEADER:] exists', /needs a header name/],
    ['[BODY].x exists now', /exists takes no value/],
    ['[STATUS] in 200', /expected a list/],
    ['$.count > many', /> needs a number/],
    ['[CONNECTED] == yes', /expected true or false/],
  ];
  for (const [text, want] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseCondition(text), (e: Error) => {
        assert.match(e.message, want);
        assert.ok(e.message.startsWith(`condition ${JSON.stringify(text)}:`) || text === '', e.message);
        return true;
      });
    });
  }
});

describe('condition evaluation', () => {
  const check = (c: string, o: Observation) => evaluateAll([parseCondition(c)], o);
  it('reasons say what was seen and what was expected', () => {
    assert.deepEqual(check('[STATUS] == 2xx', obs({ status: 503 })), { ok: false, reason: 'status 503 not in [2xx]', regex: false });
    assert.equal((check('[RESPONSE_TIME] < 500ms', obs({ durationMs: 734 })) as { reason: string }).reason, 'response time 734ms, expected < 500ms');
    const now = Date.now();
    assert.equal((check('[CERTIFICATE_EXPIRATION] > 14d', obs({ now, certNotAfter: now + 6.5 * 86_400_000 })) as { reason: string }).reason, 'certificate expires in 6 days, minimum 14');
    assert.equal((check('[CERTIFICATE_EXPIRATION] > 14d', obs({ now, certNotAfter: now - 2 * 86_400_000 })) as { reason: string }).reason, 'certificate expired 2 days ago');
    assert.equal((check('[DNS_RCODE] == NOERROR', obs({ rcode: 'NXDOMAIN' })) as { reason: string }).reason, 'rcode NXDOMAIN, expected NOERROR');
    assert.equal((check('[ANSWER] contains 10.0.0.9', obs({ answers: ['10.0.0.1'] })) as { reason: string }).reason, 'answers [10.0.0.1] do not contain 10.0.0.9');
    assert.equal(check('[ANSWER] == [10.0.0.2, 10.0.0.1]', obs({ answers: ['10.0.0.1', '10.0.0.2'] })).ok, true);
    assert.equal((check('[HEADER:X-A] == b', obs({ headers: {} })) as { reason: string }).reason, 'header x-a is missing');
  });
  it('JSON values compare by type, and numbers written as text still match', () => {
    const body = JSON.stringify({ n: 42, s: '42', b: false, nil: null, arr: ['x', 'y'] });
    assert.equal(check('$.n == 42', obs({ body })).ok, true);
    assert.equal(check('$.s == "42"', obs({ body })).ok, true);
    assert.equal(check('$.n == "42"', obs({ body })).ok, true);
    assert.equal(check('$.b == false', obs({ body })).ok, true);
    assert.equal(check('$.nil == null', obs({ body })).ok, true);
    assert.equal(check('$.arr contains y', obs({ body })).ok, true);
    assert.equal(check('$.arr contains z', obs({ body })).ok, false);
    assert.equal(check('$.s in [41, 42]', obs({ body })).ok, true);
  });
  it('a JSON path on a body that is not JSON fails with a reason', () => {
    const v = check('$.a == 1', obs({ body: '<html>' }));
    assert.equal(v.ok, false);
    assert.match((v as { reason: string }).reason, /^\$\.a: body is not valid JSON/);
  });
});

describe('probes: configuration', () => {
  it('fills defaults', () => {
    const [p] = probesFromYaml('  - {name: a, type: http, target: "http://x/"}\n');
    assert.equal(p.type, 'http');
    assert.equal(p.interval, 30_000);
    assert.equal(p.timeout, 10_000);
    assert.equal(p.failure_threshold, 3);
    assert.equal(p.success_threshold, 1);
    if (p.type === 'http') {
      assert.equal(p.method, 'GET');
      assert.equal(p.follow_redirects, true);
      assert.equal(p.body_size_limit, 10 * 1024 * 1024);
    }
  });

  const cases: [string, string, RegExp][] = [
    ['bad condition names the condition and its position', '  - name: a\n    type: http\n    target: http://x/\n    conditions:\n      - "[STATUS] == 200"\n      - "[STATUS] === 200"\n', /^test\.yml:7:9: probes\[0\]\.conditions\[1\]: condition "\[STATUS\] === 200": unknown operator "==="/],
    ['placeholder not available for the type', '  - {name: a, type: dns, target: example.com, conditions: ["[STATUS] == 200"]}\n', /probes\[0\]\.conditions\[0\]: condition "\[STATUS\] == 200": \[STATUS\] is not available for dns probes/],
    ['unknown type', '  - {name: a, type: ftp, target: "x"}\n', /probes\[0\]\.type: "ftp" is not a probe type \(one of http, tcp, dns, flow, grpc, websocket, icmp, tls\)/],
    ['key of another type', '  - {name: a, type: tcp, target: "x:1", method: POST}\n', /probes\[0\]\.method: unknown key "method"/],
    ['http target not a URL', '  - {name: a, type: http, target: "not a url"}\n', /probes\[0\]\.target: "not a url" is not a URL/],
    ['tcp target without port', '  - {name: a, type: tcp, target: "db.internal"}\n', /probes\[0\]\.target: "db\.internal" is not host:port/],
    ['bad dns query type', '  - {name: a, type: dns, target: example.com, query_type: SRVX}\n', /probes\[0\]\.query_type: "SRVX" is not one of/],
    ['bad tcp expect regex', '  - {name: a, type: tcp, target: "x:1", expect: "(a"}\n', /probes\[0\]\.expect: invalid regular expression "\(a"/],
    ['bad threshold', '  - {name: a, type: tcp, target: "x:1", failure_threshold: 0}\n', /probes\[0\]\.failure_threshold/],
    ['timeout above interval', '  - {name: a, type: tcp, target: "x:1", interval: 5s, timeout: 10s}\n', /probes\[0\]\.timeout: timeout 10s is greater than interval 5s/],
    ['bad body_size_limit', '  - {name: a, type: http, target: "http://x/", body_size_limit: lots}\n', /probes\[0\]\.body_size_limit: "lots" is not a byte size/],
    ['bad resolver', '  - {name: a, type: dns, target: example.com, resolver: "1.2.3.4:99999"}\n', /probes\[0\]\.resolver: "1\.2\.3\.4:99999" is not host or host:port/],
  ];
  for (const [name, yaml, want] of cases) {
    it(name, () => {
      const errs = probeErrors(yaml);
      assert.ok(errs.some((e) => want.test(e)), `no error matched ${want}; got:\n${errs.join('\n')}`);
    });
  }
});

describe('JSON wildcard paths', () => {
  const check = (c: string, body: unknown) => evaluateAll([parseCondition(c)], obs({ status: 503, body: JSON.stringify(body) }));
  // The body @patrol/sdk's /ready serves.
  const ready = (db: string, cache: string) => ({
    status: db === 'up' ? 'up' : 'down',
    checks: { db: { status: db, latency_ms: 3, critical: true, error: db === 'up' ? undefined : 'connection refused' }, cache: { status: cache, latency_ms: 1, critical: false } },
  });

  it('holds when every member holds, and names the member that fails', () => {
    assert.deepEqual(check('$.checks.*.status == up', ready('up', 'up')), { ok: true });
    assert.deepEqual(check('[BODY].checks.*.status == up', ready('down', 'up')), { ok: false, reason: '$.checks.db.status is "down", expected "up"', regex: false });
    assert.deepEqual(check('$.checks[*].latency_ms < 2', ready('up', 'up')), { ok: false, reason: '$.checks.db.latency_ms is 3, expected < 2', regex: false });
    assert.deepEqual(check('$.checks.*.error !exists', ready('up', 'down')), { ok: true });
    assert.deepEqual(check('$.checks.*.error !exists', ready('down', 'up')), { ok: false, reason: '$.checks.db.error exists ("connection refused"), expected none', regex: false });
  });

  it('reports a missing or non-object parent by its concrete path', () => {
    assert.deepEqual(check('$.checks.*.status == up', { status: 'up' }), { ok: false, reason: '$.checks does not exist', regex: false });
    assert.deepEqual(check('$.checks.*.status == up', { checks: 'x' }), { ok: false, reason: '$.checks.* does not exist', regex: false });
    assert.deepEqual(check('$.checks.*.status == up', { checks: { db: {} } }), { ok: false, reason: '$.checks.db.status does not exist', regex: false });
    assert.deepEqual(check('$.checks.*.status == up', { checks: { 'odd key': { status: 'x' } } }), { ok: false, reason: '$.checks["odd key"].status is "x", expected "up"', regex: false });
    assert.deepEqual(check('$.items[*] > 1', { items: [2, 3, 0] }), { ok: false, reason: '$.items[2] is 0, expected > 1', regex: false });
  });
});
