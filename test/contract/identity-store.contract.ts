import { ManualClock } from '../../src/core/clock';
import { ENTERPRISE_USER } from '../../src/core/schema';
import { parseFilter } from '../../src/scim/filter';
import type { AuditLog } from '../../src/store/audit-types';
import {
  ConflictError,
  InvalidMemberError,
  InvalidQueryError,
  NotFoundError,
  PreconditionFailedError,
  type IdentityStore,
  type UpdateOptions,
  type UserData,
  type WriteContext,
} from '../../src/store/types';

export interface ContractSubject {
  store: IdentityStore;
  audit: AuditLog;
  clock: ManualClock;
}

const ctx: WriteContext = { actor: 'okta', clientIp: '10.0.0.1', requestId: 'r-1', method: 'POST', path: '/scim/v2/Users' };
/** What the SCIM layer passes for PATCH (RFC 7644 §3.5.2); updates without it are replaces. */
const patch: UpdateOptions = { kind: 'patch' };

const user = (userName: string, extra: Partial<UserData> = {}): UserData => ({ userName, active: true, ...extra });

/** The conformance suite every IdentityStore must pass (dex style). */
export function runIdentityStoreContract(name: string, make: () => ContractSubject): void {
  describe(`IdentityStore contract: ${name}`, () => {
    let s: ContractSubject;
    let store: IdentityStore;
    beforeEach(() => {
      s = make();
      store = s.store;
    });
    afterEach(() => store.close());

    describe('users', () => {
      test('create, get, meta and deep copies', async () => {
        const input = user('alice@example.com', { emails: [{ value: 'alice@example.com', type: 'work', primary: true }] });
        const u = await store.createUser(input, ctx);
        expect(u.meta).toEqual({ created: '2026-01-01T00:00:00.000Z', lastModified: '2026-01-01T00:00:00.000Z', version: 1 });
        (input.emails as { value: string }[])[0].value = 'mutated';
        u.data.userName = 'mutated';
        const got = (await store.getUser(u.id))!;
        expect(got.data).toEqual(user('alice@example.com', { emails: [{ value: 'alice@example.com', type: 'work', primary: true }] }));
        got.data.active = false;
        expect((await store.getUser(u.id))!.data.active).toBe(true);
        expect(await store.getUser('nope')).toBeUndefined();
      });

      test('userName is unique case-insensitively', async () => {
        const a = await store.createUser(user('Alice'), ctx);
        await expect(store.createUser(user('ALICE'), ctx)).rejects.toThrow(ConflictError);
        const b = await store.createUser(user('bob'), ctx);
        await expect(store.updateUser(b.id, (c) => ({ ...c.data, userName: 'alice' }), ctx)).rejects.toThrow(ConflictError);
        // changing only the case of one's own name is fine
        expect((await store.updateUser(a.id, (c) => ({ ...c.data, userName: 'alice' }), ctx)).data.userName).toBe('alice');
        // a deleted name is free again
        await store.deleteUser(b.id, ctx);
        expect((await store.createUser(user('BOB'), ctx)).data.userName).toBe('BOB');
      });

      test('update bumps version and lastModified; an identical write does not', async () => {
        const u = await store.createUser(user('carol'), ctx);
        s.clock.advance(1000);
        const v2 = await store.updateUser(u.id, (c) => ({ ...c.data, title: 'Engineer' }), ctx);
        expect(v2.meta).toEqual({ created: u.meta.created, lastModified: '2026-01-01T00:00:01.000Z', version: 2 });
        s.clock.advance(1000);
        const seq = await store.latestSeq();
        const same = await store.updateUser(u.id, (c) => ({ ...c.data }), ctx);
        expect(same.meta).toEqual(v2.meta);
        expect(await store.latestSeq()).toBe(seq);
      });

      test('NotFound and If-Match', async () => {
        await expect(store.updateUser('x', (c) => c.data, ctx)).rejects.toThrow(NotFoundError);
        await expect(store.deleteUser('x', ctx)).rejects.toThrow(NotFoundError);
        const u = await store.createUser(user('dave'), ctx);
        await expect(store.updateUser(u.id, (c) => ({ ...c.data, title: 't' }), ctx, { ifMatch: 7 })).rejects.toThrow(PreconditionFailedError);
        expect((await store.updateUser(u.id, (c) => ({ ...c.data, title: 't' }), ctx, { ifMatch: 1 })).meta.version).toBe(2);
        await expect(store.deleteUser(u.id, ctx, { ifMatch: 1 })).rejects.toThrow(PreconditionFailedError);
        await store.deleteUser(u.id, ctx, { ifMatch: 2 });
        expect(await store.getUser(u.id)).toBeUndefined();
      });

      test('a throwing updater writes nothing: no row, journal or audit change', async () => {
        const u = await store.createUser(user('erin'), ctx);
        const seq = await store.latestSeq();
        const audits = (await s.audit.query({})).length;
        await expect(
          store.updateUser(u.id, () => {
            throw new Error('boom');
          }, ctx),
        ).rejects.toThrow('boom');
        await expect(store.updateUser(u.id, (c) => ({ ...c.data, userName: 'erin' }), ctx)).resolves.toEqual(u);
        expect(await store.getUser(u.id)).toEqual(u);
        expect(await store.latestSeq()).toBe(seq);
        expect(await s.audit.query({})).toHaveLength(audits);
      });

      test('journal seq strictly increases; changesSince pages', async () => {
        const a = await store.createUser(user('f1'), ctx);
        await store.updateUser(a.id, (c) => ({ ...c.data, title: 'x' }), ctx, patch);
        await store.deleteUser(a.id, ctx);
        const all = await store.changesSince(0);
        expect(all.map((c) => [c.resourceType, c.resourceId, c.op])).toEqual([
          ['User', a.id, 'create'],
          ['User', a.id, 'patch'],
          ['User', a.id, 'delete'],
        ]);
        for (let i = 1; i < all.length; i++) expect(all[i].seq).toBeGreaterThan(all[i - 1].seq);
        expect(await store.latestSeq()).toBe(all[2].seq);
        expect(await store.changesSince(all[0].seq, 1)).toEqual([all[1]]);
      });

      test('the update kind, not the HTTP method, decides journal op and audit action', async () => {
        const u = await store.createUser(user('hugo'), ctx);
        const g = await store.createGroup({ displayName: 'Kinds' }, [], ctx);
        const bare: WriteContext = { actor: 'reconciler' }; // no method, no path: not an HTTP request at all
        await store.updateUser(u.id, (c) => ({ ...c.data, title: 'a' }), bare, { kind: 'patch' });
        await store.updateGroup(g.id, () => ({ memberOps: [{ op: 'add', ids: [u.id] }] }), bare, { kind: 'patch' });
        // A method in the context is only recorded: without kind: 'patch' the update is a replace.
        await store.updateUser(u.id, (c) => ({ ...c.data, title: 'b' }), { ...ctx, method: 'PATCH' });
        await store.updateGroup(g.id, () => ({ data: { displayName: 'Kinds2' } }), { ...ctx, method: 'PATCH' }, { kind: 'replace' });
        const changes = (await store.changesSince(0)).slice(-4);
        expect(changes.map((c) => [c.resourceType, c.op])).toEqual([
          ['User', 'patch'],
          ['Group', 'patch'],
          ['User', 'replace'],
          ['Group', 'replace'],
        ]);
        const audits = (await s.audit.query({})).slice(-4);
        expect(audits.map((a) => [a.resourceType, a.action, a.method])).toEqual([
          ['User', 'patched', undefined],
          ['Group', 'patched', undefined],
          ['User', 'replaced', 'PATCH'],
          ['Group', 'replaced', 'PATCH'],
        ]);
      });

      test('audit rows carry who, what and before/after of changed attributes only, redacted', async () => {
        const u = await store.createUser(user('gina', { title: 'Dev', password: 'hunter2' }), ctx);
        await store.updateUser(u.id, (c) => ({ ...c.data, title: 'Lead', password: 'hunter3' }), ctx, patch);
        await store.deleteUser(u.id, ctx);
        const rows = await s.audit.query({ subject: 'GINA' });
        expect(rows.map((r) => r.action)).toEqual(['created', 'patched', 'deleted']);
        expect(rows[0]).toMatchObject({
          source: 'scim', actor: 'okta', clientIp: '10.0.0.1', requestId: 'r-1', method: 'POST', path: '/scim/v2/Users',
          resourceType: 'User', resourceId: u.id, subject: 'gina', outcome: 'success',
        });
        expect(rows[0].detail).toEqual({ before: {}, after: { userName: 'gina', active: true, title: 'Dev', password: '[redacted]' } });
        expect(rows[1].detail).toEqual({ before: { title: 'Dev', password: '[redacted]' }, after: { title: 'Lead', password: '[redacted]' } });
        expect(rows[2].detail).toMatchObject({ after: {} });
      });
    });

    describe('groups and membership', () => {
      const members = async (gid: string) => (await store.getGroup(gid, { members: true }))!.members!.map((m) => m.display);

      test('create with members, display = userName ordered; members:false omits them', async () => {
        const z = await store.createUser(user('zed'), ctx);
        const a = await store.createUser(user('Amy'), ctx);
        const g = await store.createGroup({ displayName: 'Admins' }, [z.id, a.id, z.id], ctx);
        expect(g.members).toBeUndefined();
        expect((await store.getGroup(g.id, { members: true }))!.members).toEqual([
          { value: a.id, display: 'Amy' },
          { value: z.id, display: 'zed' },
        ]);
        expect((await store.getGroup(g.id, { members: false }))!.members).toBeUndefined();
        expect(await store.groupsOfUser(z.id)).toEqual([{ id: g.id, displayName: 'Admins' }]);
        await expect(store.createGroup({ displayName: 'ADMINS' }, [], ctx)).rejects.toThrow(ConflictError);
      });

      test('add, remove, idempotent re-add, removeAll, replace; version bumps only on change', async () => {
        const [u1, u2, u3] = [await store.createUser(user('u1'), ctx), await store.createUser(user('u2'), ctx), await store.createUser(user('u3'), ctx)];
        const g = await store.createGroup({ displayName: 'Ops' }, [u1.id], ctx);
        const add = await store.updateGroup(g.id, () => ({ memberOps: [{ op: 'add', ids: [u2.id] }] }), ctx, patch);
        expect(add.meta.version).toBe(2);
        expect(await members(g.id)).toEqual(['u1', 'u2']);
        const again = await store.updateGroup(g.id, () => ({ memberOps: [{ op: 'add', ids: [u2.id] }, { op: 'remove', ids: ['missing'] }] }), ctx, patch);
        expect(again.meta.version).toBe(2);
        await store.updateGroup(g.id, () => ({ memberOps: [{ op: 'remove', ids: [u1.id] }] }), ctx, patch);
        expect(await members(g.id)).toEqual(['u2']);
        await store.updateGroup(g.id, () => ({ memberOps: [{ op: 'replace', ids: [u1.id, u3.id] }] }), ctx, patch);
        expect(await members(g.id)).toEqual(['u1', 'u3']);
        expect((await store.updateGroup(g.id, () => ({ memberOps: [{ op: 'replace', ids: [u3.id, u1.id] }] }), ctx, patch)).meta.version).toBe(4);
        await store.updateGroup(g.id, () => ({ memberOps: [{ op: 'removeAll' }] }), ctx, patch);
        expect(await members(g.id)).toEqual([]);
        const detail = (await s.audit.query({ subject: 'ops' })).map((r) => r.detail);
        expect(detail).toEqual([
          { before: {}, after: { displayName: 'Ops' }, added: [u1.id], addedCount: 1 },
          { added: [u2.id], addedCount: 1 },
          { removed: [u1.id], removedCount: 1 },
          { added: [u1.id, u3.id], addedCount: 2, removed: [u2.id], removedCount: 1 },
          { removed: 'all', removedCount: 2 },
        ]);
      });

      test('nested group and unknown members are rejected atomically', async () => {
        const u = await store.createUser(user('hal'), ctx);
        const inner = await store.createGroup({ displayName: 'Inner' }, [], ctx);
        // The rejection itself (undefined if the create succeeded, which fails the checks below).
        const err = await store.createGroup({ displayName: 'Outer' }, [u.id, inner.id], ctx).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(InvalidMemberError);
        expect(err).toMatchObject({ memberId: inner.id, reason: 'group' });
        expect((await store.listGroups({ startIndex: 1, count: 10 }, { members: false })).totalResults).toBe(1);
        const seq = await store.latestSeq();
        await expect(
          store.updateGroup(inner.id, () => ({ data: { displayName: 'Renamed' }, memberOps: [{ op: 'add', ids: [u.id] }, { op: 'add', ids: ['ghost'] }] }), ctx),
        ).rejects.toThrow(expect.objectContaining({ memberId: 'ghost', reason: 'unknown' }));
        expect(await store.getGroup(inner.id, { members: true })).toMatchObject({ data: { displayName: 'Inner' }, members: [], meta: { version: 1 } });
        expect(await store.latestSeq()).toBe(seq);
      });

      test('deleting a user leaves its groups, bumps them and journals a patch', async () => {
        const u = await store.createUser(user('ivy'), ctx);
        const keep = await store.createUser(user('jon'), ctx);
        const g = await store.createGroup({ displayName: 'Devs' }, [u.id, keep.id], ctx);
        const other = await store.createGroup({ displayName: 'Empty' }, [], ctx);
        await store.deleteUser(u.id, ctx);
        expect(await store.getGroup(g.id, { members: true })).toMatchObject({ members: [{ value: keep.id, display: 'jon' }], meta: { version: 2 } });
        expect((await store.getGroup(other.id, { members: false }))!.meta.version).toBe(1);
        expect((await store.changesSince(0)).slice(-2).map((c) => [c.resourceType, c.resourceId, c.op])).toEqual([
          ['User', u.id, 'delete'],
          ['Group', g.id, 'patch'],
        ]);
        expect(await store.groupsOfUser(u.id)).toEqual([]);
      });

      test('rename conflicts, delete group, snapshot', async () => {
        const u = await store.createUser(user('kim'), ctx);
        const a = await store.createGroup({ displayName: 'A', externalId: 'ext-a' }, [u.id], ctx);
        const b = await store.createGroup({ displayName: 'B' }, [], ctx);
        await expect(store.updateGroup(b.id, () => ({ data: { displayName: 'a' } }), ctx)).rejects.toThrow(ConflictError);
        await expect(store.deleteGroup(b.id, ctx, { ifMatch: 9 })).rejects.toThrow(PreconditionFailedError);
        await store.deleteGroup(b.id, ctx);
        expect(await store.getGroup(b.id, { members: false })).toBeUndefined();
        await expect(store.deleteGroup(b.id, ctx)).rejects.toThrow(NotFoundError);
        const snap = await store.snapshot();
        expect(snap.seq).toBe(await store.latestSeq());
        expect(snap.users.map((x) => x.data.userName)).toEqual(['kim']);
        expect(snap.groups).toEqual([{ id: a.id, displayName: 'A', externalId: 'ext-a', memberIds: [u.id] }]);
      });
    });

    describe('listing: paging, sorting, filtering', () => {
      const ids: Record<string, string> = {};
      beforeEach(async () => {
        const add = async (n: string, extra: Partial<UserData>) => {
          ids[n] = (await store.createUser(user(n, extra), ctx)).id;
          s.clock.advance(60_000);
        };
        await add('bjensen', {
          displayName: 'Babs Jensen', title: 'Tour Guide', externalId: 'E-1', name: { familyName: "O'Malley", givenName: 'Barbara' },
          emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }, { value: 'babs@home.org', type: 'home' }],
          phoneNumbers: [{ value: '555-1', type: 'mobile' }],
          [ENTERPRISE_USER]: { department: 'Tour Operations', employeeNumber: '701984' },
        });
        await add('jsmith', { active: false, displayName: 'John Smith', emails: [{ value: 'JSmith@Example.com', type: 'home' }], userType: 'Employee' });
        await add('Zoe', { title: 'CTO', emails: [{ value: 'zoe@example.org', type: 'work' }], [ENTERPRISE_USER]: { department: 'Research' } });
        await add('adam', {});
      });
      const find = async (filter: string, sortBy?: string, sortOrder?: 'ascending' | 'descending') =>
        (await store.listUsers({ filter: parseFilter(filter), startIndex: 1, count: 100, sortBy, sortOrder })).resources.map((u) => u.data.userName);

      test.each([
        ['userName eq "BJENSEN"', ['bjensen']],
        ['USERNAME Eq "zoe"', ['Zoe']],
        ['urn:ietf:params:scim:schemas:core:2.0:User:userName sw "j"', ['jsmith']],
        ['externalId eq "E-1"', ['bjensen']],
        ['externalId eq "e-1"', []],
        ['displayName co "SMITH"', ['jsmith']],
        ['active eq false', ['jsmith']],
        ['title pr', ['bjensen', 'Zoe']],
        ['not (title pr)', ['jsmith', 'adam']],
        ['title ne "CTO"', ['bjensen', 'jsmith', 'adam']],
        ['name.familyName eq "o\'malley"', ['bjensen']],
        ['emails.value eq "jsmith@example.COM"', ['jsmith']],
        ['emails co "example.com"', ['bjensen', 'jsmith']],
        ['emails[type eq "work" and value co "@example"]', ['bjensen', 'Zoe']],
        ['emails[type eq "home" and value ew ".org"]', ['bjensen']],
        ['emails[type eq "work" and value eq "babs@home.org"]', []],
        ['emails[not (type eq "work")]', ['bjensen', 'jsmith']],
        ['phoneNumbers[type eq "mobile"]', ['bjensen']],
        ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw "tour"', ['bjensen']],
        ['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr or userType eq "employee"', ['bjensen', 'jsmith']],
        ['userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', ['jsmith']],
        ['meta.created gt "2026-01-01T00:01:00Z"', ['Zoe', 'adam']],
        ['meta.created ge "2026-01-01T00:01:00Z" and meta.created lt "2026-01-01T00:03:00.000Z"', ['jsmith', 'Zoe']],
        ['userName gt "b" and userName le "zz"', ['bjensen', 'jsmith', 'Zoe']],
        ['id eq "' + 'nope' + '"', []],
      ])('%s', async (filter, expected) => {
        expect(await find(filter)).toEqual(expected);
      });

      test('filter by id, and unknown attributes or bad comparisons are InvalidQueryError', async () => {
        expect(await find(`id eq "${ids.Zoe}"`)).toEqual(['Zoe']);
        for (const f of ['nickname2 eq "x"', 'active gt true', 'name eq "x"', 'title eq 3', 'password eq "x"', 'meta.created eq "yesterday"', 'title eq null']) {
          await expect(find(f)).rejects.toThrow(InvalidQueryError);
        }
        await expect(store.listUsers({ startIndex: 1, count: 1, sortBy: 'nope' })).rejects.toThrow(InvalidQueryError);
      });

      test('paging and count=0', async () => {
        const page = (startIndex: number, count: number) => store.listUsers({ startIndex, count });
        expect(await page(1, 2)).toMatchObject({ totalResults: 4 });
        expect((await page(1, 2)).resources.map((u) => u.data.userName)).toEqual(['bjensen', 'jsmith']);
        expect((await page(3, 2)).resources.map((u) => u.data.userName)).toEqual(['Zoe', 'adam']);
        expect((await page(5, 2)).resources).toEqual([]);
        expect(await page(1, 0)).toEqual({ totalResults: 4, resources: [] });
        expect(await store.listUsers({ filter: parseFilter('userName eq "nobody"'), startIndex: 1, count: 10 })).toEqual({ totalResults: 0, resources: [] });
      });

      test('sorting: case-insensitive userName, missing values first, multi-valued by primary, stable ties', async () => {
        const all = 'userName pr';
        expect(await find(all, 'userName')).toEqual(['adam', 'bjensen', 'jsmith', 'Zoe']);
        expect(await find(all, 'username', 'descending')).toEqual(['Zoe', 'jsmith', 'bjensen', 'adam']);
        expect(await find(all, 'title')).toEqual(['jsmith', 'adam', 'Zoe', 'bjensen']);
        expect(await find(all, 'emails')).toEqual(['adam', 'bjensen', 'jsmith', 'Zoe']);
        expect(await find(all, 'active', 'descending')).toEqual(['bjensen', 'Zoe', 'adam', 'jsmith']);
        expect(await find(all, 'meta.lastModified', 'descending')).toEqual(['adam', 'Zoe', 'jsmith', 'bjensen']);
      });

      test('groups: filter by displayName and members.value', async () => {
        const g1 = await store.createGroup({ displayName: 'Airflow Admins', externalId: 'G1' }, [ids.bjensen, ids.Zoe], ctx);
        await store.createGroup({ displayName: 'Viewers' }, [ids.jsmith], ctx);
        const groups = async (f: string) =>
          (await store.listGroups({ filter: parseFilter(f), startIndex: 1, count: 10 }, { members: false })).resources.map((g) => g.data.displayName);
        expect(await groups('displayName eq "airflow admins"')).toEqual(['Airflow Admins']);
        expect(await groups(`members.value eq "${ids.jsmith}"`)).toEqual(['Viewers']);
        expect(await groups(`members[value eq "${ids.Zoe}"]`)).toEqual(['Airflow Admins']);
        expect(await groups(`not (members eq "${ids.Zoe}")`)).toEqual(['Viewers']);
        expect(await groups('externalId eq "G1" or displayName sw "v"')).toEqual(['Airflow Admins', 'Viewers']);
        const withMembers = await store.listGroups({ filter: parseFilter(`id eq "${g1.id}"`), startIndex: 1, count: 10 }, { members: true });
        expect(withMembers.resources[0].members!.map((m) => m.display)).toEqual(['bjensen', 'Zoe']);
      });
    });
  });
}
