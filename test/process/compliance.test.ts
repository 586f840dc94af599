/** Issue 12 through the real CLI against the fake Airflow: attribute mapping rules, token hygiene, the webhook. */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { runCli, tempDir, withStore } from '../support/processes';

const ctx = { actor: 'test' };
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('compliance features through the CLI', () => {
  let fake: FakeAirflow;
  let env: Record<string, string>;
  let hook: http.Server;
  const posts: string[] = [];

  beforeAll(async () => {
    fake = await startFakeAirflow({ version: 2 });
    hook = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => {
        posts.push(raw);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const dir = tempDir('compliance-');
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfg, [
      'roles:', '  mappings:', `    - filter: '${ENT}:department eq "Finance"'`, '      roles: [Viewer]', '    - group: eng', '      roles: [User]',
      'safety:', '  maxDeprovisions: 1', '  maxDeprovisionPercent: 100',
    ].join('\n'));
    env = {
      DATABASE_PATH: path.join(dir, 'scim.db'), AIRFLOW_URL: fake.url, AIRFLOW_USERNAME: 'admin', AIRFLOW_PASSWORD: 'admin', AIRFLOW_SCIM_CONFIG: cfg,
      NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
    };
    await withStore(env.DATABASE_PATH, async (s) => {
      await s.createUser({ userName: 'fiona', active: true, [ENT]: { department: 'Finance' } }, ctx);
      const a = (await s.createUser({ userName: 'al', active: true }, ctx)).id;
      const b = (await s.createUser({ userName: 'bo', active: true }, ctx)).id;
      await s.createGroup({ displayName: 'eng' }, [a, b], ctx);
    });
  });
  afterAll(async () => {
    await fake.close();
    await new Promise<void>((r) => hook.close(() => r()));
  });

  it('an attribute rule provisions exactly the matching user, and explain names the rule and the value', async () => {
    expect((await runCli(['reconcile', '--yes'], env)).code).toBe(0);
    expect(fake.state.getUser('fiona')?.roles).toEqual(['Viewer']);
    expect(fake.state.getUser('al')?.roles).toEqual(['User']);
    const e = await runCli(['explain', 'fiona', '--no-airflow'], env);
    expect(e.stdout).toContain(`filter: ${ENT}:department eq "Finance" (the user's department = "Finance") -> Viewer`);
  });

  it('status warns about a token that expires within 14 days, without failing a check', async () => {
    expect((await runCli(['tokens', 'create', '--name', 'okta', '--expires-in', '5d'], env)).code).toBe(0);
    const s = await runCli(['status', '--no-probe'], env);
    expect(s.stdout).toMatch(/^WARNING token "okta" expires in 5 day\(s\)/m);
  });

  it('a block is announced to the webhook from the CLI run too', async () => {
    await withStore(env.DATABASE_PATH, async (s) => {
      for (const u of (await s.snapshot()).users.filter((x) => x.data.userName === 'al' || x.data.userName === 'bo')) await s.updateUser(u.id, (c) => ({ ...c.data, active: false }), ctx);
    });
    expect((await runCli(['reconcile', '--yes'], env)).code).toBe(2);
    const deadline = Date.now() + 5000;
    while (posts.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(JSON.parse(posts[0] ?? '{}')).toEqual({ text: expect.stringMatching(/^airflow-scim-sync: 2 change\(s\) held by the safety limits \(al, bo\)/) });
  });
});
