// What the installed `patrol` command runs with: bin/patrol.js's
// `#!/usr/bin/env -S NAME=value … node --flag …` line, read by the tests that check deploy/ and
// by the benchmarks that start Patrol as users do.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/patrol.js', import.meta.url));

/** The variables and Node flags bin/patrol.js's `#!` line sets. */
export function entryLine(): { env: Record<string, string>; flags: string[] } {
  const line = readFileSync(BIN, 'utf8').split('\n')[0];
  const words = /^#!\/usr\/bin\/env -S (.*)$/.exec(line)?.[1].trim().split(/\s+/) ?? [];
  const node = words.indexOf('node');
  if (node < 0) throw new Error(`bin/patrol.js's #! line runs no node: ${line}`);
  return { env: Object.fromEntries(words.slice(0, node).map((w) => w.split(/=(.*)/s).slice(0, 2))), flags: words.slice(node + 1) };
}
