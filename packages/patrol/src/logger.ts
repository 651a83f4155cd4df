import { destination, pino, stdTimeFunctions, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Structured JSON logs on stdout; a Secret anywhere in a logged value prints as `<secret>`. */
export function createLogger(level: string, dest?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { service: 'patrol' }, timestamp: stdTimeFunctions.isoTime }, dest ?? destination({ dest: 1, sync: true }));
}
