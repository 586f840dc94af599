import type { AirflowClient } from '../airflow/types';
import type { ReconcileState } from '../reconcile/state';
import type { RunReport } from '../reconcile/types';
import { isFailedResult, runOrigin, type RunOrigin, type RunResult } from '../store/reconcile-state';
import type { SqlDriver } from '../store/sql/driver';
import type { TokenStore } from '../store/token-types';
import { describeHolder, type LeaseStore } from '../store/lease-types';
import { tokenWarnings } from '../scim/tokens';
import { blockedKey, pendingChanges as pendingChanges_ } from '../reconcile/state-keys';
import type { IdentityStore } from '../store/types';
import type { Logger } from '../logger';

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
  /** The run that decides the reconcile check: the service's latest, or a newer CLI run that did not fail. */
  lastRun?: RunSummary;
  /** The latest one-off CLI run, whatever its result (a failed one is reported here, not as the service's problem). */
  lastCliRun?: RunSummary;
  /** pendingChanges() in state-keys.ts: the same number /metrics exports as reconcile_pending_changes. */
  pendingChanges: number;
  blocked?: unknown;
  /** Airflow usernames nobody is given (plan drift username-collision of the last run), naming the SCIM users. */
  collisions?: Array<{ username: string; scimUserIds: string[]; note: string }>;
  /** Tokens to rotate (expiring within 14 days) or revoke (unused for 30 days); never a failed check. */
  warnings?: string[];
  /** The replica that reconciles now (the 'leader' lease), or null when no service is reconciling. */
  leader?: string | null;
}

export interface RunSummary {
  result: RunResult;
  trigger: string;
  origin: RunOrigin;
  started: string;
  finished: string;
  error?: string;
}

const summary = (r: RunReport): RunSummary => ({
  result: r.result,
  trigger: r.trigger,
  origin: runOrigin(r),
  started: r.started,
  finished: r.finished,
  ...(r.error ? { error: r.error } : {}),
});

export interface StatusDeps {
  driver: SqlDriver;
  /** For the leader line; absent: not reported. */
  leases?: LeaseStore;
  tokenStore: TokenStore;
  store: IdentityStore;
  state: ReconcileState;
  airflow: AirflowClient | null;
  /** Where a corrupt reconcile state value is reported (state-keys.ts); absent: stderr. */
  logger?: Pick<Logger, 'warn'>;
}

/** One answer for both /readyz and `airflow-scim status`, so they agree on what is wrong. */
/**
 * probeAirflow asks Airflow now (the CLI); airflowCheck reads what a background check found (/readyz, which must
 * answer in milliseconds whatever Airflow does).
 */
export async function serviceStatus(
  deps: StatusDeps,
  opts: { probeAirflow: boolean; airflowCheck?: () => Check; diagnose?: () => Promise<string | undefined> } = { probeAirflow: true },
): Promise<ServiceStatus> {
  const database = await safe(async () => {
    await deps.driver.get('SELECT 1');
    return { ok: true, detail: deps.driver.describe };
  });
  const migrations = await safe(async () => {
    const { current, expected } = await deps.driver.schemaVersion();
    return current === expected ? { ok: true, detail: `schema version ${current}` } : { ok: false, detail: `schema version ${current}, expected ${expected}` };
  });
  let airflow: Check = { ok: true, detail: 'not configured (AIRFLOW_URL unset): SCIM only' };
  if (deps.airflow && opts.airflowCheck) {
    airflow = opts.airflowCheck();
  } else if (deps.airflow && opts.probeAirflow) {
    try {
      const info = await deps.airflow.info();
      airflow = { ok: true, detail: `Airflow ${info.version ?? info.apiVersion + '.x'} at ${info.basePath}, credentials accepted` };
    } catch (e) {
      const mismatch = await opts.diagnose?.();
      airflow = { ok: false, detail: mismatch ? `${mismatch} (${(e as Error).message})` : (e as Error).message };
    }
  } else if (deps.airflow) {
    airflow = { ok: true, detail: 'configured (not probed)' };
  }
  // A broken database already fails the checks above; here its reads just come back empty.
  const serviceRun = await attempt(() => deps.state.lastRun({ origin: 'service' }));
  const cliRun = await attempt(() => deps.state.lastRun({ origin: 'cli' }));
  const cliOk = await attempt(() => deps.state.lastRun({ origin: 'cli', ok: true }));
  // A one-off CLI run that failed is the operator's to see (lastCliRun), not the service's state.
  const lastRun = cliOk && (!serviceRun || (cliOk.id ?? 0) > (serviceRun.id ?? 0)) ? cliOk : serviceRun;
  const blocked = await attempt(() => blockedKey.read(deps.state, deps.logger));
  const pendingChanges = deps.airflow ? ((await attempt(() => pendingChanges_(deps.store, deps.state, deps.logger))) ?? 0) : 0;
  const tokens = (await attempt(() => deps.tokenStore.list())) ?? [];
  const warnings = tokenWarnings(tokens, new Date());
  const leader = deps.leases ? await attempt(() => deps.leases!.holder('leader', new Date())) : undefined;
  const collisions = (lastRun?.plan.drift ?? []).flatMap((d) => (d.kind === 'username-collision' ? [{ username: d.username, scimUserIds: d.scimUserIds, note: d.note }] : []));
  let reconcile: Check;
  if (!deps.airflow) reconcile = { ok: true, detail: 'idle: no Airflow configured' };
  else if (blocked)
    reconcile = { ok: false, detail: `BLOCKED: ${blocked.held.length} deprovision(s) held by the safety limits (${blocked.reason}); if intended: airflow-scim reconcile --allow-mass-deprovision` };
  else if (!lastRun) reconcile = { ok: true, detail: 'no run yet' };
  else if (isFailedResult(lastRun.result))
    reconcile = { ok: false, detail: `last run ${lastRun.result} at ${lastRun.finished} (${runOrigin(lastRun)}, ${lastRun.trigger}): ${lastRun.error ?? 'see the log'}` };
  else reconcile = { ok: true, detail: `last run ${lastRun.result} at ${lastRun.finished} (${runOrigin(lastRun)}, ${lastRun.trigger})` };
  return {
    ready: isCheck(database) && database.ok && isCheck(migrations) && migrations.ok,
    checks: { database: asCheck(database), migrations: asCheck(migrations), airflow, reconcile },
    lastRun: lastRun ? summary(lastRun) : undefined,
    lastCliRun: cliRun ? summary(cliRun) : undefined,
    pendingChanges,
    blocked,
    ...(collisions.length ? { collisions } : {}),
    ...(warnings.length ? { warnings } : {}),
    ...(deps.leases ? { leader: leader ? describeHolder(leader) : null } : {}),
  };
}

async function attempt<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch {
    return undefined;
  }
}

async function safe<T>(fn: () => Promise<T>): Promise<T | Check> {
  try {
    return await fn();
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
}
const isCheck = (v: unknown): v is Check => typeof v === 'object' && v !== null && 'ok' in v;
const asCheck = (v: unknown): Check => (isCheck(v) ? v : { ok: true });
