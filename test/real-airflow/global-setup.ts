/** Starts every selected real Airflow target at once and hands them to the test files (REAL_AIRFLOW_SERVERS). */
import fs from 'node:fs';
import path from 'node:path';
import { prepare, start, stop, type RealAirflowServer } from './server';
import { selectedTargets } from './targets';

export default async function globalSetup(): Promise<void> {
  const targets = selectedTargets();
  const t0 = Date.now();
  const results = await Promise.allSettled(
    targets.map(async (t) => {
      const s = await prepare(t);
      await start(s);
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
  fs.writeFileSync(path.join(require('node:os').tmpdir(), 'real-airflow-servers.json'), JSON.stringify(servers, null, 2));
  console.log(`\nreal Airflow ready in ${Math.round((Date.now() - t0) / 1000)}s: ${servers.map((s: RealAirflowServer) => `${s.target.id} at ${s.url}`).join(', ')}`);
}
