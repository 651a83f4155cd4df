// JUnit XML for CI systems (Jenkins' junit step, GitLab's artifacts:reports:junit): one
// testsuite "patrol probes", one testcase per probe, a <failure> with the reason when it failed.

import { maskUrlPassword } from '../config/secrets.js';
import { hostname } from 'node:os';
import type { OnceOutcome } from './once.js';

/** Escapes text for XML and drops characters XML 1.0 cannot carry. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

export function junitXml(outcomes: readonly OnceOutcome[], startedAt: number, totalMs: number): string {
  const failures = outcomes.filter((o) => !o.passed).length;
  // JUnit's schema wants an ISO 8601 timestamp without a zone.
  const ts = new Date(startedAt).toISOString().replace(/\.\d+Z$/, '');
  const lines: string[] = [];
  lines.push('<?xml version="1.0" encoding="UTF-8"?>');
  lines.push(`<testsuites name="patrol" tests="${outcomes.length}" failures="${failures}" errors="0" time="${secs(totalMs)}">`);
  lines.push(`  <testsuite name="patrol probes" tests="${outcomes.length}" failures="${failures}" errors="0" skipped="0" time="${secs(totalMs)}" timestamp="${ts}" hostname="${xmlEscape(hostname())}">`);
  for (const o of outcomes) {
    const name = xmlEscape(o.cfg.name);
    lines.push(`    <testcase name="${name}" classname="patrol.probe.${o.cfg.type}" time="${secs(o.elapsedMs)}">`);
    const log = o.attempts.map((a, i) => `attempt ${i + 1}: ${a.success ? 'passed' : `failed: ${a.reason}`} (${secs(a.durationMs)}s)`).join('\n');
    if (!o.passed) {
      lines.push(`      <failure message="${xmlEscape(o.reason)}" type="ProbeFailure">${xmlEscape(`${o.cfg.type} probe ${o.cfg.name} against ${maskUrlPassword(o.cfg.target)}\n${log}`)}</failure>`);
    }
    lines.push(`      <system-out>${xmlEscape(`target: ${maskUrlPassword(o.cfg.target)}\n${log}`)}</system-out>`);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>');
  lines.push('</testsuites>');
  return lines.join('\n') + '\n';
}
