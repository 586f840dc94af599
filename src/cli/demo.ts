import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { loadConfig } from '../config/load';
import { startFakeAirflow } from '../fake-airflow/fake-airflow';
import { buildContainer } from '../server/container';
import { startService } from '../server/serve';
import { createLogger } from '../logger';
import { ENTRA, OKTA, type DemoStep } from '../demo/sequences';
import { formatReport, table } from './format';

export interface DemoOptions {
  airflow: 2 | 3;
  replay?: 'okta' | 'entra';
  port: number;
  exitAfter: boolean;
}

/** A throw-away world: fake Airflow + the service on a temp database, with a sample mapping. */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-scim-demo-'));
  const fake = await startFakeAirflow({ version: opts.airflow, port: 0 });
  const config = loadConfig({
    overrides: {
      server: { port: opts.port, host: '127.0.0.1', metricsPort: 0 },
      database: { path: path.join(dir, 'demo.db') },
      logging: { level: 'warn' },
      airflow: { url: fake.url, apiVersion: String(opts.airflow), apiUser: 'admin', apiPassword: 'admin' },
      roles: {
        mappings: [
          { group: 'airflow-admins', roles: ['Admin'] },
          { group: 'data-engineers', roles: ['User'] },
          { groupPattern: 'viewers-*', roles: ['Viewer'] },
        ],
      },
      safety: { protectedUsers: ['admin'] },
    },
  });
  const c = buildContainer(config, { logger: createLogger('warn') });
  const { secret } = c.tokens.create('demo');
  const svc = await startService(c);
  const out = (s: string) => process.stdout.write(s + '\n');
  out(`Fake Airflow ${opts.airflow}.x:  ${fake.url}  (API user admin / admin)`);
  out(`SCIM base URL:     ${svc.url}`);
  out(`Bearer token:      ${secret}`);
  out(`Metrics:           ${svc.metricsUrl}`);
  out(`Database:          ${config.database.path}`);
  out(`Try: curl -H "Authorization: Bearer ${secret}" ${svc.url}/Users`);

  if (opts.replay) {
    const steps = opts.replay === 'okta' ? OKTA : ENTRA;
    await replay(steps, svc.url, secret, out);
    await waitForQuiet(c, 5000);
    out('\nAirflow users now:');
    const users = fake.state.listUsers();
    out(table(['USERNAME', 'EMAIL', 'NAME', 'ROLES'], users.map((u) => [u.username, u.email, `${u.firstName} ${u.lastName}`, u.roles.join(', ') || '(none)'])));
    const runs = c.audit.query({ source: 'airflow' }).length;
    const last = c.state.lastRun();
    if (last) out(`\nLast reconcile run (${runs} Airflow change(s) so far):\n${formatReport(last)}`);
    out('\nAudit trail (Airflow changes):');
    const entries = c.audit.query({ source: 'airflow' });
    out(table(['TIME', 'ACTION', 'SUBJECT', 'OUTCOME'], entries.map((e) => [e.at, e.action, e.subject ?? '-', e.outcome])));
    out('\nExplain a user with: airflow-scim explain <userName> (against this database: DATABASE_PATH=' + config.database.path + ')');
  }
  const stop = async () => {
    await svc.stop();
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  if (opts.exitAfter) return stop();
  out('\nRunning. Ctrl-C to stop (the temporary database is removed).');
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await stop();
}

async function replay(steps: DemoStep[], base: string, token: string, out: (s: string) => void): Promise<void> {
  const ids = new Map<string, string>();
  const fill = (s: string) => s.replace(/\{\{(user|group):([^}]+)\}\}/g, (_, _kind, name) => ids.get(name) ?? name);
  for (const step of steps) {
    const body = step.body === undefined ? undefined : JSON.parse(fill(JSON.stringify(step.body)));
    const res = await axios.request({
      method: step.method,
      url: base + fill(step.path),
      data: body,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
      validateStatus: () => true,
    });
    out(`  ${String(res.status).padEnd(4)} ${step.method.padEnd(6)} ${fill(step.path).slice(0, 60).padEnd(60)} ${step.say}`);
    if (step.save && res.data?.id) ids.set(step.save, res.data.id);
  }
}

async function waitForQuiet(c: ReturnType<typeof buildContainer>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const last = c.state.lastRun();
    if (last && last.seq >= c.store.latestSeq() && last.result !== 'failed') return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
