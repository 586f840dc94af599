/** Plain-text tables and PASS/FAIL lines for the benchmark reports. */

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export interface Verdict {
  target: string;
  measured: string;
  pass: boolean;
}

export function verdicts(list: Verdict[]): string {
  return table(
    ['target', 'measured', 'result'],
    list.map((v) => [v.target, v.measured, v.pass ? 'PASS' : 'FAIL']),
  );
}

/** A report's exit code: 0 unless BENCH_STRICT=1 and a target failed. */
export function exitCode(list: Verdict[]): number {
  return process.env.BENCH_STRICT === '1' && list.some((v) => !v.pass) ? 1 : 0;
}

/** Bytes to MiB. */
export const mb = (bytes: number) => bytes / (1024 * 1024);

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
