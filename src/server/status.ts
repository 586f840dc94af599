import type { Db } from '../store/database';
import { MIGRATIONS } from '../store/migrations';
import type { AirflowClient } from '../airflow/types';
import type { ReconcileState } from '../reconcile/state';
import type { IdentityStore } from '../store/types';

export interface Check {
  ok: boolean;
  detail?: string;
}

export interface ServiceStatus {
  /** Ready = database open and migrated. Airflow problems are reported, never fail readiness. */
  ready: boolean;
  checks: {
    database: Check;
    migrations: Check;
    airflow: Check;
    reconcile: Check;
  };
  lastRun?: { result: string; started: string; finished: string; error?: string };
  pendingChanges: number;
  blocked?: unknown;
}

export interface StatusDeps {
  db: Db;
  store: IdentityStore;
  state: ReconcileState;
  airflow: AirflowClient | null;
}

/** One answer for both /readyz and `airflow-scim status`, so they agree on what is wrong. */
/**
 * probeAirflow asks Airflow now (the CLI); airflowCheck reads what a background check found (/readyz, which must
 * answer in milliseconds whatever Airflow does).
 */
export async function serviceStatus(deps: StatusDeps, opts: { probeAirflow: boolean; airflowCheck?: () => Check } = { probeAirflow: true }): Promise<ServiceStatus> {
  const database = safe(() => {
    deps.db.prepare('SELECT 1').get();
    return { ok: true };
  });
  const migrations = safe(() => {
    const v = deps.db.pragma('user_version', { simple: true }) as number;
    return v === MIGRATIONS.length ? { ok: true, detail: `schema version ${v}` } : { ok: false, detail: `schema version ${v}, expected ${MIGRATIONS.length}` };
  });
  let airflow: Check = { ok: true, detail: 'not configured (AIRFLOW_URL unset): SCIM only' };
  if (deps.airflow && opts.airflowCheck) {
    airflow = opts.airflowCheck();
  } else if (deps.airflow && opts.probeAirflow) {
    try {
      const info = await deps.airflow.info();
      airflow = { ok: true, detail: `Airflow ${info.version ?? info.apiVersion + '.x'} at ${info.basePath}, credentials accepted` };
    } catch (e) {
      airflow = { ok: false, detail: (e as Error).message };
    }
  } else if (deps.airflow) {
    airflow = { ok: true, detail: 'configured (not probed)' };
  }
  // A broken database already fails the checks above; here its reads just come back empty.
  const lastRun = attempt(() => deps.state.lastRun());
  const blockedRaw = attempt(() => deps.state.getKv('blocked'));
  const blocked = blockedRaw ? JSON.parse(blockedRaw) : undefined;
  const seenSeq = lastRun?.seq ?? 0;
  const pendingChanges = deps.airflow ? Math.max(0, deps.store.latestSeq() - seenSeq) : 0;
  let reconcile: Check;
  if (!deps.airflow) reconcile = { ok: true, detail: 'idle: no Airflow configured' };
  else if (blocked) reconcile = { ok: false, detail: `deprovisions held by the safety limits: ${blocked.reason ?? 'see status'}` };
  else if (!lastRun) reconcile = { ok: true, detail: 'no run yet' };
  else if (lastRun.result === 'failed' || lastRun.result === 'partial')
    reconcile = { ok: false, detail: `last run ${lastRun.result} at ${lastRun.finished}${lastRun.error ? ': ' + lastRun.error : ''}` };
  else reconcile = { ok: true, detail: `last run ${lastRun.result} at ${lastRun.finished}` };
  return {
    ready: isCheck(database) && database.ok && isCheck(migrations) && migrations.ok,
    checks: { database: asCheck(database), migrations: asCheck(migrations), airflow, reconcile },
    lastRun: lastRun ? { result: lastRun.result, started: lastRun.started, finished: lastRun.finished, error: lastRun.error } : undefined,
    pendingChanges,
    blocked,
  };
}

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function safe<T>(fn: () => T): T | Check {
  try {
    return fn();
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
}
const isCheck = (v: unknown): v is Check => typeof v === 'object' && v !== null && 'ok' in v;
const asCheck = (v: unknown): Check => (isCheck(v) ? v : { ok: true });
