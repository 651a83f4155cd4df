// `patrol baselines export --config FILE`: the rules Patrol generates from the `baselines:`
// section, as a Prometheus rule file (promtool check rules accepts it; Prometheus runs it).

import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfigFile } from '../config/load.js';
import { baselineExprErrorsAt, baselineRuleFileText } from '../rules/baseline.js';

export function registerBaselines(program: Command): void {
  const baselines = program.command('baselines').description('dynamic baselines: the rules generated from the baselines: section');
  baselines
    .command('export')
    .description('print the recording and alerting rules of every baseline as a Prometheus rule file (exit 1 on a bad configuration)')
    .requiredOption('--config <file>', 'configuration file')
    .option('-o, --output <file>', 'write the rule file here instead of standard output')
    .action(async (opts: { config: string; output?: string }) => {
      const r = await loadConfigFile(opts.config);
      const errors = r.ok ? baselineExprErrorsAt(r.config.baselines, await readFile(opts.config, 'utf8'), opts.config) : r.errors.map(String);
      if (!r.ok || errors.length > 0) {
        for (const e of errors) process.stderr.write(`${e}\n`);
        process.stderr.write(`FAILED: ${errors.length} error${errors.length === 1 ? '' : 's'} in ${opts.config}\n`);
        process.exitCode = 1;
        return;
      }
      if (r.config.baselines.length === 0) process.stderr.write(`note: ${opts.config} has no baselines; the rule file has no groups\n`);
      const text = baselineRuleFileText(r.config.baselines, r.config.global.evaluation_interval);
      if (opts.output === undefined) {
        process.stdout.write(text);
        return;
      }
      try {
        await writeFile(opts.output, text);
      } catch (e) {
        process.stderr.write(`cannot write ${opts.output}: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
