/**
 * The real Airflow servers our Airflow code is judged by (issue 7). Versions were looked up with
 * `pip index versions` on 2026-12-02; each target installs from its own file in requirements/.
 */

export interface RealAirflowTarget {
  /** Selects the target in REAL_AIRFLOW_TARGETS. */
  id: string;
  label: string;
  requirements: string;
  airflowVersion: string;
  fabVersion: string;
  apiVersion: 2 | 3;
  /** FAB AUTH_TYPE in webserver_config.py. */
  authType: 'AUTH_DB' | 'AUTH_OAUTH';
  /** What role PATCH does with the permissions it is sent (real-airflow.md §1). */
  rolePatch: 'add' | 'replace';
  /** Run by `npm run test:airflow` when REAL_AIRFLOW_TARGETS is unset (and so by CI). */
  default: boolean;
}

export const TARGETS: RealAirflowTarget[] = [
  {
    id: '2.10.5', label: 'Airflow 2.10.5, FAB 1.5.3, basic auth', requirements: 'airflow-2.10.5.txt',
    airflowVersion: '2.10.5', fabVersion: '1.5.3', apiVersion: 2, authType: 'AUTH_DB', rolePatch: 'add', default: true,
  },
  {
    id: '3.3.2', label: 'Airflow 3.3.2, FAB 3.10.2, AUTH_DB', requirements: 'airflow-3.3.2-fab-3.10.2.txt',
    airflowVersion: '3.3.2', fabVersion: '3.10.2', apiVersion: 3, authType: 'AUTH_DB', rolePatch: 'replace', default: true,
  },
  {
    id: '3.3.2-oauth', label: 'Airflow 3.3.2, FAB 3.10.2, AUTH_OAUTH', requirements: 'airflow-3.3.2-fab-3.10.2-oauth.txt',
    airflowVersion: '3.3.2', fabVersion: '3.10.2', apiVersion: 3, authType: 'AUTH_OAUTH', rolePatch: 'replace', default: true,
  },
  {
    id: '3.3.2-fab-3.8.0', label: 'Airflow 3.3.2, FAB 3.8.0 (additive role PATCH), AUTH_DB', requirements: 'airflow-3.3.2-fab-3.8.0.txt',
    airflowVersion: '3.3.2', fabVersion: '3.8.0', apiVersion: 3, authType: 'AUTH_DB', rolePatch: 'add', default: true,
  },
];

/** The targets named by REAL_AIRFLOW_TARGETS (comma-separated ids, or "all"), else the default ones. */
export function selectedTargets(env: NodeJS.ProcessEnv = process.env): RealAirflowTarget[] {
  const raw = env['REAL_AIRFLOW_TARGETS']?.trim();
  if (!raw) return TARGETS.filter((t) => t.default);
  if (raw === 'all') return TARGETS;
  const ids = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = ids.filter((id) => !TARGETS.some((t) => t.id === id));
  if (unknown.length) throw new Error(`REAL_AIRFLOW_TARGETS: unknown target(s) ${unknown.join(', ')}; known: ${TARGETS.map((t) => t.id).join(', ')}`);
  return TARGETS.filter((t) => ids.includes(t.id));
}
