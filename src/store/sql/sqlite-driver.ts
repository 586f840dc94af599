import type Database from 'better-sqlite3';
import type { Db } from '../database';
import { MIGRATIONS } from '../migrations';
import type { SqlDriver, SqlExecutor, TransactionOptions } from './driver';
import { LocalChangeFeed } from '../change-feed';

interface Job {
  fn: (tx: SqlExecutor) => Promise<unknown>;
  opts: TransactionOptions;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** Queued transactions committed together at most (one fsync for the group). */
const MAX_GROUP = 256;
const STATEMENT_CACHE = 512;

/**
 * SqlDriver over one better-sqlite3 connection. Statements run synchronously; transactions are queued and run one
 * at a time, so no other statement of this process can land inside an open transaction. Group commit: write
 * transactions that queue up while another runs are committed together in one BEGIN IMMEDIATE … COMMIT, each
 * inside its own SAVEPOINT, so one failing rolls back only itself. With synchronous=FULL every COMMIT waits for
 * an fsync, so a group of n concurrent writes costs one fsync instead of n; no caller hears "done" before the
 * COMMIT that holds its write has returned.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  /** In this process only: other processes on the file are seen by the reconcile loop's journal poll. */
  readonly changes = new LocalChangeFeed();
  private readonly statements = new Map<string, Database.Statement>();
  private readonly queue: Job[] = [];
  private busy = false;
  /** Plain statements that arrived while a transaction was open; they run after it. */
  private readonly waiting: (() => void)[] = [];
  private readonly exec: SqlExecutor;

  constructor(
    private readonly db: Db,
    readonly describe: string = db.name,
  ) {
    this.exec = {
      all: async <T>(sql: string, params: readonly unknown[] = []) => this.prepare(sql).all(...params) as T[],
      get: async <T>(sql: string, params: readonly unknown[] = []) => this.prepare(sql).get(...params) as T | undefined,
      run: async (sql: string, params: readonly unknown[] = []) => ({ changes: this.prepare(sql).run(...params).changes }),
    };
  }

  private prepare(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      if (this.statements.size >= STATEMENT_CACHE) this.statements.delete(this.statements.keys().next().value!);
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Outside a transaction a statement runs at once; during one it waits, so it never sees uncommitted rows. */
  private outside<T>(f: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        try {
          resolve(f());
        } catch (e) {
          reject(e);
        }
      };
      if (this.busy) this.waiting.push(run);
      else run();
    });
  }

  all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.outside(() => this.prepare(sql).all(...params) as T[]);
  }

  get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return this.outside(() => this.prepare(sql).get(...params) as T | undefined);
  }

  run(sql: string, params: readonly unknown[] = []): Promise<{ changes: number }> {
    return this.outside(() => ({ changes: this.prepare(sql).run(...params).changes }));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, opts, resolve: resolve as (v: unknown) => void, reject });
      if (!this.busy) {
        this.busy = true;
        // Let the requests already read from the sockets queue their writes too: they commit as one group.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const first = this.queue[0];
        let n = 1;
        if (!first.opts.readOnly) while (n < this.queue.length && n < MAX_GROUP && !this.queue[n].opts.readOnly) n++;
        await this.runGroup(this.queue.splice(0, n));
        // Statements that waited run between groups, synchronously, so none can land inside the next one.
        for (const w of this.waiting.splice(0)) w();
      }
    } finally {
      this.busy = false;
      for (const w of this.waiting.splice(0)) w();
    }
  }

  private async runGroup(group: Job[]): Promise<void> {
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.db.exec(group[0].opts.readOnly ? 'BEGIN' : 'BEGIN IMMEDIATE');
    } catch (e) {
      for (const j of group) j.reject(e);
      return;
    }
    const single = group.length === 1;
    for (const job of group) {
      if (!single) this.db.exec('SAVEPOINT g');
      try {
        outcomes.push({ ok: true, value: await job.fn(this.exec) });
        if (!single) this.db.exec('RELEASE g');
      } catch (error) {
        outcomes.push({ ok: false, error });
        if (!single && this.db.inTransaction) this.db.exec('ROLLBACK TO g; RELEASE g');
      }
    }
    try {
      if (single && !outcomes[0].ok) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } else {
        this.db.exec('COMMIT');
      }
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      for (const j of group) j.reject(e);
      return;
    }
    group.forEach((j, i) => {
      const o = outcomes[i];
      if (o.ok) j.resolve(o.value);
      else j.reject(o.error);
    });
    if (group.some((j, i) => j.opts.journal && outcomes[i].ok)) this.changes.emit();
  }

  schemaVersion(): Promise<{ current: number; expected: number }> {
    return this.outside(() => ({ current: this.db.pragma('user_version', { simple: true }) as number, expected: MIGRATIONS.length }));
  }

  async close(): Promise<void> {
    await this.outside(() => undefined);
    drivers.delete(this.db);
    await this.changes.close();
    if (this.db.open) this.db.close();
  }
}

const drivers = new WeakMap<Db, SqliteDriver>();

/** Every store on one connection shares one driver (one transaction queue). */
export function sqliteDriverFor(db: Db): SqliteDriver {
  let d = drivers.get(db);
  if (!d) {
    d = new SqliteDriver(db);
    drivers.set(db, d);
  }
  return d;
}
