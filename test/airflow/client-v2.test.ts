import { createAirflowClient } from '../../src/airflow/detect';
import { AirflowV2Client } from '../../src/airflow/v2-client';
import { startFakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { silentLogger } from '../../src/logger';
import { runAirflowClientContract } from '../contract/airflow-client.contract';

const noSleep = async (): Promise<void> => undefined;

runAirflowClientContract('Airflow 2.10 fake (/auth/fab/v1, basic auth)', async () => {
  const fake = await startFakeAirflow({ version: 2 });
  const client = new AirflowV2Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 5000, retries: 2, concurrency: 4, sleep: noSleep });
  return { client, rolePatch: 'add' as const, seedUsers: async (n, prefix) => fake.state.addUsers(n, prefix), teardown: () => fake.close() };
});

runAirflowClientContract('Airflow 2.7 fake (/api/v1 only, detected)', async () => {
  const fake = await startFakeAirflow({ version: 2, airflowVersion: '2.7.3' });
  const client = createAirflowClient(
    { url: fake.url, apiVersion: 'auto', apiUser: 'admin', apiPassword: 'admin', apiPasswordFile: null, jwtSecret: null, jwtSecretFile: null, jwtUserId: null, jwtAudience: 'apache-airflow', jwtIssuer: null, createUsers: true, username: '{userName}', timeout: 5000, retries: 2, concurrency: 4 },
    silentLogger(),
    { sleep: noSleep },
  );
  return { client, rolePatch: 'add' as const, seedUsers: async (n, prefix) => fake.state.addUsers(n, prefix), teardown: () => fake.close() };
});

describe('AirflowV2Client specifics', () => {
  test('signs in with the password once, then sends the session cookie: no session row or login per call', async () => {
    const fake = await startFakeAirflow({ version: 2 });
    try {
      const client = new AirflowV2Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 5000, retries: 0, concurrency: 1 });
      for (let i = 0; i < 20; i++) await client.listUsers();
      await client.info();
      expect(fake.state.sessions.size).toBe(1);
      expect(fake.state.getUser('admin')?.loginCount).toBe(1);
      // A session the server forgot (restart with another secret key): one password sign-in, then on again.
      fake.state.sessions.clear();
      expect((await client.listUsers()).length).toBe(1);
      expect(fake.state.sessions.size).toBe(1);
      expect(fake.state.getUser('admin')?.loginCount).toBe(2);
    } finally {
      await fake.close();
    }
  });

  test('picks /auth/fab/v1 on 2.8+ and /api/v1 before, from the version endpoint', async () => {
    for (const [airflowVersion, basePath] of [['2.10.3', '/auth/fab/v1'], ['2.7.3', '/api/v1']] as const) {
      const fake = await startFakeAirflow({ version: 2, airflowVersion });
      try {
        const client = new AirflowV2Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 5000, retries: 0, concurrency: 2 });
        expect(await client.info()).toEqual({ apiVersion: 2, version: airflowVersion, basePath, fabVersion: '1.5.3', rolePatch: 'add' });
      } finally {
        await fake.close();
      }
    }
  });

  test('an update reads the user fresh: a stale email in the body would trip 2.x validation with a false 409', async () => {
    const fake = await startFakeAirflow({ version: 2 });
    try {
      fake.state.addUser({ username: 'zoe', roles: ['Viewer'] });
      const client = new AirflowV2Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 5000, retries: 0, concurrency: 2 });
      await client.listUsers();
      // Changed in Airflow after our read: zoe's email, and her old address now belongs to someone else.
      fake.state.getUser('zoe')!.email = 'zoe.new@example.com';
      fake.state.addUser({ username: 'amy', email: 'zoe@example.com', roles: ['Viewer'] });
      fake.faults.calls.clear();
      const u = await client.updateUser('zoe', { roles: ['User'] });
      expect(u.roles).toEqual(['User']);
      expect([...fake.faults.calls.keys()]).toEqual(['GET /auth/fab/v1/users/{username}', 'PATCH /auth/fab/v1/users/{username}']);
      expect(fake.faults.log.at(-1)?.url).toContain('update_mask=roles');
      expect(fake.state.getUser('zoe')?.email).toBe('zoe.new@example.com');
    } finally {
      await fake.close();
    }
  });

  test('createRole reads the role back (2.x POST /roles answers {})', async () => {
    const fake = await startFakeAirflow({ version: 2 });
    try {
      const client = new AirflowV2Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 5000, retries: 0, concurrency: 2, basePath: '/auth/fab/v1' });
      await client.createRole({ name: 'r1', permissions: [['can_read', 'DAGs']] });
      expect(fake.faults.count('POST /auth/fab/v1/roles')).toBe(1);
      expect(fake.faults.count('GET /auth/fab/v1/roles/{name}')).toBe(1);
      expect(fake.state.getRole('r1')?.permissions).toEqual([['can_read', 'DAGs']]);
    } finally {
      await fake.close();
    }
  });
});
