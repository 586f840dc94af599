/**
 * What only PostgreSQL can show about the compiled filters. The lookups IdPs make before every write (RFC 7644 §3.4.2.2 `eq` filters) use an index on PostgreSQL: the
 * statements list.ts really sends, recorded from SqlIdentityStore, EXPLAINed with sequential scans off (the tables
 * here are small enough that the planner could otherwise rightly prefer one), both as planned for the values sent
 * and as a generic plan (EXPLAIN (GENERIC_PLAN), PostgreSQL 16+), which a prepared statement may come to use.
 */
import pg from 'pg';
import { parseFilterText } from '../../src/core/filter';
import type { SqlDriver, SqlExecutor, TransactionOptions } from '../../src/store/sql/driver';
import type { UserData } from '../../src/store/types';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import { openPostgres, type PgDriver } from '../../src/store/sql/pg-driver';
import { numberPlaceholders } from '../../src/store/sql/pg-placeholders';
import { freshSchema, type FreshSchema } from '../support/postgres';

/** A SqlDriver that remembers the reads it passes on. */
class Recording implements SqlDriver {
  readonly dialect = 'postgres' as const;
  readonly describe = 'recording';
  get changes() {
    return this.db.changes;
  }
  reads: { sql: string; params: readonly unknown[] }[] = [];
  constructor(private readonly db: PgDriver) {}
  all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    this.reads.push({ sql, params });
    return this.db.all<T>(sql, params);
  }
  get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    this.reads.push({ sql, params });
    return this.db.get<T>(sql, params);
  }
  run(sql: string, params?: readonly unknown[]): Promise<{ changes: number }> {
    return this.db.run(sql, params);
  }
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, opts?: TransactionOptions): Promise<T> {
    return this.db.transaction(fn, opts);
  }
  schemaVersion(): Promise<{ current: number; expected: number }> {
    return this.db.schemaVersion();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const N = 20_000;
let fresh: FreshSchema;
let db: PgDriver;
let rec: Recording;
let store: SqlIdentityStore;
/** For EXPLAIN (GENERIC_PLAN): $n without values, which the driver (rightly) refuses to send. */
let raw: pg.Client;

beforeAll(async () => {
  fresh = await freshSchema();
  db = await openPostgres(fresh.url, { schema: fresh.schema, poolSize: 2 });
  const at = '2026-01-01T00:00:00.000Z';
  await db.run(
    `INSERT INTO users (id, user_name, external_id, display_name, active, doc, created, last_modified, version, seq)
     SELECT 'id-' || i, 'user' || i || '@example.com', 'ext-' || i, 'User ' || i, 1,
            json_build_object('userName', 'user' || i || '@example.com', 'active', true, 'externalId', 'ext-' || i, 'displayName', 'User ' || i,
              'emails', json_build_array(json_build_object('value', 'user' || i || '@example.com', 'type', 'work', 'primary', true)))::text,
            ?, ?, 1, i
     FROM generate_series(1, ${N}) i`,
    [at, at],
  );
  await db.run(`INSERT INTO user_emails (user_id, value, type, is_primary) SELECT 'id-' || i, 'user' || i || '@example.com', 'work', 1 FROM generate_series(1, ${N}) i`);
  await db.run(
    `INSERT INTO groups (id, display_name, external_id, doc, created, last_modified, version, seq)
     SELECT 'g-' || i, 'Group ' || i, 'gext-' || i, json_build_object('displayName', 'Group ' || i, 'externalId', 'gext-' || i)::text, ?, ?, 1, i
     FROM generate_series(1, ${N / 10}) i`,
    [at, at],
  );
  await db.run('ANALYZE');
  rec = new Recording(db);
  store = new SqlIdentityStore(rec);
  raw = new pg.Client({ connectionString: fresh.url, options: `-c search_path=${fresh.schema} -c enable_seqscan=off` });
  await raw.connect();
}, 60_000);

afterAll(async () => {
  await raw?.end();
  await db?.close();
  await fresh?.drop();
});

/** Runs the list, then EXPLAINs each statement it sent, with sequential scans off, in one transaction. */
async function plans(rt: 'User' | 'Group', filter: string): Promise<{ found: string[]; plans: string[]; generic: string[] }> {
  rec.reads = [];
  const q = { filter: parseFilterText(filter), startIndex: 1, count: 100 };
  const page = rt === 'User' ? await store.listUsers(q) : await store.listGroups(q, { members: false });
  const reads = rec.reads;
  expect(reads.length).toBeGreaterThan(0);
  const explained = await db.transaction(async (tx) => {
    await tx.run('SET LOCAL enable_seqscan = off');
    const out: string[] = [];
    for (const r of reads) out.push((await tx.all<{ 'QUERY PLAN': string }>(`EXPLAIN ${r.sql}`, r.params)).map((x) => x['QUERY PLAN']).join('\n'));
    return out;
  });
  const generic: string[] = [];
  for (const r of reads) {
    const { rows } = await raw.query<{ 'QUERY PLAN': string }>(`EXPLAIN (GENERIC_PLAN) ${numberPlaceholders(r.sql).text}`);
    generic.push(rows.map((x) => x['QUERY PLAN']).join('\n'));
  }
  return { found: page.resources.map((x) => x.id), plans: explained, generic };
}

const uses = (index: string) => new RegExp(`(Index Scan using|Index Only Scan using|Bitmap Index Scan on) ${index}\\b`);

test.each([
  ['User', 'userName eq "USER4242@example.com"', 'users_user_name', ['id-4242']],
  ['User', 'externalId eq "ext-4242"', 'users_external_id', ['id-4242']],
  ['User', 'displayName eq "user 4242"', 'users_display_name', ['id-4242']],
  ['User', 'emails.value eq "User4242@Example.com"', 'user_emails_value', ['id-4242']],
  ['User', 'emails[type eq "work" and value eq "user4242@example.com"]', 'user_emails_value', ['id-4242']],
  ['Group', 'displayName eq "GROUP 42"', 'groups_display_name', ['g-42']],
  ['Group', 'externalId eq "gext-42"', 'groups_external_id', ['g-42']],
] as const)('%s %s uses %s', async (rt, filter, index, expected) => {
  const p = await plans(rt, filter);
  expect(p.found).toEqual(expected);
  for (const plan of [...p.plans, ...p.generic]) {
    expect(plan).toMatch(uses(index));
    expect(plan).not.toMatch(/Seq Scan on (users|groups|user_emails)\b/);
  }
});

test('emails.value eq reaches users through the primary key', async () => {
  const p = await plans('User', 'emails.value eq "User4242@Example.com"');
  for (const plan of [...p.plans, ...p.generic]) expect(plan).toMatch(uses('users_pkey'));
});

/**
 * PostgreSQL's #> and #>> refuse a whole document holding a \u0000 escape or an unpaired surrogate, whichever key
 * is read. The SCIM API refuses such strings now (400 invalidValue, scim/router.ts), but a document written before
 * that, or straight through the store as here, reads as {} (as SQLite reads a document too deep for its JSON
 * parser), so it cannot make every JSON filter and sort fail.
 */
test('a document PostgreSQL cannot read as text reads as {} instead of failing every query', async () => {
  const ctx = { actor: 'test' };
  for (const [userName, title] of [['nul', 'a\u0000b'], ['lone', 'a\ud800'], ['backslash-u', 'a\\u0000'], ['fine', 'Ab']]) {
    await store.createUser({ userName, active: true, title, name: { familyName: title } } as UserData, ctx);
  }
  const names = async (filter: string, sortBy?: string) =>
    (await store.listUsers({ filter: parseFilterText(filter), startIndex: 1, count: 10, sortBy })).resources.map((u) => u.data.userName);
  expect(await names('title pr')).toEqual(['backslash-u', 'fine']);
  expect(await names('name[familyName sw "a"]', 'title')).toEqual(['backslash-u', 'fine']);
  expect(await names('userName eq "NUL" or userName eq "lone"')).toEqual(['nul', 'lone']); // columns still answer
  expect(await names('not (title pr) and userName ew "l"', 'name.familyName')).toEqual(['nul']);
});
