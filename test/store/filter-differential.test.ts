import fc from 'fast-check';
import type { Filter } from 'scim2-parse-filter';
import { ManualClock } from '../../src/core/clock';
import { ENTERPRISE_USER } from '../../src/core/schema';
import { openDatabase } from '../../src/store/database';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import { SqliteIdentityStore } from '../../src/store/sqlite-identity';
import type { IdentityStore, UserData } from '../../src/store/types';

/** Differential property: the SQL compiler and the in-memory evaluator agree on random filters and sorts. */

const text = fc.string({ unit: fc.constantFrom('a', 'A', 'b', 'B', '@', '.', '_', '%', 'é', 'É'), maxLength: 3 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const email = fc.record(
  { value: fc.oneof(text, fc.constant(7)), type: fc.constantFrom('work', 'home', 'WORK'), primary: fc.boolean() },
  { requiredKeys: [] },
);
const userData = fc.record({
  userName: text,
  active: fc.boolean(),
  displayName: maybe(text),
  externalId: maybe(text),
  title: maybe(fc.oneof(text, fc.constant(5))),
  name: maybe(fc.record({ familyName: text }, { requiredKeys: [] })),
  emails: maybe(fc.array(fc.oneof(email, fc.constant('bare')), { maxLength: 3 })),
  [ENTERPRISE_USER]: maybe(fc.record({ department: text }, { requiredKeys: [] })),
});

const STRING_ATTRS = ['userName', 'USERNAME', 'displayName', 'externalId', 'title', 'name.familyName', 'emails', 'emails.value',
  'Emails.Type', `${ENTERPRISE_USER}:department`];
const BOOL_ATTRS = ['active', 'emails.primary'];
const STRING_OPS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const;

const leaf = (strings: string[], bools: string[], complex: string[] = []): fc.Arbitrary<Filter> =>
  fc.oneof(
    fc.record({ op: fc.constantFrom(...STRING_OPS), attrPath: fc.constantFrom(...strings), compValue: text }),
    fc.record({ op: fc.constantFrom('eq' as const, 'ne' as const), attrPath: fc.constantFrom(...bools), compValue: fc.boolean() }),
    fc.record({ op: fc.constant('pr' as const), attrPath: fc.constantFrom(...strings, ...bools, ...complex) }),
  );

const filterArb = fc.letrec<{ f: Filter; sub: Filter }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf(STRING_ATTRS, BOOL_ATTRS, ['name', 'emails']),
    fc.record({ op: fc.constantFrom('and' as const, 'or' as const), filters: fc.array(tie('f'), { minLength: 2, maxLength: 3 }) }),
    fc.record({ op: fc.constant('not' as const), filter: tie('f') }),
    fc.record({ op: fc.constant('[]' as const), attrPath: fc.constantFrom('emails', 'EMAILS'), valFilter: tie('sub') }),
  ),
  sub: fc.oneof(
    { depthSize: 'small' },
    leaf(['value', 'Type'], ['primary']),
    fc.record({ op: fc.constantFrom('and' as const, 'or' as const), filters: fc.array(tie('sub'), { minLength: 2, maxLength: 3 }) }),
    fc.record({ op: fc.constant('not' as const), filter: tie('sub') }),
  ),
})).f;

const SORTS = [undefined, 'userName', 'displayName', 'externalId', 'title', 'name.familyName', 'emails', 'emails.type', 'active', 'meta.created'];

async function stores(users: UserData[]): Promise<IdentityStore[]> {
  const make = async (build: (clock: ManualClock, id: () => string) => IdentityStore) => {
    const clock = new ManualClock();
    let n = 0;
    const s = build(clock, () => `id-${++n}`);
    for (const u of users) {
      await s.createUser(u, { actor: 'test' });
      clock.advance(1000);
    }
    return s;
  };
  return [
    await make((clock, id) => new SqliteIdentityStore(openDatabase(':memory:'), new MemoryAuditLog(), clock, id)),
    await make((clock, id) => new MemoryIdentityStore(new MemoryAuditLog(), clock, id)),
  ];
}

test('random filters and sorts select and order the same users in SQLite and in memory', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(userData, { maxLength: 6, selector: (u) => u.userName.replace(/[A-Z]/g, (c) => c.toLowerCase()) }),
      fc.array(filterArb, { minLength: 1, maxLength: 5 }),
      fc.constantFrom(...SORTS),
      fc.constantFrom('ascending' as const, 'descending' as const),
      async (raw, filters, sortBy, sortOrder) => {
        const users = raw.map((u) => JSON.parse(JSON.stringify(u)) as UserData);
        const [sqlite, memory] = await stores(users);
        try {
          for (const filter of filters) {
            const q = { filter, startIndex: 1, count: 100, sortBy, sortOrder };
            const ids = async (s: IdentityStore) => (await s.listUsers(q)).resources.map((u) => u.id);
            expect(await ids(sqlite)).toEqual(await ids(memory));
          }
        } finally {
          await sqlite.close();
        }
      },
    ),
    { numRuns: Number(process.env.FC_RUNS ?? 250) },
  );
});
