/** Parses "250ms", "10s", "5m", "1h", "90d" (or a bare number of milliseconds) into milliseconds. */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new Error(`invalid duration ${input}`);
    return input;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/i.exec(input);
  if (!m) throw new Error(`invalid duration "${input}" (use e.g. 250ms, 10s, 5m, 1h, 90d)`);
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? 'ms').toLowerCase()]);
}

/** "1h ago" style window start, for `--since`. */
export function since(now: Date, duration: string): Date {
  return new Date(now.getTime() - parseDuration(duration));
}
