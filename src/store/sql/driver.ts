/**
 * The one SQL abstraction both databases sit behind (dex's storage/sql: one SQL store, dialect differences in a
 * small table). The stores in this folder speak to a SqlDriver only; sqlite-driver.ts wraps better-sqlite3 and
 * pg-driver.ts wraps node-postgres. Statements use '?' placeholders; the PostgreSQL driver numbers them ($1, $2…).
 * Values: strings, numbers, null (booleans are stored as 0/1 integers in both databases).
 */
import type { ChangeFeed } from '../change-feed';

export type Dialect = 'sqlite' | 'postgres';

export interface SqlExecutor {
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /** changes: rows inserted, updated or deleted. */
  run(sql: string, params?: readonly unknown[]): Promise<{ changes: number }>;
}

export interface TransactionOptions {
  /**
   * A write transaction that appends to the change journal. Such transactions are serialised across every
   * process on the database (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so journal
   * seq order is commit order and a reader that has seen seq N has seen every change up to N.
   */
  journal?: boolean;
  /** A consistent read of several statements (PostgreSQL: REPEATABLE READ READ ONLY). */
  readOnly?: boolean;
}

export interface SqlDriver extends SqlExecutor {
  readonly dialect: Dialect;
  /** For messages: the file, or the PostgreSQL URL without its password. */
  readonly describe: string;
  /** Wakes subscribers after journal commits (change-feed.ts): this process's on SQLite, every replica's on PostgreSQL. */
  readonly changes: ChangeFeed;
  /**
   * Runs fn in one transaction: its statements commit together or not at all; fn throwing rolls back and rethrows.
   * Inside fn use only tx, never the driver (the SQLite driver has one connection and would deadlock).
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, opts?: TransactionOptions): Promise<T>;
  /** The schema version the database is at, and the one this release migrates to. */
  schemaVersion(): Promise<{ current: number; expected: number }>;
  close(): Promise<void>;
}

/** A unique-constraint violation, whichever database raised it. */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
