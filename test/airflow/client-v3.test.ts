import { createAirflowClient } from '../../src/airflow/detect';
import { AirflowError } from '../../src/airflow/types';
import { AirflowV3Client } from '../../src/airflow/v3-client';
import { startFakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { silentLogger } from '../../src/logger';
import { runAirflowClientContract } from '../contract/airflow-client.contract';

const noSleep = async (): Promise<void> => undefined;

runAirflowClientContract('Airflow 3.3 fake (JWT, /auth/fab/v1)', async () => {
  const fake = await startFakeAirflow({ version: 3 });
  const client = new AirflowV3Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 5000, retries: 2, concurrency: 4, sleep: noSleep });
  return { client, rolePatch: 'replace' as const, seedUsers: async (n, prefix) => fake.state.addUsers(n, prefix), teardown: () => fake.close() };
});

runAirflowClientContract('Airflow 3.3 fake (detected by createAirflowClient)', async () => {
  const fake = await startFakeAirflow({ version: 3 });
  const client = createAirflowClient(
    { url: fake.url, apiVersion: 'auto', apiUser: 'admin', apiPassword: 'admin', apiPasswordFile: null, jwtSecret: null, jwtSecretFile: null, jwtUserId: null, jwtAudience: 'apache-airflow', jwtIssuer: null, createUsers: true, username: '{userName}', timeout: 5000, retries: 2, concurrency: 4 },
    silentLogger(),
    { sleep: noSleep },
  );
  return { client, rolePatch: 'replace' as const, seedUsers: async (n, prefix) => fake.state.addUsers(n, prefix), teardown: () => fake.close() };
});

runAirflowClientContract('Airflow 3.3 fake with FAB 3.8.0 (additive role PATCH)', async () => {
  const fake = await startFakeAirflow({ version: 3, fabVersion: '3.8.0' });
  const client = new AirflowV3Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 5000, retries: 2, concurrency: 4, sleep: noSleep });
  return { client, rolePatch: 'add' as const, seedUsers: async (n, prefix) => fake.state.addUsers(n, prefix), teardown: () => fake.close() };
});

describe('AirflowV3Client specifics', () => {
  test('a FAB provider older than 3.4.0 is refused with a message naming the minimum, not a permission error', async () => {
    const fake = await startFakeAirflow({ version: 3, fabVersion: '3.2.0' });
    try {
      const client = new AirflowV3Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 5000, retries: 0, concurrency: 2 });
      const err = (await client.info().catch((e: unknown) => e)) as AirflowError;
      expect(err).toBeInstanceOf(AirflowError);
      expect(err.kind).toBe('unsupported');
      expect(err.message).toContain('apache-airflow-providers-fab 3.2.0');
      expect(err.message).toContain('3.4.0 or newer');
    } finally {
      await fake.close();
    }
  });

  test('info() reports the version and one token serves every call', async () => {
    const fake = await startFakeAirflow({ version: 3 });
    try {
      const client = new AirflowV3Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 5000, retries: 0, concurrency: 2 });
      expect(await client.info()).toEqual({ apiVersion: 3, version: '3.3.2', basePath: '/auth/fab/v1', fabVersion: '3.10.2', rolePatch: 'replace' });
      await client.listUsers();
      await client.listRoles();
      expect(fake.faults.count('POST /auth/token')).toBe(1);
    } finally {
      await fake.close();
    }
  });

  test('updateUser sends only the changed fields with a comma update_mask', async () => {
    const fake = await startFakeAirflow({ version: 3 });
    try {
      fake.state.addUser({ username: 'zoe', roles: ['Viewer'] });
      const client = new AirflowV3Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 5000, retries: 0, concurrency: 2 });
      const u = await client.updateUser('zoe', { roles: ['Op', 'User'], email: 'z@corp.example' });
      expect(u).toMatchObject({ email: 'z@corp.example', roles: ['Op', 'User'] });
      const patch = fake.faults.log.find((e) => e.method === 'PATCH');
      expect(decodeURIComponent(patch?.url ?? '')).toContain('update_mask=email,roles');
      expect(fake.faults.count('GET /auth/fab/v1/users/{username}')).toBe(0);
    } finally {
      await fake.close();
    }
  });
});
