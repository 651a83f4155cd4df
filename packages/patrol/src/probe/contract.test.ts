// The contract every probe type keeps, run against each: a target that accepts and never
// answers is cut off at the timeout with a reason naming the phase; a refused connection is a
// failed result; nothing throws. Plus the engine's guards around a type that misbehaves.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProbeConfig } from '../config/probes.js';
import { evaluateAll, parseCondition } from '../model/conditions.js';
import { runProbe, type CompiledProbe } from './run.js';
import { closedPort, startTcp, type Running } from './testdata/servers.js';
import { probesFromYaml, runOne } from './testdata/helpers.js';
import { startTestDns } from '../testing/dns.js';

describe('probe type contract', () => {
  let hang: Running;
  let dns: Running;
  let refused: number;
  before(async () => {
    hang = await startTcp(() => undefined); // accepts, never writes
    dns = await startTestDns({}, { silent: ['hang.test'] });
    refused = await closedPort();
  });
  after(async () => {
    await hang.close();
    await dns.close();
  });

  const cases = (): [string, Record<string, unknown>, Record<string, unknown>, RegExp][] => [
    ['http', { type: 'http', target: `http://127.0.0.1:${hang.port}/` }, { type: 'http', target: `http://127.0.0.1:${refused}/` }, /during waiting for the response$/],
    ['https', { type: 'http', target: `https://127.0.0.1:${hang.port}/` }, { type: 'http', target: `https://127.0.0.1:${refused}/` }, /during TLS handshake$/],
    ['tcp', { type: 'tcp', target: `127.0.0.1:${hang.port}`, expect: 'hello' }, { type: 'tcp', target: `127.0.0.1:${refused}` }, /during waiting for the expected reply$/],
    ['tls', { type: 'tls', target: `127.0.0.1:${hang.port}` }, { type: 'tls', target: `127.0.0.1:${refused}` }, /during TLS handshake$/],
    ['dns', { type: 'dns', target: 'hang.test', resolver: `127.0.0.1:${dns.port}` }, { type: 'dns', target: 'x.test', resolver: `127.0.0.1:${refused}` }, /during DNS query$|DNS query timed out/],
  ];

  for (const i of [0, 1, 2, 3, 4]) {
    it(`case ${i}: a hanging target is cut off at the timeout; refused fails`, async () => {
      const [type, hanging, refusing, phase] = cases()[i];
      const t0 = Date.now();
      const r = await runOne({ ...hanging, timeout: '1s' });
      assert.equal(r.success, false, type);
      assert.match(r.reason, phase, `${type}: ${r.reason}`);
      assert.ok(r.durationMs <= 1000, `${type}: duration ${r.durationMs}`);
      assert.ok(Date.now() - t0 < 5000);
      const f = await runOne({ ...refusing, timeout: '2s' });
      assert.equal(f.success, false, type);
      assert.notEqual(f.reason, '', type);
    });
  }
});

describe('the engine guards against a misbehaving probe type', () => {
  const [cfg] = probesFromYaml('  - {name: x, type: tcp, target: "127.0.0.1:1", timeout: 200ms, interval: 1s}\n') as ProbeConfig[];
  const probe = (run: CompiledProbe['prepared']['run']): CompiledProbe => ({ cfg, conditions: [], degrading: [], hasRegex: false, prepared: { host: 'h', run } });

  it('a run that throws synchronously is a failed result', async () => {
    const r = await runProbe(
      probe(() => {
        throw new Error('kaboom');
      }),
    );
    assert.equal(r.success, false);
    assert.equal(r.reason, 'probe error: kaboom');
  });

  it('a run that rejects is a failed result', async () => {
    const r = await runProbe(probe(() => Promise.reject(new Error('nope'))));
    assert.equal(r.reason, 'probe error: nope');
  });

  it('a run that never settles is cut off at the timeout', async () => {
    const r = await runProbe(probe(() => new Promise(() => undefined)));
    assert.equal(r.reason, 'timeout after 200ms during starting');
  });

  it('a condition that throws while evaluating fails the run with its reason', () => {
    const obs = {
      durationMs: 1,
      now: Date.now(),
      get body(): string {
        throw new Error('boom');
      },
    };
    const v = evaluateAll([parseCondition('[BODY] contains x')], obs);
    assert.deepEqual(v, { ok: false, reason: 'condition "[BODY] contains x" failed to evaluate: boom', regex: false });
  });
});
