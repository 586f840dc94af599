/** Airflow 3 JWT handling (doc §2.8): cached, renewed before exp, renewed once on a 401 and retried once. */
import { AirflowV3Client, jwtExpiry } from '../../src/airflow/v3-client';
import { AirflowError } from '../../src/airflow/types';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';

let fake: FakeAirflow;
let now: number;
beforeEach(async () => {
  fake = await startFakeAirflow({ version: 3, jwtTtlSeconds: 3600 });
  now = Date.now();
});
afterEach(async () => {
  await fake.close();
});
const client = () =>
  new AirflowV3Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 2000, retries: 0, concurrency: 2, now: () => now });

test('the token is cached until shortly before exp, then renewed', async () => {
  const c = client();
  await c.listUsers();
  await c.listRoles();
  expect(fake.faults.count('POST /auth/token')).toBe(1);
  now += 3_600_000 - 30_000; // inside the renewal margin (60 s)
  await c.listUsers();
  expect(fake.faults.count('POST /auth/token')).toBe(2);
  expect(fake.faults.count('GET /auth/fab/v1/users')).toBe(2);
});

test('a token signed with another secret (403 "Invalid JWT token", e.g. an API-server restart) is renewed once and the call retried', async () => {
  const c = client();
  await c.listUsers();
  fake.revokeTokens(); // the server's jwt_secret changed: the cached token no longer verifies
  const users = await c.listUsers();
  expect(users.map((u) => u.username)).toEqual(['admin']);
  expect(fake.faults.count('POST /auth/token')).toBe(2);
  expect(fake.faults.count('GET /auth/fab/v1/users')).toBe(3);
  const statuses = fake.faults.log.filter((e) => e.call === 'GET /auth/fab/v1/users').map((e) => e.status);
  expect(statuses).toEqual([200, 403, 200]);
});

test('a token the server says has expired (401) is renewed once and the call retried', async () => {
  const c = client();
  fake.setJwtTtl(-1); // tokens are born expired; the client cannot know from exp alone when clocks differ
  await c.listUsers().catch(() => undefined);
  fake.setJwtTtl(3600);
  const users = await c.listUsers();
  expect(users.map((u) => u.username)).toEqual(['admin']);
  const statuses = fake.faults.log.filter((e) => e.call === 'GET /auth/fab/v1/users').map((e) => e.status);
  expect(statuses.slice(-2)).toEqual([401, 200]);
});

test('a 403 that is a missing permission is not mistaken for a bad token: no renewal', async () => {
  fake.state.addUser({ username: 'viewer', roles: ['Viewer'], password: 'pw' });
  const c = new AirflowV3Client({ url: fake.url, apiUser: 'viewer', apiPassword: 'pw', timeoutMs: 2000, retries: 0, concurrency: 1 });
  const err = (await c.listUsers().catch((e: unknown) => e)) as AirflowError;
  expect(err.kind).toBe('forbidden');
  expect(fake.faults.count('POST /auth/token')).toBe(1);
});

test('a second 401 is an auth error, not a loop', async () => {
  const c = client();
  await c.listUsers();
  fake.faults.failNext(2, 401);
  const err = (await c.listUsers().catch((e: unknown) => e)) as AirflowError;
  expect(err).toBeInstanceOf(AirflowError);
  expect(err.kind).toBe('auth');
  // The call, the renewal (refused too), then one unauthenticated probe that tells FAB (401) from a non-FAB auth manager (404).
  expect(fake.faults.count('GET /auth/fab/v1/users')).toBe(3);
});

test('wrong password: auth error quoting Airflow', async () => {
  const c = new AirflowV3Client({ url: fake.url, apiUser: 'admin', apiPassword: 'bad', timeoutMs: 2000, retries: 0, concurrency: 1 });
  const err = (await c.info().catch((e: unknown) => e)) as AirflowError;
  expect(err.kind).toBe('auth');
  expect(err.message).toContain('Invalid credentials');
  expect(err.transient).toBe(false);
});

test('jwtExpiry decodes exp', () => {
  const body = Buffer.from(JSON.stringify({ exp: 123 })).toString('base64url');
  expect(jwtExpiry(`x.${body}.y`)).toBe(123);
  expect(jwtExpiry('garbage')).toBeUndefined();
});
