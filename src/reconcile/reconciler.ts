import { AirflowError, type AirflowClient, type AirflowUser, type RolePatchBehaviour } from '../airflow/types';
import type { Config } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../logger';
import type { AuditLog } from '../store/audit-types';
import type { IdentityStore } from '../store/types';
import { applyActions, type ProgressFn } from './apply';
import { desiredState } from './desired';
import { ADMIN_ROLE, plan as makePlan, type Observed, type PlanContext } from './plan';
import { advanceObserved } from './advance';
import { changedUsernames, restrictDesired } from './scope';
import { checkSafety, heldKey, isRisky, riskyUser } from './safety';
import { ownershipMap, type ReconcileState } from './state';
import { blockedKey, collisionsKey, heldDecisionsKey, lastSuccessKey, pendingChanges } from './state-keys';
import { isFailedResult, type RunOrigin, type RunResult } from '../store/reconcile-state';
import { DRIFT_KINDS, type Action, type ActionKind, type ActionOutcome, type DesiredRole, type DesiredState, type DriftKind, type Plan, type RunReport, type SafetyVerdict } from './types';

/** Optional metric hooks; the composition root wires them to prom-client. */
export interface ReconcileMetrics {
  onRun?(report: RunReport): void;
  onAction?(kind: ActionKind, ok: boolean): void;
  /** Once per run for every drift kind, with its count (0 included, so gauges reset). */
  onDrift?(kind: DriftKind, count: number): void;
  /** Seconds from the oldest SCIM change not yet reconciled to the clean run that applied it. */
  onLag?(seconds: number): void;
  /** SCIM changes (journal entries) not yet covered by a clean run. */
  onPending?(count: number): void;
}

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
  /** Called when a block starts or its held set changes, and when it is released (webhook notifications). */
  onBlockChange?: (e: BlockEvent) => void;
}

export type BlockEvent = { kind: 'blocked'; reason: string; held: string[] } | { kind: 'released' };

/**
 * One reconcile at a time per database, across processes; acquire() waits or throws (the caller's policy). The
 * held lock's signal, when it has one, aborts once the lock may have passed to another process: the apply step
 * then attempts no further action (apply.ts).
 */
export interface RunLock {
  acquire(trigger: RunReport['trigger']): Promise<{ release(): Promise<void>; readonly signal?: AbortSignal }>;
}

export interface RunOptions {
  dryRun?: boolean;
  allowMassDeprovision?: boolean;
  trigger: RunReport['trigger'];
  onProgress?: ProgressFn;
}

const EMPTY_PLAN: Plan = { actions: [], drift: [], unchanged: 0, managedUsers: 0 };
const EMPTY_VERDICT: SafetyVerdict = { allowed: [], held: [], blocked: null };

async function observeAll(airflow: AirflowClient): Promise<Observed> {
  const [users, roles] = await Promise.all([airflow.listUsers(), airflow.listRoles()]);
  return { users, roles };
}

/** The given users, read fresh one by one (the client bounds requests in flight), and every role (one page). */
async function observeSome(airflow: AirflowClient, usernames: string[]): Promise<Observed> {
  const [users, roles] = await Promise.all([Promise.all(usernames.map((u) => airflow.getUser(u))), airflow.listRoles()]);
  return { users: users.filter((u): u is AirflowUser => u !== null), roles };
}

/**
 * One run: observe both sides → desired → plan → safety → apply (external-dns RunOnce); shared by the loop and the
 * CLI. Runs are serialised: a concurrent runOnce waits for the running one to finish, then runs on fresh state
 * (level-based, so it sees whatever changed meanwhile).
 */
export class Reconciler {
  private queue: Promise<unknown> = Promise.resolve();
  /** The desired state of the last run that applied without failure: what change-triggered runs diff against. */
  private lastDesired?: DesiredState;

  /** Custom roles Airflow refused (unknown resource), by name: the refused permission set's key and the message. */
  private readonly refusedRoles = new Map<string, { key: string; message: string }>();
  /** Read once from Airflow (its FAB provider version), only when custom roles are configured. */
  private rolePatchKnown?: RolePatchBehaviour;
  /** Id of the last applying run this instance saved; another id in the state means another process ran. */
  private lastOwnRunId: number | undefined;

  constructor(private readonly deps: ReconcilerDeps) {}

  /** Refused roles whose configured permissions are unchanged since Airflow refused them. */
  private stillRefused(roles: DesiredRole[]): Map<string, string> {
    const out = new Map<string, string>();
    for (const r of roles) {
      const refused = this.refusedRoles.get(r.name);
      if (refused && refused.key === permissionsKey(r.permissions)) out.set(r.name, refused.message);
      else this.refusedRoles.delete(r.name);
    }
    return out;
  }

  private rememberRefusedRoles(outcomes: ActionOutcome[], roles: DesiredRole[]): void {
    for (const o of outcomes) {
      const a = o.action;
      if (o.ok || o.errorKind !== 'unknown-resource' || (a.kind !== 'create-role' && a.kind !== 'set-role-permissions')) continue;
      const wanted = roles.find((r) => r.name === a.role);
      if (wanted) this.refusedRoles.set(a.role, { key: permissionsKey(wanted.permissions), message: o.error ?? 'unknown resource' });
    }
  }

  private async rolePatch(): Promise<RolePatchBehaviour> {
    this.rolePatchKnown ??= (await this.deps.airflow.info()).rolePatch;
    return this.rolePatchKnown;
  }

  runOnce(opts: RunOptions): Promise<RunReport> {
    const run = this.queue.then(() => this.locked(opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async locked(opts: RunOptions): Promise<RunReport> {
    const held = await this.deps.lock?.acquire(opts.trigger);
    try {
      // Another process (a CLI run) changed Airflow since our last run: diff the next change against a full read.
      if (this.lastDesired && (await this.deps.state.lastRun())?.id !== this.lastOwnRunId) this.lastDesired = undefined;
      const report = await this.run(opts, held?.signal);
      if (!report.dryRun) this.lastOwnRunId = report.id;
      return report;
    } finally {
      await held?.release();
    }
  }

  private async run(opts: RunOptions, signal?: AbortSignal): Promise<RunReport> {
    const { store, airflow, state, config, clock, logger } = this.deps;
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
      const snapshot = await store.snapshot();
      seq = snapshot.seq;
      const desired = desiredState(snapshot, {
        usernameTemplate: config.airflow.username,
        mappings: config.roles.mappings,
        defaultRoles: config.roles.default,
        custom: config.roles.custom,
      });
      const owned = await ownershipMap(state);
      if (opts.trigger !== 'change') this.refusedRoles.clear(); // scheduled, start-up and CLI runs try refused roles again
      const ctx: PlanContext = {
        owned,
        protectedUsers: config.safety.protectedUsers,
        serviceAccount: config.airflow.apiUser,
        deprovision: config.deprovision,
        rolePatch: desired.roles.length > 0 ? await this.rolePatch() : 'add',
        createUsers: config.airflow.createUsers,
      };
      // A SCIM change: read and plan only the users whose wanted state changed since the last clean run (scope.ts).
      // Everything else, and a change touching an Admin holder (the last-Admin rule needs every account), reads all
      // of Airflow.
      const scope = opts.trigger === 'change' && this.lastDesired ? changedUsernames(this.lastDesired, desired) : 'all';
      const planFor = (d: DesiredState, o: Observed): Plan => makePlan(d, o, { ...ctx, unavailableRoles: this.stillRefused(desired.roles) });
      let full = scope === 'all';
      let planDesired = full ? desired : restrictDesired(desired, scope as Set<string>);
      if (!full) ctx.managedUsers = owned.size; // the safety percentage is of every managed account, not of those read
      let observed = full ? await observeAll(airflow) : await observeSome(airflow, [...(scope as Set<string>)]);
      planned = planFor(planDesired, observed);
      if (!full && observed.users.some((u) => u.roles.includes(ADMIN_ROLE))) {
        full = true;
        delete ctx.managedUsers;
        planDesired = desired;
        observed = await observeAll(airflow);
        planned = planFor(planDesired, observed);
      }
      const applyDeps = { airflow, state, audit: this.deps.audit, clock, concurrency: config.airflow.concurrency, newPassword: this.deps.newPassword, signal };
      const roleActions = planned.actions.filter(isRoleAction);
      let roleOutcomes: ActionOutcome[] = [];
      if (!dryRun && roleActions.length > 0) {
        // Roles first: a role Airflow refuses (a resource it lacks, e.g. a DAG not parsed yet) becomes drift in this
        // very plan, so its users get their other roles instead of one 400 each.
        roleOutcomes = await applyActions(roleActions, applyDeps);
        this.rememberRefusedRoles(roleOutcomes, desired.roles);
        const rest = planFor(planDesired, advanceObserved(observed, roleOutcomes));
        planned = { ...rest, actions: [...roleActions, ...rest.actions.filter((a) => !isRoleAction(a))] };
      }
      const windowUsers = new Set(await state.deprovisionedSince(new Date(started.getTime() - config.safety.window)));
      // Decisions on held changes count only for the very change they were made on (heldKey).
      const stored = (await heldDecisionsKey.read(state, logger)) ?? {};
      const decisions = new Map<string, 'approve' | 'reject'>();
      for (const a of planned.actions.filter(isRisky)) {
        const d = stored[riskyUser(a)];
        if (d && d.key === heldKey(a)) decisions.set(riskyUser(a), d.decision);
      }
      verdict = checkSafety(planned, {
        now: started,
        windowCount: windowUsers.size,
        windowUsers,
        limits: config.safety,
        allowMassDeprovision: opts.allowMassDeprovision === true,
        decisions,
      });
      if (dryRun) {
        result = 'planned';
      } else {
        // Ownership of accounts deleted outside us is stale: a later local account of that name is not ours.
        if (full) {
          const present = new Set(observed.users.map((u) => u.username.toLowerCase()));
          for (const key of owned.keys()) if (!present.has(key)) await state.disown(key);
        }
        // Bindings recorded before externalId was kept learn it from their own identity (the same SCIM id).
        for (const d of desired.users) {
          const o = owned.get(d.username.toLowerCase());
          if (o && o.scimUserId === d.scimUserId && o.externalId === undefined && d.externalId !== undefined) await state.own(o.username, o.how, o.scimUserId, clock.now(), d.externalId);
        }
        const rest = verdict.allowed.filter((a) => !isRoleAction(a));
        outcomes = [...roleOutcomes, ...(await applyActions(rest, applyDeps, opts.onProgress))];
        const failed = outcomes.filter((o) => !o.ok && !refusedRole(o));
        // The next change-triggered run diffs against this; after a failure it keeps the older one, so it retries.
        // While changes are held, keep diffing against the older state: held users stay in scope, so a decision on them
        // takes effect at the next run of any kind.
        if (failed.length === 0 && verdict.held.length === 0) this.lastDesired = desired;
        // A failure outranks a block: the loop retries failures soon; a block waits for an operator or the window.
        result = failed.length > 0 ? 'partial' : verdict.held.length > 0 ? 'blocked' : outcomes.length > 0 ? 'applied' : 'nothing-to-do';
        if (failed.length > 0) {
          transient = failed.some((o) => o.transient === true);
          error = `${failed.length} of ${outcomes.length} action(s) failed; first: ${failed[0].action.kind} ${'username' in failed[0].action ? failed[0].action.username : failed[0].action.role}: ${failed[0].error ?? 'unknown error'}`;
        }
        await this.recordVerdict(verdict, started);
        if (full) await this.pruneDecisions(planned, outcomes);
        if (full) await this.recordCollisions(planned, started); // a targeted plan sees only the collisions it touched
        if (failed.length === 0) await this.recordSuccess(seq, result === 'blocked');
      }
    } catch (e) {
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
    report.id = await state.saveRun(report);
    await this.summarise(report, started);
    return report;
  }

  /**
   * kv lastSuccess = {at, seq} of the last run that applied everything allowed. Lag is measured from the journal
   * time of the oldest change after the previous one; a blocked run does not count, so held changes keep lagging.
   */
  private async recordSuccess(seq: number, blocked: boolean): Promise<void> {
    const { state, store, clock, metrics, logger } = this.deps;
    if (blocked) return;
    const prevSeq = (await lastSuccessKey.read(state, logger))?.seq ?? 0;
    const now = clock.now();
    if (seq > prevSeq) {
      const [oldest] = await store.changesSince(prevSeq, 1);
      if (oldest && oldest.seq <= seq) metrics?.onLag?.(Math.max(0, (now.getTime() - Date.parse(oldest.at)) / 1000));
    }
    await lastSuccessKey.write(state, { at: now.toISOString(), seq: Math.max(seq, prevSeq) });
  }

  /** Audits each username collision once, when it appears (plan drift and metric report it on every run). */
  private async recordCollisions(p: Plan, at: Date): Promise<void> {
    const { state, audit, logger } = this.deps;
    const now = p.drift.flatMap((d) => (d.kind === 'username-collision' ? [d] : []));
    const key = (d: { username: string; scimUserIds: string[] }) => `${d.username.toLowerCase()} ${d.scimUserIds.join(' ')}`;
    const before = new Set((await collisionsKey.read(state, logger)) ?? []);
    for (const d of now) {
      if (before.has(key(d))) continue;
      await audit.record({ at: at.toISOString(), source: 'airflow', actor: 'reconciler', subject: d.username, action: 'username-collision', outcome: 'failure', detail: { scimUserIds: d.scimUserIds, note: d.note } });
    }
    await collisionsKey.write(state, now.map(key));
  }

  /**
   * An approval is used once its change applied; a rejection lasts while the same change is proposed. When the
   * IdP state changes (another change, or none), the decision is dropped and the limits decide again.
   */
  private async pruneDecisions(planned: Plan, outcomes: ActionOutcome[]): Promise<void> {
    const { state, logger } = this.deps;
    const stored = (await heldDecisionsKey.read(state, logger)) ?? {};
    if (Object.keys(stored).length === 0) return;
    const current = new Map(planned.actions.filter(isRisky).map((a) => [riskyUser(a), heldKey(a)]));
    const applied = new Set(outcomes.filter((o) => o.ok && isRisky(o.action)).map((o) => riskyUser(o.action)));
    const kept: typeof stored = {};
    for (const [user, d] of Object.entries(stored)) {
      if (current.get(user) !== d.key) continue;
      if (d.decision === 'approve' && applied.has(user)) continue;
      kept[user] = d;
    }
    await heldDecisionsKey.write(state, kept);
  }

  /** Keeps the held verdict in kv for /readyz and the CLI; audits a block when it starts or changes. */
  private async recordVerdict(verdict: SafetyVerdict, at: Date): Promise<void> {
    const { state, audit, logger } = this.deps;
    const previous = await blockedKey.read(state, logger);
    if (!verdict.blocked) {
      if (previous) this.deps.onBlockChange?.({ kind: 'released' });
      await blockedKey.write(state, undefined);
      return;
    }
    const held = verdict.held.map((a) => ('username' in a ? a.username : a.role));
    const heldChanges = Object.fromEntries(verdict.held.map((a) => [riskyUser(a), { key: heldKey(a), change: describeHeld(a) }]));
    await blockedKey.write(state, { at: at.toISOString(), ...verdict.blocked, held, heldChanges });
    if (JSON.stringify(previous?.held) !== JSON.stringify(held)) {
      this.deps.onBlockChange?.({ kind: 'blocked', reason: verdict.blocked.reason, held });
      await audit.record({ at: at.toISOString(), source: 'airflow', actor: 'reconciler', action: 'blocked', outcome: 'failure', detail: { ...verdict.blocked, held } });
    }
  }

  private async summarise(report: RunReport, started: Date): Promise<void> {
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
    const level = isFailedResult(report.result) || report.result === 'blocked' ? 'warn' : 'info';
    logger.log(level, 'reconcile run', line);
    if (report.dryRun) return; // dry runs change nothing, so they move no metric
    for (const o of report.outcomes) metrics?.onAction?.(o.action.kind, o.ok);
    if (report.result !== 'failed') {
      for (const kind of DRIFT_KINDS) metrics?.onDrift?.(kind, report.plan.drift.filter((d) => d.kind === kind).length);
    }
    if (metrics?.onPending) metrics.onPending(await pendingChanges(this.deps.store, this.deps.state, logger));
    metrics?.onRun?.(report);
  }
}

/** One line per held change, for `airflow-scim held`. */
function describeHeld(a: Action): string {
  if (a.kind === 'deprovision-user') return `${a.mode === 'delete' ? 'delete' : 'strip roles'} [${a.rolesBefore.join(', ')}]: ${a.reason}`;
  if (a.kind === 'update-user') return `roles ${JSON.stringify(a.changes.roles?.before ?? [])} -> ${JSON.stringify(a.changes.roles?.after ?? [])}: ${a.reason}`;
  return a.kind;
}

const isRoleAction = (a: Action): boolean => a.kind === 'create-role' || a.kind === 'set-role-permissions';
/** A role Airflow refused is reported as drift (unavailable-role), not as a failed run. */
const refusedRole = (o: ActionOutcome): boolean => o.errorKind === 'unknown-resource' && isRoleAction(o.action);

const permissionsKey = (perms: DesiredRole['permissions']): string => perms.map((p) => p.join('\u0000')).sort().join('\u0001');
