// Writes a run's result under blackbox_exporter's metric names, labelled probe, instance and the
// probe's own labels, so dashboards and rules written for blackbox_exporter work unchanged.

import { labelsFromRecord, METRIC_NAME, type Label, type Labels } from '../model/labels.js';
import { STALE_NAN } from '../model/value.js';
import { stripUrlCredentials } from '../config/secrets.js';
import type { Appender, SeriesRef } from '../storage/interface.js';
import type { CompiledProbe, ProbeResult } from './run.js';
import type { ProbeState } from '../model/probestate.js';

/** The values of `patrol_probe_state` (documented in the README; the rule pack reads them). */
export const PROBE_STATE_VALUES = { down: 0, up: 1, degraded: 2 } as const;

/** The label set of a probe's series, without the metric name. */
export function probeLabels(p: CompiledProbe): Record<string, string> {
  // The probe's own labels cannot replace probe or instance, which identify the series.
  // No label carries credentials: `http://user:pass@host` is stored as `http://host`.
  const out: Record<string, string> = { ...p.cfg.labels, probe: p.cfg.name, instance: p.cfg.target };
  for (const k of Object.keys(out)) out[k] = stripUrlCredentials(out[k]);
  return out;
}

interface Entry {
  labels: Labels;
  ref: SeriesRef;
  /** The write() that last wrote the series (-1 once it was marked stale). */
  gen: number;
}

/** Caches each series' labels and ref; one per probe, reused across runs. */
export class ResultWriter {
  private readonly base: Record<string, string>;
  private readonly series = new Map<string, Entry>();
  /** Counts write() calls; an entry remembers the last one that wrote it. */
  private gen = 0;
  /** The entries of the last run's samples by position: runs push the same samples in order. */
  private slots: { name: string; labelValue: string | undefined; e: Entry }[] = [];

  constructor(readonly probe: CompiledProbe) {
    this.base = probeLabels(probe);
  }

  private entry(name: string, labelName?: string, labelValue?: string, more?: Record<string, string>): Entry {
    const key = more ? `${name}\xff${JSON.stringify(more)}` : labelName ? `${name}\xff${labelName}\xff${labelValue}` : name;
    let e = this.series.get(key);
    if (!e) {
      const rec: Record<string, string> = { ...this.base, [METRIC_NAME]: name };
      if (labelName && labelValue !== undefined) rec[labelName] = labelValue;
      if (more) for (const k in more) if (!(k in this.base) && k !== METRIC_NAME) rec[k] = more[k];
      e = { labels: labelsFromRecord(rec), ref: 0, gen: 0 };
      this.series.set(key, e);
    }
    return e;
  }

  private put(app: Appender, t: number, v: number, name: string, labelName?: string, labelValue?: string): void {
    const e = this.entry(name, labelName, labelValue);
    e.ref = app.append(e.ref, e.labels, t, v);
    e.gen = this.gen;
  }

  /** Appends the result's samples at its start time. The caller commits. */
  write(app: Appender, r: ProbeResult): void {
    const t = r.time;
    const gen = ++this.gen;
    this.put(app, t, r.success ? 1 : 0, 'probe_success');
    this.put(app, t, r.durationMs / 1000, 'probe_duration_seconds');
    let regexWritten = false;
    const samples = r.samples;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      if (s.name === 'probe_failed_due_to_regex') regexWritten = true;
      let slot = this.slots[i];
      const lv = s.labels ? JSON.stringify(s.labels) : s.labelValue;
      if (!slot || slot.name !== s.name || slot.labelValue !== lv) {
        slot = { name: s.name, labelValue: lv, e: this.entry(s.name, s.labelName, s.labelValue, s.labels) };
        this.slots[i] = slot;
      }
      slot.e.ref = app.append(slot.e.ref, slot.e.labels, t, s.value);
      slot.e.gen = gen;
    }
    if (this.probe.hasRegex && !regexWritten) this.put(app, t, r.failedDueToRegex ? 1 : 0, 'probe_failed_due_to_regex');
    // A series the previous run wrote and this one did not (the TLS series of a target that moved
    // to plain HTTP, last_chain_info after a certificate change) ends now, as it would in
    // Prometheus scraping blackbox_exporter, instead of lingering for the lookback delta.
    for (const e of this.series.values()) {
      if (e.gen !== gen - 1 || e.ref === 0) continue;
      e.gen = -1;
      try {
        e.ref = app.append(e.ref, e.labels, t, STALE_NAN);
      } catch {
        // Its newest sample is not older than t: nothing to end.
      }
    }
  }

  /**
   * Appends the probe's state after a run (its thresholds' verdict) as `patrol_probe_up` (1 UP
   * or DEGRADED, 0 DOWN) and `patrol_probe_state` (PROBE_STATE_VALUES: 0 DOWN, 1 UP,
   * 2 DEGRADED); nothing while UNKNOWN. Rules read them to alert on the probe's own state rather
   * than on single runs. Call right after write() for the same run.
   */
  writeState(app: Appender, t: number, state: ProbeState): void {
    if (state === 'unknown') return;
    // Kept apart from `series`: write() would end them as series this run did not report.
    const up = (this.upEntry ??= { labels: labelsFromRecord({ ...this.base, [METRIC_NAME]: 'patrol_probe_up' }), ref: 0, gen: 0 });
    up.ref = app.append(up.ref, up.labels, t, state === 'down' ? 0 : 1);
    up.gen = this.gen;
    const st = (this.stateEntry ??= { labels: labelsFromRecord({ ...this.base, [METRIC_NAME]: 'patrol_probe_state' }), ref: 0, gen: 0 });
    st.ref = app.append(st.ref, st.labels, t, PROBE_STATE_VALUES[state]);
    st.gen = this.gen;
  }
  private upEntry: Entry | undefined;
  private stateEntry: Entry | undefined;

  /** The series' label set without the metric name, as a comparable key. */
  identity(): string {
    return JSON.stringify(this.base);
  }

  /** Appends a staleness marker to every series written so far (the probe went away). */
  markStale(app: Appender, t: number): void {
    for (const e of [...this.series.values(), ...(this.upEntry ? [this.upEntry] : []), ...(this.stateEntry ? [this.stateEntry] : [])]) {
      if (e.ref === 0 || e.gen === -1) continue;
      try {
        e.ref = app.append(e.ref, e.labels, t, STALE_NAN);
      } catch {
        // A series whose newest sample is not older than t needs no marker.
      }
    }
  }

  /** Label matchers' view: the labels of probe_success for this probe. */
  successLabels(): readonly Label[] {
    return this.entry('probe_success').labels;
  }
}
