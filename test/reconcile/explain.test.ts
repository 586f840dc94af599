import type { RunReport } from '../../src/reconcile/types';
import { configSchema } from '../../src/config/schema';
import { explainUser, formatExplanation } from '../../src/reconcile/explain';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';

async function setup() {
  // The contract-tested in-memory store, with ids id-1, id-2, … in creation order.
  let n = 0;
  const store = new MemoryIdentityStore(new MemoryAuditLog(), undefined, () => `id-${++n}`);
  const ctx = { actor: 'test' };
  await store.createUser({ userName: 'alice@corp.io', active: true, externalId: '00u1', name: { givenName: 'Alice', familyName: 'L' }, emails: [{ value: 'alice@corp.io', primary: true }] }, ctx);
  await store.createUser({ userName: 'bob@corp.io', externalId: '00u2', active: false }, ctx);
  await store.createGroup({ displayName: 'Airflow-Admins' }, ['id-1', 'id-2'], ctx);
  await store.createGroup({ displayName: 'data-eng' }, ['id-1'], ctx);
  const state = new MemoryReconcileState<RunReport>();
  await state.own('okta_00u1', 'adopted', 'id-1', new Date('2026-01-02T00:00:00Z'));
  const audit = new MemoryAuditLog();
  await audit.record({ at: '2026-01-02T00:00:00Z', source: 'airflow', actor: 'reconciler', subject: 'okta_00u1', action: 'adopt-user', outcome: 'success' });
  await audit.record({ at: '2026-01-03T00:00:00Z', source: 'airflow', actor: 'reconciler', subject: 'okta_00u1', action: 'update-user', outcome: 'success', detail: { before: { roles: ['Viewer'] }, after: { roles: ['Admin', 'User'] } } });
  const config = configSchema.parse({
    airflow: { username: 'okta_{externalId}' },
    roles: { mappings: [{ group: 'airflow-admins', roles: ['Admin'] }, { groupPattern: 'data-*', roles: ['User'] }] },
  });
  return { store, state, audit, config };
}

describe('explainUser', () => {
  test.each(['alice@corp.io', 'ALICE@corp.io', 'okta_00u1', 'id-1'])('finds the user by %s and explains roles, ownership and the last change', async (q) => {
    const e = await explainUser(q, await setup());
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

  test('an inactive user: rules still shown, no account wanted, with the reason', async () => {
    const e = await explainUser('bob@corp.io', await setup());
    expect(e.desired).toBeNull();
    expect(e).toMatchObject({ airflowUsername: 'okta_00u2', excludedReason: 'inactive in the IdP', ownership: null });
    expect(e.rules.map((r) => r.roles)).toEqual([['Admin']]);
    expect(formatExplanation(e)).toContain('INACTIVE');
  });

  test('unknown query', async () => {
    const e = await explainUser('nobody', await setup());
    expect(e).toMatchObject({ scimUser: null, ownership: null, lastChange: null });
    expect(formatExplanation(e)).toContain('no SCIM user');
  });
});
