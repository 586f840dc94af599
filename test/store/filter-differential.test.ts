import crypto from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import type { Filter } from 'scim2-parse-filter';
import { ManualClock } from '../../src/core/clock';
import { parseFilterText } from '../../src/core/filter';
import { ENTERPRISE_USER } from '../../src/core/schema';
import type { AuditLog } from '../../src/store/audit-types';
import { openDatabase } from '../../src/store/database';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import { openPostgres, type PgDriver } from '../../src/store/sql/pg-driver';
import { SqliteDriver } from '../../src/store/sql/sqlite-driver';
import type { GroupData, GroupRecord, ListQuery, Page, UserData, UserRecord, WriteContext } from '../../src/store/types';
import { testDatabaseUrl } from '../support/postgres';

/**
 * Differential property: the one SQL compiler on SQLite and on PostgreSQL and the in-memory evaluator select and
 * order the same resources for random data, filters, sorts and pages. PostgreSQL runs in a database whose default
 * collation is ICU en-US, where 'a' < 'B' < '_' < 'é' is not byte order: a text comparison or sort the compiler
 * forgot to pin to COLLATE "C" shows up as a difference.
 */

const char = fc.constantFrom('a', 'A', 'b', 'B', 'Z', '@', '.', '_', '%', '\\', 'é', 'É');
const text = fc.string({ unit: char, maxLength: 3 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const email = fc.record(
  { value: fc.oneof(text, fc.constant(7)), type: fc.constantFrom('work', 'home', 'WORK'), primary: fc.oneof(fc.boolean(), fc.constant('true')) },
  { requiredKeys: [] },
);
const userData = fc.record({
  userName: text,
  active: fc.boolean(),
  displayName: maybe(text),
  externalId: maybe(text),
  title: maybe(fc.oneof(text, fc.constant(5), fc.constant(true), fc.constant({}), fc.constant(['x']))),
  name: maybe(fc.oneof(fc.record({ familyName: text }, { requiredKeys: [] }), fc.constant('flat'))),
  emails: maybe(fc.oneof(fc.array(fc.oneof(email, fc.constant('bare')), { maxLength: 3 }), fc.constant({ value: 'x' }))),
  [ENTERPRISE_USER]: maybe(fc.record({ department: text }, { requiredKeys: [] })),
});

const STRING_ATTRS = ['userName', 'USERNAME', 'displayName', 'externalId', 'id', 'title', 'name.familyName', 'emails', 'emails.value',
  'Emails.Type', `${ENTERPRISE_USER}:department`];
const BOOL_ATTRS = ['active', 'emails.primary'];
const STRING_OPS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const;
/** Single characters often hit (co, sw, ew); ids (id-1 …) give id and members.value filters something to select. */
const compText = fc.oneof(text, char, fc.constantFrom('id-1', 'ID-2', 'id-', 'd-3'));

const leaf = (strings: string[], bools: string[], complex: string[] = []): fc.Arbitrary<Filter> =>
  fc.oneof(
    fc.record({ op: fc.constantFrom(...STRING_OPS), attrPath: fc.constantFrom(...strings), compValue: compText }),
    ...(bools.length
      ? [fc.record({ op: fc.constantFrom('eq' as const, 'ne' as const), attrPath: fc.constantFrom(...bools), compValue: fc.boolean() })]
      : []),
    fc.record({ op: fc.constant('pr' as const), attrPath: fc.constantFrom(...strings, ...bools, ...complex) }),
  );

const filterArb = fc.letrec<{ f: Filter; sub: Filter }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf(STRING_ATTRS, BOOL_ATTRS, ['name', 'emails']),
    fc.record({ op: fc.constantFrom('and' as const, 'or' as const), filters: fc.array(tie('f'), { minLength: 2, maxLength: 3 }) }),
    fc.record({ op: fc.constant('not' as const), filter: tie('f') }),
    fc.record({ op: fc.constant('[]' as const), attrPath: fc.constantFrom('emails', 'EMAILS'), valFilter: tie('sub') }),
    fc.record({ op: fc.constant('[]' as const), attrPath: fc.constant('name'), valFilter: leaf(['familyName'], [], []) }),
  ),
  sub: fc.oneof(
    { depthSize: 'small' },
    leaf(['value', 'Type'], ['primary']),
    fc.record({ op: fc.constantFrom('and' as const, 'or' as const), filters: fc.array(tie('sub'), { minLength: 2, maxLength: 3 }) }),
    fc.record({ op: fc.constant('not' as const), filter: tie('sub') }),
  ),
})).f;

const SORTS = [undefined, 'userName', 'displayName', 'externalId', 'id', 'title', 'name.familyName', 'emails', 'emails.type',
  'emails.primary', 'active', 'meta.created', `${ENTERPRISE_USER}:department`];

const groupData = fc.record({ displayName: text, externalId: maybe(text), members: fc.subarray(['id-1', 'id-2', 'id-3']) });
const groupFilterArb = fc.letrec<{ f: Filter }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf(['displayName', 'externalId', 'id', 'members', 'members.value'], [], []),
    fc.record({ op: fc.constantFrom('and' as const, 'or' as const), filters: fc.array(tie('f'), { minLength: 2, maxLength: 3 }) }),
    fc.record({ op: fc.constant('not' as const), filter: tie('f') }),
    fc.record({ op: fc.constant('[]' as const), attrPath: fc.constant('members'), valFilter: leaf(['value'], [], []) }),
  ),
})).f;
const GROUP_SORTS = [undefined, 'displayName', 'externalId', 'id', 'meta.created'];

const pageArb = fc.record({ startIndex: fc.constantFrom(1, 1, 2, 4), count: fc.constantFrom(100, 100, 2, 0) });

/**
 * What this test needs of a store. MemoryIdentityStore is not asynchronous yet in this branch: its plain return
 * values are awaited like the SQL stores' promises.
 */
interface Store {
  createUser(data: UserData, ctx: WriteContext): unknown;
  createGroup(data: GroupData, memberIds: string[], ctx: WriteContext): unknown;
  listUsers(q: ListQuery): Page<UserRecord> | Promise<Page<UserRecord>>;
  listGroups(q: ListQuery, opts: { members: boolean }): Page<GroupRecord> | Promise<Page<GroupRecord>>;
}

const ctx = { actor: 'test' };
const TABLES = ['users', 'user_emails', 'groups', 'group_members', 'changes', 'audit'];

let admin: pg.Client;
let database: string;
let pgDriver: PgDriver;

/** A database of its own with ICU en-US as the default collation (not byte order), migrated by openPostgres. */
beforeAll(async () => {
  const url = new URL(testDatabaseUrl());
  admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  database = `diff_${crypto.randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
  url.pathname = `/${database}`;
  pgDriver = await openPostgres(url.toString(), { schema: 'scim', poolSize: 2 });
}, 60_000);

afterAll(async () => {
  await pgDriver?.close();
  if (database) await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin?.end();
});

test('the PostgreSQL database really does not sort text in byte order by default', async () => {
  const rows = await pgDriver.all<{ s: string }>("SELECT s FROM (VALUES ('_'), ('B'), ('a'), ('é')) v(s) ORDER BY s");
  expect(rows.map((r) => r.s)).not.toEqual(['B', '_', 'a', 'é']);
});

interface Named {
  name: string;
  store: Store;
  close(): Promise<void>;
}

/** The three stores, each given the same writes in the same order, with the same clock and ids. */
async function stores(build: (s: Store) => Promise<void>): Promise<Named[]> {
  await pgDriver.run(`TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY`);
  const make = async (name: string, open: (clock: ManualClock, id: () => string) => Store, close = () => Promise.resolve()): Promise<Named> => {
    const clock = new ManualClock();
    let n = 0;
    const store = open(clock, () => `id-${++n}`);
    const later = <T>(write: () => T) => {
      clock.advance(1000);
      return write();
    };
    await build({
      createUser: (d, c) => later(() => store.createUser(d, c)),
      createGroup: (d, m, c) => later(() => store.createGroup(d, m, c)),
      listUsers: (q) => store.listUsers(q),
      listGroups: (q, o) => store.listGroups(q, o),
    });
    return { name, store, close };
  };
  const sqlite = new SqliteDriver(openDatabase(':memory:'));
  return [
    // MemoryAuditLog is not asynchronous yet in this branch either; the memory store ignores what record returns.
    await make('memory', (clock, id) => new MemoryIdentityStore(new MemoryAuditLog() as unknown as AuditLog, clock, id)),
    await make('sqlite', (clock, id) => new SqlIdentityStore(sqlite, clock, id), () => sqlite.close()),
    await make('postgres', (clock, id) => new SqlIdentityStore(pgDriver, clock, id)), // one driver for every run
  ];
}

/** Every store's answer beside memory's, as one object, so a failure shows all three. */
async function answers<T extends { id: string }>(all: Named[], list: (s: Store) => Page<T> | Promise<Page<T>>) {
  const out: Record<string, { total: number; ids: string[] }> = {};
  for (const { name, store } of all) {
    const page = await list(store);
    out[name] = { total: page.totalResults, ids: page.resources.map((r) => r.id) };
  }
  return out;
}

const expectAgreement = (a: Record<string, unknown>) => expect(a).toEqual({ memory: a.memory, sqlite: a.memory, postgres: a.memory });

const RUNS = Number(process.env.FC_RUNS ?? 250);

test('random filters, sorts and pages select and order the same users in memory, SQLite and PostgreSQL', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(userData, { maxLength: 6, selector: (u) => u.userName.replace(/[A-Z]/g, (c) => c.toLowerCase()) }),
      fc.array(filterArb, { minLength: 1, maxLength: 5 }),
      fc.constantFrom(...SORTS),
      fc.constantFrom('ascending' as const, 'descending' as const),
      pageArb,
      async (raw, filters, sortBy, sortOrder, page) => {
        const users = raw.map((u) => JSON.parse(JSON.stringify(u)) as UserData);
        const all = await stores(async (s) => {
          for (const u of users) await s.createUser(u, ctx);
        });
        try {
          for (const filter of filters) {
            const q = { filter, ...page, sortBy, sortOrder };
            expectAgreement(await answers(all, (s) => s.listUsers(q)));
          }
          expectAgreement(await answers(all, (s) => s.listUsers({ ...page, sortBy, sortOrder })));
        } finally {
          for (const s of all) await s.close();
        }
      },
    ),
    { numRuns: RUNS },
  );
}, 300_000);

test('random filters, sorts and pages select and order the same groups in memory, SQLite and PostgreSQL', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(groupData, { maxLength: 5, selector: (g) => g.displayName.replace(/[A-Z]/g, (c) => c.toLowerCase()) }),
      fc.array(groupFilterArb, { minLength: 1, maxLength: 4 }),
      fc.constantFrom(...GROUP_SORTS),
      fc.constantFrom('ascending' as const, 'descending' as const),
      pageArb,
      async (groups, filters, sortBy, sortOrder, page) => {
        const all = await stores(async (s) => {
          for (const userName of ['u1', 'u2', 'u3']) await s.createUser({ userName, active: true } as UserData, ctx);
          for (const { members, ...data } of groups) await s.createGroup(data as GroupData, members, ctx);
        });
        try {
          for (const filter of filters) {
            const q = { filter, ...page, sortBy, sortOrder };
            expectAgreement(await answers(all, (s) => s.listGroups(q, { members: false })));
          }
        } finally {
          for (const s of all) await s.close();
        }
      },
    ),
    { numRuns: Math.ceil(RUNS / 2) },
  );
}, 300_000);

/**
 * Where SQLite and PostgreSQL are known to part unless told otherwise, as fixed cases beside the random ones:
 * non-ASCII letters do not fold (É is not é), LIKE and GLOB metacharacters are literal, text orders by bytes
 * ('%' < 'B' < 'Z' < '\\' < '_' < 'a' < 'É' < 'é'), NULLs come first ascending and last descending.
 */
describe('known traps, fixed', () => {
  const titles = ['é', 'É', 'Z', 'a', 'B', '_', '%', '\\', 'ab_%', 'AB'];
  const users = titles.map((title, i) => ({
    userName: `${title}${i}`,
    active: i % 2 === 0,
    title,
    externalId: title,
    name: { familyName: `x${title}` },
    emails: [{ value: `${title}@x`, type: i % 3 ? 'work' : 'WORK', primary: i % 2 === 0 }],
  }));
  users.push({ userName: 'none', active: true } as (typeof users)[number]); // id-11: none of those attributes

  let all: Named[];
  beforeAll(async () => {
    all = await stores(async (s) => {
      for (const u of users) await s.createUser(u as UserData, ctx);
    });
  });
  afterAll(async () => {
    for (const s of all ?? []) await s.close();
  });

  const ids = (...n: number[]) => n.map((i) => `id-${i}`);
  const list = async (filter: string | undefined, sortBy?: string, sortOrder?: 'ascending' | 'descending') => {
    const q = { filter: filter === undefined ? undefined : parseFilterText(filter), startIndex: 1, count: 100, sortBy, sortOrder };
    const a = await answers(all, (s) => s.listUsers(q));
    expectAgreement(a);
    return a.memory.ids;
  };

  test.each([
    ['title co "é"', ids(1)],
    ['title eq "É"', ids(2)],
    ['userName sw "É"', ids(2)],
    ['name.familyName ew "É"', ids(2)],
    ['emails.value sw "é"', ids(1)],
    ['emails[value sw "É"]', ids(2)],
    ['title co "_"', ids(6, 9)],
    ['title co "%"', ids(7, 9)],
    ['title ew "\\\\"', ids(8)],
    ['externalId co "a"', ids(4, 9)],
    ['externalId sw "A"', ids(10)],
    ['title sw "ab"', ids(9, 10)],
    ['title gt "Z"', ids(1, 2)],
    ['externalId gt "Z"', ids(1, 2, 4, 6, 8, 9)],
    ['externalId lt "_"', ids(3, 5, 7, 8, 10)],
    ['title le "b"', ids(4, 5, 6, 7, 8, 9, 10)],
    ['emails[type eq "work" and not (primary eq true)]', ids(2, 4, 6, 8, 10)],
    ['not (title pr)', ids(11)],
  ])('%s', async (filter, expected) => {
    expect(await list(filter)).toEqual(expected);
  });

  test.each([
    ['title', 'ascending', ids(11, 7, 8, 6, 4, 10, 9, 5, 3, 2, 1)],
    ['title', 'descending', ids(1, 2, 3, 5, 9, 10, 4, 6, 8, 7, 11)],
    ['externalId', 'ascending', ids(11, 7, 10, 5, 3, 8, 6, 4, 9, 2, 1)],
    ['externalId', 'descending', ids(1, 2, 9, 4, 6, 8, 3, 5, 10, 7, 11)],
    ['name.familyName', 'descending', ids(1, 2, 3, 5, 9, 10, 4, 6, 8, 7, 11)],
    ['emails', 'ascending', ids(11, 7, 8, 6, 4, 10, 9, 5, 3, 2, 1)],
    ['userName', 'ascending', ids(7, 8, 6, 4, 10, 9, 5, 11, 3, 2, 1)],
  ] as const)('sortBy %s %s', async (sortBy, order, expected) => {
    expect(await list(undefined, sortBy, order)).toEqual(expected);
  });
});
