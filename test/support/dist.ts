import fs from 'node:fs';
import path from 'node:path';

/** Root of the repository. */
export const ROOT = path.resolve(__dirname, '..', '..');
/** The compiled CLI; `npm test` runs tsc before jest, so child-process tests can run real binaries. */
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

export function requireDist(file: string): string {
  const p = path.join(ROOT, 'dist', file);
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run "npm test" (it compiles with tsc first) or "npm run build"`);
  return p;
}
