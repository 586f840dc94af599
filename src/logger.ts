import winston from 'winston';
import { redact } from './store/audit-types';

export type Logger = winston.Logger;

/** JSON lines; secrets redacted by key name; a child logger per request carries requestId. */
export function createLogger(level: string = 'info', opts: { silent?: boolean; stream?: NodeJS.WritableStream } = {}): Logger {
  const redactFormat = winston.format((info) => {
    for (const key of Object.keys(info)) {
      if (key !== 'level' && key !== 'message') info[key] = redact({ [key]: info[key] })[key];
    }
    return info;
  });
  return winston.createLogger({
    level,
    silent: opts.silent,
    format: winston.format.combine(winston.format.timestamp(), redactFormat(), winston.format.json()),
    transports: [
      opts.stream
        ? new winston.transports.Stream({ stream: opts.stream })
        : new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] }),
    ],
  });
}

/** For tests: a logger that writes nothing. */
export const silentLogger = (): Logger => createLogger('error', { silent: true });
