// The rule manager's self-metrics: Prometheus's rule metrics under the patrol_ prefix, labelled
// rule_group="<file>;<group>" as Prometheus labels them.

import { Counter, Gauge, type Registry } from 'prom-client';

export interface RuleMetrics {
  evaluations: Counter<'rule_group'>;
  failures: Counter<'rule_group'>;
  iterations: Counter<'rule_group'>;
  missed: Counter<'rule_group'>;
  lastDuration: Gauge<'rule_group'>;
  lastEvaluation: Gauge<'rule_group'>;
  samples: Gauge<'rule_group'>;
  interval: Gauge<'rule_group'>;
  rules: Gauge<'rule_group'>;
}

export function ruleMetrics(registry: Registry): RuleMetrics {
  const labelNames = ['rule_group'] as const;
  const registers = [registry];
  return {
    evaluations: new Counter({ name: 'patrol_rule_evaluations_total', help: 'The total number of rule evaluations.', labelNames, registers }),
    failures: new Counter({ name: 'patrol_rule_evaluation_failures_total', help: 'The total number of rule evaluation failures.', labelNames, registers }),
    iterations: new Counter({ name: 'patrol_rule_group_iterations_total', help: 'The total number of scheduled rule group evaluations, whether executed or missed.', labelNames, registers }),
    missed: new Counter({ name: 'patrol_rule_group_iterations_missed_total', help: 'The total number of rule group evaluations missed due to slow rule group evaluation.', labelNames, registers }),
    lastDuration: new Gauge({ name: 'patrol_rule_group_last_duration_seconds', help: 'The duration of the last rule group evaluation.', labelNames, registers }),
    lastEvaluation: new Gauge({ name: 'patrol_rule_group_last_evaluation_timestamp_seconds', help: 'The timestamp of the last rule group evaluation in seconds.', labelNames, registers }),
    samples: new Gauge({ name: 'patrol_rule_group_last_evaluation_samples', help: 'The number of samples returned during the last rule group evaluation.', labelNames, registers }),
    interval: new Gauge({ name: 'patrol_rule_group_interval_seconds', help: 'The interval of a rule group.', labelNames, registers }),
    rules: new Gauge({ name: 'patrol_rule_group_rules', help: 'The number of rules.', labelNames, registers }),
  };
}

/** Drops a removed group's series from every metric. */
export function forgetGroup(m: RuleMetrics, key: string): void {
  for (const metric of Object.values(m)) metric.remove({ rule_group: key });
}
