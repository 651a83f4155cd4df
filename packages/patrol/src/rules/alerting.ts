// An alerting rule: every sample of its expression is an alert identified by its labels, which
// goes pending → firing after `for`, stays firing `keep_firing_for` after the condition clears,
// and is kept 15 minutes as resolved so receivers learn it ended. Each evaluation writes the
// ALERTS and ALERTS_FOR_STATE series. Prometheus's semantics (rules/alerting.go), rewritten.

import { labelsFromRecord, labelsToRecord, METRIC_NAME, type Labels } from '../model/labels.js';
import { labelsId, RuleBase, type EvalContext, type Expander, type OutputSample } from './rule.js';

export type AlertState = 'inactive' | 'pending' | 'firing';

/** How long a resolved alert stays in the rule so it is reported as resolved (Prometheus: 15m). */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

export const ALERT_METRIC = 'ALERTS';
export const ALERT_FOR_STATE_METRIC = 'ALERTS_FOR_STATE';

export interface Alert {
  /** Sorted; the sample's labels without __name__, the rule's labels, and alertname. */
  labels: Labels;
  annotations: Record<string, string>;
  state: AlertState;
  value: number;
  /** Milliseconds since the epoch; 0 when not set. */
  activeAt: number;
  firedAt: number;
  resolvedAt: number;
  lastSentAt: number;
  validUntil: number;
  keepFiringSince: number;
}

export interface AlertingRuleOptions {
  name: string;
  expr: string;
  /** Milliseconds. */
  holdDuration: number;
  keepFiringFor: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  externalLabels: Record<string, string>;
  externalURL: string;
  expand: Expander;
  /** False until the group restored the `for` state after a start; no ALERTS samples until then. */
  restored: boolean;
}

export class AlertingRule extends RuleBase {
  readonly name: string;
  readonly expr: string;
  readonly holdDuration: number;
  readonly keepFiringFor: number;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  /** Active alerts by the identity of their labels. */
  active = new Map<string, Alert>();
  restored: boolean;
  /** The first template error of the last evaluation; the group reports it as the rule's health. */
  templateError = '';

  constructor(private readonly o: AlertingRuleOptions) {
    super();
    this.name = o.name;
    this.expr = o.expr;
    this.holdDuration = o.holdDuration;
    this.keepFiringFor = o.keepFiringFor;
    this.labels = o.labels;
    this.annotations = o.annotations;
    this.restored = o.restored;
  }

  private async expand(text: string, labels: Record<string, string>, value: number, time: number): Promise<string> {
    if (!text.includes('{{')) return text;
    try {
      return await this.o.expand(`__alert_${this.name}`, text, { labels, value, externalLabels: this.o.externalLabels, externalURL: this.o.externalURL, time });
    } catch (e) {
      // As Prometheus: the text becomes the error, and the rule reports it as its health.
      const msg = `error expanding template: ${(e as Error).message}`;
      if (!this.templateError) this.templateError = msg;
      return `<${msg}>`;
    }
  }

  async eval(ctx: EvalContext): Promise<OutputSample[]> {
    const queryTime = ctx.ts - ctx.queryOffset;
    const vector = await ctx.query(this.expr, queryTime, ctx.signal);
    this.templateError = '';
    const ts = ctx.ts;
    const fresh = new Map<string, Alert>();
    for (const s of vector) {
      const tmplLabels = labelsToRecord(s.labels);
      const rec: Record<string, string> = { ...tmplLabels };
      delete rec[METRIC_NAME];
      for (const [k, v] of Object.entries(this.labels)) {
        const x = await this.expand(v, tmplLabels, s.v, queryTime);
        if (x === '') delete rec[k];
        else rec[k] = x;
      }
      rec.alertname = this.name;
      const annotations: Record<string, string> = {};
      for (const [k, v] of Object.entries(this.annotations)) annotations[k] = await this.expand(v, tmplLabels, s.v, queryTime);
      const labels = labelsFromRecord(rec);
      const id = labelsId(labels);
      if (fresh.has(id)) throw new Error('vector contains metrics with the same labelset after applying alert labels');
      fresh.set(id, { labels, annotations, state: 'pending', value: s.v, activeAt: ts, firedAt: 0, resolvedAt: 0, lastSentAt: 0, validUntil: 0, keepFiringSince: 0 });
    }
    for (const [id, a] of fresh) {
      const cur = this.active.get(id);
      if (cur && cur.state !== 'inactive') {
        cur.value = a.value;
        cur.annotations = a.annotations;
        continue;
      }
      this.active.set(id, a);
    }

    const out: OutputSample[] = [];
    let activePending = 0;
    for (const [id, a] of this.active) {
      if (!fresh.has(id)) {
        let keepFiring = false;
        if (a.state === 'firing' && this.keepFiringFor > 0) {
          if (a.keepFiringSince === 0) a.keepFiringSince = ts;
          if (ts - a.keepFiringSince < this.keepFiringFor) keepFiring = true;
        }
        // A firing alert stays, resolved, for RESOLVED_RETENTION_MS so it is sent as resolved.
        if (a.state === 'pending' || (a.resolvedAt !== 0 && ts - a.resolvedAt > RESOLVED_RETENTION_MS)) this.active.delete(id);
        if (a.state !== 'inactive' && !keepFiring) {
          a.state = 'inactive';
          a.resolvedAt = ts;
        }
        if (!keepFiring) continue;
      } else {
        a.keepFiringSince = 0;
      }
      activePending++;
      if (a.state === 'pending' && ts - a.activeAt >= this.holdDuration) {
        a.state = 'firing';
        a.firedAt = ts;
      }
      if (this.restored) {
        out.push(this.alertSample(a, queryTime));
        out.push(this.forStateSample(a, queryTime));
      }
    }
    if (ctx.limit > 0 && activePending > ctx.limit) {
      this.active.clear();
      throw new Error(`exceeded limit of ${ctx.limit} with ${activePending} alerts`);
    }
    return out;
  }

  /** The ALERTS sample of an alert: its labels, alertstate, value 1. */
  alertSample(a: Alert, t: number): OutputSample {
    const rec = labelsToRecord(a.labels);
    rec[METRIC_NAME] = ALERT_METRIC;
    rec.alertstate = a.state;
    return { labels: labelsFromRecord(rec), t: Math.floor(t), v: 1 };
  }

  /** The ALERTS_FOR_STATE sample: the alert's labels, value the activeAt time in whole seconds. */
  forStateSample(a: Alert, t: number): OutputSample {
    return { labels: this.forStateLabels(a), t: Math.floor(t), v: Math.floor(a.activeAt / 1000) };
  }

  forStateLabels(a: Alert): Labels {
    const rec = labelsToRecord(a.labels);
    rec[METRIC_NAME] = ALERT_FOR_STATE_METRIC;
    return labelsFromRecord(rec);
  }

  /** The highest state of its alerts (firing > pending > inactive). */
  state(): AlertState {
    let s: AlertState = 'inactive';
    for (const a of this.active.values()) {
      if (a.state === 'firing') return 'firing';
      if (a.state === 'pending') s = 'pending';
    }
    return s;
  }

  /** Alerts not resolved (pending or firing), as copies. */
  activeAlerts(): Alert[] {
    return [...this.active.values()].filter((a) => a.resolvedAt === 0).map((a) => ({ ...a }));
  }

  /**
   * The alerts due to be sent at `ts` (Prometheus's resend logic): firing or resolved ones not
   * sent within `resendDelay`, or resolved since their last send. Marks them sent and sets
   * validUntil to ts + 4 × max(resendDelay, interval).
   */
  alertsToSend(ts: number, resendDelay: number, interval: number): Alert[] {
    const out: Alert[] = [];
    for (const a of this.active.values()) {
      if (a.state === 'pending') continue;
      const due = a.resolvedAt > a.lastSentAt || a.lastSentAt + resendDelay < ts;
      if (!due) continue;
      a.lastSentAt = ts;
      a.validUntil = ts + 4 * Math.max(resendDelay, interval);
      out.push({ ...a });
    }
    return out;
  }
}
