import { spawn } from 'node:child_process';
import path from 'node:path';
import { CLI } from '../support/dist';
import { runCli, tempDir } from '../support/processes';

const PASSWORD = 'hunter2-in-the-url';

/** `serve` to completion (it must refuse to start); stdout and stderr together. */
function serveOnce(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, LOG_LEVEL: 'info', PORT: '0', METRICS_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Everywhere the Airflow URL is printed (start-up log, `status --json`, /readyz behind it) a password cannot appear. */
describe('credentials in AIRFLOW_URL', () => {
  const env = () => ({ DATABASE_PATH: path.join(tempDir('secrets-'), 'scim.db'), AIRFLOW_URL: `http://scim-sync:${PASSWORD}@127.0.0.1:9/` });

  it('serve refuses to start, naming AIRFLOW_URL, and prints no password', async () => {
    const r = await serveOnce(env());
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/airflow\.url \(from AIRFLOW_URL\): must not carry credentials/);
    expect(r.out).not.toContain(PASSWORD);
  });

  it('status --json refuses too, and prints no password', async () => {
    const r = await runCli(['status', '--json'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/AIRFLOW_URL/);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });
});
