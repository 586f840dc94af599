import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../core/duration';

/** Option parsers: every CLI value is checked where it is read, so a bad one never reaches SQLite or a timer. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of at least 1, e.g. 20');
  return Number(value);
}

export function port(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) > 65535) throw new InvalidArgumentError('expected a port number from 0 (any free port) to 65535');
  return Number(value);
}

/** Keeps the text (for messages) after checking that it parses. */
export function duration(value: string): string {
  try {
    parseDuration(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return value;
}
