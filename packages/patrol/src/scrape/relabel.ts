// Relabelling as Prometheus does it: a list of steps applied in order to a label set, any of
// which may drop it. Used for target labels (relabel_configs) and for scraped series
// (metric_relabel_configs). Compile once per configuration; applying is allocation-light.

import { createHash } from 'node:crypto';
import type { Labels } from '../model/labels.js';
import { isValidLabelName, labelsFromPairs } from '../model/labels.js';
import { compileAnchoredRegex } from '../model/matchers.js';
import type { Regex } from '../model/regex.js';
import type { RelabelAction, RelabelConfig } from '../config/prometheus.js';
import { expandTemplate } from '../model/expand.js';
export { expandTemplate };

export interface CompiledRelabel {
  readonly action: RelabelAction;
  readonly sourceLabels: readonly string[];
  readonly separator: string;
  readonly regex: Regex;
  readonly modulus: number;
  readonly targetLabel: string;
  readonly replacement: string;
}

/** Compiles configs (already validated by the config schema). Throws on a bad regex. */
export function compileRelabel(cfgs: readonly RelabelConfig[]): CompiledRelabel[] {
  return cfgs.map((c) => {
    const regex = compileAnchoredRegex(c.regex);
    return {
      action: c.action,
      sourceLabels: c.source_labels,
      separator: c.separator,
      regex,
      modulus: c.modulus ?? 0,
      targetLabel: c.target_label ?? '',
      replacement: c.replacement,
    };
  });
}

/** The last 8 bytes of the MD5 of `s`, big-endian, modulo `mod` (Prometheus's hashmod). */
export function hashmod(s: string, mod: number): number {
  const h = createHash('md5').update(s).digest();
  return Number(h.readBigUInt64BE(8) % BigInt(mod));
}

/**
 * Applies the steps to `labels` (sorted). Returns the new sorted label set, or null when a step
 * dropped it. Returns the input itself when nothing changed.
 */
export function relabel(labels: Labels, steps: readonly CompiledRelabel[]): Labels | null {
  if (steps.length === 0) return labels;
  const b = new Map<string, string>();
  for (const l of labels) b.set(l.name, l.value);
  let changed = false;
  const set = (name: string, value: string): void => {
    if (value === '') {
      if (b.delete(name)) changed = true;
    } else if (b.get(name) !== value) {
      b.set(name, value);
      changed = true;
    }
  };
  for (const s of steps) {
    let val = '';
    if (s.sourceLabels.length === 1) val = b.get(s.sourceLabels[0]) ?? '';
    else if (s.sourceLabels.length > 1) val = s.sourceLabels.map((n) => b.get(n) ?? '').join(s.separator);
    switch (s.action) {
      case 'drop':
        if (s.regex.test(val)) return null;
        break;
      case 'keep':
        if (!s.regex.test(val)) return null;
        break;
      case 'dropequal':
        if ((b.get(s.targetLabel) ?? '') === val) return null;
        break;
      case 'keepequal':
        if ((b.get(s.targetLabel) ?? '') !== val) return null;
        break;
      case 'replace': {
        const m = s.regex.exec(val);
        if (!m) break;
        const target = expandTemplate(s.targetLabel, m);
        if (!isValidLabelName(target)) break;
        set(target, expandTemplate(s.replacement, m));
        break;
      }
      case 'lowercase':
        set(s.targetLabel, val.toLowerCase());
        break;
      case 'uppercase':
        set(s.targetLabel, val.toUpperCase());
        break;
      case 'hashmod':
        set(s.targetLabel, String(hashmod(val, s.modulus)));
        break;
      case 'labelmap':
        for (const [name, value] of [...b]) {
          const m = s.regex.exec(name);
          if (!m) continue;
          const res = expandTemplate(s.replacement, m);
          if (res !== name && isValidLabelName(res)) set(res, value);
        }
        break;
      case 'labeldrop':
        for (const name of [...b.keys()]) {
          if (s.regex.test(name)) {
            b.delete(name);
            changed = true;
          }
        }
        break;
      case 'labelkeep':
        for (const name of [...b.keys()]) {
          if (!s.regex.test(name)) {
            b.delete(name);
            changed = true;
          }
        }
        break;
    }
  }
  return changed ? labelsFromPairs(b) : labels;
}
