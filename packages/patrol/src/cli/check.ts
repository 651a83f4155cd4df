import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { formatDuration } from '../model/duration.js';
import { loadConfigFile } from '../config/load.js';
import { showConfig } from '../config/show.js';
import { baselineExprErrorsAt } from '../rules/baseline.js';
import { loadRuleFiles, parseRuleFile, ruleFilePositions } from '../rules/parse.js';

export function registerCheck(program: Command): Command {
  const check = program.command('check').description('validate configuration and rule files');
  check
    .command('config')
    .description('validate a configuration file; exit 0 with a summary when valid, 1 with every error otherwise')
    .argument('<file>', 'configuration file')
    .option('--show', 'print the effective configuration with defaults filled in (secrets masked)')
    .action(async (file: string, opts: { show?: boolean }) => {
      const r = await loadConfigFile(file);
      if (!r.ok) {
        for (const e of r.errors) process.stderr.write(`${e.toString()}\n`);
        process.stderr.write(`FAILED: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'} in ${file}\n`);
        process.exitCode = 1;
        return;
      }
      const c = r.config;
      const baselineErrors = baselineExprErrorsAt(c.baselines, readFileSync(file, 'utf8'), file);
      if (baselineErrors.length) {
        for (const e of baselineErrors) process.stderr.write(`${e}\n`);
        process.stderr.write(`FAILED: ${baselineErrors.length} error${baselineErrors.length === 1 ? '' : 's'} in ${file}\n`);
        process.exitCode = 1;
        return;
      }
      const rules = loadRuleFiles(c.rule_files, file, ruleFilePositions(readFileSync(file, 'utf8')));
      if (rules.errors.length) {
        for (const e of rules.errors) process.stderr.write(`${e.toString()}\n`);
        process.stderr.write(`FAILED: ${rules.errors.length} error${rules.errors.length === 1 ? '' : 's'} in the rule files of ${file}\n`);
        process.exitCode = 1;
        return;
      }
      const targets = c.scrape_configs.reduce((n, s) => n + s.static_configs.reduce((m, sc) => m + sc.targets.length, 0), 0);
      const lines = [
        `SUCCESS: ${file} is valid`,
        `  scrape jobs: ${c.scrape_configs.length} (${targets} static targets)`,
        `  probes: ${c.probes.length}`,
        `  rule files: ${rules.files.length} (${rules.groups.length} groups, ${rules.groups.reduce((n, g) => n + g.rules.length, 0)} rules)`,
        `  receivers: ${c.alerting.receivers.length}, inhibit rules: ${c.alerting.inhibit_rules.length}, time intervals: ${c.alerting.time_intervals.length + c.alerting.mute_time_intervals.length}`,
        `  remote write: ${c.remote_write.length}`,
        `  storage: retention ${formatDuration(c.storage.retention)}`,
      ];
      for (const w of r.warnings) lines.push(`  warning: ${w}`);
      process.stdout.write(lines.join('\n') + '\n');
      if (opts.show) {
        // YAML that reads back to the same configuration (secrets masked).
        process.stdout.write('---\n' + showConfig(c));
      }
    });
  check
    .command('rules')
    .description("validate rule files as promtool check rules does; exit 0 when all are valid, 1 otherwise")
    .argument('<files...>', 'rule files')
    .action((files: string[]) => {
      let failed = false;
      for (const f of files) {
        process.stdout.write(`Checking ${f}\n`);
        let text: string;
        try {
          text = readFileSync(f, 'utf8');
        } catch (e) {
          failed = true;
          process.stderr.write(`  FAILED:\n${(e as Error).message}\n`);
          process.stdout.write('\n');
          continue;
        }
        const r = parseRuleFile(text, f);
        if (r.errors.length) {
          failed = true;
          process.stderr.write(`  FAILED:\n${r.errors.map(String).join('\n')}\n`);
        } else {
          process.stdout.write(`  SUCCESS: ${r.groups.reduce((n, g) => n + g.rules.length, 0)} rules found\n`);
        }
        process.stdout.write('\n');
      }
      process.exitCode = failed ? 1 : 0;
    });
  return check;
}
