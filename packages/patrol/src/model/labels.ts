// Labels: the identity of a series. A label set is an array of {name, value} sorted by name,
// with no empty values and no duplicate names. Functions here never mutate their input.

export interface Label {
  readonly name: string;
  readonly value: string;
}

export type Labels = readonly Label[];

export const METRIC_NAME = '__name__';

/** Builds a sorted label set from a record, dropping empty values (as Prometheus does). */
export function labelsFromRecord(rec: Readonly<Record<string, string>>): Labels {
  const out: Label[] = [];
  for (const name of Object.keys(rec)) {
    const value = rec[name];
    if (value !== '' && value !== undefined) out.push({ name, value });
  }
  return out.sort(compareLabelNames);
}

/** Sorts and drops empty values; the last of duplicate names wins. */
export function labelsFromPairs(pairs: Iterable<readonly [string, string]>): Labels {
  const m = new Map<string, string>();
  for (const [n, v] of pairs) m.set(n, v);
  const out: Label[] = [];
  for (const [name, value] of m) if (value !== '') out.push({ name, value });
  return out.sort(compareLabelNames);
}

export function labelsToRecord(ls: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of ls) out[l.name] = l.value;
  return out;
}

function compareLabelNames(a: Label, b: Label): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function getLabel(ls: Labels, name: string): string {
  for (const l of ls) if (l.name === name) return l.value;
  return '';
}

export function metricName(ls: Labels): string {
  return getLabel(ls, METRIC_NAME);
}

/**
 * A canonical string for a label set, usable as a Map key. Label names cannot contain \xff and
 * values are escaped so that two different label sets never share a key.
 */
export function labelsKey(ls: Labels): string {
  let s = '';
  for (const l of ls) s += l.name + '\xff' + l.value + '\xfe';
  return s;
}

export function labelsEqual(a: Labels, b: Labels): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].name !== b[i].name || a[i].value !== b[i].value) return false;
  }
  return true;
}

/** Orders label sets the way Prometheus sorts series: label by label, name then value. */
export function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i].name !== b[i].name) return a[i].name < b[i].name ? -1 : 1;
    if (a[i].value !== b[i].value) return a[i].value < b[i].value ? -1 : 1;
  }
  return a.length - b.length;
}

/** Returns a copy with `name` set to `value` (removed when value is empty). */
export function withLabel(ls: Labels, name: string, value: string): Labels {
  const out: Label[] = [];
  let done = false;
  for (const l of ls) {
    if (!done && l.name >= name) {
      done = true;
      if (value !== '') out.push({ name, value });
      if (l.name === name) continue;
    }
    out.push(l);
  }
  if (!done && value !== '') out.push({ name, value });
  return out;
}

export function withoutLabels(ls: Labels, names: ReadonlySet<string>): Labels {
  return ls.filter((l) => !names.has(l.name));
}

export function onlyLabels(ls: Labels, names: ReadonlySet<string>): Labels {
  return ls.filter((l) => names.has(l.name));
}

/** `{a="b", c="d"}` with the metric name in front, as Prometheus prints a series. */
export function formatLabels(ls: Labels): string {
  const name = metricName(ls);
  const rest = ls.filter((l) => l.name !== METRIC_NAME).map((l) => `${l.name}=${JSON.stringify(l.value)}`);
  if (rest.length === 0) return name || '{}';
  return `${name}{${rest.join(', ')}}`;
}

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function isValidLabelName(name: string): boolean {
  return LABEL_NAME_RE.test(name);
}

export function isValidMetricName(name: string): boolean {
  return METRIC_NAME_RE.test(name);
}
