import type { Command } from 'commander';
import { testRuleFiles } from '../rules/unittest.js';

/** `patrol test rules FILE…`: promtool's rule unit tests; exit 0 when all pass, 1 otherwise. */
export function registerTest(program: Command): void {
  const test = program.command('test').description('run unit tests');
  test
    .command('rules')
    .description("run rule unit-test files in promtool's format (exit 0 all passed, 1 a test failed)")
    .argument('<files...>', 'unit-test files')
    .action(async (files: string[]) => {
      process.exitCode = await testRuleFiles(files, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
    });
}
