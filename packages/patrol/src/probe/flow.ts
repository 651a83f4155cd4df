// Multi-step API flows (`type: flow`): HTTP steps run in order, each with its own conditions and
// timing; values captured from a response (JSON path, header, regex) become ${variables} of the
// later steps. The flow fails at the first failing step and names it; cleanup steps run after
// the steps whatever happened (also after a timeout, then bounded by the probe's timeout again).
// Secret values (`secrets:`, `secret_files:`, `${env:NAME}`, captures marked secret) are replaced
// by <secret> in every reason the flow produces.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FLOW_REF, type FlowProbeConfig, type FlowStepConfig, type HttpProbeConfig } from '../config/probes.js';
import { evaluateAll, lookupJson, parseCondition, parseJsonPath, type Condition, type PathStep } from '../model/conditions.js';
import { compileSearch, type Regex } from '../model/regex.js';
import { HttpProbe } from './http.js';
import { Abort, type PreparedProbe, type ProbeSample, type ProbeType, type RunContext, type RunOutcome } from './types.js';

const DEFAULT_STEP_CONDITIONS: readonly Condition[] = [parseCondition('[STATUS] == 2xx')];

/** The longest captured value kept (a capture is a token or an id, not a document). */
const MAX_CAPTURE = 64 * 1024;

interface Capture {
  name: string;
  json?: { path: PathStep[]; text: string };
  header?: string;
  regex?: Regex;
  secret: boolean;
}

/** A template split into literal text and variable names, so that a run only joins strings. */
type Template = readonly (string | { v: string })[];

interface Step {
  index: number;
  name: string;
  cleanup: boolean;
  probe: HttpProbe;
  conditions: readonly Condition[];
  captures: readonly Capture[];
  /** Null when the part holds no run-time variable (the prepared request is used as is). */
  url: Template | null;
  headers: Record<string, Template> | null;
  body: Template | null;
  /** The variables it reads that only a capture defines. */
  needs: readonly string[];
}

/** Replaces `${…}` references whose value is known at prepare time; leaves the others in place. */
function expandStatic(text: string, vars: ReadonlyMap<string, string>, env: (name: string) => string): string {
  return text.replace(FLOW_REF, (whole: string, isEnv: string | undefined, name: string | undefined) => {
    if (whole === '$${') return '$${';
    if (isEnv) return env(name!);
    const v = vars.get(name!);
    return v === undefined ? whole : v;
  });
}

/** Splits a text into literals and run-time variables, or null without any. */
function template(text: string): Template | null {
  const out: (string | { v: string })[] = [];
  let last = 0;
  let dynamic = false;
  for (const m of text.matchAll(FLOW_REF)) {
    out.push(text.slice(last, m.index));
    if (m[0] === '$${') out.push('${');
    else {
      out.push({ v: m[2] });
      dynamic = true;
    }
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return dynamic ? out : null;
}

function fill(t: Template, vars: ReadonlyMap<string, string>): string {
  let s = '';
  for (const part of t) s += typeof part === 'string' ? part : (vars.get(part.v) ?? '');
  return s;
}

/** The text of a template with no run-time variable (`$${` made literal). */
function literal(text: string): string {
  return text.replace(/\$\$\{/g, '${');
}

class FlowProbe implements PreparedProbe {
  readonly host: string;
  private readonly steps: Step[] = [];
  private readonly cleanup: Step[] = [];
  /** Configured secret values, longest first (a secret containing another is masked whole). */
  private secrets: string[] = [];
  private readonly base: URL;

  constructor(
    private readonly cfg: FlowProbeConfig,
    dir: string,
  ) {
    this.base = new URL(cfg.target);
    this.host = this.base.hostname;
    const vars = new Map<string, string>(Object.entries(cfg.variables));
    const secrets: string[] = [];
    for (const [k, s] of Object.entries(cfg.secrets)) {
      vars.set(k, s.reveal());
      secrets.push(s.reveal());
    }
    for (const [k, f] of Object.entries(cfg.secret_files)) {
      let v: string;
      try {
        v = readFileSync(resolve(dir, f), 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        throw new Error(`secret_files.${k}: cannot read ${JSON.stringify(f)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      vars.set(k, v);
      secrets.push(v);
    }
    const env = (name: string): string => {
      const v = process.env[name];
      if (v === undefined) throw new Error(`\${env:${name}} is not set in the environment`);
      secrets.push(v);
      return v;
    };
    const finalSecrets = () => (this.secrets = [...new Set(secrets.filter((s) => s !== ''))].sort((a, b) => b.length - a.length));
    finalSecrets();
    const captured = new Set(cfg.steps.flatMap((s) => Object.keys(s.capture)));
    const build = (st: FlowStepConfig, index: number, cleanup: boolean): Step => {
      const where = `${cleanup ? 'cleanup step' : 'step'} ${JSON.stringify(st.name)}`;
      try {
        const url = expandStatic(st.url, vars, env);
        const headers: Record<string, string> = {};
        for (const [h, v] of Object.entries(st.headers)) headers[h] = expandStatic(v, vars, env);
        const body = st.body === undefined ? undefined : expandStatic(st.body, vars, env);
        const urlT = template(url);
        const headersT: Record<string, Template> = {};
        let dynHeaders = false;
        for (const [h, v] of Object.entries(headers)) {
          const t = template(v);
          if (t) dynHeaders = true;
          headersT[h.toLowerCase()] = t ?? [literal(v)];
        }
        const bodyT = body === undefined ? null : template(body);
        // The request as prepared: run-time variables left empty (replaced at each run).
        const empty = new Map<string, string>();
        const target = urlT ? new URL(fill(urlT, empty), this.base).href : new URL(literal(url), this.base).href;
        const httpCfg: HttpProbeConfig = {
          ...cfg,
          type: 'http',
          target,
          method: st.method,
          headers: Object.fromEntries(Object.entries(headersT).map(([h, t]) => [h, fill(t, empty)])),
          body: body === undefined ? undefined : bodyT ? fill(bodyT, empty) : literal(body),
          conditions: st.conditions,
          degrading_conditions: [],
        };
        const captures: Capture[] = Object.entries(st.capture).map(([name, c]) => ({
          name,
          json: c.json === undefined ? undefined : parseJsonPath(c.json),
          header: c.header?.toLowerCase(),
          regex: c.regex === undefined ? undefined : compileSearch(c.regex),
          secret: c.secret,
        }));
        const conditions = st.conditions.length > 0 ? st.conditions : DEFAULT_STEP_CONDITIONS;
        const keepBody = captures.some((c) => c.json !== undefined || (c.regex !== undefined && c.header === undefined));
        const needs = [...new Set([urlT, ...Object.values(headersT), bodyT].flatMap((t) => (t ?? []).flatMap((p) => (typeof p === 'string' ? [] : [p.v]))))].filter((v) => captured.has(v));
        for (const [h, v] of Object.entries(httpCfg.headers)) if (/[\r\n\0]/.test(v)) throw new Error(`headers.${h}: the value contains a line break`);
        return { index, name: st.name, cleanup, probe: new HttpProbe(httpCfg, conditions, dir, keepBody), conditions, captures, url: urlT, headers: dynHeaders ? headersT : null, body: bodyT, needs };
      } catch (e) {
        throw new Error(`${where}: ${this.mask((e as Error).message)}`);
      }
    };
    cfg.steps.forEach((st, i) => this.steps.push(build(st, i + 1, false)));
    cfg.cleanup.forEach((st, i) => this.cleanup.push(build(st, i + 1, true)));
    // ${env:…} values read while building the steps are secrets too.
    finalSecrets();
  }

  /** Replaces every secret value (configured, or captured as secret in this run) by <secret>. */
  private mask(text: string, extra?: readonly string[]): string {
    for (const s of this.secrets) if (text.includes(s)) text = text.split(s).join('<secret>');
    if (extra) for (const s of extra) if (s !== '' && text.includes(s)) text = text.split(s).join('<secret>');
    return text;
  }

  async run(ctx: RunContext): Promise<RunOutcome> {
    const t0 = performance.now();
    const vars = new Map<string, string>();
    const runSecrets: string[] = [];
    let error: string | null = null;
    let failed = 0;
    for (const st of this.steps) {
      const err = await this.runStep(st, ctx, ctx.abort, vars, runSecrets);
      if (err !== null) {
        error = `step ${st.index} ${JSON.stringify(st.name)}: ${err}`;
        failed = st.index;
        break;
      }
    }
    ctx.samples.push({ name: 'probe_flow_failed_step', value: failed });
    if (this.cleanup.length > 0) {
      if (ctx.abort.aborted) {
        // The run was cut off (timeout, shutdown): its I/O is gone; cleanup still runs, on its own
        // deadline, and what it sees is not reported.
        void this.detachedCleanup(vars, runSecrets);
      } else {
        for (const st of this.cleanup) {
          const err = await this.runStep(st, ctx, ctx.abort, vars, runSecrets);
          if (err !== null && error === null) error = `cleanup step ${JSON.stringify(st.name)}: ${err}`;
        }
      }
    }
    const durationMs = performance.now() - t0;
    return { obs: { durationMs, now: Date.now() }, error: error === null ? null : this.mask(error, runSecrets) };
  }

  private async detachedCleanup(vars: Map<string, string>, runSecrets: string[]): Promise<void> {
    const abort = new Abort();
    const timer = setTimeout(() => abort.abort(), this.cfg.timeout);
    timer.unref();
    try {
      for (const st of this.cleanup) {
        if (abort.aborted) break;
        await this.runStep(st, { abort, phase: 'cleanup', samples: [], startedAt: Date.now() }, abort, vars, runSecrets);
      }
    } catch {
      // Nothing to report to: the run has settled.
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs one step; returns its failure (unmasked) or null. Never throws. */
  private async runStep(st: Step, ctx: RunContext, abort: Abort, vars: Map<string, string>, runSecrets: string[]): Promise<string | null> {
    const label = st.cleanup ? `cleanup:${st.name}` : st.name;
    const missing = st.needs.filter((v) => !vars.has(v));
    if (missing.length > 0) {
      // Only cleanup steps get here (config checks that steps read earlier captures): the step
      // that would have captured it did not run.
      this.stepSamples(ctx.samples, label, false, 0, undefined);
      return `skipped: ${missing.map((v) => `\${${v}}`).join(', ')} not captured (an earlier step failed)`;
    }
    const prefix = `${st.cleanup ? 'cleanup step' : 'step'} ${st.index} ${JSON.stringify(st.name)}`;
    // The step's own context: its phases name the step in a timeout's reason; its samples (the
    // HTTP phase metrics) are not the flow's.
    const sub: RunContext = {
      abort,
      samples: [] as ProbeSample[],
      startedAt: Date.now(),
      get phase() {
        return ctx.phase;
      },
      set phase(p: string) {
        ctx.phase = `${prefix}: ${p}`;
      },
    };
    let out: RunOutcome;
    try {
      if (st.url || st.headers || st.body) {
        const url = st.url ? new URL(fill(st.url, vars), this.base) : st.probe.configuredUrl;
        const headers = st.headers ? this.headersWith(st, vars) : { ...st.probe.baseHeaders };
        const body = st.body ? fill(st.body, vars) : st.probe.configuredBody;
        out = await st.probe.runWith(sub, url, headers, body);
      } else out = await st.probe.run(sub);
    } catch (e) {
      out = { obs: { durationMs: 0, now: Date.now() }, error: `step error: ${(e as Error).message}` };
    }
    const obs = out.obs;
    let err = out.error;
    if (err === null) {
      const v = evaluateAll(st.conditions, obs);
      if (!v.ok) err = v.reason;
    }
    if (err === null) err = this.capture(st, obs.body, obs.headers, vars, runSecrets);
    this.stepSamples(ctx.samples, label, err === null, obs.durationMs, obs.status);
    return err;
  }

  private headersWith(st: Step, vars: ReadonlyMap<string, string>): Record<string, string> {
    const base = st.probe.baseHeaders;
    const out: Record<string, string> = { ...base };
    for (const [h, t] of Object.entries(st.headers!)) out[h] = fill(t, vars);
    return out;
  }

  private stepSamples(samples: ProbeSample[], step: string, ok: boolean, ms: number, status: number | undefined): void {
    samples.push({ name: 'probe_flow_step_success', value: ok ? 1 : 0, labelName: 'step', labelValue: step });
    samples.push({ name: 'probe_flow_step_duration_seconds', value: ms / 1000, labelName: 'step', labelValue: step });
    samples.push({ name: 'probe_flow_step_status_code', value: status ?? 0, labelName: 'step', labelValue: step });
  }

  /** Takes the step's captures into `vars`; returns the first failure or null. */
  private capture(st: Step, body: string | undefined, headers: Readonly<Record<string, string | string[] | undefined>> | undefined, vars: Map<string, string>, runSecrets: string[]): string | null {
    let parsed: { ok: true; value: unknown } | { ok: false; error: string } | null = null;
    for (const c of st.captures) {
      let value: string;
      if (c.json) {
        if (body === undefined) return `capture ${c.name}: no body was received`;
        if (!parsed) {
          try {
            parsed = { ok: true, value: JSON.parse(body) as unknown };
          } catch (e) {
            parsed = { ok: false, error: `the body is not JSON (${(e as Error).message})` };
          }
        }
        if (!parsed.ok) return `capture ${c.name}: ${parsed.error}`;
        const r = lookupJson(parsed.value, c.json.path);
        if (!r.found) return `capture ${c.name}: ${c.json.text} does not exist in the response`;
        if (r.value === null || typeof r.value === 'object') return `capture ${c.name}: ${c.json.text} is ${r.value === null ? 'null' : Array.isArray(r.value) ? 'a list' : 'an object'}, not a value`;
        value = String(r.value);
      } else {
        let source: string | undefined;
        let what: string;
        if (c.header !== undefined) {
          const h = headers?.[c.header];
          source = Array.isArray(h) ? h.join(', ') : h;
          what = `header ${c.header}`;
          if (source === undefined) return `capture ${c.name}: the response has no ${c.header} header`;
        } else {
          source = body;
          what = 'the body';
          if (source === undefined) return `capture ${c.name}: no body was received`;
        }
        if (c.regex) {
          const m = c.regex.exec(source);
          if (!m) return `capture ${c.name}: /${c.regex.source}/ does not match ${what}`;
          value = (m.length > 1 ? m[1] : m[0]) ?? '';
        } else value = source;
      }
      if (value.length > MAX_CAPTURE) return `capture ${c.name}: the value is longer than ${MAX_CAPTURE} characters`;
      vars.set(c.name, value);
      if (c.secret && value !== '') runSecrets.push(value);
    }
    return null;
  }
}

export const flowProbeType: ProbeType<FlowProbeConfig> = {
  type: 'flow',
  defaultConditions: [],
  prepare: (cfg, _conditions, dir) => new FlowProbe(cfg, dir),
};
