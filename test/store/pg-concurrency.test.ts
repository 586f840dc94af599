/**
 * Several replicas of the service on one PostgreSQL schema: each app below has a PgDriver (a pool) of its own, as a
 * second process would, and they write at the same moment. What must hold: no membership is lost and each is one
 * row; the journal has one entry per effective change, seq strictly increasing in commit order (a reader that has
 * seen seq N never later finds a new row below N); case-insensitive uniqueness holds across pools and a loser gets
 * 409 uniqueness (ConflictError), never a 500 carrying the database's unique violation.
 */
import { ManualClock } from '../../src/core/clock';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import { SqlReconcileState } from '../../src/store/sql/reconcile-state';
import { ConflictError, type Change } from '../../src/store/types';
import { buildTestApp, createGroup, createUser, expectScimError, patchBody, userBody, type TestApp } from '../helpers/scim-app';
import { pgSchemaPerBlock } from '../support/pg-schema';

describe('PostgreSQL: replicas on one schema', () => {
  const pg = pgSchemaPerBlock();
  const REPLICAS = 20;

  let apps: TestApp[] = [];
  beforeEach(async () => {
    apps = await Promise.all(Array.from({ length: REPLICAS }, () => buildTestApp({ backend: 'postgres', pgSchema: pg.schema() })));
  });
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });

  /** n users written straight into the tables, each with its journal row, as createUser leaves them (2,000 creates one by one would cost seconds). */
  async function seedUsers(n: number): Promise<string[]> {
    const at = '2026-01-01T00:00:00.000Z';
    await pg.shared().run(
      `WITH j AS (
         INSERT INTO changes (at, resource_type, resource_id, op)
         SELECT ?, 'User', 'seed-' || lpad(i::text, 5, '0'), 'create' FROM generate_series(1, ?::int) AS i ORDER BY i
         RETURNING seq, resource_id)
       INSERT INTO users (id, user_name, active, doc, created, last_modified, version, seq)
       SELECT resource_id, resource_id, 1, json_build_object('userName', resource_id, 'active', true)::text, ?, ?, 1, seq FROM j`,
      [at, n, at, at],
    );
    return Array.from({ length: n }, (_, i) => `seed-${String(i + 1).padStart(5, '0')}`);
  }

  /**
   * Follows the journal the way the reconciler does (changesSince from the last seq seen) until told to stop, then
   * reads once more. Returns every seq it saw: if a row could commit below a seq already seen, it would be missing.
   */
  async function followJournal(from: number, stopped: () => boolean): Promise<number[]> {
    const reader = new SqlIdentityStore(pg.schema().driver(2));
    const seen: number[] = [];
    try {
      let cursor = from;
      for (;;) {
        const last = stopped();
        const rows: Change[] = await reader.changesSince(cursor, 500);
        for (const r of rows) {
          if (r.seq <= cursor) throw new Error(`journal went backwards: ${r.seq} after ${cursor}`);
          seen.push(r.seq);
          cursor = r.seq;
        }
        if (last && rows.length === 0) return seen;
      }
    } finally {
      await reader.close();
    }
  }

  const journalAfter = async (seq: number) =>
    pg.shared().all<{ seq: number; resource_type: string; resource_id: string; op: string }>(
      'SELECT seq, resource_type, resource_id, op FROM changes WHERE seq > ? ORDER BY seq',
      [seq],
    );

  test(`${REPLICAS} replicas PATCH 100 members each into one group at once: all 2,000 kept, one row each, one journal entry per change`, async () => {
    const ids = await seedUsers(2000);
    const group = await createGroup(apps[0], 'replicated');
    const start = await apps[0].store.latestSeq();
    let writing = true;
    const reader = followJournal(start, () => !writing);
    const chunk = (i: number) => ids.slice(i * 100, (i + 1) * 100).map((value) => ({ value }));
    // Each replica also creates a user meanwhile, so the journal interleaves two resource types.
    const [patches, creates] = await Promise.all([
      Promise.all(apps.map((a, i) => a.scim.patch(`/Groups/${group}`, patchBody({ op: 'add', path: 'members', value: chunk(i) })))),
      Promise.all(apps.map((a, i) => a.scim.post('/Users', userBody(`extra${i}`)))),
    ]);
    writing = false;
    expect(patches.map((r) => r.status)).toEqual(Array(REPLICAS).fill(204));
    expect(creates.map((r) => r.status)).toEqual(Array(REPLICAS).fill(201));

    const rows = await pg.shared().all<{ user_id: string }>('SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id', [group]);
    expect(rows.map((r) => r.user_id)).toEqual(ids); // none lost, none twice
    const got = await apps[1].scim.get(`/Groups/${group}`).expect(200);
    expect(got.body.members).toHaveLength(2000);
    expect(got.body.meta.version).toBe(`W/"${1 + REPLICAS}"`);

    // One journal entry per effective change: a patch per PATCH and a create per POST, seq strictly increasing.
    const journal = await journalAfter(start);
    expect(journal.filter((c) => c.resource_id === group).map((c) => [c.resource_type, c.op])).toEqual(Array(REPLICAS).fill(['Group', 'patch']));
    expect(journal.filter((c) => c.resource_id !== group).map((c) => [c.resource_type, c.op])).toEqual(Array(REPLICAS).fill(['User', 'create']));
    for (let i = 1; i < journal.length; i++) expect(journal[i].seq).toBeGreaterThan(journal[i - 1].seq);
    // Commit order: the reader, which only ever asked for seq above the last it saw, saw every row.
    expect(await reader).toEqual(journal.map((c) => c.seq));

    // The audit trail adds up to the same 2,000, each member once.
    const audits = (await apps[2].audit.query({ subject: 'replicated' })).filter((a) => a.action === 'patched');
    expect(audits).toHaveLength(REPLICAS);
    expect(audits.flatMap((a) => a.detail!.added as string[]).sort()).toEqual(ids);

    // The same PATCHes again, all at once: every member is there already, so nothing changes and nothing is journaled.
    const seq = await apps[0].store.latestSeq();
    const again = await Promise.all(apps.map((a, i) => a.scim.patch(`/Groups/${group}`, patchBody({ op: 'add', path: 'members', value: chunk(i) }))));
    expect(again.map((r) => r.status)).toEqual(Array(REPLICAS).fill(204));
    expect(await journalAfter(seq)).toEqual([]);
    expect((await apps[3].store.getGroup(group, { members: false }))!.meta.version).toBe(1 + REPLICAS);
  }, 60_000);

  test('two replicas create the same userName in different ASCII case at once: one 201, one 409 uniqueness, never a 500', async () => {
    for (let round = 0; round < 10; round++) {
      const [a, b] = await Promise.all([
        apps[0].scim.post('/Users', userBody(`race${round}@example.com`)),
        apps[1].scim.post('/Users', userBody(`RACE${round}@EXAMPLE.COM`)),
      ]);
      expect([a.status, b.status].sort()).toEqual([201, 409]);
      expectScimError(a.status === 409 ? a : b, 409, 'uniqueness');
    }
    const list = await apps[2].scim.get('/Users?filter=userName sw "race"&count=100').expect(200);
    expect(list.body.totalResults).toBe(10);
  });

  test('the same race at the store: one createUser wins, the other rejects with ConflictError; groups and renames too', async () => {
    const [s1, s2] = [0, 1].map(() => new SqlIdentityStore(pg.schema().driver(2), new ManualClock()));
    const ctx = { actor: 'test' };
    try {
      for (let round = 0; round < 10; round++) {
        const results = await Promise.allSettled([s1.createUser({ userName: `Store${round}`, active: true }, ctx), s2.createUser({ userName: `sTORE${round}`, active: true }, ctx)]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: expect.any(ConflictError) });
      }
      const groups = await Promise.allSettled([s1.createGroup({ displayName: 'Admins' }, [], ctx), s2.createGroup({ displayName: 'ADMINS' }, [], ctx)]);
      expect(groups.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(groups.find((r) => r.status === 'rejected')).toMatchObject({ reason: expect.any(ConflictError) });
      // Two users renamed to one name at once.
      const [a, b] = [await createUser(apps[0], 'first'), await createUser(apps[0], 'second')];
      const renames = await Promise.all([
        apps[0].scim.patch(`/Users/${a}`, patchBody({ op: 'replace', path: 'userName', value: 'taken' })),
        apps[1].scim.patch(`/Users/${b}`, patchBody({ op: 'replace', path: 'userName', value: 'TAKEN' })),
      ]);
      expect(renames.map((r) => r.status).sort()).toEqual([200, 409]);
    } finally {
      await Promise.all([s1.close(), s2.close()]);
    }
  });

  test('two replicas record ownership of one Airflow username in different case at once: one row, no unique violation', async () => {
    const drivers = [pg.schema().driver(2), pg.schema().driver(2)];
    const [r1, r2] = drivers.map((d) => new SqlReconcileState(d));
    try {
      for (let round = 0; round < 10; round++) {
        await Promise.all([
          r1.own(`owner${round}`, 'created', `scim-a${round}`, new Date('2026-01-01T00:00:00Z')),
          r2.own(`OWNER${round}`, 'adopted', `scim-b${round}`, new Date('2026-01-02T00:00:00Z'), `ext-${round}`),
        ]);
      }
      const owned = await r1.owned();
      expect(owned).toHaveLength(10);
      for (const o of owned) expect(o.externalId).toMatch(/^ext-\d$/); // kept, whichever came second
    } finally {
      await Promise.all(drivers.map((d) => d.close()));
    }
  });
});
