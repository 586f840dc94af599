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
  type UserData,
  type WriteContext,
} from '../../src/store/types';

export interface ContractSubject {
  store: IdentityStore;
  audit: AuditLog;
  clock: ManualClock;
}

const ctx: WriteContext = { actor: 'okta', clientIp: '10.0.0.1', requestId: 'r-1', method: 'POST', path: '/scim/v2/Users' };
const patchCtx: WriteContext = { ...ctx, method: 'PATCH' };

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
      test('create, get, meta and deep copies', () => {
        const input = user('alice@example.com', { emails: [{ value: 'alice@example.com', type: 'work', primary: true }] });
        const u = store.createUser(input, ctx);
        expect(u.meta).toEqual({ created: '2026-01-01T00:00:00.000Z', lastModified: '2026-01-01T00:00:00.000Z', version: 1 });
        (input.emails as { value: string }[])[0].value = 'mutated';
        u.data.userName = 'mutated';
        const got = store.getUser(u.id)!;
        expect(got.data).toEqual(user('alice@example.com', { emails: [{ value: 'alice@example.com', type: 'work', primary: true }] }));
        got.data.active = false;
        expect(store.getUser(u.id)!.data.active).toBe(true);
        expect(store.getUser('nope')).toBeUndefined();
      });

      test('userName is unique case-insensitively', () => {
        const a = store.createUser(user('Alice'), ctx);
        expect(() => store.createUser(user('ALICE'), ctx)).toThrow(ConflictError);
        const b = store.createUser(user('bob'), ctx);
        expect(() => store.updateUser(b.id, (c) => ({ ...c.data, userName: 'alice' }), ctx)).toThrow(ConflictError);
        // changing only the case of one's own name is fine
        expect(store.updateUser(a.id, (c) => ({ ...c.data, userName: 'alice' }), ctx).data.userName).toBe('alice');
        // a deleted name is free again
        store.deleteUser(b.id, ctx);
        expect(store.createUser(user('BOB'), ctx).data.userName).toBe('BOB');
      });

      test('update bumps version and lastModified; an identical write does not', () => {
        const u = store.createUser(user('carol'), ctx);
        s.clock.advance(1000);
        const v2 = store.updateUser(u.id, (c) => ({ ...c.data, title: 'Engineer' }), ctx);
        expect(v2.meta).toEqual({ created: u.meta.created, lastModified: '2026-01-01T00:00:01.000Z', version: 2 });
        s.clock.advance(1000);
        const seq = store.latestSeq();
        const same = store.updateUser(u.id, (c) => ({ ...c.data }), ctx);
        expect(same.meta).toEqual(v2.meta);
        expect(store.latestSeq()).toBe(seq);
      });

      test('NotFound and If-Match', () => {
        expect(() => store.updateUser('x', (c) => c.data, ctx)).toThrow(NotFoundError);
        expect(() => store.deleteUser('x', ctx)).toThrow(NotFoundError);
        const u = store.createUser(user('dave'), ctx);
        expect(() => store.updateUser(u.id, (c) => ({ ...c.data, title: 't' }), ctx, { ifMatch: 7 })).toThrow(PreconditionFailedError);
        expect(store.updateUser(u.id, (c) => ({ ...c.data, title: 't' }), ctx, { ifMatch: 1 }).meta.version).toBe(2);
        expect(() => store.deleteUser(u.id, ctx, { ifMatch: 1 })).toThrow(PreconditionFailedError);
        store.deleteUser(u.id, ctx, { ifMatch: 2 });
        expect(store.getUser(u.id)).toBeUndefined();
      });

      test('a throwing updater writes nothing: no row, journal or audit change', () => {
        const u = store.createUser(user('erin'), ctx);
        const seq = store.latestSeq();
        const audits = s.audit.query({}).length;
        expect(() =>
          store.updateUser(u.id, () => {
            throw new Error('boom');
          }, ctx),
        ).toThrow('boom');
        expect(() => store.updateUser(u.id, (c) => ({ ...c.data, userName: 'erin' }), ctx)).not.toThrow();
        expect(store.getUser(u.id)).toEqual(u);
        expect(store.latestSeq()).toBe(seq);
        expect(s.audit.query({})).toHaveLength(audits);
      });

      test('journal seq strictly increases; changesSince pages', () => {
        const a = store.createUser(user('f1'), ctx);
        store.updateUser(a.id, (c) => ({ ...c.data, title: 'x' }), patchCtx);
        store.deleteUser(a.id, ctx);
        const all = store.changesSince(0);
        expect(all.map((c) => [c.resourceType, c.resourceId, c.op])).toEqual([
          ['User', a.id, 'create'],
          ['User', a.id, 'patch'],
          ['User', a.id, 'delete'],
        ]);
        for (let i = 1; i < all.length; i++) expect(all[i].seq).toBeGreaterThan(all[i - 1].seq);
        expect(store.latestSeq()).toBe(all[2].seq);
        expect(store.changesSince(all[0].seq, 1)).toEqual([all[1]]);
      });

      test('audit rows carry who, what and before/after of changed attributes only, redacted', () => {
        const u = store.createUser(user('gina', { title: 'Dev', password: 'hunter2' }), ctx);
        store.updateUser(u.id, (c) => ({ ...c.data, title: 'Lead', password: 'hunter3' }), patchCtx);
        store.deleteUser(u.id, ctx);
        const rows = s.audit.query({ subject: 'GINA' });
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
      const members = (gid: string) => store.getGroup(gid, { members: true })!.members!.map((m) => m.display);

      test('create with members, display = userName ordered; members:false omits them', () => {
        const z = store.createUser(user('zed'), ctx);
        const a = store.createUser(user('Amy'), ctx);
        const g = store.createGroup({ displayName: 'Admins' }, [z.id, a.id, z.id], ctx);
        expect(g.members).toBeUndefined();
        expect(store.getGroup(g.id, { members: true })!.members).toEqual([
          { value: a.id, display: 'Amy' },
          { value: z.id, display: 'zed' },
        ]);
        expect(store.getGroup(g.id, { members: false })!.members).toBeUndefined();
        expect(store.groupsOfUser(z.id)).toEqual([g.id]);
        expect(() => store.createGroup({ displayName: 'ADMINS' }, [], ctx)).toThrow(ConflictError);
      });

      test('add, remove, idempotent re-add, removeAll, replace; version bumps only on change', () => {
        const [u1, u2, u3] = ['u1', 'u2', 'u3'].map((n) => store.createUser(user(n), ctx));
        const g = store.createGroup({ displayName: 'Ops' }, [u1.id], ctx);
        const add = store.updateGroup(g.id, () => ({ memberOps: [{ op: 'add', ids: [u2.id] }] }), patchCtx);
        expect(add.meta.version).toBe(2);
        expect(members(g.id)).toEqual(['u1', 'u2']);
        const again = store.updateGroup(g.id, () => ({ memberOps: [{ op: 'add', ids: [u2.id] }, { op: 'remove', ids: ['missing'] }] }), patchCtx);
        expect(again.meta.version).toBe(2);
        store.updateGroup(g.id, () => ({ memberOps: [{ op: 'remove', ids: [u1.id] }] }), patchCtx);
        expect(members(g.id)).toEqual(['u2']);
        store.updateGroup(g.id, () => ({ memberOps: [{ op: 'replace', ids: [u1.id, u3.id] }] }), patchCtx);
        expect(members(g.id)).toEqual(['u1', 'u3']);
        expect(store.updateGroup(g.id, () => ({ memberOps: [{ op: 'replace', ids: [u3.id, u1.id] }] }), patchCtx).meta.version).toBe(4);
        store.updateGroup(g.id, () => ({ memberOps: [{ op: 'removeAll' }] }), patchCtx);
        expect(members(g.id)).toEqual([]);
        const detail = s.audit.query({ subject: 'ops' }).map((r) => r.detail);
        expect(detail).toEqual([
          { before: {}, after: { displayName: 'Ops' }, added: [u1.id], addedCount: 1 },
          { added: [u2.id], addedCount: 1 },
          { removed: [u1.id], removedCount: 1 },
          { added: [u1.id, u3.id], addedCount: 2, removed: [u2.id], removedCount: 1 },
          { removed: 'all', removedCount: 2 },
        ]);
      });

      test('nested group and unknown members are rejected atomically', () => {
        const u = store.createUser(user('hal'), ctx);
        const inner = store.createGroup({ displayName: 'Inner' }, [], ctx);
        const err = (() => {
          try {
            store.createGroup({ displayName: 'Outer' }, [u.id, inner.id], ctx);
          } catch (e) {
            return e;
          }
        })();
        expect(err).toBeInstanceOf(InvalidMemberError);
        expect(err).toMatchObject({ memberId: inner.id, reason: 'group' });
        expect(store.listGroups({ startIndex: 1, count: 10 }, { members: false }).totalResults).toBe(1);
        const seq = store.latestSeq();
        expect(() =>
          store.updateGroup(inner.id, () => ({ data: { displayName: 'Renamed' }, memberOps: [{ op: 'add', ids: [u.id] }, { op: 'add', ids: ['ghost'] }] }), ctx),
        ).toThrow(expect.objectContaining({ memberId: 'ghost', reason: 'unknown' }));
        expect(store.getGroup(inner.id, { members: true })).toMatchObject({ data: { displayName: 'Inner' }, members: [], meta: { version: 1 } });
        expect(store.latestSeq()).toBe(seq);
      });

      test('deleting a user leaves its groups, bumps them and journals a patch', () => {
        const u = store.createUser(user('ivy'), ctx);
        const keep = store.createUser(user('jon'), ctx);
        const g = store.createGroup({ displayName: 'Devs' }, [u.id, keep.id], ctx);
        const other = store.createGroup({ displayName: 'Empty' }, [], ctx);
        store.deleteUser(u.id, ctx);
        expect(store.getGroup(g.id, { members: true })).toMatchObject({ members: [{ value: keep.id, display: 'jon' }], meta: { version: 2 } });
        expect(store.getGroup(other.id, { members: false })!.meta.version).toBe(1);
        expect(store.changesSince(0).slice(-2).map((c) => [c.resourceType, c.resourceId, c.op])).toEqual([
          ['User', u.id, 'delete'],
          ['Group', g.id, 'patch'],
        ]);
        expect(store.groupsOfUser(u.id)).toEqual([]);
      });

      test('rename conflicts, delete group, snapshot', () => {
        const u = store.createUser(user('kim'), ctx);
        const a = store.createGroup({ displayName: 'A', externalId: 'ext-a' }, [u.id], ctx);
        const b = store.createGroup({ displayName: 'B' }, [], ctx);
        expect(() => store.updateGroup(b.id, () => ({ data: { displayName: 'a' } }), ctx)).toThrow(ConflictError);
        expect(() => store.deleteGroup(b.id, ctx, { ifMatch: 9 })).toThrow(PreconditionFailedError);
        store.deleteGroup(b.id, ctx);
        expect(store.getGroup(b.id, { members: false })).toBeUndefined();
        expect(() => store.deleteGroup(b.id, ctx)).toThrow(NotFoundError);
        const snap = store.snapshot();
        expect(snap.seq).toBe(store.latestSeq());
        expect(snap.users.map((x) => x.data.userName)).toEqual(['kim']);
        expect(snap.groups).toEqual([{ id: a.id, displayName: 'A', externalId: 'ext-a', memberIds: [u.id] }]);
      });
    });

    describe('listing: paging, sorting, filtering', () => {
      const ids: Record<string, string> = {};
      beforeEach(() => {
        const add = (n: string, extra: Partial<UserData>) => {
          ids[n] = store.createUser(user(n, extra), ctx).id;
          s.clock.advance(60_000);
        };
        add('bjensen', {
          displayName: 'Babs Jensen', title: 'Tour Guide', externalId: 'E-1', name: { familyName: "O'Malley", givenName: 'Barbara' },
          emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }, { value: 'babs@home.org', type: 'home' }],
          phoneNumbers: [{ value: '555-1', type: 'mobile' }],
          [ENTERPRISE_USER]: { department: 'Tour Operations', employeeNumber: '701984' },
        });
        add('jsmith', { active: false, displayName: 'John Smith', emails: [{ value: 'JSmith@Example.com', type: 'home' }], userType: 'Employee' });
        add('Zoe', { title: 'CTO', emails: [{ value: 'zoe@example.org', type: 'work' }], [ENTERPRISE_USER]: { department: 'Research' } });
        add('adam', {});
      });
      const find = (filter: string, sortBy?: string, sortOrder?: 'ascending' | 'descending') =>
        store.listUsers({ filter: parseFilter(filter), startIndex: 1, count: 100, sortBy, sortOrder }).resources.map((u) => u.data.userName);

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
      ])('%s', (filter, expected) => {
        expect(find(filter)).toEqual(expected);
      });

      test('filter by id, and unknown attributes or bad comparisons are InvalidQueryError', () => {
        expect(find(`id eq "${ids.Zoe}"`)).toEqual(['Zoe']);
        for (const f of ['nickname2 eq "x"', 'active gt true', 'name eq "x"', 'title eq 3', 'password eq "x"', 'meta.created eq "yesterday"', 'title eq null']) {
          expect(() => find(f)).toThrow(InvalidQueryError);
        }
        expect(() => store.listUsers({ startIndex: 1, count: 1, sortBy: 'nope' })).toThrow(InvalidQueryError);
      });

      test('paging and count=0', () => {
        const page = (startIndex: number, count: number) => store.listUsers({ startIndex, count });
        expect(page(1, 2)).toMatchObject({ totalResults: 4 });
        expect(page(1, 2).resources.map((u) => u.data.userName)).toEqual(['bjensen', 'jsmith']);
        expect(page(3, 2).resources.map((u) => u.data.userName)).toEqual(['Zoe', 'adam']);
        expect(page(5, 2).resources).toEqual([]);
        expect(page(1, 0)).toEqual({ totalResults: 4, resources: [] });
        expect(store.listUsers({ filter: parseFilter('userName eq "nobody"'), startIndex: 1, count: 10 })).toEqual({ totalResults: 0, resources: [] });
      });

      test('sorting: case-insensitive userName, missing values first, multi-valued by primary, stable ties', () => {
        const all = 'userName pr';
        expect(find(all, 'userName')).toEqual(['adam', 'bjensen', 'jsmith', 'Zoe']);
        expect(find(all, 'username', 'descending')).toEqual(['Zoe', 'jsmith', 'bjensen', 'adam']);
        expect(find(all, 'title')).toEqual(['jsmith', 'adam', 'Zoe', 'bjensen']);
        expect(find(all, 'emails')).toEqual(['adam', 'bjensen', 'jsmith', 'Zoe']);
        expect(find(all, 'active', 'descending')).toEqual(['bjensen', 'Zoe', 'adam', 'jsmith']);
        expect(find(all, 'meta.lastModified', 'descending')).toEqual(['adam', 'Zoe', 'jsmith', 'bjensen']);
      });

      test('groups: filter by displayName and members.value', () => {
        const g1 = store.createGroup({ displayName: 'Airflow Admins', externalId: 'G1' }, [ids.bjensen, ids.Zoe], ctx);
        store.createGroup({ displayName: 'Viewers' }, [ids.jsmith], ctx);
        const groups = (f: string) => store.listGroups({ filter: parseFilter(f), startIndex: 1, count: 10 }, { members: false }).resources.map((g) => g.data.displayName);
        expect(groups('displayName eq "airflow admins"')).toEqual(['Airflow Admins']);
        expect(groups(`members.value eq "${ids.jsmith}"`)).toEqual(['Viewers']);
        expect(groups(`members[value eq "${ids.Zoe}"]`)).toEqual(['Airflow Admins']);
        expect(groups(`not (members eq "${ids.Zoe}")`)).toEqual(['Viewers']);
        expect(groups('externalId eq "G1" or displayName sw "v"')).toEqual(['Airflow Admins', 'Viewers']);
        const withMembers = store.listGroups({ filter: parseFilter(`id eq "${g1.id}"`), startIndex: 1, count: 10 }, { members: true });
        expect(withMembers.resources[0].members!.map((m) => m.display)).toEqual(['bjensen', 'Zoe']);
      });
    });
  });
}
