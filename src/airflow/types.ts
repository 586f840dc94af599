/**
 * The Airflow seam (STYLE habit 1): one interface, implementations for Airflow 2.x (basic auth, /auth/fab/v1 or
 * /api/v1), Airflow 3.x (FAB auth manager, JWT from POST /auth/token) and in memory, all run through
 * test/contract/airflow-client.contract.ts. Shapes follow ../shared/airflow-api/*.yaml.
 */

export interface AirflowUser {
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  /** Role names. */
  roles: string[];
  /** Read-only in every API version; null when Airflow does not say. */
  active: boolean | null;
}

/** [action, resource], e.g. ['can_read', 'DAG:finance_daily']. */
export type Permission = [action: string, resource: string];

export interface AirflowRole {
  name: string;
  permissions: Permission[];
}

export interface NewAirflowUser {
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  roles: string[];
  /** Required on Airflow 3; we always send a random one (SSO users never use it). */
  password: string;
}

/** Only the fields present are changed (sent with update_mask). roles replaces the whole list. */
export interface AirflowUserChange {
  email?: string;
  firstName?: string;
  lastName?: string;
  roles?: string[];
  password?: string;
}

export interface AirflowInfo {
  apiVersion: 2 | 3;
  /** e.g. "2.10.3" or "3.1.0", when the version endpoint says. */
  version?: string;
  /** Path prefix in use, e.g. "/auth/fab/v1" or "/api/v1". */
  basePath: string;
  /** apache-airflow-providers-fab version, when the providers endpoint says. */
  fabVersion?: string;
  /**
   * What role PATCH (update_mask=actions) does with the permissions sent: 'replace' on FAB provider >= 3.8.1
   * (the body is the end state), 'add' on Airflow 2.x and FAB 3.3.0-3.8.0 (real-airflow.md §1).
   */
  rolePatch: RolePatchBehaviour;
}

export type RolePatchBehaviour = 'add' | 'replace';

export interface AirflowClient {
  /** Detects (or confirms) the API version and checks the credentials and permissions with a cheap read. */
  info(): Promise<AirflowInfo>;
  /** Every user, paging through limit 100 / offset in ascending order. */
  listUsers(): Promise<AirflowUser[]>;
  listRoles(): Promise<AirflowRole[]>;
  /** One user by username (case-insensitive, doc §5), read fresh; null when Airflow has none. */
  getUser(username: string): Promise<AirflowUser | null>;
  createUser(user: NewAirflowUser): Promise<AirflowUser>;
  updateUser(username: string, change: AirflowUserChange): Promise<AirflowUser>;
  deleteUser(username: string): Promise<void>;
  createRole(role: AirflowRole): Promise<void>;
  /**
   * Sends the role's whole wanted permission set (role PATCH, update_mask=actions). Where info().rolePatch is
   * 'replace' the role ends with exactly these; where it is 'add', permissions not sent are kept.
   */
  setRolePermissions(name: string, permissions: Permission[]): Promise<void>;
  /** HTTP calls made so far, by "METHOD /path-template" (for metrics and benchmarks). */
  readonly calls?: ReadonlyMap<string, number>;
}

/** What went wrong, in words an admin can act on; mapped once from HTTP in airflow/errors.ts. */
export type AirflowErrorKind =
  | 'unreachable' // network error, timeout, connection refused
  | 'auth' // credentials rejected (2.x answers 403 for bad credentials)
  | 'forbidden' // authenticated but the API user lacks a permission
  | 'not-found'
  | 'conflict' // username or email taken
  | 'bad-request' // unknown role, unknown field, validation
  | 'rate-limited'
  | 'server' // 5xx
  | 'not-fab' // the auth manager is not FAB: no user/role API
  | 'unknown-resource' // a permission names a resource Airflow does not have (e.g. a DAG not parsed yet)
  | 'unsupported'; // an API or provider version we cannot talk to

export class AirflowError extends Error {
  constructor(
    readonly kind: AirflowErrorKind,
    message: string,
    readonly status?: number,
    readonly endpoint?: string,
  ) {
    super(message);
    this.name = 'AirflowError';
  }
  /** Worth retrying later (the scheduler backs off and tries again). */
  get transient(): boolean {
    return this.kind === 'unreachable' || this.kind === 'rate-limited' || this.kind === 'server';
  }
}
