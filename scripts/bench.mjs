#!/usr/bin/env node
// Runs the benchmarks in packages/*/bench/*.bench.ts one after another; each prints its figures.
// `npm run bench -- tsdb probe` runs only those whose file name contains one of the words.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const words = process.argv.slice(2);
const files = [];
for (const pkg of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', pkg, 'bench');
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith('.bench.ts') && (words.length === 0 || words.some((w) => f.includes(w)))) files.push(join(dir, f));
  }
}
if (files.length === 0) {
  console.error('no benchmark matched');
  process.exit(1);
}
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f.slice(root.length)}`);
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', f], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
