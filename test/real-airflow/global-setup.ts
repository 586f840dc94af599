/** Starts every selected real Airflow target at once and hands them to the test files (REAL_AIRFLOW_SERVERS). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAirflowClient } from '../../src/airflow/detect';
import { parseConfig } from '../../src/config/load';
import { silentLogger } from '../../src/logger';
import { BREAK_GLASS, prepare, PROVISIONER_ROLE, SERVICE_ACCOUNT, start, stop, type RealAirflowServer } from './server';
import { selectedTargets } from './targets';

export default async function globalSetup(): Promise<void> {
  const targets = selectedTargets();
  const t0 = Date.now();
  const results = await Promise.allSettled(
    targets.map(async (t) => {
      const s = await prepare(t);
      await start(s);
      if (t.authType !== 'AUTH_DB') await grantUserCreation(s);
      return s;
    }),
  );
  const servers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${targets[i].id}: ${String((r.reason as Error)?.message ?? r.reason)}`] : []));
  if (failed.length) {
    await Promise.all(servers.map((s) => stop(s)));
    throw new Error(`real Airflow set-up failed:\n${failed.join('\n')}`);
  }
  process.env['REAL_AIRFLOW_SERVERS'] = JSON.stringify(servers);
  fs.writeFileSync(path.join(os.tmpdir(), 'real-airflow-servers.json'), JSON.stringify(servers, null, 2));
  console.log(`\nreal Airflow ready in ${Math.round((Date.now() - t0) / 1000)}s: ${servers.map((s: RealAirflowServer) => `${s.target.id} at ${s.url}`).join(', ')}`);
}

/**
 * Under SSO FAB gives no one can_create on Users and deletes that permission at every start (found on 3.3.2 with
 * AUTH_OAUTH), so `airflow roles add-perms` adds nothing. With [fab] update_fab_perms off (fabPermsFrozen), a role
 * created through the REST API makes the pair and keeps it; the service account gets it as a second role (README).
 */
async function grantUserCreation(s: RealAirflowServer): Promise<void> {
  const cfg = parseConfig({ airflow: { url: s.url, apiVersion: '3', apiUser: BREAK_GLASS.username, apiPassword: BREAK_GLASS.password } });
  const admin = createAirflowClient(cfg.airflow, silentLogger());
  await admin.createRole({ name: PROVISIONER_ROLE, permissions: [['can_create', 'Users']] });
  await admin.updateUser(SERVICE_ACCOUNT.username, { roles: ['Admin', PROVISIONER_ROLE] });
}
