/** Builds the access review report (reconcile/report.ts) from a container: reads Airflow live. CLI and admin API share it. */
import { desiredState } from '../reconcile/desired';
import { accessReport, type AccessReport } from '../reconcile/report';
import { ownershipMap } from '../reconcile/state';
import type { Container } from './container';

export async function buildAccessReport(c: Pick<Container, 'airflow' | 'store' | 'config' | 'audit' | 'clock' | 'state'>): Promise<AccessReport> {
  if (!c.airflow) throw new Error('the access report reads Airflow: set AIRFLOW_URL (and the service account)');
  const [users, roles, info] = await Promise.all([c.airflow.listUsers(), c.airflow.listRoles(), c.airflow.info()]);
  const snapshot = await c.store.snapshot();
  const cfg = c.config;
  const desired = desiredState(snapshot, { usernameTemplate: cfg.airflow.username, mappings: cfg.roles.mappings, defaultRoles: cfg.roles.default, custom: cfg.roles.custom });
  const lastAirflowChange = new Map<string, string>();
  for (const e of await c.audit.query({ source: 'airflow' })) if (e.subject && e.outcome === 'success') lastAirflowChange.set(e.subject.toLowerCase(), e.at);
  return accessReport({
    now: c.clock.now(), airflowUrl: cfg.airflow.url ?? '', airflowVersion: info.version ?? null, snapshot, desired, users, roles,
    owned: await ownershipMap(c.state), protectedUsers: cfg.safety.protectedUsers, serviceAccount: cfg.airflow.apiUser, lastAirflowChange,
  });
}
