/**
 * SqlDriver over node-postgres (pg): a pool whose connections all have search_path = the schema. Differences from
 * SQLite that show through to the stores:
 * - Inside a transaction a failed statement aborts the transaction: catching the error and going on fails with
 *   "current transaction is aborted". Let it propagate (the transaction rolls back) and decide outside.
 * - int8 (BIGINT, count(*)) comes back as a number, as in SQLite; numeric (sum() of bigint) stays a string.
 * - LIKE is case-sensitive (SQLite's folds ASCII): write nocase(col) LIKE nocase(?) for SQLite's answers.
 */
import type pg from 'pg';
import type { Dialect, SqlDriver, SqlExecutor, TransactionOptions } from './driver';
import { advisoryLockKey, checkSchemaName, connect, createPool, DEFAULT_SCHEMA, parsePgUrl, type PgTarget, type PoolOptions } from './pg-connection';
import { migratePostgres, PG_MIGRATIONS } from './pg-migrations';
import { numberPlaceholders } from './pg-placeholders';
import { PgChangeFeed, type PgChangeFeedOptions } from './pg-change-feed';
import type { Logger } from '../../logger';

export class PgDriver implements SqlDriver {
  readonly dialect: Dialect = 'postgres';
  readonly describe: string;
  /** LISTEN/NOTIFY on the journal (pg-change-feed.ts): a connection of its own while anyone subscribes. */
  readonly changes: PgChangeFeed;
  private readonly journalKey: string;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly target: PgTarget,
    readonly schema: string,
    feed: PgChangeFeedOptions = {},
  ) {
    checkSchemaName(schema);
    this.describe = target.describe;
    this.journalKey = advisoryLockKey('journal', schema);
    this.changes = new PgChangeFeed(target, schema, feed);
  }

  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<{ changes: number }> {
    return { changes: (await this.query(sql, params)).rowCount ?? 0 };
  }

  /**
   * READ COMMITTED, or REPEATABLE READ READ ONLY for readOnly (one snapshot for every statement). journal: right
   * after BEGIN, a transaction-scoped advisory lock on a key fixed for the schema, held to COMMIT, so journal
   * writers run one at a time across every process. It must be READ COMMITTED: each later statement then sees
   * what the previous holder committed (a REPEATABLE READ snapshot would date from before the wait).
   */
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    if (opts.journal && opts.readOnly) throw new Error('a transaction cannot both write the journal and be read-only');
    const client = await this.connect();
    let broken: Error | undefined;
    let finished = false;
    const tx = executor(client, () => finished);
    try {
      // BEGIN and the lock in one round trip (a simple-protocol query of two statements; the key is digits).
      await client.query(opts.readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : opts.journal ? `BEGIN; SELECT pg_advisory_xact_lock(${this.journalKey})` : 'BEGIN');
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw e;
    } finally {
      finished = true;
      client.release(broken); // a connection that could not roll back is closed, not pooled
    }
  }

  async schemaVersion(): Promise<{ current: number; expected: number }> {
    const row = await this.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    return { current: Number(row?.v ?? 0), expected: PG_MIGRATIONS.length };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.changes.close();
    await this.pool.end();
  }

  private connect(): Promise<pg.PoolClient> {
    if (this.closed) return Promise.reject(new Error(`the PostgreSQL driver for ${this.target.where} is closed`));
    return connect(this.pool, this.target);
  }

  private async query(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    const text = pgText(sql, params);
    const client = await this.connect();
    let failure: unknown;
    try {
      return await client.query(text, params as unknown[]);
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      // A server error (it has a SQLSTATE) leaves the connection usable; anything else (a reset socket) may not.
      client.release(failure !== undefined && !isServerError(failure) ? (failure as Error) : undefined);
    }
  }
}

/** Opens a pool on url, creates the schema if missing and migrates it (migratePostgres), then hands the driver over. */
export async function openPostgres(url: string, opts: PoolOptions & { schema?: string; logger?: Logger } = {}): Promise<PgDriver> {
  const schema = opts.schema ?? DEFAULT_SCHEMA;
  checkSchemaName(schema);
  const target = parsePgUrl(url);
  const pool = createPool(target, schema, opts);
  try {
    const client = await connect(pool, target);
    try {
      await migratePostgres(client, schema);
    } finally {
      client.release(true); // a connection of its own, closed: nothing of the migration's session outlives it
    }
    return new PgDriver(pool, target, schema, { logger: opts.logger });
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
}

function executor(client: pg.PoolClient, finished: () => boolean): SqlExecutor {
  const q = (sql: string, params: readonly unknown[]) => {
    if (finished()) return Promise.reject(new Error('this transaction has already finished: use tx only inside its function'));
    return client.query(pgText(sql, params), params as unknown[]);
  };
  return {
    all: async <T>(sql: string, params: readonly unknown[] = []) => (await q(sql, params)).rows as T[],
    get: async <T>(sql: string, params: readonly unknown[] = []) => (await q(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params: readonly unknown[] = []) => ({ changes: (await q(sql, params)).rowCount ?? 0 }),
  };
}

/** The statement with $n placeholders; a count that does not match the values is our bug, said before sending. */
function pgText(sql: string, params: readonly unknown[]): string {
  const { text, count } = numberPlaceholders(sql);
  if (count !== params.length) throw new Error(`the statement has ${count} placeholder(s) but ${params.length} value(s): ${sql}`);
  return text;
}

function isServerError(e: unknown): boolean {
  return typeof (e as { severity?: unknown }).severity === 'string';
}
