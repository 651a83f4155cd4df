// The `patrol` pack watches Patrol through its own /metrics: every metric its rules read must be
// one a running Patrol exposes (a renamed counter would leave the alert silently never firing),
// and every label its annotations quote must be one of that metric's labels.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import type { Expr } from '../promql/ast.js';
import { parseExpr } from '../promql/parser.js';
import { Patrol } from '../server.js';
import { packFile } from './packs.js';
import { parseRuleFile } from './parse.js';

/** The metric names an expression selects. */
function metricNames(e: Expr, out = new Set<string>()): Set<string> {
  switch (e.type) {
    case 'vectorSelector':
      if (e.name) out.add(e.name);
      break;
    case 'matrixSelector':
      metricNames(e.selector, out);
      break;
    case 'subquery':
    case 'paren':
    case 'unary':
      metricNames(e.expr, out);
      break;
    case 'aggregate':
      metricNames(e.expr, out);
      if (e.param) metricNames(e.param, out);
      break;
    case 'call':
      for (const a of e.args) metricNames(a, out);
      break;
    case 'binary':
      metricNames(e.lhs, out);
      metricNames(e.rhs, out);
      break;
    default:
      break;
  }
  return out;
}

/** Labels every scraped series has, whatever the metric. */
const TARGET_LABELS = new Set(['job', 'instance']);

describe('the patrol pack reads metrics Patrol exposes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-selfmetrics-'));
  let patrol: Patrol;
  let exposed: string;

  before(async () => {
    writeFileSync(join(dir, 'patrol.yml'), 'global: {scrape_interval: 1h}\nhost: {enabled: false}\nrule_packs: [patrol]\n');
    patrol = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('silent') });
    await patrol.start();
    exposed = await (await fetch(`http://${patrol.listen}/metrics`)).text();
  });
  after(async () => {
    await patrol.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every metric name and quoted label of every rule', () => {
    const parsed = parseRuleFile(readFileSync(packFile('patrol'), 'utf8'), 'patrol.rules.yml');
    assert.deepEqual(parsed.errors, []);
    const rules = parsed.groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 6);
    const checked = new Set<string>();
    for (const r of rules) {
      // `up` is written by every scrape, not a metric of Patrol's own.
      const names = [...metricNames(parseExpr(r.expr))].filter((n) => n !== 'up');
      const quoted = new Set([...Object.values(r.annotations).join(' ').matchAll(/\$labels\.([a-zA-Z_]\w*)/g)].map((m) => m[1]));
      for (const name of names) {
        assert.match(exposed, new RegExp(`^# TYPE ${name} `, 'm'), `${r.alert}: ${name} is not on Patrol's /metrics`);
        checked.add(name);
      }
      if (names.length === 0) continue;
      for (const label of quoted) {
        if (TARGET_LABELS.has(label)) continue;
        const has = names.some((n) => {
          const m = patrol.registry.getSingleMetric(n) as unknown as { labelNames?: readonly string[] } | undefined;
          return m?.labelNames?.includes(label);
        });
        assert.ok(has, `${r.alert}: the annotations quote $labels.${label}, which ${names.join(', ')} lack`);
      }
    }
    assert.deepEqual([...checked].sort(), [
      'alertmanager_notifications_failed_total',
      'patrol_config_last_reload_successful',
      'patrol_notifications_dropped_total',
      'patrol_notifications_errors_total',
      'patrol_rule_evaluation_failures_total',
      'patrol_rule_group_iterations_missed_total',
      'patrol_tsdb_read_only',
    ]);
  });
});
