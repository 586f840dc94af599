/** Issue 12: the access review report through the real CLI, reading the fake Airflow live. */
import fs from 'node:fs';
import path from 'node:path';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { runCli, tempDir, withStore } from '../support/processes';

const ctx = { actor: 'test' };

describe('airflow-scim report access', () => {
  let fake: FakeAirflow;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    fake = await startFakeAirflow({ version: 3 });
    dir = tempDir('report-');
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfg, [
      'roles:', '  mappings:', '    - group: eng', '      roles: [User, fin]', '  custom:', '    fin:', '      permissions:', '        - [can_read, "DAG:finance_daily"]',
      'safety:', '  protectedUsers: [breakglass]',
    ].join('\n'));
    env = { DATABASE_PATH: path.join(dir, 'scim.db'), AIRFLOW_URL: fake.url, AIRFLOW_API_VERSION: '3', AIRFLOW_USERNAME: 'admin', AIRFLOW_PASSWORD: 'admin', AIRFLOW_SCIM_CONFIG: cfg };
    fake.state.addUser({ username: 'breakglass', roles: ['Admin'] });
    fake.state.addUser({ username: 'old.contractor', roles: ['Admin'] }); // unmanaged with Admin: a flag
    await withStore(env.DATABASE_PATH, async (s) => {
      const ann = (await s.createUser({ userName: 'ann', active: true, emails: [{ value: 'ann@corp.io', primary: true }] }, ctx)).id;
      const ben = (await s.createUser({ userName: 'ben', active: true, emails: [{ value: 'ben@corp.io', primary: true }] }, ctx)).id;
      await s.createGroup({ displayName: 'eng' }, [ann, ben], ctx);
    });
    expect((await runCli(['reconcile', '--yes'], env)).code).toBe(0);
    fake.state.getUser('ben')!.roles = ['User', 'fin', 'Op']; // drift made by hand
    fake.state.grant('fin', [['can_edit', 'DAG:finance_daily']]); // beyond its definition
  });
  afterAll(() => fake.close());

  it('lists every account with how it is held, why, and flags; every role with permissions and holders', async () => {
    const r = await runCli(['report', 'access', '--format', 'json'], env);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      airflow: { url: string; version: string }; scimSeq: number;
      accounts: Array<{ username: string; holding: string; why: string; flags: string[]; idpLastChange: string | null; airflowLastChange: string | null }>;
      roles: Array<{ name: string; custom: boolean; permissions: string[]; managedHolders: number; unmanagedHolders: number; flags: string[] }>;
    };
    expect(report.airflow).toEqual({ url: fake.url, version: '3.3.2' });
    expect(report.scimSeq).toBeGreaterThan(0);
    const by = new Map(report.accounts.map((a) => [a.username, a]));
    expect(by.get('admin')?.holding).toBe('service-account');
    expect(by.get('breakglass')?.holding).toBe('protected');
    expect(by.get('old.contractor')).toMatchObject({ holding: 'unmanaged', flags: ['unmanaged account with Admin'] });
    expect(by.get('ann')).toMatchObject({ holding: 'managed', why: 'group eng (group: eng) -> User, fin', flags: [] });
    expect(by.get('ann')?.idpLastChange).toEqual(expect.any(String));
    expect(by.get('ann')?.airflowLastChange).toEqual(expect.any(String));
    expect(by.get('ben')?.flags).toEqual([expect.stringMatching(/^roles differ from the mapping: has \[Op, User, fin\], mapped \[User, fin\]/)]);
    const fin = report.roles.find((x) => x.name === 'fin');
    expect(fin).toMatchObject({ custom: true, managedHolders: 2, unmanagedHolders: 0, flags: ['permissions beyond its definition: can_edit on DAG:finance_daily'] });
    expect(fin?.permissions).toEqual(['can_read on Website', 'DAG finance_daily: can_edit, can_read']); // DAG-level ones by DAG
  });

  it('writes Markdown for an audit attachment, with the header naming time, Airflow and the SCIM sequence', async () => {
    const out = path.join(dir, 'review.md');
    const r = await runCli(['report', 'access', '--format', 'md', '--out', out], env);
    expect(r.code).toBe(0);
    const md = fs.readFileSync(out, 'utf8');
    expect(md).toMatch(new RegExp(`^# Airflow access review, \\d{4}-\\d\\d-\\d\\dT.*: ${fake.url.replace(/[.]/g, '\\.')} \\(Airflow 3\\.3\\.2\\), SCIM state sequence \\d+$`, 'm'));
    expect(md).toMatch(/^\| old\.contractor \| .* \| unmanaged \| .*unmanaged account with Admin \|$/m);
    expect(md).toContain('## Roles');
    expect((await runCli(['report', 'access', '--format', 'csv'], env)).stdout.split('\n')[0]).toBe('USERNAME,EMAIL,ROLES,HELD AS,WHY,IDP LAST CHANGE,AIRFLOW LAST CHANGE,FLAGS');
  });
});
