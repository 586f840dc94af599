/** The PostgreSQL schema: migrated once however many replicas start together, equal to SQLite's, NOCASE alike. */
import pg from 'pg';
import { openDatabase } from '../../src/store/database';
import { isUniqueViolation } from '../../src/store/sql/driver';
import { openPostgres, type PgDriver } from '../../src/store/sql/pg-driver';
import { PG_MIGRATIONS } from '../../src/store/sql/pg-migrations';
import { freshSchema, type FreshSchema } from '../support/postgres';

const drops: FreshSchema[] = [];
afterAll(async () => {
  for (const s of drops) await s.drop();
});

async function schemaName(create = true): Promise<FreshSchema> {
  const s = await freshSchema(undefined, { create });
  drops.push(s);
  return s;
}

async function versions(db: PgDriver): Promise<number[]> {
  return (await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version);
}

describe('PostgreSQL migrations', () => {
  test('five replicas starting at once on a schema that does not exist yet: it is created and migrated exactly once', async () => {
    const { url, schema } = await schemaName(false);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => openPostgres(url, { schema, poolSize: 2 })));
    const drivers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(await versions(drivers[0])).toEqual(PG_MIGRATIONS.map((_, i) => i + 1));
      expect(await drivers[0].get('SELECT count(*) AS n FROM schema_migrations')).toEqual({ n: PG_MIGRATIONS.length });
    } finally {
      await Promise.all(drivers.map((d) => d.close()));
    }
  });

  test('opening a migrated schema again changes nothing and keeps the data', async () => {
    const { url, schema } = await schemaName();
    const first = await openPostgres(url, { schema });
    await first.run("INSERT INTO kv (key, value) VALUES ('k', 'v')");
    const applied = await first.all('SELECT version, applied_at FROM schema_migrations ORDER BY version');
    await first.close();
    const again = await openPostgres(url, { schema });
    try {
      expect(await again.all('SELECT version, applied_at FROM schema_migrations ORDER BY version')).toEqual(applied);
      expect(await again.get("SELECT value FROM kv WHERE key = 'k'")).toEqual({ value: 'v' });
    } finally {
      await again.close();
    }
  });

  test('a schema migrated by a newer release is refused, naming both versions', async () => {
    const { url, schema } = await schemaName();
    const db = await openPostgres(url, { schema });
    await db.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [PG_MIGRATIONS.length + 5, 'later']);
    await db.close();
    await expect(openPostgres(url, { schema })).rejects.toThrow(
      new RegExp(`schema "${schema}" is at version ${PG_MIGRATIONS.length + 5}, newer than this release knows \\(${PG_MIGRATIONS.length}\\)`),
    );
  });

  test('the same tables and columns as the SQLite schema (plus schema_migrations)', async () => {
    const sqlite = openDatabase(':memory:');
    const sqliteTables: Record<string, string[]> = {};
    for (const { name } of sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]) {
      sqliteTables[name] = (sqlite.prepare(`PRAGMA table_info(${name})`).all() as { name: string }[]).map((c) => c.name).sort();
    }
    sqlite.close();
    const { url, schema } = await schemaName();
    const db = await openPostgres(url, { schema });
    try {
      const rows = await db.all<{ table_name: string; column_name: string }>(
        'SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ? ORDER BY table_name, column_name',
        [schema],
      );
      const pgTables: Record<string, string[]> = {};
      for (const r of rows) (pgTables[r.table_name] ??= []).push(r.column_name);
      const { schema_migrations: bookkeeping, ...rest } = pgTables;
      expect(bookkeeping).toEqual(['applied_at', 'version']);
      // tokens.id is PostgreSQL's stand-in for SQLite's implicit rowid (insertion order, dialect.ts tokenOrder).
      expect(rest.tokens).toContain('id');
      rest.tokens = rest.tokens.filter((c) => c !== 'id');
      expect(rest).toEqual(sqliteTables);
    } finally {
      await db.close();
    }
  });

  describe('nocase: SQLite NOCASE exactly (ASCII A-Z folds, nothing else does)', () => {
    let db: PgDriver;
    beforeAll(async () => {
      const { url, schema } = await schemaName();
      db = await openPostgres(url, { schema });
    });
    afterAll(() => db.close());

    const addUser = (id: string, userName: string) =>
      db.run("INSERT INTO users (id, user_name, doc, created, last_modified, seq) VALUES (?, ?, '{}', 't', 't', 1)", [id, userName]);

    test.each([
      ['alice', 'Alice', true],
      ['BOB@EXAMPLE.COM', 'bob@example.com', true],
      ['ålice', 'Ålice', false], // SQLite NOCASE does not fold non-ASCII
      ['straße', 'STRASSE', false],
      ['i', 'İ', false],
    ])('users.user_name %s then %s: the second is a duplicate? %s', async (first, second, duplicate) => {
      await db.run('DELETE FROM users');
      await addUser('u1', first);
      const err = await addUser('u2', second).catch((e: unknown) => e);
      expect(isUniqueViolation(err)).toBe(duplicate);
      if (!duplicate) expect(err).toEqual({ changes: 1 });
    });

    test("nocase(a) = nocase(b) exactly when SQLite says a = b COLLATE NOCASE", async () => {
      const sqlite = openDatabase(':memory:');
      const samples = ['Alice', 'alice', 'ÅLICE', 'åLICE', 'Straße', 'STRASSE', 'ÀÉÎ', 'àéî', 'MiXeD-123_Z', 'mixed-123_z', 'İstanbul', 'istanbul', 'ǅ', 'ǆ'];
      const same = sqlite.prepare('SELECT ? = ? COLLATE NOCASE AS same');
      for (const a of samples) {
        for (const b of samples) {
          const viaSqlite = (same.get(a, b) as { same: number }).same === 1;
          const viaPg = (await db.get<{ same: boolean }>('SELECT nocase(?) = nocase(?) AS same', [a, b]))!.same;
          expect({ a, b, same: viaPg }).toEqual({ a, b, same: viaSqlite });
        }
      }
      sqlite.close();
    });

    test('groups.display_name and airflow_owned.username are unique under nocase too; upsert by ON CONFLICT (nocase(col))', async () => {
      await db.run("INSERT INTO groups (id, display_name, doc, created, last_modified, seq) VALUES ('g1', 'Admins', '{}', 't', 't', 1)");
      const dup = await db.run("INSERT INTO groups (id, display_name, doc, created, last_modified, seq) VALUES ('g2', 'ADMINS', '{}', 't', 't', 2)").catch((e: unknown) => e);
      expect(isUniqueViolation(dup)).toBe(true);
      const upsert = `INSERT INTO airflow_owned (username, how, since) VALUES (?, ?, 't')
        ON CONFLICT (nocase(username)) DO UPDATE SET how = excluded.how`;
      await db.run(upsert, ['Carol', 'created']);
      await db.run(upsert, ['CAROL', 'adopted']);
      expect(await db.all('SELECT username, how FROM airflow_owned')).toEqual([{ username: 'Carol', how: 'adopted' }]);
    });

    test('tokens: one active token per name, hashes unique', async () => {
      const add = (name: string, hash: string, revoked: string | null = null) =>
        db.run("INSERT INTO tokens (name, hash, created, revoked_at) VALUES (?, ?, 't', ?)", [name, hash, revoked]);
      await add('ci', 'h1', 'revoked');
      await add('ci', 'h2');
      expect(isUniqueViolation(await add('ci', 'h3').catch((e: unknown) => e))).toBe(true);
      expect(isUniqueViolation(await add('other', 'h2').catch((e: unknown) => e))).toBe(true);
    });

    test('deleting a user removes its emails and memberships (ON DELETE CASCADE)', async () => {
      await db.run('DELETE FROM users');
      await addUser('u9', 'dave');
      await db.run("INSERT INTO user_emails (user_id, value) VALUES ('u9', 'dave@example.com')");
      await db.run("INSERT INTO group_members (group_id, user_id) VALUES ('g1', 'u9')");
      await db.run("DELETE FROM users WHERE id = 'u9'");
      expect(await db.get('SELECT (SELECT count(*) FROM user_emails) AS e, (SELECT count(*) FROM group_members) AS m')).toEqual({ e: 0, m: 0 });
    });
  });

  test('a raw pg client sees the nocase function only in the schema (nothing is created in public)', async () => {
    const { url, schema } = await schemaName();
    const db = await openPostgres(url, { schema });
    await db.close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const r = await c.query("SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'nocase' AND n.nspname = $1", [schema]);
      expect(r.rows).toEqual([{ nspname: schema }]);
      const leaked = await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
      expect(leaked.rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
  });
});
