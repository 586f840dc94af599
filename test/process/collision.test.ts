import fs from 'node:fs';
import path from 'node:path';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { runCli, tempDir, withStore } from '../support/processes';

const ctx = { actor: 'test' };

/** Issue 11: with {emailLocalPart}, a newcomer never inherits a deactivated person's account; an admin decides. */
describe('username collision through the CLI', () => {
  let fake: FakeAirflow;
  let env: Record<string, string>;
  beforeAll(async () => {
    fake = await startFakeAirflow({ version: 3 });
    const dir = tempDir('collision-');
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfg, ['airflow:', '  username: "{emailLocalPart}"', 'roles:', '  mappings:', '    - group: airflow-admins', '      roles: [Admin]'].join('\n'));
    env = { DATABASE_PATH: path.join(dir, 'scim.db'), AIRFLOW_URL: fake.url, AIRFLOW_USERNAME: 'admin', AIRFLOW_PASSWORD: 'admin', AIRFLOW_SCIM_CONFIG: cfg };
  });
  afterAll(() => fake.close());

  it('reports the collision in reconcile, status, explain and audit until `release`, then hands the account over', async () => {
    let a = '';
    let b = '';
    let admins = '';
    await withStore(env.DATABASE_PATH, async (s) => {
      a = (await s.createUser({ userName: 'alice@a.example', externalId: 'okta-a', active: true, emails: [{ value: 'alice@a.example', primary: true }] }, ctx)).id;
      admins = (await s.createGroup({ displayName: 'airflow-admins' }, [a], ctx)).id;
    });
    expect((await runCli(['reconcile'], env)).code).toBe(0);
    expect(fake.state.getUser('alice')).toMatchObject({ email: 'alice@a.example', roles: ['Admin'] });

    await withStore(env.DATABASE_PATH, async (s) => {
      await s.updateUser(a, (cur) => ({ ...cur.data, active: false }), ctx);
      b = (await s.createUser({ userName: 'alice@b.example', externalId: 'okta-b', active: true, emails: [{ value: 'alice@b.example', primary: true }] }, ctx)).id;
      await s.updateGroup(admins, () => ({ memberOps: [{ op: 'add', ids: [b] }] }), ctx);
    });
    const run = await runCli(['reconcile', '--json'], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).plan.drift).toEqual([expect.objectContaining({ kind: 'username-collision', username: 'alice', scimUserIds: [a, b] })]);
    expect(fake.state.getUser('alice')).toMatchObject({ email: 'alice@a.example', roles: [] });

    const status = JSON.parse((await runCli(['status', '--json', '--no-probe'], env)).stdout);
    expect(status.collisions).toEqual([expect.objectContaining({ username: 'alice', scimUserIds: [a, b], note: expect.stringMatching(/alice@a\.example.*alice@b\.example/) })]);
    expect((await runCli(['status', '--no-probe'], env)).stdout).toMatch(/USERNAME COLLISION alice: bound to SCIM user alice@a\.example/);
    expect((await runCli(['explain', 'alice@b.example'], env)).stdout).toMatch(/USERNAME COLLISION: Airflow account alice is bound to SCIM user alice@a\.example/);
    const audit = (await runCli(['audit', '--json', '--user', 'alice', '--source', 'airflow'], env)).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(audit.filter((e) => e.action === 'username-collision')).toHaveLength(1);

    expect((await runCli(['release', 'nobody'], env)).code).toBe(1);
    const released = await runCli(['release', 'ALICE'], env);
    expect(released.code).toBe(0);
    expect(released.stdout).toMatch(/Released alice/);
    expect((await runCli(['reconcile'], env)).code).toBe(0);
    expect(fake.state.getUser('alice')).toMatchObject({ email: 'alice@b.example', roles: ['Admin'] });
    const admin = (await runCli(['audit', '--json', '--source', 'admin'], env)).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(admin).toContainEqual(expect.objectContaining({ action: 'release-binding', subject: 'alice', detail: { scimUserId: a, externalId: 'okta-a' } }));
  }, 60_000);
});
