import { AirflowError, type AirflowClient } from '../airflow/types';
import type { Config } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../logger';
import type { AuditLog } from '../store/audit-types';
import type { IdentityStore } from '../store/types';
import { applyActions, type ProgressFn } from './apply';
import { desiredState } from './desired';
import { plan as makePlan, type Observed } from './plan';
import { advanceObserved, type ObservedCache } from './observed-cache';
import { checkSafety } from './safety';
import { ownershipMap, type ReconcileState } from './state';
import { KV_BLOCKED, KV_LAST_SUCCESS, pendingChanges } from './view';
import type { ActionKind, ActionOutcome, Drift, Plan, RunOrigin, RunReport, RunResult, SafetyVerdict } from './types';

/** Optional metric hooks; the composition root wires them to prom-client. */
export interface ReconcileMetrics {
  onRun?(report: RunReport): void;
  onAction?(kind: ActionKind, ok: boolean): void;
  /** Once per run for every drift kind, with its count (0 included, so gauges reset). */
  onDrift?(kind: Drift['kind'], count: number): void;
  /** Seconds from the oldest SCIM change not yet reconciled to the clean run that applied it. */
  onLag?(seconds: number): void;
  /** SCIM changes (journal entries) not yet covered by a clean run. */
  onPending?(count: number): void;
}

export const DRIFT_KINDS: ReadonlyArray<Drift['kind']> = ['extra-permissions', 'email-clash', 'unknown-role', 'protected', 'unowned'];

export type ReconcilerConfig = Pick<Config, 'airflow' | 'roles' | 'deprovision' | 'safety'>;

export interface ReconcilerDeps {
  store: Pick<IdentityStore, 'snapshot' | 'changesSince' | 'latestSeq'>;
  airflow: AirflowClient;
  state: ReconcileState;
  audit: AuditLog;
  config: ReconcilerConfig;
  clock: Clock;
  logger: Logger;
  metrics?: ReconcileMetrics;
  newPassword?: () => string;
  /** Cross-process exclusion (the 'reconcile' lease): taken before a run reads anything, released after it. */
  lock?: RunLock;
  /** Recorded in every run: the service's loop or a one-off CLI command; default 'service'. */
  origin?: RunOrigin;
}

/** One reconcile at a time per database, across processes; acquire() waits or throws (the caller's policy). */
export interface RunLock {
  acquire(trigger: RunReport['trigger']): Promise<{ release(): void }>;
}

export interface RunOptions {
  dryRun?: boolean;
  allowMassDeprovision?: boolean;
  trigger: RunReport['trigger'];
  onProgress?: ProgressFn;
}

export { KV_BLOCKED, KV_LAST_SUCCESS } from './view';

const EMPTY_PLAN: Plan = { actions: [], drift: [], unchanged: 0, managedUsers: 0 };
const EMPTY_VERDICT: SafetyVerdict = { allowed: [], held: [], blocked: null };

/**
 * One run: observe both sides → desired → plan → safety → apply (external-dns RunOnce); shared by the loop and the
 * CLI. Runs are serialised: a concurrent runOnce waits for the running one to finish, then runs on fresh state
 * (level-based, so it sees whatever changed meanwhile).
 */
/** A change-triggered run trusts a full read for this long; the scheduled run (every 5 minutes by default) refreshes it. */
export const CACHE_MAX_AGE_MS = 10 * 60_000;

async function observeAll(airflow: AirflowClient): Promise<Observed> {
  const [users, roles] = await Promise.all([airflow.listUsers(), airflow.listRoles()]);
  return { users, roles };
}

export class Reconciler {
  private queue: Promise<unknown> = Promise.resolve();
  /** The Airflow view change-triggered runs plan against (see observed-cache.ts). */
  private cache: ObservedCache | null = null;
  /** Id of the last applying run this instance saved; another id in the state means another process ran. */
  private lastOwnRunId: number | undefined;

  constructor(private readonly deps: ReconcilerDeps) {}

  runOnce(opts: RunOptions): Promise<RunReport> {
    const run = this.queue.then(() => this.locked(opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async locked(opts: RunOptions): Promise<RunReport> {
    const held = await this.deps.lock?.acquire(opts.trigger);
    try {
      // Another process (a CLI run) changed Airflow since our last run: the cached view is stale.
      if (this.cache && this.deps.state.lastRun()?.id !== this.lastOwnRunId) this.cache = null;
      const report = await this.run(opts);
      if (!report.dryRun) this.lastOwnRunId = report.id;
      return report;
    } finally {
      held?.release();
    }
  }

  private async run(opts: RunOptions): Promise<RunReport> {
    const { store, airflow, state, config, clock } = this.deps;
    const dryRun = opts.dryRun === true;
    const started = clock.now();
    let seq = 0;
    let planned = EMPTY_PLAN;
    let verdict = EMPTY_VERDICT;
    let outcomes: ActionOutcome[] = [];
    let result: RunResult;
    let error: string | undefined;
    let transient: boolean | undefined;

    try {
      const snapshot = store.snapshot();
      seq = snapshot.seq;
      // A SCIM change plans against the cached view (fresh enough, no failure since); every other run reads all.
      const cached = opts.trigger === 'change' && this.cache && clock.now().getTime() - this.cache.readAt < CACHE_MAX_AGE_MS ? this.cache : null;
      const { users, roles } = cached ? cached.observed : await observeAll(airflow);
      if (!cached && !dryRun) this.cache = { observed: { users, roles }, readAt: clock.now().getTime() };
      const desired = desiredState(snapshot, {
        usernameTemplate: config.airflow.username,
        mappings: config.roles.mappings,
        defaultRoles: config.roles.default,
        custom: config.roles.custom,
      });
      const owned = ownershipMap(state);
      planned = makePlan(desired, { users, roles }, {
        owned,
        protectedUsers: config.safety.protectedUsers,
        serviceAccount: config.airflow.apiUser,
        deprovision: config.deprovision,
      });
      verdict = checkSafety(planned, {
        now: started,
        windowCount: state.countDeprovisionsSince(new Date(started.getTime() - config.safety.window)),
        limits: config.safety,
        allowMassDeprovision: opts.allowMassDeprovision === true,
      });
      if (dryRun) {
        result = 'planned';
      } else {
        // Ownership of accounts deleted outside us is stale: a later local account of that name is not ours.
        const present = new Set(users.map((u) => u.username.toLowerCase()));
        for (const key of owned.keys()) if (!present.has(key)) state.disown(key);
        outcomes = await applyActions(verdict.allowed, { airflow, state, audit: this.deps.audit, clock, concurrency: config.airflow.concurrency, newPassword: this.deps.newPassword }, opts.onProgress);
        const failed = outcomes.filter((o) => !o.ok);
        this.cache = failed.length === 0 && this.cache ? { ...this.cache, observed: advanceObserved({ users, roles }, outcomes) } : null;
        // A failure outranks a block: the loop retries failures soon; a block waits for an operator or the window.
        result = failed.length > 0 ? 'partial' : verdict.held.length > 0 ? 'blocked' : outcomes.length > 0 ? 'applied' : 'nothing-to-do';
        if (failed.length > 0) {
          transient = failed.some((o) => o.transient === true);
          error = `${failed.length} of ${outcomes.length} action(s) failed; first: ${failed[0].action.kind} ${'username' in failed[0].action ? failed[0].action.username : failed[0].action.role}: ${failed[0].error ?? 'unknown error'}`;
        }
        this.recordVerdict(verdict, started);
        if (failed.length === 0) this.recordSuccess(seq, result === 'blocked');
      }
    } catch (e) {
      this.cache = null;
      result = 'failed';
      error = e instanceof Error ? e.message : String(e);
      transient = e instanceof AirflowError ? e.transient : false;
    }

    const report: RunReport = {
      trigger: opts.trigger,
      origin: this.deps.origin ?? 'service',
      dryRun,
      started: started.toISOString(),
      finished: clock.now().toISOString(),
      result,
      seq,
      plan: planned,
      verdict,
      outcomes,
      ...(error !== undefined ? { error } : {}),
      ...(transient !== undefined ? { transient } : {}),
    };
    report.id = state.saveRun(report);
    this.summarise(report, started);
    return report;
  }

  /**
   * kv lastSuccess = {at, seq} of the last run that applied everything allowed. Lag is measured from the journal
   * time of the oldest change after the previous one; a blocked run does not count, so held changes keep lagging.
   */
  private recordSuccess(seq: number, blocked: boolean): void {
    const { state, store, clock, metrics } = this.deps;
    if (blocked) return;
    const previous = state.getKv(KV_LAST_SUCCESS);
    const prevSeq = previous ? ((JSON.parse(previous) as { seq?: number }).seq ?? 0) : 0;
    const now = clock.now();
    if (seq > prevSeq) {
      const [oldest] = store.changesSince(prevSeq, 1);
      if (oldest && oldest.seq <= seq) metrics?.onLag?.(Math.max(0, (now.getTime() - Date.parse(oldest.at)) / 1000));
    }
    state.setKv(KV_LAST_SUCCESS, JSON.stringify({ at: now.toISOString(), seq: Math.max(seq, prevSeq) }));
  }

  /** Keeps the held verdict in kv for /readyz and the CLI; audits a block when it starts or changes. */
  private recordVerdict(verdict: SafetyVerdict, at: Date): void {
    const { state, audit } = this.deps;
    if (!verdict.blocked) {
      state.setKv(KV_BLOCKED, null);
      return;
    }
    const held = verdict.held.map((a) => ('username' in a ? a.username : a.role));
    const previous = state.getKv(KV_BLOCKED);
    const heldBefore = previous ? (JSON.parse(previous) as { held?: string[] }).held : undefined;
    state.setKv(KV_BLOCKED, JSON.stringify({ at: at.toISOString(), ...verdict.blocked, held }));
    if (JSON.stringify(heldBefore) !== JSON.stringify(held)) {
      audit.record({ at: at.toISOString(), source: 'airflow', actor: 'reconciler', action: 'blocked', outcome: 'failure', detail: { ...verdict.blocked, held } });
    }
  }

  private summarise(report: RunReport, started: Date): void {
    const { logger, metrics } = this.deps;
    const counts: Record<string, number> = {};
    for (const a of report.plan.actions) counts[a.kind] = (counts[a.kind] ?? 0) + 1;
    const failed = report.outcomes.filter((o) => !o.ok).length;
    const line = {
      component: 'reconcile',
      trigger: report.trigger,
      origin: report.origin,
      dryRun: report.dryRun,
      result: report.result,
      seq: report.seq,
      actions: counts,
      applied: report.outcomes.length - failed,
      failed,
      held: report.verdict.held.length,
      drift: report.plan.drift.length,
      unchanged: report.plan.unchanged,
      durationMs: Date.parse(report.finished) - started.getTime(),
      ...(report.verdict.blocked ? { blocked: report.verdict.blocked.reason } : {}),
      ...(report.error ? { error: report.error } : {}),
    };
    const level = report.result === 'failed' || report.result === 'partial' || report.result === 'blocked' ? 'warn' : 'info';
    logger.log(level, 'reconcile run', line);
    if (report.dryRun) return; // dry runs change nothing, so they move no metric
    for (const o of report.outcomes) metrics?.onAction?.(o.action.kind, o.ok);
    if (report.result !== 'failed') {
      for (const kind of DRIFT_KINDS) metrics?.onDrift?.(kind, report.plan.drift.filter((d) => d.kind === kind).length);
    }
    metrics?.onPending?.(pendingChanges(this.deps.store, this.deps.state));
    metrics?.onRun?.(report);
  }
}
