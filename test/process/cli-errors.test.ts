import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startFakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { CLI } from '../support/dist';
import { runCli, tempDir } from '../support/processes';

describe('clear errors for the mistakes people make', () => {
  it('every option value is validated before anything runs, naming the option', async () => {
    const env = { DATABASE_PATH: path.join(tempDir('opts-'), 'scim.db') };
    for (const [args, option] of [
      [['audit', '--limit', 'abc'], '--limit'],
      [['audit', '--limit', '0'], '--limit'],
      [['audit', '--since', 'yesterday'], '--since'],
      [['reconcile', '--wait', 'soon'], '--wait'],
      [['tokens', 'create', '--name', 'x', '--expires-in', '3 months'], '--expires-in'],
      [['demo', '--port', 'http'], '--port'],
    ] as const) {
      const r = await runCli([...args], env);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toContain(`option '${option}`);
      expect(r.stderr).not.toMatch(/SqliteError|RangeError|at .*\.js:\d+/);
    }
  });

  it('a DATABASE_PATH that cannot hold a database fails at once, naming the path', async () => {
    for (const [p, why] of [
      ['/proc/airflow-scim.db', /kernel's proc filesystem/],
      [tempDir('dbdir-'), /is a directory/],
    ] as const) {
      const r = await runCli(['tokens', 'create', '--name', 'x'], { DATABASE_PATH: p });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`error: database ${p} (DATABASE_PATH or database.path)`);
      expect(r.stderr).toMatch(why);
    }
  });

  it('tokens list shows each token\'s state; a second active token with the same name is refused', async () => {
    const env = { DATABASE_PATH: path.join(tempDir('tok-'), 'scim.db') };
    expect((await runCli(['tokens', 'create', '--name', 'old'], env)).code).toBe(0);
    expect((await runCli(['tokens', 'revoke', 'old'], env)).code).toBe(0);
    expect((await runCli(['tokens', 'create', '--name', 'okta'], env)).code).toBe(0);
    const again = await runCli(['tokens', 'create', '--name', 'okta'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists.*revoke it first/);
    const list = await runCli(['tokens', 'list'], env);
    expect(list.stdout).toMatch(/^NAME\s+STATE/m);
    expect(list.stdout).toMatch(/^old\s+revoked/m);
    expect(list.stdout).toMatch(/^okta\s+active/m);
  });
});

describe('demo', () => {
  const demoEnv = (tmp: string) => ({ ...process.env, TMPDIR: tmp, LOG_LEVEL: 'warn' });

  it('runs a four-phase tutorial on a free port and removes its temp folder', async () => {
    const tmp = tempDir('demo-tmp-');
    const r = await runCli(['demo', '--replay', 'okta', '--exit'], { TMPDIR: tmp });
    expect(r.code).toBe(0);
    for (const title of ['=== 1/4 Provisioning', '=== 2/4 Deprovisioning', '=== 3/4 A mass deprovision, held', '=== 4/4 An admin releases']) expect(r.stdout).toContain(title);
    expect(r.stdout).toMatch(/reconcile_blocked 1/);
    expect(r.stdout).toMatch(/reconcile_blocked 0/);
    expect(r.stdout).not.toMatch(/:8080\//);
    expect(fs.readdirSync(tmp)).toEqual([]);
  }, 60_000);

  it('on a busy port it says so and leaves no temp folder', async () => {
    const tmp = tempDir('demo-busy-');
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const { port } = busy.address() as net.AddressInfo;
    try {
      const r = await runCli(['demo', '--port', String(port), '--exit'], { TMPDIR: tmp });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${port} is already in use (set by demo --port)`);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      busy.close();
    }
  });

  it('SIGTERM removes its temp folder', async () => {
    const tmp = tempDir('demo-term-');
    const child = spawn(process.execPath, [CLI, 'demo'], { env: demoEnv(tmp), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('Running.')) resolve();
      }),
    );
    expect(fs.readdirSync(tmp)).toHaveLength(1);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});

describe('a forced AIRFLOW_API_VERSION that does not match the server', () => {
  it('status and reconcile say so, instead of only blaming the credentials', async () => {
    for (const [server, forced, version] of [
      [3, '2', '3.3.2'],
      [2, '3', '2.10.5'],
    ] as const) {
      const fake = await startFakeAirflow({ version: server });
      try {
        const env = { DATABASE_PATH: path.join(tempDir('forced-'), 'scim.db'), AIRFLOW_URL: fake.url, AIRFLOW_API_VERSION: forced, AIRFLOW_USERNAME: 'admin', AIRFLOW_PASSWORD: 'admin' };
        const expected = `AIRFLOW_API_VERSION is forced to ${forced}, but ${fake.url} is Airflow ${version}: set it to ${server} or auto`;
        const run = await runCli(['reconcile', '--yes'], env);
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(expected);
        const status = await runCli(['status'], env);
        expect(status.stdout).toContain(expected);
      } finally {
        await fake.close();
      }
    }
  });
});
