import type { RunReport } from '../../src/reconcile/types';
import { applyActions } from '../../src/reconcile/apply';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { plan, type PlanContext } from '../../src/reconcile/plan';
import { ownershipMap, type OwnershipRecord } from '../../src/reconcile/state';
import type { Action, DesiredState, Plan } from '../../src/reconcile/types';
import { ManualClock } from '../../src/core/clock';
import { MemoryAirflowClient } from '../../src/airflow/memory-client';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { BUILTIN_ROLES, airflowUser, desiredUser } from './helpers';

const owned = (...names: string[]): Map<string, OwnershipRecord> =>
  new Map(names.map((n) => [n.toLowerCase(), { username: n, how: 'created' as const, scimUserId: `scim-${n}`, since: '2026-01-01T00:00:00.000Z' }]));

const ctx = (over: Partial<PlanContext> = {}): PlanContext => ({ owned: new Map(), protectedUsers: ['admin'], serviceAccount: 'svc', deprovision: 'strip-roles', rolePatch: 'replace', ...over });
const state = (over: Partial<DesiredState> = {}): DesiredState => ({ users: [], roles: [], excluded: [], ...over });
const kinds = (p: Plan): string[] => p.actions.map((a) => `${a.kind} ${'username' in a ? a.username : a.role}`);

describe('plan', () => {
  test('createUsers false: a missing account is awaited from the first SSO login; once it exists it is adopted and given its roles', () => {
    const desired = state({ users: [desiredUser('alice', ['Viewer'])] });
    const waiting = plan(desired, { users: [], roles: BUILTIN_ROLES }, ctx({ createUsers: false }));
    expect(waiting.actions).toEqual([]);
    expect(waiting.drift).toEqual([{ kind: 'awaiting-login', username: 'alice', note: expect.stringContaining('first SSO login') }]);
    // FAB created it at login with its registration role; the next run adopts it and sets the mapped roles.
    const loggedIn = plan(desired, { users: [airflowUser('alice', ['Public'])], roles: BUILTIN_ROLES }, ctx({ createUsers: false }));
    expect(loggedIn.actions.map((a) => a.kind)).toEqual(['adopt-user', 'update-user']);
    expect(loggedIn.drift).toEqual([]);
  });

  test('creates a desired user missing in Airflow', () => {
    const p = plan(state({ users: [desiredUser('alice', ['Viewer'])] }), { users: [], roles: BUILTIN_ROLES }, ctx());
    expect(p.actions).toEqual([{ kind: 'create-user', username: 'alice', user: desiredUser('alice', ['Viewer']), reason: 'provisioned by group: g' }]);
    expect(p).toMatchObject({ drift: [], unchanged: 0, managedUsers: 0 });
  });

  test('adopts an existing unowned account (case-insensitively) and updates what differs', () => {
    const p = plan(state({ users: [desiredUser('alice', ['Viewer'])] }), { users: [airflowUser('Alice', ['Public'], { lastName: 'Old', firstName: 'alice', email: 'alice@example.com' })], roles: BUILTIN_ROLES }, ctx());
    expect(p.actions).toEqual([
      { kind: 'adopt-user', username: 'Alice', scimUserId: 'scim-alice', reason: expect.stringContaining('already exists') },
      {
        kind: 'update-user',
        username: 'Alice',
        changes: { lastName: { before: 'Old', after: 'Test' }, roles: { before: ['Public'], after: ['Viewer'] } },
        reason: 'differs from the IdP (lastName, roles)',
      },
    ]);
  });

  test('owned users: per-field before/after, roles compared as sets', () => {
    const desired = state({ users: [desiredUser('a', ['Op', 'Viewer'], { email: 'new@x.io', firstName: 'Anna' }), desiredUser('b', ['Op', 'Viewer'])] });
    const observed = { users: [airflowUser('a', ['Viewer']), airflowUser('b', ['Viewer', 'Op'])], roles: BUILTIN_ROLES };
    const p = plan(desired, observed, ctx({ owned: owned('a', 'b') }));
    expect(p.actions).toEqual([
      {
        kind: 'update-user',
        username: 'a',
        changes: { email: { before: 'a@example.com', after: 'new@x.io' }, firstName: { before: 'a', after: 'Anna' }, roles: { before: ['Viewer'], after: ['Op', 'Viewer'] } },
        reason: 'differs from the IdP (email, firstName, roles)',
      },
    ]);
    expect(p.unchanged).toBe(1);
    expect(p.managedUsers).toBe(2);
  });

  test.each([
    ['strip-roles', ['Viewer'], [{ kind: 'deprovision-user', username: 'gone', mode: 'strip-roles', rolesBefore: ['Viewer'], adminRemoval: false, reason: 'no longer in the IdP' }]],
    ['strip-roles', [], []], // already stripped: idempotent
    ['delete', ['Admin', 'Viewer'], [{ kind: 'deprovision-user', username: 'gone', mode: 'delete', rolesBefore: ['Admin', 'Viewer'], adminRemoval: true, reason: 'no longer in the IdP' }]],
  ] as const)('deprovision %s of an owned user with roles %j', (mode, roles, expected) => {
    const observed = { users: [airflowUser('gone', [...roles]), airflowUser('admin', ['Admin'])], roles: BUILTIN_ROLES };
    expect(plan(state(), observed, ctx({ owned: owned('gone'), deprovision: mode })).actions).toEqual(expected);
  });

  test('reactivation restores the roles of a stripped account', () => {
    const p = plan(state({ users: [desiredUser('bob', ['User'])] }), { users: [airflowUser('bob', [])], roles: BUILTIN_ROLES }, ctx({ owned: owned('bob') }));
    expect(p.actions).toEqual([expect.objectContaining({ kind: 'update-user', username: 'bob', changes: { roles: { before: [], after: ['User'] } } })]);
  });

  test('unowned accounts are never touched; drift only when the IdP has an opinion about them', () => {
    const excluded = [{ username: 'local', scimUserId: 's1', reason: 'inactive in the IdP', kind: 'inactive' as const }];
    const p = plan(state({ excluded }), { users: [airflowUser('local', ['Admin']), airflowUser('other', ['Op'])], roles: BUILTIN_ROLES }, ctx());
    expect(p.actions).toEqual([]);
    expect(p.drift).toEqual([{ kind: 'unowned', username: 'local', note: expect.stringContaining('inactive in the IdP') }]);
  });

  test('protected users and the service account are untouched, desired or not', () => {
    const desired = state({ users: [desiredUser('ADMIN', ['Viewer'])] });
    const observed = { users: [airflowUser('admin', ['Admin']), airflowUser('svc', ['Admin'])], roles: BUILTIN_ROLES };
    const p = plan(desired, observed, ctx({ owned: owned('admin', 'svc') }));
    expect(p.actions).toEqual([]);
    expect(p.drift.map((d) => [d.kind, 'username' in d ? d.username : ''])).toEqual([
      ['protected', 'ADMIN'],
      ['protected', 'svc'],
    ]);
  });

  test('the last user holding Admin keeps it (deprovision and demotion)', () => {
    const observed = { users: [airflowUser('boss', ['Admin']), airflowUser('viewer', ['Viewer'])], roles: BUILTIN_ROLES };
    const none = plan(state(), observed, ctx({ owned: owned('boss', 'viewer'), protectedUsers: [] }));
    expect(kinds(none)).toEqual(['deprovision-user viewer']);
    expect(none.drift).toEqual([{ kind: 'protected', username: 'boss', note: expect.stringContaining('last user holding Admin') }]);

    const demoted = plan(state({ users: [desiredUser('boss', ['Viewer'])] }), observed, ctx({ owned: owned('boss'), protectedUsers: [] }));
    expect(demoted.actions).toEqual([expect.objectContaining({ kind: 'update-user', username: 'boss', changes: { roles: { before: ['Admin'], after: ['Admin', 'Viewer'] } } })]);
    expect((demoted.actions[0] as Extract<Action, { kind: 'update-user' }>).adminRemoval).toBeUndefined();
  });

  test('removing Admin from one of several admins is an admin removal', () => {
    const observed = { users: [airflowUser('a', ['Admin']), airflowUser('b', ['Admin'])], roles: BUILTIN_ROLES };
    const p = plan(state({ users: [desiredUser('a', ['Viewer']), desiredUser('b', ['Admin'])] }), observed, ctx({ owned: owned('a', 'b') }));
    expect(p.actions).toEqual([expect.objectContaining({ kind: 'update-user', username: 'a', adminRemoval: true })]);
  });

  test('role removal: a downgrade (to default roles, or losing one group) is flagged; a move between mapped groups is not', () => {
    const dflt = { group: null, rule: 'default', roles: ['Viewer'] };
    const desired = state({
      users: [
        desiredUser('a', ['Viewer'], { sources: [dflt] }),
        desiredUser('b', ['User'], { sources: [{ group: 'users', rule: 'group: users', roles: ['User'] }] }),
        desiredUser('c', ['Op'], { sources: [{ group: 'ops', rule: 'group: ops', roles: ['Op'] }] }),
      ],
    });
    const observed = { users: [airflowUser('a', ['User', 'Viewer']), airflowUser('b', ['Op', 'User']), airflowUser('c', ['User'])], roles: BUILTIN_ROLES };
    const p = plan(desired, observed, ctx({ owned: owned('a', 'b', 'c') }));
    expect(p.actions.map((x) => [x.kind, 'username' in x ? x.username : '', x.kind === 'update-user' ? x.roleRemoval === true : null])).toEqual([
      ['update-user', 'a', true],
      ['update-user', 'b', true],
      ['update-user', 'c', false],
    ]);
  });

  test('an owned account bound to another SCIM identity is not re-bound: username-collision drift, no action', () => {
    const desired = state({ users: [desiredUser('alice', ['Admin'], { scimUserId: 'new', scimUserName: 'alice@b' })], userNames: new Map([['old', 'alice@a'], ['new', 'alice@b']]) });
    const observed = { users: [airflowUser('alice', [])], roles: BUILTIN_ROLES };
    const bound = new Map([['alice', { username: 'alice', how: 'created' as const, scimUserId: 'old', externalId: 'ext-old', since: 'x' }]]);
    const p = plan(desired, observed, ctx({ owned: bound }));
    expect(p.actions).toEqual([]);
    expect(p.drift).toEqual([{ kind: 'username-collision', username: 'alice', scimUserIds: ['old', 'new'], note: expect.stringMatching(/bound to SCIM user alice@a \(id old\); alice@b \(id new\).*release alice/) }]);
    // The same externalId is the same person: adopted for the new SCIM id.
    const same = plan(state({ users: [desiredUser('alice', ['Admin'], { scimUserId: 'new', externalId: 'ext-old' })] }), observed, ctx({ owned: bound }));
    expect(same.actions.map((a) => a.kind)).toEqual(['adopt-user', 'update-user']);
  });

  test('email held by another Airflow user: no create, drift email-clash; an update keeps the old email', () => {
    const desired = state({ users: [desiredUser('new', ['Viewer'], { email: 'Shared@x.io' }), desiredUser('mine', ['Viewer'], { email: 'shared@x.io' })] });
    const observed = { users: [airflowUser('holder', [], { email: 'shared@x.io' }), airflowUser('mine', ['Viewer'], { email: 'old@x.io' })], roles: BUILTIN_ROLES };
    const p = plan(desired, observed, ctx({ owned: owned('mine') }));
    expect(p.actions).toEqual([]);
    expect(p.drift).toEqual([
      { kind: 'email-clash', username: 'mine', email: 'shared@x.io', holder: 'holder', note: expect.any(String) },
      { kind: 'email-clash', username: 'new', email: 'Shared@x.io', holder: 'holder', note: expect.any(String) },
    ]);
  });

  test('a role missing in Airflow is skipped with drift; the rest of the user is provisioned', () => {
    const p = plan(state({ users: [desiredUser('a', ['Ghost', 'Viewer']), desiredUser('b', ['Ghost'])] }), { users: [], roles: BUILTIN_ROLES }, ctx());
    expect(p.actions.map((a) => a.kind === 'create-user' && a.user.roles)).toEqual([['Viewer']]); // b has no usable role
    expect(p.drift).toEqual([{ kind: 'unknown-role', role: 'Ghost', usernames: ['a', 'b'], note: expect.any(String) }]);
  });

  test('custom roles: create missing, add missing permissions, report extra ones', () => {
    const desired = state({
      roles: [
        { name: 'dag-a', permissions: [['can_read', 'DAG:a']] },
        { name: 'dag-b', permissions: [['can_read', 'DAG:b'], ['can_edit', 'DAG:b']] },
      ],
      users: [desiredUser('u', ['dag-a'])],
    });
    const observed = { users: [], roles: [...BUILTIN_ROLES, { name: 'dag-b', permissions: [['can_read', 'DAG:b'], ['can_delete', 'DAG:b']] as [string, string][] }] };
    // Role PATCH that only adds (Airflow 2.x, FAB < 3.8.1): the full set is sent, the extra one is drift.
    const additive = plan(desired, observed, ctx({ rolePatch: 'add' }));
    expect(additive.actions).toEqual([
      { kind: 'create-role', role: 'dag-a', permissions: [['can_read', 'DAG:a']], reason: expect.any(String) },
      { kind: 'set-role-permissions', role: 'dag-b', permissions: [['can_read', 'DAG:b'], ['can_edit', 'DAG:b']], add: [['can_edit', 'DAG:b']], remove: [], reason: expect.any(String) },
      expect.objectContaining({ kind: 'create-user', username: 'u', user: expect.objectContaining({ roles: ['dag-a'] }) }),
    ]);
    expect(additive.drift).toEqual([{ kind: 'extra-permissions', role: 'dag-b', permissions: [['can_delete', 'DAG:b']], note: expect.stringContaining('only add') }]);
    // Role PATCH that replaces (FAB >= 3.8.1): the same full set also removes the extra one; nothing is drift.
    const replacing = plan(desired, observed, ctx({ rolePatch: 'replace' }));
    expect(replacing.actions[1]).toEqual({
      kind: 'set-role-permissions', role: 'dag-b', permissions: [['can_read', 'DAG:b'], ['can_edit', 'DAG:b']], add: [['can_edit', 'DAG:b']], remove: [['can_delete', 'DAG:b']], reason: expect.any(String),
    });
    expect(replacing.drift).toEqual([]);
    // Only an extra permission: a PATCH where it replaces, nothing to do where it only adds.
    const onlyExtra = { users: [], roles: [...BUILTIN_ROLES, { name: 'dag-a', permissions: [['can_read', 'DAG:a'], ['can_edit', 'DAG:a']] as [string, string][] }] };
    const single = state({ roles: [{ name: 'dag-a', permissions: [['can_read', 'DAG:a']] }] });
    expect(plan(single, onlyExtra, ctx({ rolePatch: 'add' })).actions).toEqual([]);
    expect(plan(single, onlyExtra, ctx({ rolePatch: 'replace' })).actions).toEqual([
      expect.objectContaining({ kind: 'set-role-permissions', role: 'dag-a', add: [], remove: [['can_edit', 'DAG:a']] }),
    ]);
  });

  test('an ambiguous IdP side (username collision) never deprovisions', () => {
    const excluded = [{ username: 'bob', scimUserId: 's1', reason: 'rendered by 2 SCIM users', kind: 'collision' as const }];
    const p = plan(state({ excluded }), { users: [airflowUser('bob', ['Viewer'])], roles: BUILTIN_ROLES }, ctx({ owned: owned('bob') }));
    expect(p.actions).toEqual([]);
    expect(p.drift).toEqual([{ kind: 'protected', username: 'bob', note: expect.stringContaining('ambiguous') }]);
  });

  test('deterministic order: roles, creates, adopts, updates, deprovisions, each by username', () => {
    const desired = state({
      roles: [{ name: 'r', permissions: [] }],
      users: [desiredUser('zed', ['Viewer']), desiredUser('amy', ['Viewer']), desiredUser('kim', ['Op']), desiredUser('lee', ['Op'])],
    });
    const observed = { users: [airflowUser('lee', ['Viewer']), airflowUser('kim', ['Viewer']), airflowUser('old2', ['Viewer']), airflowUser('old1', ['Viewer'])], roles: BUILTIN_ROLES };
    const p = plan(desired, observed, ctx({ owned: owned('kim', 'old1', 'old2') }));
    expect(kinds(p)).toEqual([
      'create-role r',
      'create-user amy',
      'create-user zed',
      'adopt-user lee',
      'update-user kim',
      'update-user lee',
      'deprovision-user old1',
      'deprovision-user old2',
    ]);
  });

  test('the second run plans nothing', async () => {
    const airflow = new MemoryAirflowClient({ users: [airflowUser('admin', ['Admin']), airflowUser('adoptme', ['Public']), airflowUser('leaver', ['User']), airflowUser('stripped', [])] });
    const st = new MemoryReconcileState<RunReport>();
    const clock = new ManualClock();
    for (const n of ['leaver', 'stripped']) await st.own(n, 'created', `scim-${n}`, clock.now());
    const desired = state({
      roles: [{ name: 'custom', permissions: [['can_read', 'DAGs']] }],
      users: [desiredUser('new', ['custom', 'Viewer']), desiredUser('adoptme', ['Op'], { firstName: 'Ad' }), desiredUser('ghosted', ['Ghost', 'User'])],
    });
    const planFor = async (): Promise<Plan> =>
      plan(desired, { users: await airflow.listUsers(), roles: await airflow.listRoles() }, ctx({ owned: await ownershipMap(st), deprovision: 'strip-roles' }));

    const first = await planFor();
    expect(first.actions.length).toBeGreaterThan(0);
    const outcomes = await applyActions(first.actions, { airflow, state: st, audit: new MemoryAuditLog(), clock, concurrency: 3 });
    expect(outcomes.every((o) => o.ok)).toBe(true);

    const second = await planFor();
    expect(second.actions).toEqual([]);
    expect(second.unchanged).toBe(3);
    expect(second.drift.map((d) => d.kind)).toEqual(['unknown-role']);
  });
});
