import { MemoryAirflowClient } from '../../src/airflow/memory-client';
import { AirflowError } from '../../src/airflow/types';
import { runAirflowClientContract } from '../contract/airflow-client.contract';

describe.each(['replace', 'add'] as const)('role PATCH that %s', (rolePatch) => {
runAirflowClientContract(`MemoryAirflowClient (role PATCH ${rolePatch})`, async () => {
  const client = new MemoryAirflowClient({ rolePatch, resources: ['Website', 'DAGs', 'DAG:finance_daily', 'DAG Run:finance_daily'] });
  return {
    client,
    rolePatch,
    seedUsers: async (n, prefix) => {
      for (let i = 0; i < n; i++) {
        const username = `${prefix}${String(i).padStart(4, '0')}`;
        await client.createUser({ username, email: `${username}@example.com`, firstName: username, lastName: 'User', roles: ['Viewer'], password: 'x' });
      }
    },
    teardown: async () => undefined,
  };
});
});

describe('MemoryAirflowClient specifics', () => {
  test('seeds users and roles, records calls, and can inject failures', async () => {
    const client = new MemoryAirflowClient({
      users: [{ username: 'Admin', email: 'admin@x', firstName: 'A', lastName: 'B', roles: ['Admin'] }],
      roles: [{ name: 'custom', permissions: [['can_read', 'DAGs']] }],
    });
    expect(client.peekUser('admin')?.username).toBe('Admin');
    expect(client.peekRole('custom')?.permissions).toEqual([['can_read', 'DAGs']]);
    client.failNext(new AirflowError('unreachable', 'down'));
    await expect(client.listUsers()).rejects.toMatchObject({ kind: 'unreachable', transient: true });
    expect((await client.listUsers()).map((u) => u.username)).toEqual(['Admin']);
    expect(client.calls.get('GET /users')).toBe(2);
    expect(client.log).toEqual(['listUsers', 'listUsers']);
  });

  test('a user created without roles gets Public, like FAB', async () => {
    const client = new MemoryAirflowClient();
    const u = await client.createUser({ username: 'p', email: 'p@x', firstName: 'P', lastName: 'Q', roles: [], password: 'x' });
    expect(u.roles).toEqual(['Public']);
  });
});
