// Dynamic baselines → plain Prometheus rules. Each entry of `baselines:` becomes one rule group
// (`baseline:NAME`) that Prometheus itself can run, so `patrol baselines export` gives a rule file
// equal to what Patrol evaluates. For a baseline NAME over expression E with window W, P the
// length of a season (1d daily, 1w weekly), S past seasons and band k:
//
//   baseline:NAME:value         = E, recorded at every evaluation (one series per series of E)
//   baseline:NAME:window_avg    = avg_over_time(value[W])       trailing mean over W
//   baseline:NAME:window_stdvar = stdvar_over_time(value[W])    trailing variance over W
//   baseline:NAME:mean          = median over past seasons i = 1..S of window_avg offset (i·P − W/2)
//   baseline:NAME:stddev        = √(median of the seasons' variances
//                                   + median of (season's window_avg − mean)²)
//   baseline:NAME:upper / lower = mean ± max(k · stddev, min_deviation)
//   alert                       = value > upper (above) / value < lower (below), for `for`
//
// The offset i·P − W/2 puts the trailing window W of season i ago around the same moment: the
// statistics describe "this hour" of the last S days (or weeks), not the last hours, so a
// daily rise is normal and a quiet night stays quiet. Seasons are combined with medians (with
// S ≥ 3, one past day that held an incident neither moves the mean nor widens the band; with
// S = 2 the median is the average), and the spread adds the within-window variance (noise) to
// the spread between seasons (day-to-day variation). Each past season is tagged with a
// `baseline_season` label and the tags are aggregated away (`quantile without
// (baseline_season) (0.5, … or …)`), so a missing season (fewer than S days of history, a gap)
// only narrows the evidence instead of silencing the rule: the band exists from the first
// season that has data. With seasonality none the band is the trailing window itself (mean and
// standard deviation of the last W).
//
// Only recorded series are read back, so a baseline needs history of its own series: alerts
// start one season after the rules first run (and need S seasons for the full band). The alert's
// annotations look the band up with `query` on the series with the alert's labels, in English
// (summary, description) and Chinese (summary_zh, description_zh).

import { isScalar, LineCounter, parseDocument, stringify } from 'yaml';
import { FORMATS, SEASON_MS, DEFAULT_SEASONS, type BaselineConfig } from '../config/baselines.js';
import { formatDuration } from '../model/duration.js';
import { exprType, parseExpr } from '../promql/parser.js';
import { QueryError } from '../promql/types.js';
import { parseRuleFile, type RuleGroup } from './parse.js';

export interface BaselineExprError {
  /** Index in `baselines:`. */
  index: number;
  message: string;
  /** Line and column inside the expression, when the parser gives one. */
  position?: { line: number; column: number };
}

/** The baselines whose `expr` does not parse as PromQL or does not return an instant vector. */
export function baselineExprErrors(baselines: readonly BaselineConfig[]): BaselineExprError[] {
  const out: BaselineExprError[] = [];
  baselines.forEach((b, index) => {
    try {
      const t = exprType(parseExpr(b.expr));
      if (t !== 'vector') out.push({ index, message: `expression must return an instant vector, got ${t === 'matrix' ? 'a range vector' : `a ${t}`} (e.g. "sum by (service) (rate(http_requests_total[5m]))")` });
    } catch (e) {
      if (!(e instanceof QueryError)) throw e;
      out.push({ index, message: `could not parse expression: ${e.message.replace(/^\d+:\d+: /, '')}`, position: e.position });
    }
  });
  return out;
}

/**
 * The expression errors as `file:line:column: baselines[i].expr: message`, placed in the
 * configuration text: exact for plain and quoted one-line values; in a block scalar the line
 * inside the block and the column as in the expression (its indent is not in the value).
 */
export function baselineExprErrorsAt(baselines: readonly BaselineConfig[], configText: string, file: string): string[] {
  const errors = baselineExprErrors(baselines);
  if (errors.length === 0) return [];
  const lc = new LineCounter();
  const doc = parseDocument(configText, { lineCounter: lc, prettyErrors: false });
  return errors.map((e) => {
    const node = doc.getIn(['baselines', e.index, 'expr'], true);
    let where = { line: 0, col: 0 };
    if (isScalar(node) && node.range) {
      const start = lc.linePos(node.range[0]);
      const p = e.position;
      if (!p) where = start;
      else if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') where = { line: start.line + p.line, col: p.column };
      else {
        const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
        where = p.line === 1 ? { line: start.line, col: start.col + quoted + p.column - 1 } : { line: start.line + p.line - 1, col: p.column };
      }
    }
    return `${file}:${where.line}:${where.col}: baselines[${e.index}].expr: ${e.message}`;
  });
}

/** The `file` of the generated groups in /api/v1/rules (they come from the configuration, not a file). */
export const BASELINE_RULE_FILE = '<baselines>';

/** The label telling past seasons apart inside one expression; never on a recorded series. */
const SEASON_LABEL = 'baseline_season';

interface RuleText {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface GroupText {
  name: string;
  interval: string;
  rules: RuleText[];
}

/** The names of the series a baseline records. */
export function baselineSeries(name: string) {
  const p = `baseline:${name}`;
  return { value: `${p}:value`, windowAvg: `${p}:window_avg`, windowStdvar: `${p}:window_stdvar`, mean: `${p}:mean`, stddev: `${p}:stddev`, upper: `${p}:upper`, lower: `${p}:lower` };
}

/** A number as PromQL and the annotations print it. */
const num = (n: number): string => String(n);

/** `quantile without (baseline_season) (0.5, label_replace(X offset o1, …) or …)`: the median over the seasons. */
function medianOverSeasons(term: (offset: string) => string, offsets: string[]): string {
  const parts = offsets.map((o, i) => `label_replace(${term(o)}, "${SEASON_LABEL}", "${i + 1}", "", "")`);
  return `quantile without (${SEASON_LABEL}) (0.5,\n  ${parts.join('\n  or\n  ')}\n)`;
}

/** Template text that sets $sel to `,k="v"…` (the alert's series as matchers) and $shown to `k=v, …`. */
const SELECTOR_TEMPLATE =
  '{{ $sel := "" }}{{ $shown := "" }}{{ range $k, $v := $labels }}{{ if ne $k "__name__" }}' +
  '{{ $sel = printf "%s,%s=%q" $sel $k $v }}{{ if $shown }}{{ $shown = printf "%s, " $shown }}{{ end }}{{ $shown = printf "%s%s=%s" $shown $k $v }}' +
  '{{ end }}{{ end }}';

/** Template text that sets $lo and $hi to the band at the alert's series, printed with `fmt`. */
function bandTemplate(lower: string, upper: string, fmt: string): string {
  const look = (v: string, series: string) => `{{ with query (printf "{__name__=\\"${series}\\"%s}" $sel) }}{{ ${v} = . | first | value | ${fmt} }}{{ end }}`;
  return `{{ $lo := "?" }}{{ $hi := "?" }}${look('$lo', lower)}${look('$hi', upper)}`;
}

function annotations(b: BaselineConfig, s: ReturnType<typeof baselineSeries>, seasons: number): Record<string, string> {
  const fmt = FORMATS[b.format];
  const pre = SELECTOR_TEMPLATE + bandTemplate(s.lower, s.upper, fmt);
  const value = `{{ $value | ${fmt} }}`;
  const where = b.seasonality === 'daily' ? 'at this hour' : b.seasonality === 'weekly' ? 'at this time of the week' : `over the last ${formatDuration(b.window)}`;
  const whereZh = b.seasonality === 'daily' ? '此时段' : b.seasonality === 'weekly' ? '每周此时段' : `最近 ${formatDuration(b.window)}`;
  const side = b.direction === 'above' ? 'above' : b.direction === 'below' ? 'below' : 'outside';
  const sideZh = b.direction === 'above' ? '高于' : b.direction === 'below' ? '低于' : '超出';
  const learned =
    b.seasonality === 'none'
      ? `the mean ± ${num(b.band)}σ of the last ${formatDuration(b.window)}`
      : `the typical value ± ${num(b.band)}σ of a ${formatDuration(b.window)} window around this time on the past ${seasons} ${b.seasonality === 'daily' ? 'days' : 'weeks'}`;
  const learnedZh =
    b.seasonality === 'none'
      ? `最近 ${formatDuration(b.window)} 的均值 ± ${num(b.band)}σ`
      : `过去 ${seasons} ${b.seasonality === 'daily' ? '天' : '周'}同一时刻前后 ${formatDuration(b.window)} 的典型值 ± ${num(b.band)}σ`;
  const forText = formatDuration(b.for);
  return {
    summary: `${pre}${b.name} ${value}, normal {{ $lo }}–{{ $hi }} ${where}`,
    description: `${pre}${b.name} ({{ $shown }}) is ${value}, ${side} its normal band {{ $lo }}–{{ $hi }} (${learned}) for ${forText}.`,
    summary_zh: `${pre}${b.name} 当前 ${value}，${whereZh}正常范围 {{ $lo }}–{{ $hi }}`,
    description_zh: `${pre}${b.name}（{{ $shown }}）当前 ${value}，已持续 ${forText} ${sideZh}正常范围 {{ $lo }}–{{ $hi }}（${learnedZh}）。`,
  };
}

/** The rule group of one baseline, as it is written in a rule file. */
function groupOf(b: BaselineConfig, evaluationInterval: number): GroupText {
  const s = baselineSeries(b.name);
  const w = formatDuration(b.window);
  const rules: RuleText[] = [{ record: s.value, expr: b.expr.trim() }];
  let seasons = 0;
  if (b.seasonality === 'none') {
    rules.push({ record: s.mean, expr: `avg_over_time(${s.value}[${w}])` }, { record: s.stddev, expr: `stddev_over_time(${s.value}[${w}])` });
  } else {
    seasons = b.seasons ?? DEFAULT_SEASONS[b.seasonality];
    const period = SEASON_MS[b.seasonality];
    const offsets = Array.from({ length: seasons }, (_, i) => formatDuration((i + 1) * period - Math.floor(b.window / 2)));
    rules.push(
      { record: s.windowAvg, expr: `avg_over_time(${s.value}[${w}])` },
      { record: s.windowStdvar, expr: `stdvar_over_time(${s.value}[${w}])` },
      { record: s.mean, expr: medianOverSeasons((o) => `${s.windowAvg} offset ${o}`, offsets) },
      {
        record: s.stddev,
        // Median within-window variance + median squared distance of a season's mean from the median.
        expr: `sqrt(\n${medianOverSeasons((o) => `${s.windowStdvar} offset ${o}`, offsets)}\n+\n${medianOverSeasons((o) => `(${s.windowAvg} offset ${o} - ${s.mean}) ^ 2`, offsets)}\n)`,
      },
    );
  }
  const width = `clamp_min(${num(b.band)} * ${s.stddev}, ${num(b.min_deviation)})`;
  rules.push({ record: s.upper, expr: `${s.mean} + ${width}` }, { record: s.lower, expr: `${s.mean} - ${width}` });
  const above = `${s.value} > ${s.upper}`;
  const below = `${s.value} < ${s.lower}`;
  rules.push({
    alert: b.alert,
    expr: b.direction === 'above' ? above : b.direction === 'below' ? below : `${above}\nor\n${below}`,
    for: formatDuration(b.for),
    labels: { ...b.labels, severity: b.severity, baseline: b.name },
    annotations: annotations(b, s, seasons),
  });
  return { name: `baseline:${b.name}`, interval: formatDuration(b.interval ?? evaluationInterval), rules };
}

/** The rule file of the baselines (`{groups: […]}`), as plain data. */
export function baselineRuleFile(baselines: readonly BaselineConfig[], evaluationInterval: number): { groups: GroupText[] } {
  return { groups: baselines.map((b) => groupOf(b, evaluationInterval)) };
}

/** The rule file as YAML text, as `patrol baselines export` prints it. */
export function baselineRuleFileText(baselines: readonly BaselineConfig[], evaluationInterval: number): string {
  const header = '# Generated by Patrol from the `baselines:` section of its configuration (patrol baselines export).\n# Plain Prometheus rules: promtool check rules accepts this file and Prometheus runs it as it is.\n';
  return header + stringify(baselineRuleFile(baselines, evaluationInterval), { lineWidth: 0 });
}

/**
 * The baselines' rule groups as the rules manager runs them, parsed from the exported text (so
 * what runs is exactly what is exported). Throws, naming the baseline, when an expression is
 * not valid PromQL (a load or reload with such a baseline is rejected whole).
 */
export function baselineRuleGroups(baselines: readonly BaselineConfig[], evaluationInterval: number): RuleGroup[] {
  if (baselines.length === 0) return [];
  const bad = baselineExprErrors(baselines);
  if (bad.length > 0) throw new Error(bad.map((e) => `baselines[${e.index}] (${baselines[e.index].name}).expr: ${e.message}${e.position ? ` at ${e.position.line}:${e.position.column} of the expression` : ''}`).join('\n'));
  const r = parseRuleFile(baselineRuleFileText(baselines, evaluationInterval), BASELINE_RULE_FILE);
  if (r.errors.length > 0) throw new Error(`generated baseline rules do not parse: ${r.errors.map(String).join('; ')}`);
  return r.groups;
}
