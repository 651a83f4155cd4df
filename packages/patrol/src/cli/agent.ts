// `patrol agent --server URL --location NAME --token TOKEN`: runs the probes the central Patrol
// assigns to this location and ships their results to it (probe/agent.ts). The token may also
// come from PATROL_AGENT_TOKEN, which keeps it out of the process list.

import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { createLogger, flushLogs, LOG_FORMATS, LOG_LEVELS, type LogFormat } from '../logger.js';
import { parseDuration } from '../model/duration.js';
import { Agent } from '../probe/agent.js';
import { reportProducerError } from '../producer.js';

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run the probes a central Patrol assigns to this location and send it the results')
    .requiredOption('--server <url>', 'the central Patrol, e.g. https://patrol.example.com')
    .requiredOption('--location <name>', 'this agent\'s location, as in the central\'s agents.tokens')
    .option('--token <token>', 'the location\'s token (default: $PATROL_AGENT_TOKEN)')
    .option('--data <dir>', 'where results wait while the central cannot be reached', 'agent-data')
    .option('--poll-interval <duration>', 'how often the probe list is re-read', '10s')
    .option('--send-interval <duration>', 'how often results are sent (an empty batch is the heartbeat)', '2s')
    .option('--buffer-max-age <duration>', 'results older than this are dropped while waiting', '1h')
    .addOption(new Option('--log.level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('--log.format <format>', 'log format').choices(LOG_FORMATS).default('auto'))
    .action(async (opts: Record<string, string>) => {
      const logger = createLogger(opts['log.level'] as never, undefined, opts['log.format'] as LogFormat);
      const exit = (code: number) => void flushLogs().finally(() => process.exit(code));
      const token = opts.token ?? process.env.PATROL_AGENT_TOKEN ?? '';
      const poll = parseDuration(opts.pollInterval);
      const maxAge = parseDuration(opts.bufferMaxAge);
      const send = parseDuration(opts.sendInterval);
      if (token === '' || poll === null || poll <= 0 || maxAge === null || send === null || send <= 0) {
        logger.fatal(token === '' ? 'no token: pass --token or set PATROL_AGENT_TOKEN' : 'bad --poll-interval, --send-interval or --buffer-max-age (e.g. 10s, 1h)');
        return exit(2);
      }
      try {
        new URL(opts.server);
      } catch {
        logger.fatal({ server: opts.server }, '--server is not a URL');
        return exit(2);
      }
      const agent = new Agent({ server: opts.server, location: opts.location, token, dataDir: resolve(opts.data), log: logger.child({ component: 'agent' }), pollMs: poll, flushMs: send, bufferMaxAgeMs: maxAge });
      process.on('unhandledRejection', (e) => reportProducerError('other', e, logger));
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'received signal');
        void agent.stop().finally(() => exit(0));
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      await agent.start();
      logger.info({ server: opts.server, location: opts.location }, 'agent started');
    });
}
