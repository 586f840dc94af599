import fs from 'node:fs';
import path from 'node:path';
import { openDatabase, type Db } from './database';

/** A database file that cannot be used, named with its path and where that path came from. */
export class DatabasePathError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`database ${file} (DATABASE_PATH or database.path): ${reason}`);
    this.name = 'DatabasePathError';
  }
}

/** Kernel pseudo-filesystems: SQLite cannot lock or sync there, and some reads there never end. */
const PSEUDO_FS = ['/proc', '/sys', '/dev'];

/** Opens the database after checking its path, so a wrong path fails at once with a message naming it. */
export function openDatabaseChecked(file: string): Db {
  if (file === ':memory:') return openDatabase(file);
  const abs = path.resolve(file);
  if (PSEUDO_FS.some((p) => abs === p || abs.startsWith(p + '/'))) throw new DatabasePathError(abs, `is on the kernel's ${abs.split('/')[1]} filesystem, which cannot hold a database`);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new DatabasePathError(abs, `cannot be read (${(e as NodeJS.ErrnoException).code})`);
  }
  if (st && !st.isFile()) throw new DatabasePathError(abs, st.isDirectory() ? 'is a directory; give a file name inside it, e.g. …/airflow-scim.db' : 'is not a regular file');
  try {
    return openDatabase(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatabasePathError(abs, `cannot be opened: ${(e as Error).message}${code && !(e as Error).message.includes(code) ? ` (${code})` : ''}`);
  }
}
