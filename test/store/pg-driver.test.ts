/** PgDriver against a real PostgreSQL (the jest global set-up starts one); each test file has its own schema. */
import { isUniqueViolation } from '../../src/store/sql/driver';
import { openPostgres, type PgDriver } from '../../src/store/sql/pg-driver';
import { freePort } from '../support/free-port';
import { freshSchema, testDatabaseUrl, type FreshSchema } from '../support/postgres';

let fresh: FreshSchema;
let db: PgDriver;

beforeAll(async () => {
  fresh = await freshSchema();
  db = await openPostgres(fresh.url, { schema: fresh.schema, poolSize: 4 });
});
afterAll(async () => {
  await db?.close();
  await fresh?.drop();
});
beforeEach(() => db.run('DELETE FROM kv'));

const kvCount = async (ex: { get: PgDriver['get'] } = db) => (await ex.get<{ n: number }>('SELECT count(*) AS n FROM kv'))!.n;

/** Resolves when `sql` returns a row (polled): used to see that another session is waiting on a lock. */
async function until(sql: string, params: unknown[] = []): Promise<void> {
  const stop = Date.now() + 10_000;
  while (!(await db.get(sql, params))) {
    if (Date.now() > stop) throw new Error(`timed out waiting for: ${sql}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('PgDriver', () => {
  test('all, get and run with ? placeholders; run reports the rows changed', async () => {
    expect(await db.run('INSERT INTO kv (key, value) VALUES (?, ?), (?, ?)', ['a', '1', 'b', '2'])).toEqual({ changes: 2 });
    expect(await db.all('SELECT key, value FROM kv WHERE value <> ? ORDER BY key', ['?'])).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ]);
    expect(await db.get('SELECT value FROM kv WHERE key = ?', ['b'])).toEqual({ value: '2' });
    expect(await db.get('SELECT value FROM kv WHERE key = ?', ['zz'])).toBeUndefined();
    expect(await db.run("UPDATE kv SET value = 'x' WHERE key = ?", ['nope'])).toEqual({ changes: 0 });
  });

  test('BIGINT and count(*) come back as numbers, as from SQLite', async () => {
    await db.run("INSERT INTO changes (at, resource_type, resource_id, op) VALUES ('t', 'User', 'u1', 'create')");
    const row = await db.get<{ seq: unknown; n: unknown }>('SELECT max(seq) AS seq, count(*) AS n FROM changes');
    expect(typeof row!.seq).toBe('number');
    expect(row!.n).toBe(1);
    expect(await db.get('SELECT ?::bigint AS big', [2 ** 53 - 1])).toEqual({ big: 2 ** 53 - 1 });
    await expect(db.get('SELECT 9007199254740993::bigint AS big')).rejects.toThrow(/does not fit a JavaScript number/);
  });

  test('a placeholder count that does not match the values is refused before anything is sent', async () => {
    await expect(db.run('INSERT INTO kv (key, value) VALUES (?, ?)', ['only-one'])).rejects.toThrow(/2 placeholder\(s\) but 1 value/);
  });

  test('a transaction commits what fn did and returns its value', async () => {
    const out = await db.transaction(async (tx) => {
      await tx.run('INSERT INTO kv (key, value) VALUES (?, ?)', ['k', 'v']);
      return tx.get<{ value: string }>('SELECT value FROM kv WHERE key = ?', ['k']);
    });
    expect(out).toEqual({ value: 'v' });
    expect(await kvCount()).toBe(1);
  });

  test('fn throwing rolls back every statement and rethrows the same error', async () => {
    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO kv (key, value) VALUES (?, ?)', ['k1', 'v']);
        await tx.run('INSERT INTO kv (key, value) VALUES (?, ?)', ['k2', 'v']);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await kvCount()).toBe(0);
    // The connection went back to the pool clean: the next transaction works.
    await db.transaction((tx) => tx.run("INSERT INTO kv (key, value) VALUES ('after', 'v')"));
    expect(await kvCount()).toBe(1);
  });

  test('a failed statement aborts the PostgreSQL transaction (unlike SQLite): catching it inside fn does not help', async () => {
    await db.run("INSERT INTO kv (key, value) VALUES ('dup', 'v')");
    const attempt = db.transaction(async (tx) => {
      await tx.run("INSERT INTO kv (key, value) VALUES ('dup', 'v')").catch(() => undefined);
      await tx.run("INSERT INTO kv (key, value) VALUES ('other', 'v')");
    });
    await expect(attempt).rejects.toMatchObject({ code: '25P02' }); // in_failed_sql_transaction
    expect(await kvCount()).toBe(1);
  });

  test('tx used after its transaction finished is refused', async () => {
    let leaked: Parameters<Parameters<PgDriver['transaction']>[0]>[0] | undefined;
    await db.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.get('SELECT 1')).rejects.toThrow(/already finished/);
  });

  test('readOnly: every statement sees one snapshot, and writing is refused', async () => {
    await db.run("INSERT INTO kv (key, value) VALUES ('before', 'v')");
    const seen = await db.transaction(
      async (tx) => {
        const first = await kvCount(tx);
        await db.run("INSERT INTO kv (key, value) VALUES ('during', 'v')"); // another connection commits meanwhile
        const second = await kvCount(tx);
        return [first, second];
      },
      { readOnly: true },
    );
    expect(seen).toEqual([1, 1]);
    expect(await kvCount()).toBe(2);
    await expect(db.transaction((tx) => tx.run("INSERT INTO kv (key, value) VALUES ('x', 'v')"), { readOnly: true })).rejects.toMatchObject({
      code: '25006', // read_only_sql_transaction
    });
    await expect(db.transaction(async () => undefined, { readOnly: true, journal: true })).rejects.toThrow(/cannot both/);
  });

  test('journal transactions from two pools (two processes, in effect) run one after the other', async () => {
    const other = await openPostgres(fresh.url, { schema: fresh.schema, poolSize: 2 });
    try {
      const firstHolds = deferred();
      const firstMayCommit = deferred();
      const order: string[] = [];
      const first = db.transaction(
        async (tx) => {
          await tx.run("INSERT INTO changes (at, resource_type, resource_id, op) VALUES ('t', 'User', 'first', 'create')");
          firstHolds.resolve();
          await firstMayCommit.promise;
          order.push('first commits');
        },
        { journal: true },
      );
      await firstHolds.promise;
      let secondSaw: string[] | undefined;
      const second = other.transaction(
        async (tx) => {
          order.push('second runs');
          // READ COMMITTED: a statement after the lock sees what the first transaction committed.
          secondSaw = (await tx.all<{ resource_id: string }>('SELECT resource_id FROM changes ORDER BY seq')).map((r) => r.resource_id);
          await tx.run("INSERT INTO changes (at, resource_type, resource_id, op) VALUES ('t', 'User', 'second', 'create')");
        },
        { journal: true },
      );
      // The second is waiting on the advisory lock, not running.
      await until("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
      expect(order).toEqual([]);
      firstMayCommit.resolve();
      await Promise.all([first, second]);
      expect(order).toEqual(['first commits', 'second runs']);
      expect(secondSaw).toEqual(expect.arrayContaining(['first']));
      const seqs = await db.all<{ resource_id: string }>("SELECT resource_id FROM changes WHERE resource_id IN ('first', 'second') ORDER BY seq");
      expect(seqs.map((r) => r.resource_id)).toEqual(['first', 'second']);
    } finally {
      await other.close();
    }
  });

  test('a journal lock is per schema: another schema on the same database does not wait', async () => {
    const elsewhere = await freshSchema();
    const other = await openPostgres(elsewhere.url, { schema: elsewhere.schema, poolSize: 1 });
    try {
      const firstMayCommit = deferred();
      const holds = deferred();
      const first = db.transaction(
        async () => {
          holds.resolve();
          await firstMayCommit.promise;
        },
        { journal: true },
      );
      await holds.promise;
      await other.transaction((tx) => tx.run("INSERT INTO kv (key, value) VALUES ('free', 'v')"), { journal: true });
      firstMayCommit.resolve();
      await first;
    } finally {
      await other.close();
      await elsewhere.drop();
    }
  });

  test('unique violations are recognised by isUniqueViolation, other errors are not', async () => {
    await db.run("INSERT INTO kv (key, value) VALUES ('k', 'v')");
    const dup = await db.run("INSERT INTO kv (key, value) VALUES ('k', 'v')").catch((e: unknown) => e);
    expect(isUniqueViolation(dup)).toBe(true);
    const notNull = await db.run('INSERT INTO kv (key, value) VALUES (?, NULL)', ['n']).catch((e: unknown) => e);
    expect(isUniqueViolation(notNull)).toBe(false);
    // …also from inside a transaction, where the stores will see them.
    const inTx = await db.transaction((tx) => tx.run("INSERT INTO kv (key, value) VALUES ('k', 'v')")).catch((e: unknown) => e);
    expect(isUniqueViolation(inTx)).toBe(true);
  });

  test('describe is the URL without its password', () => {
    const password = new URL(testDatabaseUrl()).password;
    expect(password).not.toBe('');
    expect(db.describe).not.toContain(password);
    expect(db.describe).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(db.dialect).toBe('postgres');
  });

  test('no server there: the error names host:port/database and never the password', async () => {
    const port = await freePort();
    const err = await openPostgres(`postgresql://scim:s3cret-pw@127.0.0.1:${port}/scimdb`, { connectTimeoutMs: 5000 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`cannot connect to PostgreSQL at 127.0.0.1:${port}/scimdb`);
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect((err as Error).message).not.toContain('s3cret-pw');
  });

  test('a wrong password: the server says so, and the message still does not repeat it', async () => {
    const url = new URL(testDatabaseUrl());
    url.password = 'wrong-password-123';
    const err = await openPostgres(url.toString(), { schema: fresh.schema }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/cannot connect to PostgreSQL at 127\.0\.0\.1:\d+\/postgres: password authentication failed/);
    expect((err as Error).message).not.toContain('wrong-password-123');
  });

  test('a schema name that is not a plain lower-case identifier is refused', async () => {
    await expect(openPostgres(fresh.url, { schema: 'Bad"; DROP' })).rejects.toThrow(/lower-case identifier/);
  });

  test('after close, calls fail clearly and close is idempotent', async () => {
    const short = await openPostgres(fresh.url, { schema: fresh.schema, poolSize: 1 });
    await short.close();
    await short.close();
    await expect(short.get('SELECT 1')).rejects.toThrow(/is closed/);
  });
});
