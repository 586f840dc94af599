import winston from 'winston';
import { redact, redactUrl } from './core/redact';

export type Logger = winston.Logger;
export type LogFormat = 'pretty' | 'json';

/** LOG_FORMAT=auto: readable lines for a person at a terminal, JSON lines for a log collector. */
export function resolveLogFormat(format: 'auto' | LogFormat, isTTY: boolean = process.stderr.isTTY === true): LogFormat {
  return format === 'auto' ? (isTTY ? 'pretty' : 'json') : format;
}

const show = (v: unknown): string => (typeof v === 'string' ? (/[\s"=]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v));

/** "2026-12-02T12:00:00.000Z warn  reconcile run result=blocked held=3". */
const prettyFormat = winston.format.printf((info) => {
  const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
  const fields = Object.entries(rest)
    .filter(([k]) => typeof k === 'string')
    .map(([k, v]) => `${k}=${show(v)}`)
    .join(' ');
  return `${String(timestamp)} ${String(level).padEnd(5)} ${String(message)}${fields ? ' ' + fields : ''}`;
});

/**
 * JSON lines (or readable lines); secrets redacted by key name, and URL passwords (a DATABASE_URL) masked in every
 * field and the message; a child logger per request carries requestId.
 */
export function createLogger(level: string = 'info', opts: { silent?: boolean; stream?: NodeJS.WritableStream; format?: 'auto' | LogFormat } = {}): Logger {
  const redactFormat = winston.format((info) => {
    for (const key of Object.keys(info)) {
      if (key === 'message') info.message = typeof info.message === 'string' ? redactUrl(info.message) : info.message;
      else if (key !== 'level') info[key] = redact({ [key]: info[key] })[key];
    }
    return info;
  });
  const format = resolveLogFormat(opts.format ?? 'json', opts.stream ? false : process.stderr.isTTY === true);
  return winston.createLogger({
    level,
    silent: opts.silent,
    format: winston.format.combine(winston.format.timestamp(), redactFormat(), format === 'pretty' ? prettyFormat : winston.format.json()),
    transports: [
      opts.stream
        ? new winston.transports.Stream({ stream: opts.stream })
        : new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] }),
    ],
  });
}

/** For tests: a logger that writes nothing. */
export const silentLogger = (): Logger => createLogger('error', { silent: true });
