// `patrol notify test --receiver NAME [--config FILE]`: one sample notification through every
// integration of a receiver, each remote's answer printed (code and message), exit 0 when all
// took it. Robots are sent to at once (not through the rate limiter); secrets never print.

import type { Command } from 'commander';
import { dirname } from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../logger.js';
import { labelSetFingerprint, type Alert } from '../model/alert.js';
import { ChatRobot, describeAnswer } from '../notify/chat/base.js';
import '../notify/integrations.js';
import { buildIntegrations, type Integration } from '../notify/notifier.js';
import { NotifyTemplates } from '../notify/tmpl.js';

/** The sample alert `notify test` sends. */
export function sampleNotification(now = Date.now()): Alert {
  const labels = { alertname: 'PatrolTestNotification', severity: 'critical', instance: 'patrol-notify-test' };
  return {
    labels,
    annotations: { summary: 'Test notification from `patrol notify test`: this receiver works.', value: '1' },
    startsAt: now - 60_000,
    endsAt: now + 3600_000,
    generatorURL: '',
    updatedAt: now,
    timeout: false,
    fingerprint: labelSetFingerprint(labels),
  };
}

export async function notifyTest(file: string, name: string, out: (s: string) => void): Promise<number> {
  const r = await loadConfigFile(file);
  if (!r.ok) {
    for (const e of r.errors) out(`${e.toString()}`);
    return 1;
  }
  const a = r.config.alerting;
  const recv = a.receivers.find((x) => x.name === name);
  if (!recv) {
    out(`no receiver named ${JSON.stringify(name)} in ${file} (receivers: ${a.receivers.map((x) => x.name).join(', ') || 'none'})`);
    return 1;
  }
  let integrations: Integration[];
  let unsupported: string[];
  try {
    const templates = new NotifyTemplates(a.templates, dirname(file), a.global?.time_zone);
    ({ integrations, unsupported } = buildIntegrations(recv, { global: a.global, baseDir: dirname(file), templates, logger: createLogger('error') }));
  } catch (e) {
    out(`cannot build receiver ${JSON.stringify(name)}: ${(e as Error).message}`);
    return 1;
  }
  for (const u of unsupported) out(`${u}: not supported yet, nothing sent`);
  if (integrations.length === 0) {
    out(`receiver ${JSON.stringify(name)} has no integration to send to`);
    return 1;
  }
  const externalURL = r.config.server.external_url ?? '';
  const alert = sampleNotification();
  let failed = 0;
  for (const i of integrations) {
    const label = `${i.name}[${i.index}]`;
    if (i instanceof ChatRobot) {
      const { answer, verdict } = await i.sendNow([{ groupKey: 'notify-test', groupLabels: { alertname: alert.labels.alertname }, alerts: [alert] }], externalURL);
      const ok = verdict.kind === 'ok';
      if (!ok) failed++;
      out(`${label}: ${ok ? 'OK' : 'FAILED'} (${describeAnswer(answer)})${ok ? '' : ` ${'error' in verdict ? verdict.error : ''}`}`);
    } else {
      const res = await i.notify(
        { receiver: name, groupKey: 'notify-test', groupLabels: { alertname: alert.labels.alertname }, externalURL, signal: AbortSignal.timeout(30_000), now: Date.now() },
        [alert],
      );
      if (!res.ok) failed++;
      out(`${label}: ${res.ok ? 'OK' : `FAILED ${res.error}${res.retry ? ' (temporary)' : ''}`}`);
    }
    await i.close?.();
  }
  out(failed ? `FAILED: ${failed} of ${integrations.length} integrations` : `SUCCESS: ${integrations.length} integration${integrations.length === 1 ? '' : 's'} took the test notification`);
  return failed ? 1 : 0;
}

export function registerNotify(program: Command): Command {
  const notify = program.command('notify').description('notification channels');
  notify
    .command('test')
    .description("send a sample notification through a receiver's integrations and print what each remote answered; exit 0 when all took it")
    .requiredOption('--receiver <name>', 'receiver name (alerting.receivers[].name)')
    .option('--config <file>', 'configuration file', 'patrol.yml')
    .action(async (opts: { receiver: string; config: string }) => {
      process.exitCode = await notifyTest(opts.config, opts.receiver, (s) => process.stdout.write(s + '\n'));
    });
  return notify;
}
