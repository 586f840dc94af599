import { parse } from 'scim2-parse-filter';
import { bulkLoad, range, userData } from '../bench/lib/dataset';
import { percentile, table } from '../bench/lib/report';
import { openDatabase } from '../src/store/database';
import { SqlIdentityStore } from '../src/store/sql/identity';
import { sqliteDriverFor } from '../src/store/sql/sqlite-driver';

/** The benchmark harness, not its figures: the bulk loader must write what the store would (bench/scim.ts relies on it). */
describe('bench harness', () => {
  test('bulk-loaded users and groups read back through the store like store-written ones', async () => {
    const db = openDatabase(':memory:');
    const store = new SqlIdentityStore(sqliteDriverFor(db));
    const written = await store.createUser(userData(0, 'written'), { actor: 'test' });
    const loaded = bulkLoad(db, { users: 20, spares: 2, groups: [{ displayName: 'big', members: range(20) }, { displayName: 'small', members: range(3) }] });

    const page = await store.listUsers({ filter: parse('userName eq "USER7"'), startIndex: 1, count: 10 });
    expect(page.totalResults).toBe(1);
    const bulk = page.resources[0];
    expect(bulk.id).toBe(loaded.userIds[7]);
    expect(Object.keys(bulk.data).sort()).toEqual(Object.keys(written.data).sort());
    expect(bulk.meta.version).toBe(written.meta.version);
    expect((await store.listUsers({ filter: parse('emails.value eq "user7@example.com"'), startIndex: 1, count: 10 })).totalResults).toBe(1);

    expect((await store.getGroup(loaded.groupIds[0], { members: true }))?.members).toHaveLength(20);
    expect((await store.groupsOfUser(loaded.userIds[1])).map((g) => g.id)).toEqual(loaded.groupIds);
    // Journal seqs are unique and increasing, so later writes sort after the loaded rows.
    const next = await store.createUser(userData(1, 'written'), { actor: 'test' });
    expect(await store.latestSeq()).toBeGreaterThan(loaded.userIds.length + loaded.spareIds.length);
    expect((await store.listUsers({ startIndex: 1, count: 1000 })).resources.at(-1)?.id).toBe(next.id);
    db.close();
  });

  test('report helpers', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(table(['a', 'b'], [['x', 1234.5]]).split('\n')).toEqual(['a     b', '-  ----', 'x  1235']);
  });
});
