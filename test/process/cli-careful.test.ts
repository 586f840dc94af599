import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { CLI } from '../support/dist';
import { runCli, tempDir, withStore } from '../support/processes';

const ctx = { actor: 'test' };

/** Runs the CLI on a pseudo-terminal (util-linux script), feeding `input` to it. */
function runOnTty(args: string[], env: Record<string, string>, input: string): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let answered = false;
    const onData = (d: Buffer) => {
      out += d;
      if (!answered && /Apply these changes\?/.test(out)) {
        answered = true;
        child.stdin.write(input);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('a CLI as careful as terraform', () => {
  let fake: FakeAirflow;
  let dir: string;
  let env: Record<string, string>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    fake = await startFakeAirflow({ version: 3 });
    dir = tempDir('careful-');
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfg, ['roles:', '  mappings:', '    - group: eng', '      roles: [User]', 'safety:', '  maxDeprovisions: 1', '  maxDeprovisionPercent: 100'].join('\n'));
    env = { DATABASE_PATH: path.join(dir, 'scim.db'), AIRFLOW_URL: fake.url, AIRFLOW_API_VERSION: '3', AIRFLOW_USERNAME: 'admin', AIRFLOW_PASSWORD: 'admin', AIRFLOW_SCIM_CONFIG: cfg };
    await withStore(env.DATABASE_PATH, async (s) => {
      for (const n of ['ann', 'ben', 'cat']) ids[n] = (await s.createUser({ userName: n, active: true, name: { givenName: n, familyName: 'X' }, emails: [{ value: `${n}@corp.io`, primary: true }] }, ctx)).id;
      // zed's email is the Airflow admin's: a clash explain must name.
      ids.zed = (await s.createUser({ userName: 'zed', active: true, name: { givenName: 'Z', familyName: 'X' }, emails: [{ value: 'admin@example.com', primary: true }] }, ctx)).id;
      await s.createGroup({ displayName: 'eng' }, [ids.ann, ids.ben, ids.cat, ids.zed], ctx);
    });
  });
  afterAll(() => fake.close());

  it('every command names its database and Airflow on the first stderr line', async () => {
    const r = await runCli(['status', '--no-probe'], env);
    expect(r.stderr.split('\n')[0]).toBe(`airflow-scim: database ${env.DATABASE_PATH}; Airflow ${fake.url} (API version 3)`);
  });

  it('dry run: plan summary line and --detailed-exitcode 2 when changes are pending', async () => {
    const r = await runCli(['reconcile', '--dry-run', '--detailed-exitcode'], env);
    expect(r.stdout).toMatch(/^Plan: 3 to create, 0 to update, 0 to deprovision, 0 held back\.$/m);
    expect(r.code).toBe(2);
    expect(await runCli(['reconcile', '--detailed-exitcode'], env)).toMatchObject({ code: 1, stderr: expect.stringMatching(/--detailed-exitcode needs --dry-run/) });
  });

  it('on a terminal, reconcile shows the plan and asks; "no" applies nothing, "yes" applies', async () => {
    const no = await runOnTty(['reconcile'], env, 'no\n');
    expect(no.out).toMatch(/Plan: 3 to create/);
    expect(no.out).toMatch(/Nothing applied/);
    expect(no.code).toBe(1);
    expect(fake.state.getUser('ann')).toBeUndefined();
    const yes = await runOnTty(['reconcile'], env, 'yes\n');
    expect(yes.code).toBe(0);
    expect(fake.state.getUser('ann')?.roles).toEqual(['User']);
  });

  it('--detailed-exitcode: 0 no changes, 3 blocked, 1 error', async () => {
    await runCli(['reconcile', '--yes'], env);
    expect((await runCli(['reconcile', '--dry-run', '--detailed-exitcode'], env)).code).toBe(0);
    await withStore(env.DATABASE_PATH, async (s) => {
      for (const n of ['ann', 'ben']) await s.updateUser(ids[n], (u) => ({ ...u.data, active: false }), ctx);
    });
    const blocked = await runCli(['reconcile', '--dry-run', '--detailed-exitcode'], env);
    expect(blocked.stdout).toMatch(/^Plan: 0 to create, 0 to update, 2 to deprovision, 2 held back\.$/m);
    expect(blocked.code).toBe(3);
    await fake.setDown(true);
    try {
      expect((await runCli(['reconcile', '--dry-run', '--detailed-exitcode'], env)).code).toBe(1);
    } finally {
      await fake.setDown(false);
    }
  });

  it('explain: unknown user exits 1; shows Airflow roles now beside the wanted ones; names an email clash', async () => {
    const unknown = await runCli(['explain', 'nobody'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout + unknown.stderr).toMatch(/no SCIM user/);
    const cat = await runCli(['explain', 'cat'], env);
    expect(cat.code).toBe(0);
    expect(cat.stdout).toMatch(/Desired roles: User/);
    expect(cat.stdout).toMatch(/Airflow roles now: User/);
    const zed = await runCli(['explain', 'zed'], env);
    expect(zed.stdout).toMatch(/Email clash: Airflow user "admin" already has admin@example.com/);
    expect(zed.stdout).toMatch(/Airflow roles now: \(no account\)/);
  });

  it('audit --limit N returns the newest N; --user includes group changes with member names', async () => {
    const all = (await runCli(['audit', '--json'], env)).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const last2 = (await runCli(['audit', '--json', '--limit', '2'], env)).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(last2.map((e) => e.id)).toEqual(all.slice(-2).map((e) => e.id));
    const mine = await runCli(['audit', '--user', 'cat'], env);
    expect(mine.stdout).toMatch(/eng/);
    expect(mine.stdout).toMatch(/"added":\[[^\]]*"cat"/);
    expect(mine.stdout).not.toContain(ids.cat);
  });

  it('users and groups: a table and --json with Airflow username, state and roles', async () => {
    const users = await runCli(['users'], env);
    expect(users.code).toBe(0);
    expect(users.stdout).toMatch(/^USERNAME\s+AIRFLOW USERNAME\s+STATE\s+ROLES/m);
    expect(users.stdout).toMatch(/^cat\s+cat\s+active\s+User/m);
    expect(users.stdout).toMatch(/^ann\s+ann\s+inactive\s+-/m);
    const json = JSON.parse((await runCli(['users', '--json'], env)).stdout);
    expect(json).toContainEqual(expect.objectContaining({ userName: 'cat', airflowUsername: 'cat', state: 'active', roles: ['User'], groups: ['eng'] }));
    const groups = await runCli(['groups', '--json'], env);
    expect(JSON.parse(groups.stdout)).toEqual([expect.objectContaining({ displayName: 'eng', members: 4, roles: ['User'] })]);
  });

  it('read-only commands never create a database: an error names the path', async () => {
    const missing = path.join(tempDir('nodb-'), 'nope', 'scim.db');
    for (const cmd of [['tokens', 'list'], ['status'], ['audit'], ['explain', 'x'], ['users'], ['groups']]) {
      const r = await runCli(cmd, { ...env, DATABASE_PATH: missing });
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 1 });
      expect(r.stderr).toContain(`no database at ${missing}`);
    }
    expect(fs.existsSync(path.dirname(missing))).toBe(false);
  });
});
