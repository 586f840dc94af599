import { listen } from './server/listen';
import http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DRIFT_KINDS, type DriftKind } from './reconcile/types';
import { RUN_RESULTS, type RunResult } from './store/reconcile-state';

/**
 * Every Prometheus metric of the service, defined in one place.
 *
 * Each Metrics instance owns its own Registry (nothing is registered on prom-client's global registry),
 * so tests can create as many as they like. Label values are bounded: SCIM resource names, HTTP methods,
 * status codes, action kinds, drift kinds, fixed reasons and Airflow endpoint *templates* (never ids or usernames).
 */

/** Seconds buckets for request latency: 1ms .. 10s. */
const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds buckets for a whole reconcile run: 10ms .. 10min. */
const RUN_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds buckets for SCIM change -> Airflow change: 0.1s .. 600s. */
const LAG_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export interface MetricsOptions {
  /** Collect the default process/Node.js metrics (process_cpu_seconds_total, nodejs_heap_size_used_bytes, ...). Default true. */
  defaultMetrics?: boolean;
  /** Prefix for the default metrics only. Default ''. */
  defaultMetricsPrefix?: string;
}

/** Gauges that describe the shared database, read just before each scrape (setStateSource). */
export interface StateGauges {
  pending: number;
  blocked: boolean;
  lastSuccessAt?: Date;
  tokens?: Array<{ name: string; expiresAt?: string }>;
}

export class Metrics {
  readonly registry: Registry;

  readonly scimRequests: Counter<'resource' | 'method' | 'status'>;
  readonly scimRequestDuration: Histogram<'resource' | 'method'>;
  readonly scimAuthFailures: Counter<'reason'>;
  readonly reconcileRuns: Counter<'result'>;
  readonly reconcileRunDuration: Histogram<'result'>;
  readonly reconcileActions: Counter<'kind' | 'result'>;
  readonly reconcileDrift: Counter<'kind'>;
  readonly reconcileDriftLastRun: Gauge<'kind'>;
  readonly scimToAirflowLag: Histogram<string>;
  readonly reconcilePendingChanges: Gauge<string>;
  readonly reconcileLastSuccess: Gauge<string>;
  readonly reconcileBlocked: Gauge<string>;
  readonly reconcileLeader: Gauge<string>;
  readonly tokenExpiry: Gauge<string>;
  readonly airflowApiCalls: Counter<'endpoint' | 'status'>;

  private stateSource?: () => Promise<StateGauges>;

  constructor(opts: MetricsOptions = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: opts.defaultMetricsPrefix ?? '' });
    }

    this.scimRequests = new Counter({
      name: 'scim_requests_total',
      help: 'SCIM API requests, by resource (Users, Groups, ServiceProviderConfig, ...), HTTP method and status code.',
      labelNames: ['resource', 'method', 'status'],
      registers,
    });
    this.scimRequestDuration = new Histogram({
      name: 'scim_request_duration_seconds',
      help: 'SCIM API request latency in seconds, by resource and HTTP method.',
      labelNames: ['resource', 'method'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.scimAuthFailures = new Counter({
      name: 'scim_auth_failures_total',
      help: 'Rejected SCIM authentications, by reason (missing, malformed, invalid, revoked, expired, rate-limited).',
      labelNames: ['reason'],
      registers,
    });
    this.reconcileRuns = new Counter({
      name: 'reconcile_runs_total',
      help: `Finished reconcile runs, by result (${RUN_RESULTS.join(', ')}).`,
      labelNames: ['result'],
      registers,
    });
    this.reconcileRunDuration = new Histogram({
      name: 'reconcile_run_duration_seconds',
      help: 'Duration of reconcile runs in seconds, by result.',
      labelNames: ['result'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.reconcileActions = new Counter({
      name: 'reconcile_actions_total',
      help: 'Airflow changes attempted by the reconciler, by action kind (create-user, update-user, ...) and result (ok, error).',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.reconcileDrift = new Counter({
      name: 'reconcile_drift_total',
      help: 'Drift found in Airflow that the reconciler reports but does not fix, summed over runs, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.reconcileDriftLastRun = new Gauge({
      name: 'reconcile_drift_last_run',
      help: 'Drift found in Airflow by the last reconcile run, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.scimToAirflowLag = new Histogram({
      name: 'scim_to_airflow_lag_seconds',
      help: 'Seconds from a SCIM change being stored to the matching Airflow change being applied.',
      buckets: LAG_BUCKETS,
      registers,
    });
    this.reconcilePendingChanges = new Gauge({
      name: 'reconcile_pending_changes',
      help: 'SCIM changes stored but not yet applied to Airflow.',
      registers,
    });
    this.reconcileLastSuccess = new Gauge({
      name: 'reconcile_last_success_timestamp_seconds',
      help: 'Unix time of the last reconcile run that ended applied or nothing-to-do (0 until one has).',
      registers,
    });
    this.tokenExpiry = new Gauge({
      name: 'scim_token_expiry_timestamp_seconds',
      help: 'Expiry time of each active SCIM token that has one (alert on time() > value - 14 days)',
      labelNames: ['name'],
      registers: [this.registry],
    });
    this.reconcileLeader = new Gauge({
      name: 'reconcile_leader',
      help: '1 while this replica is the elected reconciler (one per database), else 0.',
      registers,
    });
    this.reconcileBlocked = new Gauge({
      name: 'reconcile_blocked',
      help: '1 while the safety limits hold back deprovisions (an operator must approve or raise the limit), else 0.',
      registers,
    });
    this.airflowApiCalls = new Counter({
      name: 'airflow_api_calls_total',
      help: 'Calls to the Airflow REST API, by endpoint template (e.g. "GET /users/{username}") and status (HTTP code, or "error" for network failures).',
      labelNames: ['endpoint', 'status'],
      registers,
    });

    // Gauges start at a defined value so dashboards and alerts see them from the first scrape.
    this.reconcilePendingChanges.set(0);
    this.reconcileLastSuccess.set(0);
    this.reconcileLeader.set(0);
    this.reconcileBlocked.set(0);
  }

  /** One finished SCIM request. `resource` is the route's resource name (Users, Groups, ...), never an id. */
  observeScimRequest(resource: string, method: string, status: number | string, seconds: number): void {
    this.scimRequests.inc({ resource, method: method.toUpperCase(), status: String(status) });
    this.scimRequestDuration.observe({ resource, method: method.toUpperCase() }, seconds);
  }

  /** A rejected SCIM authentication, e.g. authFailure('invalid'). */
  authFailure(reason: string): void {
    this.scimAuthFailures.inc({ reason });
  }

  /** A finished reconcile run. 'applied' and 'nothing-to-do' also set the last-success timestamp. */
  runFinished(result: RunResult, seconds: number, at: Date = new Date()): void {
    this.reconcileRuns.inc({ result });
    this.reconcileRunDuration.observe({ result }, seconds);
    if (result === 'applied' || result === 'nothing-to-do') this.lastSuccess(at);
  }

  /** One applied (or failed) Airflow change, by action kind (create-user, update-user, deprovision-user, ...). */
  action(kind: string, ok: boolean): void {
    this.reconcileActions.inc({ kind, result: ok ? 'ok' : 'error' });
  }

  /** n drift items of one kind found by the current run: adds to the counter and sets the last-run gauge. */
  drift(kind: DriftKind, n: number): void {
    if (n > 0) this.reconcileDrift.inc({ kind }, n);
    this.reconcileDriftLastRun.set({ kind }, n);
  }

  /** Sets the last-run drift gauge for every kind at once; kinds not given are set to 0. */
  driftFound(counts: Partial<Record<DriftKind, number>>): void {
    for (const kind of DRIFT_KINDS) this.drift(kind, counts[kind] ?? 0);
  }

  /** Seconds from a SCIM change to its Airflow change. */
  lag(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.scimToAirflowLag.observe(seconds);
  }

  /** SCIM changes stored but not yet applied. */
  pending(n: number): void {
    this.reconcilePendingChanges.set(n);
  }

  /** Time of the last successful reconcile run. */
  lastSuccess(date: Date): void {
    this.reconcileLastSuccess.set(date.getTime() / 1000);
  }

  /** Whether the safety limits are holding changes back. */
  blocked(held: boolean): void {
    this.reconcileBlocked.set(held ? 1 : 0);
  }

  /** One Airflow REST call. `endpoint` must be a template ("PATCH /users/{username}"), `status` the HTTP code or 'error'. */
  airflowCall(endpoint: string, status: number | string): void {
    this.airflowApiCalls.inc({ endpoint, status: String(status) });
  }

  /**
   * Gauges read from shared state just before each scrape (pending changes, blocked, last success), so that they
   * follow a run made by any process on the same database.
   */
  /** This replica became (true) or stopped being (false) the reconcile leader. */
  setLeader(leader: boolean): void {
    this.reconcileLeader.set(leader ? 1 : 0);
  }

  setStateSource(source: () => Promise<StateGauges>): void {
    this.stateSource = source;
  }

  /** The exposition text (what GET /metrics returns). */
  async text(): Promise<string> {
    if (this.stateSource) {
      try {
        const v = await this.stateSource();
        this.pending(v.pending);
        this.blocked(v.blocked);
        if (v.lastSuccessAt) this.lastSuccess(v.lastSuccessAt);
        if (v.tokens) {
          this.tokenExpiry.reset();
          for (const t of v.tokens) if (t.expiresAt) this.tokenExpiry.set({ name: t.name }, Math.floor(Date.parse(t.expiresAt) / 1000));
        }
      } catch {
        // The database did not answer: keep the last values; /readyz reports the database.
      }
    }
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}


/**
 * Serves GET (and HEAD) /metrics on its own port; everything else is 404, other methods on /metrics 405.
 * Resolves once listening (port 0 picks a free port: read it from server.address()).
 */
export function startMetricsServer(metrics: Metrics, port: number, host: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    metrics.text().then(
      (body) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics collection failed: ${err.message}\n`);
      },
    );
  });
  // Scrapers use keep-alive; don't let idle sockets hold shutdown for the default 5s.
  server.keepAliveTimeout = 5_000;
  return listen(server, port, host, 'METRICS_PORT');
}
