import Database from 'better-sqlite3';
import { ManualClock } from '../../src/core/clock';
import { migrate, openDatabase } from '../../src/store/database';
import { SqlAuditLog } from '../../src/store/sql/audit';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import { runIdentityStoreContract } from '../contract/identity-store.contract';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';

runIdentityStoreContract('SqlIdentityStore', () => {
  const db = openDatabase(':memory:');
  const audit = new SqlAuditLog(sqliteDriverFor(db));
  const clock = new ManualClock();
  let n = 0;
  return { store: new SqlIdentityStore(sqliteDriverFor(db), clock, () => `id-${String(++n).padStart(4, '0')}`), audit, clock };
});

/** A statement's shape: its SQL with every literal replaced by '?' (better-sqlite3's verbose log expands parameters). */
const shape = (sql: string) => sql.replace(/'(?:[^']|'')*'(?:\/\*\+\d+ bytes\*\/)?/g, '?').replace(/\b\d+(?:\.\d+)?\b/g, '?');

describe('SqlIdentityStore membership cost', () => {
  // Counted, not timed: the statements one add and one remove run, and how SQLite plans each. No clock is read, so
  // the machine's load cannot change the outcome.
  test('adding/removing one member costs the same in a 10-member and a 100,000-member group', async () => {
    let log: string[] | null = null;
    const db = new Database(':memory:', { verbose: (sql) => log?.push(String(sql)) });
    db.pragma('foreign_keys = ON');
    migrate(db);
    const store = new SqlIdentityStore(sqliteDriverFor(db), new ManualClock());
    const insert = db.prepare(
      `INSERT INTO users (id, user_name, active, doc, created, last_modified, seq) VALUES (?, ?, 1, '{}', 'c', 'c', ?)`,
    );
    db.transaction(() => {
      for (let i = 0; i < 100_002; i++) insert.run(`u${i}`, `user${i}`, i + 1);
    })();
    const ids = Array.from({ length: 100_000 }, (_, i) => `u${i}`);
    const big = await store.createGroup({ displayName: 'big' }, ids, { actor: 't' });
    const small = await store.createGroup({ displayName: 'small' }, ids.slice(0, 10), { actor: 't' });
    /** The SQL of one add and one remove of a member. */
    const statements = async (gid: string): Promise<string[]> => {
      log = [];
      await store.updateGroup(gid, () => ({ memberOps: [{ op: 'add', ids: ['u100001'] }] }), { actor: 't' });
      await store.updateGroup(gid, () => ({ memberOps: [{ op: 'remove', ids: ['u100001'] }] }), { actor: 't' });
      const ran = log;
      log = null;
      return ran;
    };
    const [inSmall, inBig] = [await statements(small.id), await statements(big.id)];
    // The same statements whatever the group's size…
    expect(inBig.map(shape)).toEqual(inSmall.map(shape));
    expect(inBig.length).toBeGreaterThan(0);
    // …and none of them reads a whole table: every table is reached through an index; only the request's own id
    // list (json_each, a virtual table) is scanned. A scan of group_members would cost O(group size).
    const plan = inBig
      .filter((sql) => /^\s*(SELECT|INSERT|UPDATE|DELETE)\b/i.test(sql))
      .flatMap((sql) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail));
    expect(plan.some((d) => /group_members/.test(d))).toBe(true);
    expect(plan.filter((d) => /^SCAN /.test(d) && !/VIRTUAL TABLE/.test(d))).toEqual([]);
    expect((await store.getGroup(big.id, { members: false }))!.meta.version).toBe(3);
    expect((await store.getGroup(big.id, { members: true }))!.members).toHaveLength(100_000);
    await store.close();
  });
});
