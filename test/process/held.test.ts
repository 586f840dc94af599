/** Issue 12: held changes decided one by one through the real CLI, against the fake Airflow. */
import fs from 'node:fs';
import path from 'node:path';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { runCli, tempDir, withStore } from '../support/processes';

const ctx = { actor: 'test' };

describe('airflow-scim held', () => {
  let fake: FakeAirflow;
  let env: Record<string, string>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    fake = await startFakeAirflow({ version: 3 });
    const dir = tempDir('held-');
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfg, ['roles:', '  mappings:', '    - group: eng', '      roles: [User]', 'safety:', '  maxDeprovisions: 1', '  maxDeprovisionPercent: 100'].join('\n'));
    env = { DATABASE_PATH: path.join(dir, 'scim.db'), AIRFLOW_URL: fake.url, AIRFLOW_API_VERSION: '3', AIRFLOW_USERNAME: 'admin', AIRFLOW_PASSWORD: 'admin', AIRFLOW_SCIM_CONFIG: cfg, USER: 'ops-alice' };
    await withStore(env.DATABASE_PATH, async (s) => {
      for (const n of ['ann', 'ben', 'cat']) ids[n] = (await s.createUser({ userName: n, active: true, emails: [{ value: `${n}@corp.io`, primary: true }] }, ctx)).id;
      await s.createGroup({ displayName: 'eng' }, [ids.ann, ids.ben, ids.cat], ctx);
    });
  });
  afterAll(() => fake.close());

  it('lists what is held and why, records approvals and rejections with who ran them, and the next run follows them', async () => {
    expect((await runCli(['reconcile', '--yes'], env)).code).toBe(0);
    await withStore(env.DATABASE_PATH, async (s) => {
      for (const n of ['ann', 'ben', 'cat']) await s.updateUser(ids[n], (u) => ({ ...u.data, active: false }), ctx);
    });
    expect((await runCli(['reconcile', '--yes'], env)).code).toBe(2); // blocked
    const list = await runCli(['held'], env);
    expect(list.stdout).toMatch(/held: .*approve or reject them one by one/);
    expect(list.stdout).toMatch(/^ann\s+undecided\s+strip roles \[User\]/m);
    expect((await runCli(['held', 'approve', 'nobody'], env)).stderr).toMatch(/"nobody" has no held change/);
    expect((await runCli(['held', 'approve', 'ann'], env)).code).toBe(0);
    expect((await runCli(['held', 'reject', 'ben'], env)).code).toBe(0);
    const decided = JSON.parse((await runCli(['held', '--json'], env)).stdout) as { held: Array<{ user: string; decision: string }> };
    expect(decided.held.map((h) => `${h.user}:${h.decision}`)).toEqual(['ann:approve', 'ben:reject', 'cat:undecided']);

    await runCli(['reconcile', '--yes'], env);
    expect(fake.state.getUser('ann')?.roles).toEqual([]);
    expect(fake.state.getUser('ben')?.roles).toEqual(['User']);
    expect(fake.state.getUser('cat')?.roles).toEqual(['User']); // still held: ann's approval and cat make 2 > 1
    const audit = (await runCli(['audit', '--json', '--source', 'admin'], env)).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(audit).toContainEqual(expect.objectContaining({ action: 'held-approve', subject: 'ann', detail: expect.objectContaining({ by: 'ops-alice' }) }));
    expect(audit).toContainEqual(expect.objectContaining({ action: 'held-reject', subject: 'ben', detail: expect.objectContaining({ by: 'ops-alice' }) }));
  });
});
