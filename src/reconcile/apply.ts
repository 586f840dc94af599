import { randomBytes } from 'node:crypto';
import { AirflowError, type AirflowClient, type AirflowUserChange } from '../airflow/types';
import type { AuditLog } from '../store/audit-types';
import type { Clock } from '../core/clock';
import { forEachLimit } from '../core/limit';
import type { Action, ActionOutcome } from './types';
import type { ReconcileState } from './state';

export interface ApplyDeps {
  airflow: AirflowClient;
  state: ReconcileState;
  audit: AuditLog;
  clock: Clock;
  /** airflow.concurrency */
  concurrency: number;
  /** Injected for tests; default 32 random bytes, base64url. */
  newPassword?: () => string;
  /** Aborted when the run's lock may have passed to another process: actions not yet started are not attempted. */
  signal?: AbortSignal;
}

export type ProgressFn = (done: number, total: number) => void;

/** SSO users never use it; Airflow 3 requires one on create, and strip-roles rotates it to block DB login (§1.3). */
export const randomPassword = (): string => randomBytes(32).toString('base64url');

/**
 * Executes actions in three phases (roles, then users, then deprovisions, so roles exist before users need them),
 * each with bounded concurrency. Every action has its own try/catch: one failure never stops the rest.
 */
export async function applyActions(actions: Action[], deps: ApplyDeps, onProgress?: ProgressFn): Promise<ActionOutcome[]> {
  const phase = (a: Action): number => (a.kind === 'create-role' || a.kind === 'set-role-permissions' ? 0 : a.kind === 'deprovision-user' ? 2 : 1);
  const outcomes = new Map<Action, ActionOutcome>();
  let done = 0;
  for (const p of [0, 1, 2]) {
    await forEachLimit(actions.filter((a) => phase(a) === p), deps.concurrency, async (a) => {
      outcomes.set(a, deps.signal?.aborted ? notAttempted(a, deps.signal) : await applyOne(a, deps));
      onProgress?.(++done, actions.length);
    });
  }
  return actions.map((a) => outcomes.get(a) as ActionOutcome);
}

/** Left for the next run (which plans again from full state); transient, so the loop retries soon. */
function notAttempted(action: Action, signal: AbortSignal): ActionOutcome {
  const why = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return { action, ok: false, error: `not attempted: ${why}`, transient: true };
}

async function applyOne(action: Action, deps: ApplyDeps): Promise<ActionOutcome> {
  const subject = 'role' in action ? action.role : action.username;
  const resourceType = 'role' in action ? 'Role' : 'User';
  const audit = (outcome: 'success' | 'failure', detail: Record<string, unknown>): Promise<void> =>
    deps.audit.record({ at: deps.clock.now().toISOString(), source: 'airflow', actor: 'reconciler', resourceType, subject, action: action.kind, outcome, detail });
  try {
    const detail = await execute(action, deps);
    await audit('success', detail);
    return { action, ok: true };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    await audit('failure', { error });
    return { action, ok: false, error, transient: e instanceof AirflowError && e.transient, ...(e instanceof AirflowError ? { errorKind: e.kind } : {}) };
  }
}

/** Performs one action and returns the audit detail ({before, after}). */
async function execute(action: Action, deps: ApplyDeps): Promise<Record<string, unknown>> {
  const { airflow, state } = deps;
  const now = (): Date => deps.clock.now();
  const password = deps.newPassword ?? randomPassword;
  switch (action.kind) {
    case 'create-role':
      await airflow.createRole({ name: action.role, permissions: action.permissions });
      return { before: null, after: { permissions: action.permissions } };
    case 'set-role-permissions':
      await airflow.setRolePermissions(action.role, action.permissions);
      return { added: action.add, removed: action.remove, after: { permissions: action.permissions } };
    case 'create-user': {
      const { username, email, firstName, lastName, roles, scimUserId, externalId } = action.user;
      // Ownership is recorded first, as the intent: a process that dies (kill -9, a failover) after Airflow created
      // the account but before it could say so would otherwise leave an account no run manages; with the intent,
      // the next leader finds it owned and keeps it in step (deprovisions it too, if the IdP has dropped the user).
      await state.own(username, 'created', scimUserId, now(), externalId);
      try {
        await airflow.createUser({ username, email, firstName, lastName, roles, password: password() });
      } catch (e) {
        // Airflow answered no: nothing was created, so the intent goes (a 409 means the name is someone else's).
        // No answer at all (unreachable: a timeout, a reset): the account may exist now and would be ours, so the
        // intent stays; a full run disowns it if Airflow has no such account, and a later run creates it otherwise.
        if (!(e instanceof AirflowError && e.kind === 'unreachable')) await state.disown(username);
        throw e;
      }
      return { before: null, after: { email, firstName, lastName, roles }, scimUserId };
    }
    case 'adopt-user':
      await state.own(action.username, 'adopted', action.scimUserId, now(), action.externalId);
      return { scimUserId: action.scimUserId, reason: action.reason };
    case 'update-user': {
      const change: AirflowUserChange = {};
      const before: Record<string, unknown> = {};
      const after: Record<string, unknown> = {};
      for (const [field, c] of Object.entries(action.changes)) {
        (change as Record<string, unknown>)[field] = c.after;
        before[field] = c.before;
        after[field] = c.after;
      }
      await airflow.updateUser(action.username, change);
      if (action.adminRemoval) await state.recordDeprovision(action.username, 'admin-removal', now());
      else if (action.roleRemoval) await state.recordDeprovision(action.username, 'role-removal', now());
      return { before, after };
    }
    case 'deprovision-user': {
      if (action.mode === 'delete') {
        await deleteTolerant(airflow, action.username);
        await state.disown(action.username);
      } else {
        // No API can deactivate (airflow-api.md §1.3, §2.4): strip roles, rotate the password. Ownership stays, so a
        // reactivation in the IdP restores the roles.
        await airflow.updateUser(action.username, { roles: [], password: password() });
      }
      await state.recordDeprovision(action.username, 'deprovision', now());
      return { before: { roles: action.rolesBefore }, after: action.mode === 'delete' ? null : { roles: [] }, mode: action.mode };
    }
  }
}

/** Already gone is what we wanted. */
async function deleteTolerant(airflow: AirflowClient, username: string): Promise<void> {
  try {
    await airflow.deleteUser(username);
  } catch (e) {
    if (!(e instanceof AirflowError && e.kind === 'not-found')) throw e;
  }
}
