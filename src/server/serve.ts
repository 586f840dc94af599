import http from 'node:http';
import { listen } from './listen';
import { adminApp } from './admin';
import { buildAccessReport } from './access-report';
import type { Config } from '../config/schema';
import { describeDatabase } from '../config/database';
import type { AddressInfo } from 'node:net';
import { startMetricsServer } from '../metrics';
import { ReconcileLoop } from '../reconcile/trigger';
import { createApp } from './app';
import type { Container } from './container';
import { serviceStatus } from './status';
import { HeldLease } from './process-lease';
import { LeaderElector } from './leader';
import { describeHolder } from '../store/lease-types';
import { AirflowHealthMonitor } from './airflow-health';
import { forcedVersionMismatch } from './version-check';
import { systemClock } from '../core/clock';

export interface RunningService {
  url: string;
  metricsUrl: string;
  server: http.Server;
  loop: ReconcileLoop | null;
  /** Graceful stop: stop accepting, finish in-flight requests and the current apply step, close the database. */
  stop(): Promise<void>;
}

/** Starts the SCIM API, the metrics endpoint and the reconcile loop of a built container. */
export async function startService(c: Container): Promise<RunningService> {
  const log = c.logger.child({ component: 'serve' });
  let loop: ReconcileLoop | null = null;
  let elector: LeaderElector | null = null;
  const airflowHealth = c.airflow ? new AirflowHealthMonitor(c.airflow, c.clock, 30_000, () => forcedVersionMismatch(c.config.airflow, c.logger)) : null;
  let stopRef: (() => Promise<void>) | null = null;
  // SQLite: one service per database file (throws LeaseHeldError naming the holder and the path). PostgreSQL: any
  // number of replicas serve SCIM; the leader election below picks the one that reconciles.
  const lease =
    c.driver.dialect === 'sqlite'
      ? await HeldLease.acquireOrOutlast('service', 'serve', {
          store: c.leases,
          clock: systemClock,
          database: c.driver.describe,
          onWait: (h) => log.warn('the service lease is held by a holder that stopped renewing it; waiting for it to expire', { holder: describeHolder(h), database: c.driver.describe }),
          onLost: (h) => {
            log.error('lost the service lease: another process took the database; stopping so that only one writer remains', { holder: h ?? null });
            void stopRef?.().then(() => {
              process.exitCode = 1; // not a clean stop: another process owns the database now
            });
          },
          onRenewError: (e) => log.error('could not renew the service lease; retrying', { error: (e as Error).message }),
        })
      : null;
  const app = createApp({
    store: c.store,
    audit: c.audit,
    tokens: c.tokens,
    config: c.config,
    clock: c.clock,
    logger: c.logger,
    metrics: c.metrics,
    onChange: () => loop?.notifyChange(),
    health: {
      live: async () => {
        await c.driver.get('SELECT 1');
        return true;
      },
      ready: async () => {
        // Never waits for Airflow: its state comes from the background check (airflow-health.ts).
        const s = await serviceStatus({ driver: c.driver, tokenStore: c.tokenStore, store: c.store, state: c.state, airflow: c.airflow }, { probeAirflow: false, airflowCheck: () => airflowHealth!.current() });
        return { ready: s.ready, checks: s.checks };
      },
    },
  });
  const server = http.createServer(app);
  applyServerLimits(server, c.config.server);
  let metricsServer: http.Server;
  let adminServer: http.Server | undefined;
  try {
    await listen(server, c.config.server.port, c.config.server.host, 'PORT');
    metricsServer = await startMetricsServer(c.metrics, c.config.server.metricsPort, c.config.server.host);
    if (c.config.admin.port !== null && c.config.admin.token) {
      adminServer = http.createServer(adminApp({ token: c.config.admin.token, report: () => buildAccessReport(c), logger: c.logger }));
      await listen(adminServer, c.config.admin.port, c.config.server.host, 'ADMIN_PORT');
    }
  } catch (e) {
    server.close();
    adminServer?.close();
    await lease?.release();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const metricsPort = (metricsServer.address() as AddressInfo).port;
  const url = `http://${displayHost(c.config.server.host)}:${port}/scim/v2`;
  const metricsUrl = `http://${displayHost(c.config.server.host)}:${metricsPort}/metrics`;

  airflowHealth?.start();
  if (c.reconciler && c.config.reconcile.enabled) {
    loop = new ReconcileLoop({
      reconciler: c.reconciler,
      store: c.store,
      config: c.config.reconcile,
      logger: c.logger.child({ component: 'loop' }),
      clock: c.clock,
      changes: c.driver.changes, // a write on any replica wakes the leader (PostgreSQL LISTEN/NOTIFY)
    });
    const reconcileLoop = loop;
    elector = new LeaderElector({
      store: c.leases,
      clock: systemClock, // leases are about real processes: wall time, even under a test clock
      logger: log,
      onElected: () => reconcileLoop.start(),
      onDeposed: () => reconcileLoop.stop(),
      onChange: (leader) => c.metrics.setLeader(leader),
    });
    await elector.start();
  } else {
    log.warn(c.reconciler ? 'reconcile.enabled is false: SCIM changes are stored, Airflow is left alone' : 'AIRFLOW_URL is not set: SCIM changes are stored, nothing is reconciled');
  }
  if (!c.config.scim.token && !(await c.tokens.list()).some((t) => t.status === 'active'))
    log.warn('no SCIM token exists yet, so every SCIM request gets 401: create one with "airflow-scim tokens create --name okta" or set SCIM_TOKEN');
  log.info('listening', { url, metricsUrl, airflow: c.config.airflow.url ?? null, database: describeDatabase(c.config.database) });

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down: finishing in-flight requests and the current apply step');
      airflowHealth?.stop();
      c.stopWaiting();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections?.();
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, c.config.server.shutdownTimeout).unref());
      await Promise.race([Promise.all([closed, elector?.stop()]), deadline]);
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      if (adminServer) await new Promise<void>((resolve) => adminServer!.close(() => resolve()));
      await lease?.release();
      await c.close();
      log.info('stopped');
    })());
  stopRef = stop;
  return { url, metricsUrl, server, loop, stop };
}

/** Keep-alive above common load-balancer idle timeouts (60 s), headers timeout above that (checked in load.ts). */
export function applyServerLimits(server: http.Server, cfg: Config['server']): void {
  server.keepAliveTimeout = cfg.keepAliveTimeout;
  server.headersTimeout = cfg.headersTimeout;
  server.requestTimeout = cfg.requestTimeout;
  if (cfg.maxConnections > 0) server.maxConnections = cfg.maxConnections;
}

const displayHost = (h: string) => (h === '0.0.0.0' || h === '::' ? 'localhost' : h);
