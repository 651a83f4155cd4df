// Runs every *.test file of a folder (the conformance suite) and returns one report per file.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineSetup, FileReport, RunOptions } from './run.js';
import { runTestFile } from './run.js';

export async function runConformanceDir(dir: string, makeEngine: () => EngineSetup, opts: RunOptions = {}): Promise<FileReport[]> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.test'))
    .sort();
  const out: FileReport[] = [];
  for (const f of files) out.push(await runTestFile(readFileSync(join(dir, f), 'utf8'), f, makeEngine, opts));
  return out;
}
