/** Error messages an admin can act on (errors.ts; doc §1.6, §1.7, §2.7). */
import { createAirflowClient } from '../../src/airflow/detect';
import { errorDetail } from '../../src/airflow/errors';
import { AirflowError } from '../../src/airflow/types';
import { AirflowV2Client } from '../../src/airflow/v2-client';
import { AirflowV3Client } from '../../src/airflow/v3-client';
import type { AirflowConfig } from '../../src/config/schema';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { silentLogger } from '../../src/logger';

const fail = async (p: Promise<unknown>): Promise<AirflowError> => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof AirflowError)) throw new Error(`expected AirflowError, got ${String(e)}`);
  return e;
};
const opts = (fake: FakeAirflow, apiUser = 'admin', apiPassword = 'admin') =>
  ({ url: fake.url, apiUser, apiPassword, timeoutMs: 2000, retries: 0, concurrency: 2 });
const cfg = (url: string, apiVersion: AirflowConfig['apiVersion'] = 'auto'): AirflowConfig => ({
  url, apiVersion, apiUser: 'admin', apiPassword: 'admin', apiPasswordFile: null, jwtSecret: null, jwtSecretFile: null, jwtUserId: null, jwtAudience: 'apache-airflow', jwtIssuer: null, createUsers: true, username: '{userName}', timeout: 2000, retries: 1, concurrency: 2,
});

describe('Airflow 2.x', () => {
  let fake: FakeAirflow;
  beforeEach(async () => {
    fake = await startFakeAirflow({ version: 2 });
    fake.state.addRole('UserReader', [['can_read', 'Users'], ['can_read', 'Roles']]);
    fake.state.addUser({ username: 'reader', roles: ['UserReader'], password: 'pw' });
  });
  afterEach(async () => {
    await fake.close();
  });

  test("bad credentials answer 403 and become 'auth', explaining the 403 quirk", async () => {
    const err = await fail(new AirflowV2Client(opts(fake, 'admin', 'wrong')).info());
    expect(err.kind).toBe('auth');
    expect(err.message).toContain('credentials rejected');
    expect(err.message).toContain('Airflow 2 answers 403 for bad credentials');
    expect(err.status).toBe(403);
  });

  test("a 403 on a write, after the ping succeeds, is 'forbidden' naming the permission", async () => {
    const client = new AirflowV2Client(opts(fake, 'reader', 'pw'));
    const err = await fail(client.createUser({ username: 'n', email: 'n@x', firstName: 'N', lastName: 'N', roles: [], password: 'p' }));
    expect(err.kind).toBe('forbidden');
    expect(err.message).toContain("API user 'reader' lacks can_create on Users");
    expect(fake.faults.count('GET /auth/fab/v1/users')).toBe(1); // the probe that ruled out bad credentials
    const roleErr = await fail(client.setRolePermissions('Viewer', [['can_read', 'DAGs']]));
    expect(roleErr.message).toContain('lacks can_edit on Roles');
  });

  test('401 (when AUTH_ROLE_PUBLIC is unset) is auth too', async () => {
    fake.settings.authFailureStatus = 401;
    const err = await fail(new AirflowV2Client(opts(fake, 'admin', 'wrong')).listUsers());
    expect(err.kind).toBe('auth');
    expect(err.status).toBe(401);
  });

  test("a non-FAB auth manager is 'not-fab'", async () => {
    const nonFab = await startFakeAirflow({ version: 2, fab: false });
    try {
      const err = await fail(new AirflowV2Client(opts(nonFab)).info());
      expect(err.kind).toBe('not-fab');
      expect(err.message).toContain('the auth manager is not FAB (no user/role API');
    } finally {
      await nonFab.close();
    }
  });

  test('a forced base path on a non-FAB Airflow is not-fab as well', async () => {
    const legacy = await startFakeAirflow({ version: 2, v2BasePath: '/api/v1', fab: false });
    try {
      const client = new AirflowV2Client({ ...opts(legacy), basePath: '/auth/fab/v1' });
      expect((await fail(client.listUsers())).kind).toBe('not-fab');
    } finally {
      await legacy.close();
    }
  });
});

describe('Airflow 3.x', () => {
  test("a Viewer API user gets 'forbidden' naming can_read on Users", async () => {
    const fake = await startFakeAirflow({ version: 3 });
    try {
      fake.state.addUser({ username: 'viewer', roles: ['Viewer'], password: 'pw' });
      const err = await fail(new AirflowV3Client(opts(fake, 'viewer', 'pw')).listUsers());
      expect(err.kind).toBe('forbidden');
      expect(err.message).toContain('lacks can_read on Users');
    } finally {
      await fake.close();
    }
  });

  test("no FAB auth manager → 'not-fab'", async () => {
    const fake = await startFakeAirflow({ version: 3, fab: false });
    try {
      const err = await fail(createAirflowClient(cfg(fake.url), silentLogger()).info());
      expect(err.kind).toBe('not-fab');
    } finally {
      await fake.close();
    }
  });

  test('422 validation details are readable', () => {
    expect(errorDetail({ detail: [{ loc: ['body', 'password'], msg: 'Field required', type: 'missing' }] })).toBe('password: Field required');
    expect(errorDetail({ type: 't', title: 'Bad Request', status: 400, detail: "Unknown roles: 'x'" })).toBe("Unknown roles: 'x'");
    expect(errorDetail({ title: 'Forbidden', status: 403 })).toBe('Forbidden');
  });
});

describe('createAirflowClient', () => {
  test('auto-detects 2 and 3 and reports the version in info()', async () => {
    for (const version of [2, 3] as const) {
      const fake = await startFakeAirflow({ version });
      try {
        const info = await createAirflowClient(cfg(fake.url), silentLogger()).info();
        expect(info).toEqual({ apiVersion: version, version: fake.airflowVersion, basePath: '/auth/fab/v1', fabVersion: fake.fabVersion, rolePatch: version === 2 ? 'add' : 'replace' });
      } finally {
        await fake.close();
      }
    }
  });

  test("an unreachable URL is 'unreachable'; missing config is refused up front", async () => {
    const fake = await startFakeAirflow({ version: 3 });
    const url = fake.url;
    await fake.close();
    const client = createAirflowClient(cfg(url), silentLogger(), { sleep: async () => undefined });
    const err = await fail(client.info());
    expect(err.kind).toBe('unreachable');
    expect(err.message).toBe(`Airflow at ${url} is unreachable (ECONNREFUSED)`);
    expect(() => createAirflowClient({ ...cfg(url), url: null }, silentLogger())).toThrow(AirflowError);
    expect(() => createAirflowClient({ ...cfg(url), apiPassword: null }, silentLogger())).toThrow(/apiPassword/);
  });

  test('explicit apiVersion skips detection', async () => {
    const fake = await startFakeAirflow({ version: 3 });
    try {
      await createAirflowClient(cfg(fake.url, '3'), silentLogger()).listUsers();
      expect(fake.faults.count('GET /api/v2/version')).toBe(0);
    } finally {
      await fake.close();
    }
  });
});

test('onCall reports every attempt with its status, for metrics', async () => {
  const fake = await startFakeAirflow({ version: 3 });
  try {
    const seen: Array<[string, number | string]> = [];
    fake.faults.failNext(1, 503);
    const client = createAirflowClient(cfg(fake.url, '3'), silentLogger(), { sleep: async () => undefined, onCall: (c, s) => void seen.push([c, s]) });
    await client.listRoles();
    expect(seen).toEqual([['POST /auth/token', 503], ['POST /auth/token', 201], ['GET /auth/fab/v1/roles', 200]]);
  } finally {
    await fake.close();
  }
});
