/** Stops every server the global set-up started (by process group) and removes their homes unless kept. */
import fs from 'node:fs';
import { stop, type RealAirflowServer } from './server';

export default async function globalTeardown(): Promise<void> {
  const servers = JSON.parse(process.env['REAL_AIRFLOW_SERVERS'] ?? '[]') as RealAirflowServer[];
  await Promise.all(servers.map((s) => stop(s)));
  if (process.env['REAL_AIRFLOW_KEEP'] !== '1') for (const s of servers) fs.rmSync(s.home, { recursive: true, force: true });
}
