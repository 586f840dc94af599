import fs from 'node:fs';
import path from 'node:path';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { runCli, tempDir, withStore } from '../support/processes';

const ctx = { actor: 'test' };

describe('airflow-scim CLI', () => {
  let fake: FakeAirflow;
  let dir: string;
  let env: Record<string, string>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    fake = await startFakeAirflow({ version: 3 });
    dir = tempDir('cli-');
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(
      cfg,
      ['roles:', '  mappings:', '    - group: airflow-admins', '      roles: [Admin]', '    - group: data-engineers', '      roles: [User]', 'safety:', '  maxDeprovisions: 2', '  maxDeprovisionPercent: 100'].join('\n'),
    );
    env = { DATABASE_PATH: path.join(dir, 'scim.db'), AIRFLOW_URL: fake.url, AIRFLOW_API_VERSION: 'auto', AIRFLOW_USERNAME: 'admin', AIRFLOW_PASSWORD: 'admin', AIRFLOW_SCIM_CONFIG: cfg };
    await withStore(env.DATABASE_PATH, async (s) => {
      for (const n of ['alice', 'bob', 'carol', 'dave', 'erin']) {
        ids[n] = (await s.createUser({ userName: `${n}@example.com`, active: true, name: { givenName: n, familyName: 'Example' }, emails: [{ value: `${n}@example.com`, primary: true }] }, ctx)).id;
      }
      await s.createGroup({ displayName: 'airflow-admins' }, [ids.alice], ctx);
      await s.createGroup({ displayName: 'data-engineers' }, [ids.bob, ids.carol, ids.dave, ids.erin], ctx);
    });
  });
  afterAll(() => fake.close());

  it('--help works on every command', async () => {
    for (const cmd of [[], ['serve'], ['reconcile'], ['status'], ['explain'], ['audit'], ['tokens'], ['tokens', 'create'], ['tokens', 'list'], ['tokens', 'revoke'], ['release'], ['demo'], ['users'], ['groups']]) {
      const r = await runCli([...cmd, '--help']);
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 0 });
      expect(r.stdout).toMatch(/^Usage: airflow-scim/);
    }
  });

  it('reports configuration problems with exit 1, naming the key', async () => {
    const r = await runCli(['status'], { ...env, AIRFLOW_API_VERSION: '4' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/airflow\.apiVersion/);
  });

  it('creates, lists and revokes tokens; the secret is printed once and never listed', async () => {
    const created = await runCli(['tokens', 'create', '--name', 'okta', '--expires-in', '90d'], env);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^scim_[A-Za-z0-9_-]{40,}$/);
    expect(await runCli(['tokens', 'create', '--name', 'okta'], env)).toMatchObject({ code: 1, stderr: expect.stringMatching(/already exists/) });
    const listed = await runCli(['tokens', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    const list = JSON.parse(listed.stdout);
    expect(list).toEqual([expect.objectContaining({ name: 'okta', expiresAt: expect.any(String) })]);
    expect(listed.stdout).not.toContain(secret);
    expect(listed.stdout).not.toMatch(/hash/);
    expect((await runCli(['tokens', 'revoke', 'okta'], env)).code).toBe(0);
    expect(await runCli(['tokens', 'revoke', 'okta'], env)).toMatchObject({ code: 1, stderr: expect.stringMatching(/no active token/) });
  });

  it('dry run plans without writing; apply converges; the second run plans nothing', async () => {
    const dry = await runCli(['reconcile', '--dry-run', '--json'], env);
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.result).toBe('planned');
    expect(plan.plan.actions.filter((a: { kind: string }) => a.kind === 'create-user')).toHaveLength(5);
    expect(fake.state.getUser('alice@example.com')).toBeUndefined();

    const applied = await runCli(['reconcile'], env);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/create-user\s+alice@example.com/);
    expect(fake.state.getUser('alice@example.com')?.roles).toEqual(['Admin']);
    expect(fake.state.getUser('bob@example.com')?.roles).toEqual(['User']);

    const again = await runCli(['reconcile', '--json'], env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ result: 'nothing-to-do', plan: { actions: [] } });
  });

  it('explain says which group and rule give which role, and the last change applied', async () => {
    const r = await runCli(['explain', 'alice@example.com'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/airflow-admins/);
    expect(r.stdout).toMatch(/Admin/);
    expect(r.stdout).toMatch(/create-user/);
  });

  it('a mass deprovision is held (exit 2), shown by status, and applied only with --allow-mass-deprovision', async () => {
    await withStore(env.DATABASE_PATH, async (s) => {
      for (const n of ['bob', 'carol', 'dave']) await s.updateUser(ids[n], (cur) => ({ ...cur.data, active: false }), ctx);
    });
    const blocked = await runCli(['reconcile'], env);
    expect(blocked.code).toBe(2);
    expect(blocked.stdout).toMatch(/BLOCKED/);
    expect(fake.state.getUser('bob@example.com')?.roles).toEqual(['User']);

    const status = await runCli(['status', '--json'], env);
    expect(status.code).toBe(1);
    const s = JSON.parse(status.stdout);
    expect(s.ready).toBe(true);
    expect(s.checks.reconcile).toMatchObject({ ok: false, detail: expect.stringMatching(/held/) });
    expect(s.checks.airflow.ok).toBe(true);

    const forced = await runCli(['reconcile', '--allow-mass-deprovision'], env);
    expect(forced.code).toBe(0);
    for (const n of ['bob', 'carol', 'dave']) expect(fake.state.getUser(`${n}@example.com`)?.roles).toEqual([]);
    expect(fake.state.getUser('erin@example.com')?.roles).toEqual(['User']);
    expect(JSON.parse((await runCli(['status', '--json'], env)).stdout).checks.reconcile.ok).toBe(true);
  });

  it('audit prints SCIM and Airflow changes, filtered by user and source', async () => {
    const r = await runCli(['audit', '--json', '--user', 'bob@example.com', '--source', 'airflow'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.action)).toEqual(['create-user', 'deprovision-user']);
    expect(lines.every((l) => l.subject === 'bob@example.com' && l.source === 'airflow')).toBe(true);
    expect(JSON.stringify(lines)).not.toMatch(/"password":"(?!\[redacted\])/);
    const all = await runCli(['audit', '--since', '1h'], env);
    expect(all.stdout).toMatch(/admin\s+cli\s+token-created/);
  });

  it('reconcile without Airflow is an error (exit 1) saying so', async () => {
    const { AIRFLOW_URL: _u, ...noAirflow } = env;
    const r = await runCli(['reconcile'], { ...noAirflow, AIRFLOW_URL: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/AIRFLOW_URL is not set/);
  });

  it('reconcile with Airflow down fails with exit 1 and a message an admin can act on', async () => {
    await fake.setDown(true);
    try {
      const r = await runCli(['reconcile'], { ...env, AIRFLOW_API_VERSION: '3' });
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toMatch(/unreachable/);
    } finally {
      await fake.setDown(false);
    }
  });
});
