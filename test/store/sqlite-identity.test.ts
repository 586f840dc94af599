import { ManualClock } from '../../src/core/clock';
import { openDatabase } from '../../src/store/database';
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

describe('SqlIdentityStore membership cost', () => {
  test('adding/removing one member costs the same in a 10-member and a 100,000-member group', async () => {
    const db = openDatabase(':memory:');
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
    const time = async (gid: string) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < 50; i++) {
        await store.updateGroup(gid, () => ({ memberOps: [{ op: 'add', ids: ['u100001'] }] }), { actor: 't' });
        await store.updateGroup(gid, () => ({ memberOps: [{ op: 'remove', ids: ['u100001'] }] }), { actor: 't' });
      }
      return Number(process.hrtime.bigint() - start) / 1e6 / 100;
    };
    await time(small.id); // warm up
    const [tSmall, tBig] = [await time(small.id), await time(big.id)];
    expect(tBig).toBeLessThan(tSmall * 5 + 1);
    expect((await store.getGroup(big.id, { members: false }))!.meta.version).toBe(101);
    await store.close();
  });
});
