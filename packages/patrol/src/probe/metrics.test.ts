import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { labelsToRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN } from '../model/value.js';
import { collectSeries, loadSamples } from '../storage/interface.js';
import { MemoryStorage } from '../storage/memory.js';
import { ResultWriter } from './metrics.js';
import { compileProbe, type ProbeResult } from './run.js';
import { probesFromYaml } from './testdata/helpers.js';
import type { ProbeSample } from './types.js';

function result(time: number, samples: ProbeSample[]): ProbeResult {
  return { probe: 'p', time, durationMs: 10, reason: '', degraded: false, failedDueToRegex: false, samples, success: true };
}

describe('ResultWriter', () => {
  it('writes multi-label samples and ends series a later run no longer reports', () => {
    const [cfg] = probesFromYaml('  - {name: p, type: http, target: "https://example.test/"}\n');
    const w = new ResultWriter(compileProbe(cfg, '.'));
    const st = new MemoryStorage();
    const info = (fp: string): ProbeSample => ({ name: 'probe_ssl_last_chain_info', value: 1, labels: { fingerprint_sha256: fp, subject: 'CN=x', issuer: 'CN=ca', subjectalternative: 'x' } });
    const tls: ProbeSample = { name: 'probe_tls_version_info', value: 1, labelName: 'version', labelValue: 'TLS 1.3' };
    for (const [t, samples] of [
      [1000, [tls, info('aa')]],
      [2000, [tls, info('bb')]], // the certificate changed
      [3000, []], // no TLS any more
      [4000, []],
    ] as const) {
      const app = st.appender();
      w.write(app, result(t, [...samples]));
      app.commit();
    }
    const q = st.querier(0, 10_000);
    const got = collectSeries(q.select({ start: 0, end: 10_000 }, [new Matcher('=', 'probe', 'p')])).map((s) => {
      const { timestamps, values } = loadSamples(s.iterator());
      const rec = labelsToRecord(s.labels);
      return { key: `${rec.__name__}${rec.fingerprint_sha256 ?? ''}${rec.version ?? ''}`, points: [...timestamps].map((t, i) => [t, isStaleNaN(values[i]) ? 'stale' : values[i]]) };
    });
    const by = Object.fromEntries(got.map((g) => [g.key, g.points]));
    assert.deepEqual(by.probe_ssl_last_chain_infoaa, [[1000, 1], [2000, 'stale']]);
    assert.deepEqual(by.probe_ssl_last_chain_infobb, [[2000, 1], [3000, 'stale']]);
    assert.deepEqual(by['probe_tls_version_infoTLS 1.3'], [[1000, 1], [2000, 1], [3000, 'stale']]);
    assert.equal(by.probe_success.length, 4);
    // probe_failed_due_to_regex is written on every run of an http probe.
    assert.deepEqual(by.probe_failed_due_to_regex.map((p: unknown[]) => p[1]), [0, 0, 0, 0]);
    const rec = labelsToRecord(collectSeries(q.select({ start: 0, end: 10_000 }, [new Matcher('=', '__name__', 'probe_ssl_last_chain_info')]))[0].labels);
    assert.deepEqual(rec, { __name__: 'probe_ssl_last_chain_info', instance: 'https://example.test/', probe: 'p', fingerprint_sha256: 'aa', issuer: 'CN=ca', subject: 'CN=x', subjectalternative: 'x' });
  });
});
