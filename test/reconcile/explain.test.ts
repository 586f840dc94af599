import { configSchema } from '../../src/config/schema';
import { explainUser, formatExplanation } from '../../src/reconcile/explain';
import { MemoryReconcileState } from '../../src/reconcile/memory-state';
import { TestAudit, TestStore, group, scimUser } from './helpers';

function setup() {
  const store = new TestStore();
  store.users.push(
    scimUser('id-1', { userName: 'alice@corp.io', externalId: '00u1', name: { givenName: 'Alice', familyName: 'L' }, emails: [{ value: 'alice@corp.io', primary: true }] }),
    scimUser('id-2', { userName: 'bob@corp.io', externalId: '00u2', active: false }),
  );
  store.groups.push(group('g1', 'Airflow-Admins', ['id-1', 'id-2']), group('g2', 'data-eng', ['id-1']));
  const state = new MemoryReconcileState();
  state.own('okta_00u1', 'adopted', 'id-1', new Date('2026-01-02T00:00:00Z'));
  const audit = new TestAudit();
  audit.record({ at: '2026-01-02T00:00:00Z', source: 'airflow', actor: 'reconciler', subject: 'okta_00u1', action: 'adopt-user', outcome: 'success' });
  audit.record({ at: '2026-01-03T00:00:00Z', source: 'airflow', actor: 'reconciler', subject: 'okta_00u1', action: 'update-user', outcome: 'success', detail: { before: { roles: ['Viewer'] }, after: { roles: ['Admin', 'User'] } } });
  const config = configSchema.parse({
    airflow: { username: 'okta_{externalId}' },
    roles: { mappings: [{ group: 'airflow-admins', roles: ['Admin'] }, { groupPattern: 'data-*', roles: ['User'] }] },
  });
  return { store, state, audit, config };
}

describe('explainUser', () => {
  test.each(['alice@corp.io', 'ALICE@corp.io', 'okta_00u1', 'id-1'])('finds the user by %s and explains roles, ownership and the last change', (q) => {
    const e = explainUser(q, setup());
    expect(e).toMatchObject({
      scimUser: { id: 'id-1', userName: 'alice@corp.io', active: true, externalId: '00u1' },
      groups: ['Airflow-Admins', 'data-eng'],
      rules: [
        { group: 'Airflow-Admins', rule: 'group: airflow-admins', roles: ['Admin'] },
        { group: 'data-eng', rule: 'groupPattern: data-*', roles: ['User'] },
      ],
      airflowUsername: 'okta_00u1',
      desired: { username: 'okta_00u1', email: 'alice@corp.io', roles: ['Admin', 'User'] },
      ownership: { how: 'adopted', scimUserId: 'id-1' },
      lastChange: { action: 'update-user' },
    });
    const text = formatExplanation(e);
    expect(text).toContain('groupPattern: data-* (group data-eng) -> User');
    expect(text).toContain('Desired roles: Admin, User');
    expect(text).toContain('Managed: yes, adopted');
    expect(text).toContain('update-user success');
  });

  test('an inactive user: rules still shown, no account wanted, with the reason', () => {
    const e = explainUser('bob@corp.io', setup());
    expect(e.desired).toBeNull();
    expect(e).toMatchObject({ airflowUsername: 'okta_00u2', excludedReason: 'inactive in the IdP', ownership: null });
    expect(e.rules.map((r) => r.roles)).toEqual([['Admin']]);
    expect(formatExplanation(e)).toContain('INACTIVE');
  });

  test('unknown query', () => {
    const e = explainUser('nobody', setup());
    expect(e).toMatchObject({ scimUser: null, ownership: null, lastChange: null });
    expect(formatExplanation(e)).toContain('no SCIM user');
  });
});
