// Builds probes from YAML the way users write them, and runs them.

import assert from 'node:assert/strict';
import { parseConfig } from '../../config/load.js';
import type { ProbeConfig } from '../../config/probes.js';
import { compileProbe, runProbe, type ProbeResult } from '../run.js';

/** Parses a probes: section (YAML list items) and returns the probe configs. */
export function probesFromYaml(yaml: string): ProbeConfig[] {
  const r = parseConfig(`probes:\n${yaml}`, 'test.yml');
  if (!r.ok) assert.fail(`config rejected:\n${r.errors.map(String).join('\n')}`);
  return r.config.probes;
}

/** Errors of a rejected probes: section. */
export function probeErrors(yaml: string): string[] {
  const r = parseConfig(`probes:\n${yaml}`, 'test.yml');
  assert.equal(r.ok, false, 'expected the config to be rejected');
  return r.ok ? [] : r.errors.map(String);
}

/** Runs one probe given as an object (YAML flow mapping fields). */
export async function runOne(fields: Record<string, unknown>, dir = '.'): Promise<ProbeResult> {
  const yaml = `  - ${JSON.stringify({ name: 't', interval: '30s', timeout: '2s', ...fields })}\n`;
  const [cfg] = probesFromYaml(yaml);
  return runProbe(compileProbe(cfg, dir));
}

export function sample(r: ProbeResult, name: string, labelValue?: string): number | undefined {
  return r.samples.find((s) => s.name === name && (labelValue === undefined || s.labelValue === labelValue))?.value;
}
