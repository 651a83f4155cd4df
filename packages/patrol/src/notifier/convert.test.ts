// Prometheus's sending arithmetic, evaluation by evaluation over a real rule group, engine and
// storage: startsAt is when the alert fired, a firing alert's endsAt is the evaluation time +
// 4 × max(resend delay, group interval), it is resent only after the resend delay, and a
// resolved alert is sent at once with endsAt = resolvedAt. Then external labels and
// alert_relabel_configs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createLogger } from '../logger.js';
import type { PostableAlert } from '../model/alert.js';
import { labelsFromRecord } from '../model/labels.js';
import { Engine } from '../promql/engine.js';
import { MemoryStorage } from '../storage/memory.js';
import { AlertingRule } from '../rules/alerting.js';
import { Group } from '../rules/group.js';
import { engineQueryFunc, passThroughExpander } from '../rules/manager.js';
import { ruleMetrics } from '../rules/metrics.js';
import { compileRelabel } from '../scrape/relabel.js';
import { relabelConfig } from '../config/prometheus.js';
import { queryEscape, relabelAlerts, tableLinkForExpression, toPostableAlerts } from './convert.js';

const T0 = 1_700_000_000_000;
const S = 1000;
const MIN = 60 * S;
const iso = (ms: number) => new Date(ms).toISOString();

function setup(interval: number, holdDuration: number) {
  const storage = new MemoryStorage();
  const sent: PostableAlert[][] = [];
  const rule = new AlertingRule({ name: 'Down', expr: 'up == 0', holdDuration, keepFiringFor: 0, labels: { severity: 'page' }, annotations: { summary: 'down' }, externalLabels: {}, externalURL: '', expand: passThroughExpander, restored: true });
  const group = new Group({
    file: 'r.yml', name: 'g', interval, queryOffset: 0, limit: 0, rules: [rule], storage,
    query: engineQueryFunc(new Engine(), storage),
    notify: (expr, alerts) => sent.push(toPostableAlerts(expr, alerts, 'http://patrol.example:9310/')),
    metrics: ruleMetrics(new Registry()), logger: createLogger('silent'), shouldRestore: false,
  });
  const up = (t: number, v: number) => {
    const app = storage.appender();
    app.append(0, labelsFromRecord({ __name__: 'up', job: 'api' }), t, v);
    app.commit();
  };
  return { group, up, sent };
}

describe('rule alerts to postable alerts (Prometheus sendAlerts arithmetic)', () => {
  it('firing: startsAt = firedAt, endsAt = t + 4 × max(resend delay 1m, interval); resent after 1m; resolved: endsAt = resolvedAt', async () => {
    const { group, up, sent } = setup(MIN, 2 * MIN);
    const evalAt = async (t: number, v: number) => {
      up(t - S, v);
      await group.eval(t);
      return sent.splice(0);
    };
    assert.deepEqual(await evalAt(T0, 0), [], 'pending alerts are not sent');
    assert.deepEqual(await evalAt(T0 + MIN, 0), []);
    const fired = T0 + 2 * MIN;
    const first = await evalAt(fired, 0);
    assert.deepEqual(first, [
      [
        {
          labels: { alertname: 'Down', job: 'api', severity: 'page' },
          annotations: { summary: 'down' },
          startsAt: iso(fired),
          endsAt: iso(fired + 4 * MIN),
          generatorURL: 'http://patrol.example:9310/graph?g0.expr=up+%3D%3D+0&g0.tab=1',
        },
      ],
    ]);
    assert.deepEqual(await evalAt(T0 + 3 * MIN, 0), [], 'not resent within the resend delay');
    const again = await evalAt(T0 + 4 * MIN, 0);
    assert.equal(again.length, 1);
    assert.equal(again[0][0].startsAt, iso(fired), 'startsAt stays the firing time');
    assert.equal(again[0][0].endsAt, iso(T0 + 4 * MIN + 4 * MIN));
    const resolvedAt = T0 + 5 * MIN;
    const resolved = await evalAt(resolvedAt, 1);
    assert.equal(resolved.length, 1, 'a resolved alert is sent at once');
    assert.equal(resolved[0][0].startsAt, iso(fired));
    assert.equal(resolved[0][0].endsAt, iso(resolvedAt));
    assert.deepEqual(await evalAt(T0 + 5 * MIN + 30 * S, 1), [], 'the resolution is not repeated within the resend delay');
  });

  it('a group interval longer than the resend delay sets the validity: endsAt = t + 4 × interval', async () => {
    const interval = 5 * MIN;
    const { group, up, sent } = setup(interval, 0);
    up(T0 - S, 0);
    await group.eval(T0);
    assert.equal(sent.length, 1);
    assert.equal(sent[0][0].startsAt, iso(T0));
    assert.equal(sent[0][0].endsAt, iso(T0 + 4 * interval));
  });

  it('links to the table view of the expression, escaped as Go url.QueryEscape does', () => {
    assert.equal(queryEscape(`rate(http_requests_total{code=~"5.."}[5m]) > 0.1 * (a/b) !'*~`), 'rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29+%3E+0.1+%2A+%28a%2Fb%29+%21%27%2A~');
    assert.equal(tableLinkForExpression('up'), '/graph?g0.expr=up&g0.tab=1');
    assert.deepEqual(toPostableAlerts('up', [], 'http://x'), []);
  });
});

describe('external labels and alert_relabel_configs', () => {
  const alert = (labels: Record<string, string>): PostableAlert => ({ labels, annotations: {}, startsAt: iso(T0) });
  const steps = (cfgs: unknown[]) => compileRelabel(cfgs.map((c) => relabelConfig.parse(c)));

  it('adds external labels the alert lacks; the alert keeps its own values', () => {
    const out = relabelAlerts([alert({ alertname: 'A', severity: 'page' })], { cluster: 'eu-1', severity: 'none' }, []);
    assert.deepEqual(out[0].labels, { alertname: 'A', cluster: 'eu-1', severity: 'page' });
  });

  it('relabels after the external labels are added, and may drop alerts', () => {
    const alerts = [alert({ alertname: 'A', instance: 'h:1', severity: 'page' }), alert({ alertname: 'B', instance: 'h:2', severity: 'info' })];
    const out = relabelAlerts(alerts, { cluster: 'eu-1' }, steps([
      { action: 'drop', source_labels: ['severity'], regex: 'info' },
      { action: 'labeldrop', regex: 'instance' },
      { source_labels: ['cluster', 'alertname'], separator: '/', target_label: 'key' },
    ]));
    assert.deepEqual(out.map((a) => a.labels), [{ alertname: 'A', cluster: 'eu-1', key: 'eu-1/A', severity: 'page' }]);
    assert.deepEqual(alerts[0].labels, { alertname: 'A', instance: 'h:1', severity: 'page' }, 'the input is not changed');
    assert.equal(out[0].startsAt, iso(T0), 'times and annotations travel unchanged');
  });
});
