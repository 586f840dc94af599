import type { RunOrigin, RunResult } from '../store/reconcile-state';
import type { Permission } from '../airflow/types';

/** Why a user gets a role: which group, through which mapping rule. */
export interface RoleSource {
  group: string | null; // group displayName; null for the default roles
  rule: string; // e.g. 'group: airflow-admins', 'groupPattern: airflow-*', 'filter: …', 'default'
  roles: string[];
  /** Attribute rules (filter:): the user's values of the attributes the filter names, e.g. 'department = "Finance"'. */
  values?: string;
}

/** An Airflow account the IdP wants. */
export interface DesiredUser {
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  roles: string[]; // sorted, unique
  scimUserId: string;
  /** The SCIM identity's userName and externalId: ownership binds an account to them (plan.ts). */
  scimUserName?: string;
  externalId?: string;
  sources: RoleSource[];
}

export interface DesiredRole {
  name: string;
  permissions: Permission[];
}

/** Why a SCIM user gets no account; 'collision' and 'no-username' mean "unsure": the plan leaves such accounts alone. */
export type ExclusionKind = 'inactive' | 'unmapped' | 'no-username' | 'collision';

export interface DesiredState {
  users: DesiredUser[];
  roles: DesiredRole[];
  /** SCIM users that get no account, and why (inactive, in no mapped group, ...); keyed by Airflow username. */
  excluded: Array<{ username: string; scimUserId: string; reason: string; kind?: ExclusionKind }>;
  /** Airflow usernames rendered by more than one SCIM user: none of them is provisioned. */
  collisions?: Array<{ username: string; scimUserIds: string[]; userNames: string[] }>;
  /** SCIM id → userName of every SCIM user, to name identities in notes. */
  userNames?: Map<string, string>;
}

/** The plan is data (STYLE habit 5): printed by the CLI, compared by tests, applied by apply.ts. */
export type Action =
  | { kind: 'create-role'; role: string; permissions: Permission[]; reason: string }
  /** Role PATCH with the whole wanted set; add/remove say what changes (remove only where PATCH replaces). */
  | { kind: 'set-role-permissions'; role: string; permissions: Permission[]; add: Permission[]; remove: Permission[]; reason: string }
  | { kind: 'create-user'; username: string; user: DesiredUser; reason: string }
  | { kind: 'adopt-user'; username: string; scimUserId: string; externalId?: string; reason: string }
  | {
      kind: 'update-user';
      username: string;
      changes: Partial<Record<'email' | 'firstName' | 'lastName' | 'roles', { before: unknown; after: unknown }>>;
      reason: string;
      /** The update takes Admin away: counted and held by the safety step like a deprovision. */
      adminRemoval?: boolean;
      /** The update removes a role and grants none through a group mapping (a downgrade): counted like a deprovision. */
      roleRemoval?: boolean;
    }
  | { kind: 'deprovision-user'; username: string; mode: 'strip-roles' | 'delete'; rolesBefore: string[]; adminRemoval: boolean; reason: string };

export type ActionKind = Action['kind'];

/** Every drift kind, in report order (metrics export each, zeros included). */
export const DRIFT_KINDS = [
  'extra-permissions', 'email-clash', 'unknown-role', 'unavailable-role', 'protected', 'unowned', 'username-collision', 'awaiting-login',
] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** Things the plan saw and will not (or cannot) fix: reported, never applied. One variant per DriftKind. */
export type Drift =
  | { kind: 'extra-permissions'; role: string; permissions: Permission[]; note: string }
  | { kind: 'email-clash'; username: string; email: string; holder: string; note: string }
  | { kind: 'unknown-role'; role: string; usernames: string[]; note: string }
  /** A custom role Airflow refused (a resource it does not have, e.g. a DAG not parsed yet); retried on the schedule. */
  | { kind: 'unavailable-role'; role: string; note: string }
  | { kind: 'protected'; username: string; note: string }
  | { kind: 'unowned'; username: string; note: string }
  /** Several SCIM identities claim one Airflow account, or one claims an account bound to another: nobody gets it. */
  | { kind: 'username-collision'; username: string; scimUserIds: string[]; note: string }
  /** airflow.createUsers false: the account appears at the user's first SSO login, then gets its roles. */
  | { kind: 'awaiting-login'; username: string; note: string };

// The union and DRIFT_KINDS name the same kinds, checked both ways: a kind missing from the list would get no metric.
type SameKinds = [Exclude<Drift['kind'], DriftKind>, Exclude<DriftKind, Drift['kind']>] extends [never, never] ? true : false;
const _driftKindsMatch: SameKinds = true;

export interface Plan {
  actions: Action[];
  drift: Drift[];
  /** Desired users already as wanted. */
  unchanged: number;
  /** Managed (owned) users in Airflow, for the percentage limit. */
  managedUsers: number;
}

/** The safety step's answer (pure): what may be applied now and what is held back, with the reason. */
export interface SafetyVerdict {
  allowed: Action[];
  held: Action[];
  /** Held changes an operator rejected (`airflow-scim held reject`): not applied, not proposed again until they change. */
  declined?: Action[];
  blocked: null | { reason: string; deprovisions: number; windowCount: number; limit: number; percentLimit: number };
}

export interface ActionOutcome {
  action: Action;
  ok: boolean;
  error?: string;
  /** The failure is worth retrying soon (AirflowError.transient). */
  transient?: boolean;
  /** AirflowError.kind of a failure. */
  errorKind?: string;
}


export interface RunReport {
  id?: number;
  trigger: 'schedule' | 'change' | 'cli' | 'startup';
  /** Which process ran it: the service's loop or a one-off CLI command (absent in runs saved before it existed). */
  origin?: RunOrigin;
  dryRun: boolean;
  started: string;
  finished: string;
  result: RunResult;
  seq: number;
  plan: Plan;
  verdict: SafetyVerdict;
  outcomes: ActionOutcome[];
  error?: string;
  /** A failed run's error is worth retrying soon (Airflow unreachable, rate-limited, 5xx). */
  transient?: boolean;
}
