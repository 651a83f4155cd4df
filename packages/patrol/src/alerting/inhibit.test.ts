import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { labelSetFingerprint, type Alert } from '../model/alert.js';
import type { AlertDispatcher } from './dispatcher.js';
import { Inhibitor } from './inhibit.js';
import { AlertStore } from './store.js';
import { configFrom, startDispatcher, waitFor, WebhookSink } from './testutil.js';

function alert(labels: Record<string, string>, endsAt = 0): Alert {
  return { labels, annotations: {}, startsAt: 1, endsAt, generatorURL: '', updatedAt: 1, timeout: false, fingerprint: labelSetFingerprint(labels) };
}

describe('inhibition rules', () => {
  const rules = configFrom(`
alerting:
  inhibit_rules:
    - source_matchers: ['severity="critical"']
      target_matchers: ['severity=~"warning|info"']
      equal: [cluster]
    - source_match: {alertname: NodeDown}
      target_match_re: {alertname: 'Node.*'}
      equal: [node]
`).alerting.inhibit_rules;

  it('finds the equal source among thousands, with several equal labels, and drops resolved ones on gc', () => {
    const [rule] = configFrom(`
alerting:
  inhibit_rules:
    - source_matchers: ['severity="critical"']
      target_matchers: ['severity="warning"']
      equal: [cluster, node]
`).alerting.inhibit_rules;
    const store = new AlertStore(() => 100);
    const inh = new Inhibitor([rule], store);
    const sources = Array.from({ length: 5000 }, (_, i) => alert({ alertname: 'Down', severity: 'critical', cluster: `c${i % 50}`, node: `n${i}` }, i % 2 ? 0 : 50));
    store.put(sources);
    // n4999 (odd: firing) in c49 inhibits; n4998 (even: resolved at 50) does not.
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'warning', cluster: 'c49', node: 'n4999' }), 100), [sources[4999].fingerprint]);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'warning', cluster: 'c48', node: 'n4998' }), 100), []);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'warning', cluster: 'c49', node: 'n4998' }), 100), []);
    // Values are compared as a tuple: no join of the two can make them equal.
    const odd = alert({ alertname: 'Down', severity: 'critical', cluster: 'x","y', node: '' });
    store.put([odd]);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'warning', cluster: 'x', node: 'y' }), 100), []);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'warning', cluster: 'x","y' }), 100), [odd.fingerprint], 'a missing label equals an empty one');
    inh.gc(100);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'warning', cluster: 'c49', node: 'n4999' }), 100), [sources[4999].fingerprint]);
    inh.close();
  });

  it('mutes targets with equal labels while a source fires', () => {
    const store = new AlertStore(() => 100);
    const inh = new Inhibitor(rules, store);
    const crit = alert({ alertname: 'Down', severity: 'critical', cluster: 'a' });
    store.put([crit]);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'warning', cluster: 'a' }), 100), [crit.fingerprint]);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'warning', cluster: 'b' }), 100), []);
    // A missing equal label equals a missing one.
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'warning' }), 100), []);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'critical', cluster: 'a' }), 100), []);
    // Resolved sources inhibit nothing.
    store.put([{ ...crit, endsAt: 50, updatedAt: 2 }]);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'Slow', severity: 'warning', cluster: 'a' }), 100), []);
    inh.close();
  });

  it('does not let an alert matching both sides inhibit itself or its kind', () => {
    const store = new AlertStore(() => 100);
    const inh = new Inhibitor(rules, store);
    // NodeDown matches the source (alertname=NodeDown) and the target (Node.*).
    const down = alert({ alertname: 'NodeDown', node: 'n1' });
    store.put([down]);
    assert.deepEqual(inh.inhibitedBy(down, 100), []);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'NodeDiskFull', node: 'n1' }), 100), [down.fingerprint]);
    assert.deepEqual(inh.inhibitedBy(alert({ alertname: 'NodeDiskFull', node: 'n2' }), 100), []);
    inh.close();
  });
});

describe('inhibition in the dispatcher', () => {
  const sink = new WebhookSink();
  let d: AlertDispatcher;
  before(async () => {
    await sink.start();
    d = await startDispatcher(`
alerting:
  route:
    receiver: hook
    group_by: [alertname, cluster]
    group_wait: 50ms
    group_interval: 200ms
  receivers:
    - name: hook
      webhook_configs: [{url: '${sink.url}/hook'}]
  inhibit_rules:
    - source_matchers: ['severity="critical"']
      target_matchers: ['severity="warning"']
      equal: [cluster]
`);
  });
  after(async () => {
    await d.stop();
    await sink.stop();
  });

  it('holds back inhibited alerts, marks them, and sends them once the source resolves', async () => {
    d.send([
      { labels: { alertname: 'ClusterDown', severity: 'critical', cluster: 'a' }, annotations: {} },
      { labels: { alertname: 'Latency', severity: 'warning', cluster: 'a' }, annotations: {} },
      { labels: { alertname: 'Latency', severity: 'warning', cluster: 'b' }, annotations: {} },
    ]);
    await waitFor('critical and uninhibited warning', () => sink.on('/hook').length >= 2);
    const flushes = d.flushes;
    await waitFor('more flushes', () => d.flushes >= flushes + 3);
    assert.deepEqual(sink.on('/hook').map((m) => m.groupKey).sort(), ['{}:{alertname="ClusterDown", cluster="a"}', '{}:{alertname="Latency", cluster="b"}']);
    const inhibited = [...d.store.list()].find((a) => a.labels.cluster === 'a' && a.labels.severity === 'warning')!;
    const source = labelSetFingerprint({ alertname: 'ClusterDown', severity: 'critical', cluster: 'a' });
    assert.deepEqual(d.status(inhibited), { silencedBy: [], inhibitedBy: [source], state: 'suppressed' });

    d.send([{ labels: { alertname: 'ClusterDown', severity: 'critical', cluster: 'a' }, annotations: {}, endsAt: new Date().toISOString() }]);
    await waitFor('the released warning', () => sink.on('/hook').some((m) => m.groupKey === '{}:{alertname="Latency", cluster="a"}'));
    assert.deepEqual(d.status(inhibited).inhibitedBy, []);
  });
});
