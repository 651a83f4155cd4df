import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { relabelConfig } from '../config/prometheus.js';
import { labelsFromRecord, labelsToRecord } from '../model/labels.js';
import { compileRelabel, expandTemplate, hashmod, relabel } from './relabel.js';
import { binaryMissing, PROMETHEUS_BIN, startPrometheus, waitFor } from './testutil.js';

function run(input: Record<string, string>, ...cfgs: Record<string, unknown>[]): Record<string, string> | null {
  const steps = compileRelabel(cfgs.map((c) => relabelConfig.parse(c)));
  const out = relabel(labelsFromRecord(input), steps);
  return out && labelsToRecord(out);
}

describe('relabel actions', () => {
  const base = { __name__: 'up', job: 'api', instance: 'Host-1:9100', env: 'prod' };

  it('replace: defaults copy a source label; no match leaves labels alone; empty result deletes', () => {
    assert.deepEqual(run(base, { source_labels: ['instance'], target_label: 'host', regex: '(.*):\\d+' }), { ...base, host: 'Host-1' });
    assert.deepEqual(run(base, { source_labels: ['instance'], target_label: 'host', regex: 'nomatch(.*)' }), base);
    const { env: _e, ...noEnv } = base;
    assert.deepEqual(run(base, { source_labels: ['missing'], target_label: 'env' }), noEnv);
    assert.deepEqual(run(base, { source_labels: ['job', 'env'], separator: '/', target_label: 'both' }), { ...base, both: 'api/prod' });
    // Target label names are templates too; an invalid result is skipped.
    assert.deepEqual(run(base, { source_labels: ['env'], regex: '(.*)', target_label: 'x_$1', replacement: 'y' }), { ...base, x_prod: 'y' });
    assert.deepEqual(run(base, { source_labels: ['instance'], regex: '(.*)', target_label: '$1', replacement: 'y' }), base);
  });

  it('keep and drop', () => {
    assert.equal(run(base, { action: 'keep', source_labels: ['job'], regex: 'web' }), null);
    assert.deepEqual(run(base, { action: 'keep', source_labels: ['job'], regex: 'api|web' }), base);
    assert.equal(run(base, { action: 'drop', source_labels: ['env'], regex: 'pr.*' }), null);
    assert.deepEqual(run(base, { action: 'drop', source_labels: ['env'], regex: 'pr' }), base, 'regexes are anchored');
  });

  it('keepequal and dropequal compare the source value with target_label', () => {
    const l = { ...base, a: 'x', b: 'x', c: 'y' };
    assert.deepEqual(run(l, { action: 'keepequal', source_labels: ['a'], target_label: 'b' }), l);
    assert.equal(run(l, { action: 'keepequal', source_labels: ['a'], target_label: 'c' }), null);
    assert.equal(run(l, { action: 'dropequal', source_labels: ['a'], target_label: 'b' }), null);
    assert.deepEqual(run(l, { action: 'dropequal', source_labels: ['a'], target_label: 'c' }), l);
  });

  it('hashmod: md5, last 8 bytes big-endian, modulo', () => {
    const out = run(base, { action: 'hashmod', source_labels: ['instance'], modulus: 8, target_label: '__tmp_hash' });
    assert.ok(out);
    assert.equal(out.__tmp_hash, String(hashmod('Host-1:9100', 8)));
    // md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8; last 8 bytes 0xedef654fccc4a4d8.
    assert.equal(hashmod('foo', 1000), Number(0xedef654fccc4a4d8n % 1000n));
  });

  it('labelmap copies labels whose names match, renamed by the replacement', () => {
    const l = { __name__: 'x', __meta_kubernetes_pod_label_app: 'web', __meta_kubernetes_pod_label_tier: 'fe', other: '1' };
    assert.deepEqual(run(l, { action: 'labelmap', regex: '__meta_kubernetes_pod_label_(.+)' }), { ...l, app: 'web', tier: 'fe' });
  });

  it('labeldrop and labelkeep act on label names', () => {
    assert.deepEqual(run(base, { action: 'labeldrop', regex: 'env|instance' }), { __name__: 'up', job: 'api' });
    assert.deepEqual(run(base, { action: 'labelkeep', regex: '__name__|job' }), { __name__: 'up', job: 'api' });
  });

  it('lowercase and uppercase', () => {
    assert.deepEqual(run(base, { action: 'lowercase', source_labels: ['instance'], target_label: 'instance' }), { ...base, instance: 'host-1:9100' });
    assert.deepEqual(run(base, { action: 'uppercase', source_labels: ['env', 'job'], target_label: 'tag' }), { ...base, tag: 'PROD;API' });
  });

  it('steps apply in order and see earlier results', () => {
    assert.deepEqual(
      run(base, { source_labels: ['env'], target_label: 'tier', replacement: 'T-$1' }, { action: 'keep', source_labels: ['tier'], regex: 'T-prod' }, { action: 'labeldrop', regex: 'env' }),
      { __name__: 'up', job: 'api', instance: 'Host-1:9100', tier: 'T-prod' },
    );
  });

  it('expands templates as Go does', () => {
    const m = /^(?<host>[a-z]+)-(\d+)$/.exec('web-12')!;
    assert.equal(expandTemplate('$1:$2', m), 'web:12');
    assert.equal(expandTemplate('${1}x', m), 'webx');
    assert.equal(expandTemplate('$1x', m), '', '$1x names a group "1x"');
    assert.equal(expandTemplate('$host/$$', m), 'web/$');
    assert.equal(expandTemplate('${host}', m), 'web');
  });
});

describe('relabelling agrees with Prometheus on target labels', { skip: binaryMissing(PROMETHEUS_BIN) }, () => {
  it('hashmod, lowercase, labelmap, keepequal and replace produce the same labels', async () => {
    const rules = [
      { source_labels: ['__address__'], target_label: '__tmp_hash', modulus: 7, action: 'hashmod' },
      { source_labels: ['__tmp_hash'], target_label: 'shard' },
      { source_labels: ['__address__'], target_label: 'lower', action: 'lowercase' },
      { source_labels: ['__address__'], target_label: 'upper', action: 'uppercase' },
      { regex: '__meta_(.+)|team', action: 'labelmap', replacement: 'm_$1' },
      { source_labels: ['team'], regex: '(.)(.*)', target_label: 'initial', replacement: '${1}_$2' },
      { source_labels: ['team'], target_label: 'team', action: 'keepequal' },
      { source_labels: ['lower'], target_label: 'upper', action: 'dropequal' },
      { source_labels: ['__address__'], regex: 'd:5', action: 'drop' },
      { action: 'labeldrop', regex: 'zone' },
    ];
    const targets = ['Alpha:1', 'beta-2:2', 'GAMMA.example:3', '10.0.0.4:4', 'd:5'];
    const yaml = `global: {scrape_interval: 1h}\nscrape_configs:\n  - job_name: r\n    static_configs: [{targets: ${JSON.stringify(targets)}, labels: {team: ops, zone: z1}}]\n    relabel_configs: ${JSON.stringify(rules)}\n`;
    const steps = compileRelabel(rules.map((r) => relabelConfig.parse(r)));
    const prom = await startPrometheus(yaml);
    try {
      const active = await waitFor(async () => {
        const r = (await (await fetch(`${prom.url}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: Record<string, string>; discoveredLabels: Record<string, string> }[]; droppedTargets: { discoveredLabels: Record<string, string> }[] } };
        if (r.data.activeTargets.length + r.data.droppedTargets.length !== targets.length) return undefined;
        for (const d of r.data.droppedTargets) assert.equal(relabel(labelsFromRecord(d.discoveredLabels), steps), null);
        return r.data.activeTargets;
      }, 'prometheus targets');
      assert.equal(active.length, 3, "d:5 dropped by drop, 10.0.0.4:4 by dropequal (no letters to case-fold)");
      for (const t of active) {
        const ours = relabel(labelsFromRecord(t.discoveredLabels), steps);
        assert.ok(ours);
        const visible = Object.fromEntries(Object.entries(labelsToRecord(ours)).filter(([k]) => !k.startsWith('__')));
        const { instance: _i, ...theirs } = t.labels;
        assert.deepEqual({ instance: t.discoveredLabels.__address__, ...visible }, { instance: t.discoveredLabels.__address__, ...theirs });
      }
    } finally {
      await prom.stop();
    }
  });
});
