import { desiredState } from '../../src/reconcile/desired';
import { desiredCfg, group, scimUser, snapshot } from './helpers';

describe('desiredState', () => {
  test('active users in mapped groups get the sorted union of their roles, with sources', () => {
    const s = snapshot(
      [scimUser('u1', { userName: 'alice', name: { givenName: 'Alice', familyName: 'Liddell' }, emails: [{ value: 'alice@x.io', primary: true }] })],
      [group('g1', 'AIRFLOW-VIEWERS', ['u1']), group('g2', 'airflow-admins', ['u1']), group('g3', 'unrelated', ['u1'])],
    );
    const d = desiredState(s, desiredCfg());
    expect(d.users).toEqual([
      {
        username: 'alice',
        email: 'alice@x.io',
        firstName: 'Alice',
        lastName: 'Liddell',
        roles: ['Admin', 'Viewer'],
        scimUserId: 'u1',
        scimUserName: 'alice',
        sources: [
          { group: 'airflow-admins', rule: 'group: airflow-admins', roles: ['Admin'] },
          { group: 'AIRFLOW-VIEWERS', rule: 'group: airflow-viewers', roles: ['Viewer'] },
        ],
      },
    ]);
    expect(d.excluded).toEqual([]);
  });

  test('groupExternalId matches exactly, groupPattern as a case-insensitive glob', () => {
    const s = snapshot(
      [scimUser('u1', { userName: 'a' }), scimUser('u2', { userName: 'b' })],
      [group('g1', 'Team Data', ['u1'], 'ext-42'), group('g2', 'Airflow-Ops-EU', ['u2']), group('g3', 'x', ['u2'], 'EXT-42')],
    );
    const cfg = desiredCfg({ mappings: [{ groupExternalId: 'ext-42', roles: ['User'] }, { groupPattern: 'airflow-ops-*', roles: ['Op'] }] });
    const d = desiredState(s, cfg);
    expect(d.users.map((u) => [u.username, u.roles, u.sources.map((x) => x.rule)])).toEqual([
      ['a', ['User'], ['groupExternalId: ext-42']],
      ['b', ['Op'], ['groupPattern: airflow-ops-*']],
    ]);
  });

  test('inactive and unmapped users are excluded with reasons', () => {
    const s = snapshot([scimUser('u1', { userName: 'gone', active: false }), scimUser('u2', { userName: 'nogroup' })], [group('g', 'airflow-admins', ['u1'])]);
    const d = desiredState(s, desiredCfg());
    expect(d.users).toEqual([]);
    expect(d.excluded).toEqual([
      { username: 'gone', scimUserId: 'u1', kind: 'inactive', reason: 'inactive in the IdP' },
      { username: 'nogroup', scimUserId: 'u2', kind: 'unmapped', reason: expect.stringContaining('no group') },
    ]);
  });

  test('roles.default gives every active user an account', () => {
    const s = snapshot([scimUser('u1', { userName: 'a' }), scimUser('u2', { userName: 'b' })], [group('g', 'airflow-admins', ['u2'])]);
    const d = desiredState(s, desiredCfg({ defaultRoles: ['Viewer'] }));
    expect(d.users.map((u) => [u.username, u.roles])).toEqual([
      ['a', ['Viewer']],
      ['b', ['Admin', 'Viewer']],
    ]);
    expect(d.users[0].sources).toEqual([{ group: null, rule: 'default', roles: ['Viewer'] }]);
  });

  test('two SCIM users rendering the same username (case-insensitively) are both excluded', () => {
    const s = snapshot([scimUser('u1', { userName: 'Bob' }), scimUser('u2', { userName: 'bob' }), scimUser('u3', { userName: 'carol' })], [group('g', 'airflow-viewers', ['u1', 'u2', 'u3'])]);
    const d = desiredState(s, desiredCfg());
    expect(d.users.map((u) => u.username)).toEqual(['carol']);
    expect(d.excluded.map((e) => [e.username, e.kind])).toEqual([
      ['Bob', 'collision'],
      ['bob', 'collision'],
    ]);
    expect(d.excluded[0].reason).toContain('Bob (id u1), bob (id u2)');
    expect(d.collisions).toEqual([{ username: 'Bob', scimUserIds: ['u1', 'u2'], userNames: ['Bob', 'bob'] }]);
  });

  test('a user without the templated value is excluded, not guessed', () => {
    const s = snapshot([scimUser('u1', { userName: 'a' })], [group('g', 'airflow-viewers', ['u1'])]);
    const d = desiredState(s, desiredCfg({ usernameTemplate: 'okta_{externalId}' }));
    expect(d.users).toEqual([]);
    expect(d.excluded[0]).toMatchObject({ username: 'a', kind: 'no-username' });
  });

  test.each([
    ['names from displayName', { displayName: 'Ada  King Lovelace' }, ['Ada', 'King Lovelace']],
    ['one-word displayName', { displayName: 'Cher' }, ['Cher', 'u']],
    ['nothing: userName for both', {}, ['u', 'u']],
    ['givenName only', { name: { givenName: 'Gina' } }, ['Gina', 'u']],
  ])('non-empty names for Airflow 3: %s', (_label, data, [first, last]) => {
    const s = snapshot([scimUser('u1', { userName: 'u', ...data })], [group('g', 'airflow-viewers', ['u1'])]);
    const [u] = desiredState(s, desiredCfg()).users;
    expect([u.firstName, u.lastName]).toEqual([first, last]);
  });

  test('email falls back to work, first, then <username>@email.notfound', () => {
    const s = snapshot(
      [scimUser('u1', { userName: 'a', emails: [{ value: 'h@x', type: 'home' }, { value: 'w@x', type: 'work' }] }), scimUser('u2', { userName: 'b' })],
      [group('g', 'airflow-viewers', ['u1', 'u2'])],
    );
    expect(desiredState(s, desiredCfg()).users.map((u) => u.email)).toEqual(['w@x', 'b@email.notfound']);
  });

  test('custom roles come from config, sorted, each with the can_read on Website that FAB role sync gives every custom role', () => {
    const d = desiredState(snapshot([]), desiredCfg({
      custom: { 'z-role': { permissions: [['can_read', 'DAGs']] }, 'a-role': { permissions: [] }, 'w-role': { permissions: [['can_read', 'Website']] } },
    }));
    expect(d.roles).toEqual([
      { name: 'a-role', permissions: [['can_read', 'Website']] },
      { name: 'w-role', permissions: [['can_read', 'Website']] },
      { name: 'z-role', permissions: [['can_read', 'DAGs'], ['can_read', 'Website']] },
    ]);
  });
});
