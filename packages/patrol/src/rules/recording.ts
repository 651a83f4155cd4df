// A recording rule: evaluates its expression and stores the result under a new metric name.

import { labelsFromRecord, labelsToRecord, METRIC_NAME } from '../model/labels.js';
import { labelsId, RuleBase, type EvalContext, type OutputSample } from './rule.js';

export class RecordingRule extends RuleBase {
  constructor(
    readonly name: string,
    readonly expr: string,
    readonly labels: Record<string, string>,
  ) {
    super();
  }

  /**
   * The result renamed to the rule's name with the rule's labels set (an empty value removes
   * the label). Throws when two samples end up with the same labels or the group's limit is
   * exceeded, with Prometheus's messages.
   */
  async eval(ctx: EvalContext): Promise<OutputSample[]> {
    const t = ctx.ts - ctx.queryOffset;
    const vector = await ctx.query(this.expr, t, ctx.signal);
    const out: OutputSample[] = [];
    const seen = new Set<string>();
    for (const s of vector) {
      const rec = labelsToRecord(s.labels);
      rec[METRIC_NAME] = this.name;
      for (const [k, v] of Object.entries(this.labels)) {
        if (v === '') delete rec[k];
        else rec[k] = v;
      }
      const labels = labelsFromRecord(rec);
      const id = labelsId(labels);
      if (seen.has(id)) throw new Error('vector contains metrics with the same labelset after applying rule labels');
      seen.add(id);
      out.push({ labels, t: Math.floor(t), v: s.v });
    }
    if (ctx.limit > 0 && out.length > ctx.limit) throw new Error(`exceeded limit of ${ctx.limit} with ${out.length} series`);
    return out;
  }
}
