/** Retries with backoff: 5xx and 429 (Retry-After) retried, other 4xx never, network errors → 'unreachable'. */
import { AirflowHttp, parseRetryAfter } from '../../src/airflow/http';
import { AirflowV2Client } from '../../src/airflow/v2-client';
import { AirflowV3Client } from '../../src/airflow/v3-client';
import { AirflowError } from '../../src/airflow/types';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';

let fake: FakeAirflow;
let sleeps: number[];
const sleep = async (ms: number): Promise<void> => void sleeps.push(ms);
beforeEach(async () => {
  fake = await startFakeAirflow({ version: 2 });
  sleeps = [];
});
afterEach(async () => {
  await fake.close();
});
const v2 = (retries = 3) =>
  new AirflowV2Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 2000, retries, concurrency: 2, sleep, random: () => 0.5, basePath: '/auth/fab/v1' });

test('500 then success: one retry after a jittered backoff', async () => {
  fake.faults.failNext(1, 500);
  const users = await v2().listUsers();
  expect(users.map((u) => u.username)).toEqual(['admin']);
  expect(fake.faults.count('GET /auth/fab/v1/users')).toBe(2);
  expect(sleeps).toEqual([100]); // 0.5 × min(10 s, 200 ms × 2^0)
});

test('429 with Retry-After is honoured (capped)', async () => {
  fake.faults.failNext(1, 429, 2);
  fake.faults.failNext(1, 429, 3600);
  await v2().listUsers();
  expect(sleeps).toEqual([2000, 30_000]);
  expect(fake.faults.count('GET /auth/fab/v1/users')).toBe(3);
});

test('400 is never retried and becomes bad-request', async () => {
  const err = await v2().createUser({ username: 'x', email: 'x@x', firstName: 'x', lastName: 'x', roles: ['Nope'], password: 'p' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AirflowError);
  expect((err as AirflowError).kind).toBe('bad-request');
  expect(fake.faults.count('POST /auth/fab/v1/users')).toBe(1);
  expect(sleeps).toEqual([]);
});

test('persistent 5xx: gives up after retries with a transient server error', async () => {
  fake.faults.failNext(10, 503);
  const err = (await v2(2).listUsers().catch((e: unknown) => e)) as AirflowError;
  expect(err.kind).toBe('server');
  expect(err.transient).toBe(true);
  expect(fake.faults.count('GET /auth/fab/v1/users')).toBe(3);
  expect(sleeps).toEqual([100, 200]);
});

test("down → 'unreachable' after the retries, naming the URL and the code", async () => {
  const client = v2(2);
  await fake.setDown(true);
  const err = (await client.listUsers().catch((e: unknown) => e)) as AirflowError;
  expect(err.kind).toBe('unreachable');
  expect(err.message).toBe(`Airflow at ${fake.url} is unreachable (ECONNREFUSED)`);
  expect(client.calls.get('GET /auth/fab/v1/users')).toBe(3);
  expect(sleeps).toHaveLength(2);
  await fake.setDown(false);
  expect(await client.listUsers()).toHaveLength(1);
});

test('a timeout is unreachable too', async () => {
  fake.faults.latencyMs = 300;
  const client = new AirflowV3Client({ url: fake.url, apiUser: 'admin', apiPassword: 'admin', timeoutMs: 50, retries: 1, concurrency: 1, sleep });
  const err = (await client.listUsers().catch((e: unknown) => e)) as AirflowError;
  expect(err.kind).toBe('unreachable');
  expect(err.message).toContain('ECONNABORTED');
});

test('the limiter bounds requests in flight', async () => {
  fake.faults.latencyMs = 30;
  const http = new AirflowHttp({ baseUrl: fake.url, timeoutMs: 2000, retries: 0, concurrency: 2 });
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, http.limiter.inFlight)), 2);
  await Promise.all(Array.from({ length: 8 }, () => http.request({ method: 'GET', path: '/api/v1/version', template: '/api/v1/version' })));
  clearInterval(watch);
  expect(peak).toBeLessThanOrEqual(2);
  expect(http.calls.get('GET /api/v1/version')).toBe(8);
});

test('parseRetryAfter reads seconds and HTTP dates', () => {
  expect(parseRetryAfter('5')).toBe(5000);
  expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(10_000);
  expect(parseRetryAfter('soon')).toBeUndefined();
});
