// The rules component inside a running Patrol: rule_files from the config, evaluation on the
// group's slots, reload all-or-nothing.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';

const CONFIG = `global:
  evaluation_interval: 1s
rule_files: ['rules/*.yml']
`;

const RULES = `groups:
  - name: basic
    labels: {team: core}
    rules:
      - record: patrol:one
        expr: vector(1)
      - alert: AlwaysOn
        expr: patrol:one > 0
        labels: {severity: info}
      - alert: Broken
        expr: label_replace(vector(1), "a", "x", "", "") or label_replace(vector(2), "a", "y", "", "")
        labels: {a: same}
`;

async function until<T>(what: string, f: () => Promise<T | undefined>, tries = 150): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('rules component', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-rules-'));
  let patrol: Patrol;
  let base: string;
  const query = async (q: string) => {
    const r = (await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return r.data.result;
  };

  before(async () => {
    writeFileSync(join(dir, 'patrol.yml'), CONFIG);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'rules'));
    writeFileSync(join(dir, 'rules', 'a.yml'), RULES);
    patrol = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('silent') });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });
  after(async () => {
    await patrol.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records, and writes ALERTS for a firing alert with the group labels', async () => {
    const rec = await until('patrol:one', async () => ((await query('patrol:one')).length ? await query('patrol:one') : undefined));
    assert.deepEqual(rec[0].metric, { __name__: 'patrol:one', team: 'core' });
    const alerts = await until('ALERTS', async () => ((await query('ALERTS')).length ? await query('ALERTS') : undefined));
    assert.deepEqual(alerts.map((a) => a.metric), [{ __name__: 'ALERTS', alertname: 'AlwaysOn', alertstate: 'firing', severity: 'info', team: 'core' }]);
  });

  it('counts evaluations and the failing rule in its self-metrics, without stopping the group', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /patrol_rule_evaluation_failures_total\{rule_group="[^"]*a\.yml;basic"\} [1-9]/);
    assert.match(text, /patrol_rule_group_rules\{rule_group="[^"]*a\.yml;basic"\} 3/);
  });

  it('/api/v1/rules filters by type, rule name, group and file; /api/v1/alerts lists active alerts', async () => {
    type G = { name: string; file: string; rules: { name: string; type: string; health: string; lastError?: string; alerts?: unknown[] }[] };
    const rules = async (qs: string) => {
      const r = await fetch(`${base}/api/v1/rules${qs}`);
      return { status: r.status, body: (await r.json()) as { data: { groups: G[] }; error?: string } };
    };
    const all = (await rules('')).body.data.groups;
    assert.deepEqual(all.map((g) => g.rules.map((r) => `${r.type}:${r.name}:${r.health}`)), [['recording:patrol:one:ok', 'alerting:AlwaysOn:ok', 'alerting:Broken:err']]);
    assert.equal(all[0].rules[2].lastError, 'vector contains metrics with the same labelset after applying alert labels');
    assert.deepEqual((await rules('?type=record')).body.data.groups[0].rules.map((r) => r.name), ['patrol:one']);
    assert.deepEqual((await rules('?rule_name[]=Broken&rule_name[]=AlwaysOn')).body.data.groups[0].rules.map((r) => r.name), ['AlwaysOn', 'Broken']);
    assert.deepEqual((await rules('?rule_group[]=nope')).body.data.groups, []);
    assert.equal((await rules(`?file[]=${encodeURIComponent(all[0].file)}&rule_group[]=basic`)).body.data.groups.length, 1);
    assert.deepEqual((await rules('?exclude_alerts=true')).body.data.groups[0].rules[1].alerts, []);
    const bad = await rules('?type=alerts');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid parameter "type": not supported value "alerts"');
    const alerts = (await (await fetch(`${base}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string; value: string }[] } };
    assert.deepEqual(alerts.data.alerts.map((a) => [a.labels.alertname, a.state, a.value]), [['AlwaysOn', 'firing', '1e+00']]);
  });

  it('rejects a reload with a broken rule file and keeps the running rules', async () => {
    writeFileSync(join(dir, 'rules', 'b.yml'), 'groups:\n  - name: bad\n    rules:\n      - record: x\n        expr: sum(\n');
    const r = await patrol.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors.join('\n'), /b\.yml:5:\d+: group "bad", rule 1, "x": could not parse expression: 1:\d+: parse error/);
    const before = (await query('patrol:one'))[0].value[0];
    const later = await until('a newer evaluation', async () => {
      const v = (await query('patrol:one'))[0]?.value[0];
      return v !== undefined && v > before ? v : undefined;
    });
    assert.ok(later > before);
    rmSync(join(dir, 'rules', 'b.yml'));
  });

  it('a reload that removes an alerting rule marks its ALERTS series stale', async () => {
    writeFileSync(join(dir, 'rules', 'a.yml'), RULES.replace(/ {6}- alert: AlwaysOn\n.*\n.*\n/, ''));
    const r = await patrol.reload();
    assert.deepEqual(r, { ok: true, errors: [] });
    await until('ALERTS to go', async () => ((await query('ALERTS')).length === 0 ? true : undefined));
  });
});
