// Rule evaluation semantics, driven evaluation by evaluation over a real engine and storage.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createLogger } from '../logger.js';
import { labelsFromRecord, labelsToRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN } from '../model/value.js';
import { Engine } from '../promql/engine.js';
import { collectSeries, loadSamples } from '../storage/interface.js';
import { MemoryStorage } from '../storage/memory.js';
import { AlertingRule } from './alerting.js';
import { Group } from './group.js';
import { engineQueryFunc, passThroughExpander, templateExpander } from './manager.js';
import { ruleMetrics } from './metrics.js';
import { RecordingRule } from './recording.js';
import type { RuleBase } from './rule.js';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

function setup(rules: RuleBase[], opts: { limit?: number; shouldRestore?: boolean; storage?: MemoryStorage; engine?: Engine } = {}) {
  const storage = opts.storage ?? new MemoryStorage();
  const engine = opts.engine ?? new Engine();
  const registry = new Registry();
  const metrics = ruleMetrics(registry);
  const sent: { expr: string; alerts: unknown[] }[] = [];
  const group = new Group({
    file: 'rules.yml', name: 'g', interval: MIN, queryOffset: 0, limit: opts.limit ?? 0, rules, storage,
    query: engineQueryFunc(engine, storage), notify: (expr, alerts) => sent.push({ expr, alerts }), metrics,
    logger: createLogger('silent'), shouldRestore: opts.shouldRestore ?? false,
  });
  const put = (rec: Record<string, string>, t: number, v: number) => {
    const app = storage.appender();
    app.append(0, labelsFromRecord(rec), t, v);
    app.commit();
  };
  const series = (name: string, mint = 0, maxt = Number.MAX_SAFE_INTEGER) => {
    const q = storage.querier(mint, maxt);
    const out = collectSeries(q.select({ start: mint, end: maxt }, [new Matcher('=', '__name__', name)])).map((s) => ({ labels: labelsToRecord(s.labels), ...loadSamples(s.iterator()) }));
    q.close();
    return out;
  };
  return { storage, group, put, series, registry, sent };
}

function alertRule(name: string, expr: string, o: Partial<{ for: number; keep: number; labels: Record<string, string>; restored: boolean }> = {}): AlertingRule {
  return new AlertingRule({ name, expr, holdDuration: o.for ?? 0, keepFiringFor: o.keep ?? 0, labels: o.labels ?? {}, annotations: { summary: 'x' }, externalLabels: {}, externalURL: 'http://x', expand: passThroughExpander, restored: o.restored ?? true });
}

describe('rule group evaluation', () => {
  it("a recording rule's output is visible to the next rule of the same evaluation", async () => {
    const rec = new RecordingRule('job:up:sum', 'sum by (job) (up)', { team: 'a' });
    const alert = alertRule('JobDown', 'job:up:sum == 0');
    const { group, put, series } = setup([rec, alert]);
    put({ __name__: 'up', job: 'api', instance: 'a' }, T0 - 1000, 0);
    await group.eval(T0);
    const recorded = series('job:up:sum');
    assert.deepEqual(recorded.map((s) => s.labels), [{ __name__: 'job:up:sum', job: 'api', team: 'a' }]);
    assert.deepEqual([...recorded[0].timestamps], [T0]);
    const alerts = series('ALERTS');
    assert.deepEqual(alerts.map((s) => s.labels), [{ __name__: 'ALERTS', alertname: 'JobDown', alertstate: 'firing', job: 'api', team: 'a' }]);
    assert.equal(rec.health, 'ok');
    assert.equal(alert.health, 'ok');
  });

  it('pending → firing after for, then resolved: ALERTS and ALERTS_FOR_STATE follow, with stale markers', async () => {
    const rule = alertRule('High', 'x > 10', { for: 2 * MIN, labels: { severity: 'warning' } });
    const { group, put, series, sent } = setup([rule]);
    for (let i = 0; i <= 3; i++) put({ __name__: 'x', i: '1' }, T0 + i * MIN - 1, 20);
    put({ __name__: 'x', i: '1' }, T0 + 4 * MIN - 1, 5);
    const states: string[] = [];
    for (let i = 0; i <= 4; i++) {
      await group.eval(T0 + i * MIN);
      states.push(rule.state());
    }
    assert.deepEqual(states, ['pending', 'pending', 'firing', 'firing', 'inactive']);
    const alerts = series('ALERTS');
    const pending = alerts.find((s) => s.labels.alertstate === 'pending')!;
    const firing = alerts.find((s) => s.labels.alertstate === 'firing')!;
    assert.deepEqual([...pending.timestamps], [T0, T0 + MIN, T0 + 2 * MIN]);
    assert.ok(isStaleNaN(pending.values[2]), 'pending series marked stale when the alert fires');
    assert.deepEqual([...firing.timestamps], [T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN]);
    assert.ok(isStaleNaN(firing.values[2]), 'firing series marked stale when resolved');
    const forState = series('ALERTS_FOR_STATE');
    assert.deepEqual(forState[0].labels, { __name__: 'ALERTS_FOR_STATE', alertname: 'High', i: '1', severity: 'warning' });
    assert.equal(forState[0].values[0], T0 / 1000);
    // Sent when firing (at 2m, resend delay 1m not passed at 3m) and when resolved (4m).
    assert.deepEqual(sent.map((s) => (s.alerts as { state: string }[])[0].state), ['firing', 'inactive']);
  });

  it('a resolved alert is kept 15 minutes, then dropped', async () => {
    const rule = alertRule('A', 'x > 0');
    const { group, put } = setup([rule]);
    put({ __name__: 'x' }, T0 - 1, 1);
    await group.eval(T0);
    await group.eval(T0 + 6 * MIN); // x is older than the 5m lookback: gone
    assert.equal(rule.active.size, 1);
    assert.equal([...rule.active.values()][0].state, 'inactive');
    await group.eval(T0 + 21 * MIN);
    assert.equal(rule.active.size, 1, 'still within 15m of resolving at +6m');
    await group.eval(T0 + 22 * MIN);
    assert.equal(rule.active.size, 0);
  });

  it('keep_firing_for keeps a firing alert firing after the condition clears', async () => {
    const rule = alertRule('K', 'x > 0', { keep: 3 * MIN });
    const { group, put } = setup([rule]);
    put({ __name__: 'x' }, T0 - 1, 1);
    put({ __name__: 'x' }, T0 + MIN - 1, 0);
    const states: string[] = [];
    for (let i = 0; i <= 5; i++) {
      await group.eval(T0 + i * MIN);
      states.push(rule.state());
    }
    // Cleared at +1m; keeps firing while less than 3m passed since then: +1m, +2m, +3m.
    assert.deepEqual(states, ['firing', 'firing', 'firing', 'firing', 'inactive', 'inactive']);
  });

  it('a failing rule is unhealthy and the rules after it still run; limit errors use Prometheus messages', async () => {
    const dup = new RecordingRule('r', 'x', { i: '' });
    const limited = alertRule('L', 'x > 0');
    const after = new RecordingRule('after', 'count(x)', {});
    const { group, put, series, registry } = setup([dup, limited, after], { limit: 1 });
    put({ __name__: 'x', i: '1' }, T0 - 1, 1);
    put({ __name__: 'x', i: '2' }, T0 - 1, 1);
    await group.eval(T0);
    assert.equal(dup.health, 'err');
    assert.equal(dup.lastError, 'vector contains metrics with the same labelset after applying rule labels');
    assert.equal(limited.health, 'err');
    assert.equal(limited.lastError, 'exceeded limit of 1 with 2 alerts');
    assert.equal(after.health, 'ok');
    assert.equal(series('after')[0].values[0], 2);
    const text = await registry.metrics();
    assert.match(text, /patrol_rule_evaluation_failures_total\{rule_group="rules\.yml;g"\} 2/);
    assert.match(text, /patrol_rule_evaluations_total\{rule_group="rules\.yml;g"\} 3/);
  });

  it('a rule over the query limits (max_samples, timeout) is unhealthy with the engine\'s error, and the group goes on', async () => {
    const big = new RecordingRule('big', 'sum(x)', {});
    const small = new RecordingRule('small', 'y', {});
    const engine = new Engine({ maxSamples: 2 });
    const { group, put, series, registry } = setup([big, small], { engine });
    for (const i of ['1', '2', '3']) put({ __name__: 'x', i }, T0 - 1, 1);
    put({ __name__: 'y' }, T0 - 1, 7);
    await group.eval(T0);
    assert.equal(big.health, 'err');
    assert.equal(big.lastError, 'query processing would load too many samples into memory in query execution');
    assert.equal(small.health, 'ok');
    assert.equal(series('small')[0].values[0], 7);
    // A timeout of 0 times every query out at its first check: each rule fails on its own, the
    // group still completes its evaluation and counts them.
    engine.setLimits({ maxSamples: 1000, timeout: 0 });
    await group.eval(T0 + MIN);
    assert.equal(big.lastError, 'query timed out in expression evaluation');
    assert.equal(small.lastError, 'query timed out in expression evaluation');
    assert.match(await registry.metrics(), /patrol_rule_evaluation_failures_total\{rule_group="rules\.yml;g"\} 3/);
    engine.setLimits({ timeout: 60_000 });
    await group.eval(T0 + 2 * MIN);
    assert.equal(big.health, 'ok');
    assert.equal(big.lastError, '');
    assert.deepEqual([...series('big')[0].values], [3]);
  });

  it('a recording rule that stops returning a series writes a stale marker', async () => {
    const rec = new RecordingRule('copy', 'x', {});
    const { group, put, series } = setup([rec]);
    put({ __name__: 'x', a: '1' }, T0 - 1, 1);
    put({ __name__: 'x', a: '2' }, T0 - 1, 1);
    put({ __name__: 'x', a: '2' }, T0 + 5 * MIN, 2);
    await group.eval(T0);
    await group.eval(T0 + 6 * MIN);
    const a1 = series('copy').find((s) => s.labels.a === '1')!;
    assert.equal(a1.values.length, 2);
    assert.ok(isStaleNaN(a1.values[1]));
    const a2 = series('copy').find((s) => s.labels.a === '2')!;
    assert.equal(a2.values[1], 2);
  });

  it('templates expand $labels, $value and query; a template error is the rule\'s health error, not a crash', async () => {
    const storage = new MemoryStorage();
    const query = engineQueryFunc(new Engine(), storage);
    const mk = (annotations: Record<string, string>, labels: Record<string, string> = {}) =>
      new AlertingRule({ name: 'Disk', expr: 'free < 10', holdDuration: 0, keepFiringFor: 0, labels, annotations, externalLabels: { dc: 'eu' }, externalURL: 'http://p:9310', expand: templateExpander(query), restored: true });
    const good = mk({ summary: '{{ $labels.dev }} has {{ humanize $value }} left of {{ query "count(free)" | first | value }} ({{ $externalLabels.dc }})' }, { sev: '{{ if lt $value 5.0 }}critical{{ else }}warning{{ end }}' });
    const bad = mk({ summary: '{{ nosuch $value }}' });
    const { group, put } = setup([good, bad], { storage });
    put({ __name__: 'free', dev: 'sda' }, T0 - 1, 3.5);
    await group.eval(T0);
    const a = [...good.active.values()][0];
    assert.equal(a.annotations.summary, 'sda has 3.5 left of 1 (eu)');
    assert.deepEqual(labelsToRecord(a.labels), { alertname: 'Disk', dev: 'sda', sev: 'critical' });
    assert.equal(good.health, 'ok');
    assert.equal(bad.health, 'err');
    assert.equal(bad.lastError, 'error expanding template: error parsing template __alert_Disk: template: __alert_Disk:1: function "nosuch" not defined');
    assert.equal([...bad.active.values()][0].annotations.summary, `<${bad.lastError}>`);
  });

  it('a scalar result is recorded as a series with only the metric name; a string is an error', async () => {
    const s = new RecordingRule('one', 'vector(1) + 1', {});
    const bad = new RecordingRule('bad', '"text"', {});
    const sc = new RecordingRule('sc', 'scalar(vector(3))', {});
    const { group, series } = setup([s, bad, sc]);
    await group.eval(T0);
    assert.equal(series('sc')[0].values[0], 3);
    assert.deepEqual(series('sc')[0].labels, { __name__: 'sc' });
    assert.equal(bad.lastError, 'rule result is not a vector or scalar');
  });

  describe("restoring 'for' state from ALERTS_FOR_STATE (Prometheus's grace period logic)", () => {
    // A rule with for 15m, active since T0 before the restart; the server comes back at `ts`.
    const cases: [string, number, number, (ts: number) => number][] = [
      ['down with more than the grace period left: the downtime is added', 5 * MIN, 10 * MIN, () => T0 + 5 * MIN],
      ['down with less than the grace period left: fires one grace period after the restart', 8 * MIN, 10 * MIN, (ts) => ts + 10 * MIN - 15 * MIN],
      ['firing when it went down: keeps its activeAt and fires at once', 20 * MIN, 25 * MIN, () => T0],
    ];
    for (const [name, downAfter, restartAfter, expected] of cases) {
      it(name, async () => {
        const storage = new MemoryStorage();
        const app = storage.appender();
        for (let t = T0; t <= T0 + downAfter; t += MIN) app.append(0, labelsFromRecord({ __name__: 'ALERTS_FOR_STATE', alertname: 'Slow', i: '1' }), t, T0 / 1000);
        app.commit();
        const rule = alertRule('Slow', 'x > 0', { for: 15 * MIN, restored: false });
        const { group, put, series } = setup([rule], { storage, shouldRestore: true });
        const ts = T0 + restartAfter;
        put({ __name__: 'x', i: '1' }, ts - 1, 1);
        await group.eval(ts);
        assert.equal(series('ALERTS').length, 0, 'no ALERTS before the state is restored');
        group.restoreForState(ts);
        assert.equal(rule.restored, true);
        assert.equal([...rule.active.values()][0].activeAt, expected(ts));
        await group.eval(ts + MIN);
        const firesAt = expected(ts) + 15 * MIN;
        assert.equal(rule.state(), ts + MIN >= firesAt ? 'firing' : 'pending');
      });
    }
    it('a rule whose for is shorter than the grace period is not restored', async () => {
      const storage = new MemoryStorage();
      const app = storage.appender();
      app.append(0, labelsFromRecord({ __name__: 'ALERTS_FOR_STATE', alertname: 'Quick' }), T0, T0 / 1000 - 3600);
      app.commit();
      const rule = alertRule('Quick', 'vector(1)', { for: 5 * MIN, restored: false });
      const { group } = setup([rule], { storage, shouldRestore: true });
      await group.eval(T0 + MIN);
      group.restoreForState(T0 + MIN);
      assert.equal([...rule.active.values()][0].activeAt, T0 + MIN);
    });
  });
});

describe('rule groups never stop', () => {
  it('a throwing notify, appender or restore leaves the group and the other groups evaluating', async () => {
    const { producerErrors } = await import('../producer.js');
    const errorsBefore = (await producerErrors.get()).values.find((v) => v.labels.producer === 'rule')?.value ?? 0;
    const storage = new MemoryStorage();
    // Storage that fails the way a bug would (not a StorageError): the appender throws for the
    // series `bad:*`, and the querier throws once, on the `for`-state restore.
    const failing = Object.create(storage) as MemoryStorage;
    failing.appender = () => {
      const app = storage.appender();
      const append = app.append.bind(app);
      app.append = (ref, ls, t, v) => {
        if (ls.some((l) => l.name === '__name__' && l.value.startsWith('bad:'))) throw new TypeError('appender bug');
        return append(ref, ls, t, v);
      };
      return app;
    };
    let querierThrows = false;
    failing.querier = (mint, maxt) => {
      if (querierThrows) {
        querierThrows = false;
        throw new TypeError('querier bug');
      }
      return storage.querier(mint, maxt);
    };
    const engine = new Engine();
    const registry = new Registry();
    const metrics = ruleMetrics(registry);
    const mk = (name: string, rules: RuleBase[], notify: (expr: string, alerts: unknown[]) => void, shouldRestore = false) =>
      new Group({ file: 'rules.yml', name, interval: 100, queryOffset: 0, limit: 0, rules, storage: failing, query: engineQueryFunc(engine, failing), notify, metrics, logger: createLogger('silent'), shouldRestore, resendDelay: 0 });
    const throwingAlert = alertRule('NotifyFails', 'vector(1)');
    const badRecord = new RecordingRule('bad:one', 'vector(1)', {});
    const after = new RecordingRule('good:after', 'vector(2)', {});
    const restoring = alertRule('Restored', 'vector(1)', { for: 20 * MIN, restored: false });
    const g1 = mk('failing', [throwingAlert, badRecord, after], () => {
      throw new Error('notify bug');
    });
    const g2 = mk('restore', [restoring], () => undefined, true);
    const sent: unknown[] = [];
    const other = new RecordingRule('good:other', 'vector(3)', {});
    const g3 = mk('other', [other], (_e, a) => sent.push(...a));
    const iterations = async (g: string) => (await registry.getSingleMetric('patrol_rule_group_iterations_total')!.get()).values.find((v) => v.labels.rule_group === `rules.yml;${g}`)?.value ?? 0;
    querierThrows = true;
    for (const g of [g1, g2, g3]) g.start();
    try {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && ((await iterations('failing')) < 6 || (await iterations('restore')) < 6 || (await iterations('other')) < 6)) await new Promise((r) => setTimeout(r, 50));
      for (const g of ['failing', 'restore', 'other']) assert.ok((await iterations(g)) >= 6, `group ${g} kept evaluating`);
    } finally {
      await Promise.all([g1, g2, g3].map((g) => g.stop()));
    }
    // The rules that failed are unhealthy with the message; the rule after them still ran.
    assert.equal(throwingAlert.health, 'err');
    assert.equal(throwingAlert.lastError, 'notify bug');
    assert.equal(badRecord.health, 'err');
    assert.equal(badRecord.lastError, 'appender bug');
    assert.equal(after.health, 'ok');
    assert.equal(other.health, 'ok');
    // The results of the rule whose notify failed were still written.
    const q = storage.querier(0, Number.MAX_SAFE_INTEGER);
    const names = collectSeries(q.select({ start: 0, end: Number.MAX_SAFE_INTEGER }, [new Matcher('=~', '__name__', '.+')])).map((s) => labelsToRecord(s.labels).__name__);
    q.close();
    assert.ok(names.includes('ALERTS'), names.join(','));
    assert.ok(names.includes('good:after') && names.includes('good:other'), names.join(','));
    assert.ok(!names.includes('bad:one'));
    // The restore threw at the group's edge: counted as a producer error, the group was unhealthy
    // for that iteration, and the next iterations ran (and cleared it); the alert was released.
    const errorsAfter = (await producerErrors.get()).values.find((v) => v.labels.producer === 'rule')?.value ?? 0;
    assert.ok(errorsAfter >= errorsBefore + 1, `patrol_producer_errors_total{producer="rule"} ${errorsBefore} → ${errorsAfter}`);
    assert.equal(g2.lastError, '');
    assert.equal(restoring.restored, true);
    assert.equal(restoring.health, 'ok');
  });
});
