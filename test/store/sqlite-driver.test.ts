import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/store/database';
import { SqliteDriver } from '../../src/store/sql/sqlite-driver';

/** The SQLite driver: one queue of transactions, group commit with a savepoint per transaction. */
describe('SqliteDriver', () => {
  let dir: string;
  let d: SqliteDriver;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-driver-'));
    d = new SqliteDriver(openDatabase(path.join(dir, 'db.sqlite')));
    await d.run('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
  });
  afterEach(async () => {
    await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('concurrent transactions commit as one group; a failing one rolls back alone', async () => {
    const commits: string[] = [];
    const db = (d as unknown as { db: { exec(sql: string): void } }).db;
    const exec = db.exec.bind(db);
    db.exec = (sql: string) => {
      if (/^(BEGIN|COMMIT)/.test(sql)) commits.push(sql);
      exec(sql);
    };
    const results = await Promise.allSettled(
      ['a', 'b', 'boom', 'c'].map((k) =>
        d.transaction(async (tx) => {
          await tx.run('INSERT INTO t (k, v) VALUES (?, 1)', [k]);
          if (k === 'boom') throw new Error('refused');
          return k;
        }, { journal: true }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(commits).toEqual(['BEGIN IMMEDIATE', 'COMMIT']);
    expect((await d.all<{ k: string }>('SELECT k FROM t ORDER BY k')).map((r) => r.k)).toEqual(['a', 'b', 'c']);
  });

  test('its change feed (this process only) fires after a journal transaction commits, not for others or for a rollback', async () => {
    let heard = 0;
    const unsubscribe = d.changes.subscribe(() => heard++);
    await d.transaction((tx) => tx.run("INSERT INTO t VALUES ('plain', 1)"));
    expect(heard).toBe(0);
    await expect(d.transaction(async (tx) => {
      await tx.run("INSERT INTO t VALUES ('gone', 1)");
      throw new Error('rolled back');
    }, { journal: true })).rejects.toThrow('rolled back');
    expect(heard).toBe(0);
    await Promise.all(['j1', 'j2'].map((k) => d.transaction((tx) => tx.run('INSERT INTO t VALUES (?, 1)', [k]), { journal: true })));
    expect(heard).toBe(1); // one group commit, one wake-up
    unsubscribe();
    await d.transaction((tx) => tx.run("INSERT INTO t VALUES ('j3', 1)"), { journal: true });
    expect(heard).toBe(1);
  });

  test('a lone failing transaction rolls back and rethrows', async () => {
    await expect(
      d.transaction(async (tx) => {
        await tx.run("INSERT INTO t (k, v) VALUES ('x', 1)");
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await d.all('SELECT * FROM t')).toEqual([]);
  });

  test('a plain read issued while a transaction is open waits for its commit (never sees uncommitted rows)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const tx = d.transaction(async (t) => {
      await t.run("INSERT INTO t (k, v) VALUES ('y', 1)");
      await gate;
      await t.run("UPDATE t SET v = 2 WHERE k = 'y'");
    });
    await new Promise((r) => setImmediate(r)); // the transaction is open now
    const read = d.get<{ v: number }>("SELECT v FROM t WHERE k = 'y'");
    release();
    await tx;
    expect(await read).toEqual({ v: 2 });
  });

  test('a unique violation inside a group rejects only that transaction', async () => {
    await d.run("INSERT INTO t (k, v) VALUES ('dup', 1)");
    const [a, b] = await Promise.allSettled([
      d.transaction((tx) => tx.run("INSERT INTO t (k, v) VALUES ('dup', 2)")),
      d.transaction((tx) => tx.run("INSERT INTO t (k, v) VALUES ('new', 2)")),
    ]);
    expect(a.status).toBe('rejected');
    expect((a as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect(b.status).toBe('fulfilled');
    expect(await d.all('SELECT k, v FROM t ORDER BY k')).toEqual([{ k: 'dup', v: 1 }, { k: 'new', v: 2 }]);
  });

  test('readOnly transactions see one snapshot', async () => {
    await d.run("INSERT INTO t (k, v) VALUES ('r', 1)");
    const seen = await d.transaction(async (tx) => [await tx.get('SELECT v FROM t'), await tx.get('SELECT COUNT(*) AS n FROM t')], { readOnly: true });
    expect(seen).toEqual([{ v: 1 }, { n: 1 }]);
  });
});
