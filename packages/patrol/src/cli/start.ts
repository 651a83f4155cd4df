import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { createLogger, flushLogs, LOG_FORMATS, LOG_LEVELS, type LogFormat } from '../logger.js';
import { DEFAULT_LISTEN, Patrol, StartupError } from '../server.js';
import { reportProducerError } from '../producer.js';

/** Graceful shutdown must finish within this; past it the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 10_000;

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the Patrol server')
    .option('--config <file>', 'configuration file (default: built-in self-monitoring)')
    .option('--data <dir>', 'data directory', './data')
    .option('--listen <host:port>', `address to listen on (default: server.listen or ${DEFAULT_LISTEN})`)
    .option('--insecure', 'allow listening beyond loopback without authentication (only behind a proxy that authenticates)')
    .addOption(new Option('--log.level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('--log.format <format>', 'log format: human on a terminal and JSON otherwise (auto), or always json, logfmt or human').choices(LOG_FORMATS).default('auto'))
    .action(async (opts: { config?: string; data: string; listen?: string; insecure?: boolean; 'log.level': string; 'log.format': LogFormat }) => {
      const logger = createLogger(opts['log.level'], undefined, opts['log.format']);
      /** Exits once the buffered log lines are written (logging is asynchronous). */
      const exit = (code: number) => void flushLogs().finally(() => process.exit(code));
      const patrol = new Patrol({
        configFile: opts.config ? resolve(opts.config) : undefined,
        dataDir: resolve(opts.data),
        listen: opts.listen,
        insecure: opts.insecure === true,
        logger,
      });
      let shuttingDown = false;
      const shutdown = (signal: string) => {
        if (shuttingDown) return;
        shuttingDown = true;
        logger.info({ signal }, 'received signal');
        const timer = setTimeout(() => {
          logger.error('shutdown took longer than 10s; exiting');
          exit(1);
        }, SHUTDOWN_DEADLINE_MS);
        timer.unref();
        patrol.stop().then(
          () => exit(0),
          (e: unknown) => {
            logger.error({ err: e }, 'shutdown failed');
            exit(1);
          },
        );
      };
      // The last net under the producer edges: a stray rejection is counted and logged, not fatal.
      process.on('unhandledRejection', (e) => reportProducerError('other', e, logger));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGHUP', () => {
        logger.info('SIGHUP: reloading configuration');
        void patrol.reload();
      });
      try {
        await patrol.start();
      } catch (e) {
        if (e instanceof StartupError) {
          for (const err of e.errors) process.stderr.write(`${err}\n`);
          logger.fatal({ errors: e.errors }, 'invalid configuration');
          await flushLogs();
          process.exit(2);
        }
        logger.fatal({ err: e }, 'startup failed');
        await patrol.stop().catch(() => undefined);
        await flushLogs();
        process.exit(1);
      }
    });
}
