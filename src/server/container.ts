import type { DriftKind, RunReport } from '../reconcile/types';
import { createAirflowClient } from '../airflow/detect';
import type { AirflowClient } from '../airflow/types';
import type { Config } from '../config/schema';
import { systemClock, uuidGenerator, type Clock } from '../core/clock';
import { createLogger, type Logger } from '../logger';
import { Metrics } from '../metrics';
import { Reconciler } from '../reconcile/reconciler';
import { SqliteDriver } from '../store/sql/sqlite-driver';
import type { SqlDriver } from '../store/sql/driver';
import { openPostgres } from '../store/sql/pg-driver';
import type { TokenStore } from '../store/token-types';
import { SqlReconcileState } from '../store/sql/reconcile-state';
import type { ReconcileState } from '../reconcile/state';
import { TokenService } from '../scim/tokens';
import { WebhookNotifier } from './notify';
import type { AuditLog } from '../store/audit-types';
import { openDatabaseChecked } from '../store/database-path';
import { SqlAuditLog } from '../store/sql/audit';
import { SqlIdentityStore } from '../store/sql/identity';
import { SqlTokenStore } from '../store/sql/tokens';
import type { IdentityStore } from '../store/types';
import type { LeaseRecord, LeaseStore } from '../store/lease-types';
import { SqlLeaseStore } from '../store/sql/leases';
import { HeldLease, RUN_TTL_MS } from './process-lease';
import type { RunOrigin } from '../store/reconcile-state';
import { blockedKey, lastSuccessKey, pendingChanges } from '../reconcile/state-keys';

/** Everything the service and the CLI need, built in one place (STYLE habit 11: the composition root). */
export interface Container {
  config: Config;
  clock: Clock;
  logger: Logger;
  /** The database every store below shares (SQLite or PostgreSQL). */
  driver: SqlDriver;
  store: IdentityStore;
  audit: AuditLog;
  tokens: TokenService;
  tokenStore: TokenStore;
  state: ReconcileState;
  metrics: Metrics;
  /** null when no AIRFLOW_URL is configured: the service then only stores SCIM state. */
  airflow: AirflowClient | null;
  reconciler: Reconciler | null;
  /** One service and one reconcile run per database (lease-types.ts). */
  leases: LeaseStore;
  /** Ends any wait for the reconcile lease (on shutdown, so a stop never waits for another process's run). */
  stopWaiting(): void;
  /** Waits until queued webhook notifications were delivered or given up (a CLI run before it exits). */
  flushNotifications(): Promise<void>;
  close(): Promise<void>;
}

export interface ContainerOptions {
  logger?: Logger;
  clock?: Clock;
  /** How long a run waits for another process's run to finish before it gives up; default: forever (the service). */
  reconcileWaitMs?: number;
  /** Told once when a run has to wait, with the holder. */
  onReconcileWait?: (holder: LeaseRecord) => void;
  /** Purpose recorded in the reconcile lease, e.g. "reconcile (cli)". */
  reconcilePurpose?: string;
  /** Recorded in every run; default 'service'. */
  origin?: RunOrigin;
}

/** PostgreSQL when database.url is set (migrated on open), else the SQLite file at database.path. */
export async function openDriver(config: Config, logger?: Logger): Promise<SqlDriver> {
  const d = config.database;
  if (d.url) return openPostgres(d.url, { schema: d.schema, poolSize: d.poolSize, logger });
  return new SqliteDriver(openDatabaseChecked(d.path));
}

export async function buildContainer(config: Config, opts: ContainerOptions = {}): Promise<Container> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger(config.logging.level, { format: config.logging.format });
  const driver = await openDriver(config, logger.child({ component: 'store' }));
  const audit = new SqlAuditLog(driver);
  const store = new SqlIdentityStore(driver, clock, uuidGenerator);
  const tokenStore = new SqlTokenStore(driver);
  const tokens = new TokenService(tokenStore, clock, config.scim.token);
  const state = new SqlReconcileState<RunReport>(driver);
  const metrics = new Metrics();
  const airflowConfigured = !!config.airflow.url;
  const leases = new SqlLeaseStore(driver);
  const hook = config.notify.webhook;
  const notifier = hook.url ? new WebhookNotifier({ url: hook.url, timeoutMs: hook.timeout, retries: hook.retries, logger }) : undefined;
  // Gauges that describe the database, not this process, are read at scrape time: a CLI run shows at once.
  metrics.setStateSource(async () => {
    const last = await lastSuccessKey.read(state, logger);
    const at = clock.now().toISOString();
    const activeTokens = (await tokens.list()).filter((t) => t.status === 'active' && t.expiresAt && t.expiresAt > at);
    return {
      pending: airflowConfigured ? await pendingChanges(store, state, logger) : 0,
      blocked: (await blockedKey.read(state, logger)) !== undefined,
      lastSuccessAt: last ? new Date(last.at) : undefined,
      tokens: activeTokens.map((t) => ({ name: t.name, expiresAt: t.expiresAt })),
    };
  });
  const waits = new AbortController();
  const lock = {
    acquire: (trigger: string) =>
      HeldLease.waitFor('reconcile', opts.reconcilePurpose ?? `reconcile (service, ${trigger})`, {
        store: leases,
        clock: systemClock, // leases are about real processes: wall time, even under a test clock
        database: driver.describe,
        ttlMs: RUN_TTL_MS,
        waitMs: opts.reconcileWaitMs ?? Infinity,
        onWait: opts.onReconcileWait,
        signal: waits.signal,
        onLost: (h) => logger.error('lost the reconcile lease while running (the process stalled past its ttl): the rest of this run is not applied', { holder: h ?? null }),
        onRenewError: (e) => logger.error('could not renew the reconcile lease; retrying', { error: (e as Error).message }),
      }),
  };
  const airflow = config.airflow.url
    ? createAirflowClient(config.airflow, logger.child({ component: 'airflow' }), {
        onCall: (endpoint: string, status: number | string) => metrics.airflowCall(endpoint, String(status)),
      })
    : null;
  const reconciler = airflow
    ? new Reconciler({
        store, airflow, state, audit, config, clock, logger: logger.child({ component: 'reconcile' }), metrics: reconcileHooks(metrics), lock,
        origin: opts.origin ?? 'service',
        onBlockChange: notifier ? (e) => notifier.notify(e) : undefined,
      })
    : null;
  return {
    config,
    clock,
    logger,
    driver,
    store,
    audit,
    tokens,
    tokenStore,
    state,
    metrics,
    airflow,
    reconciler,
    leases,
    stopWaiting: () => waits.abort(),
    flushNotifications: () => notifier?.idle() ?? Promise.resolve(),
    close: () => driver.close(),
  };
}

/** Adapts the reconciler's hooks to Prometheus metrics. */
function reconcileHooks(metrics: Metrics) {
  return {
    onRun: (report: Pick<RunReport, 'result' | 'started' | 'finished'>) => {
      // Blocked, pending and last success come from the database at scrape time (setStateSource above).
      metrics.runFinished(report.result, (Date.parse(report.finished) - Date.parse(report.started)) / 1000, new Date(report.finished));
    },
    onAction: (kind: string, ok: boolean) => metrics.action(kind, ok),
    onDrift: (kind: DriftKind, n: number) => metrics.drift(kind, n),
    onLag: (seconds: number) => metrics.lag(seconds),
  };
}
