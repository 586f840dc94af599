/**
 * The fake's data: FAB users, roles, actions and resources (doc §3, §4). Usernames are looked up
 * case-insensitively (doc §5 find_user); emails exactly. Role permissions are sets of [action, resource].
 */

export interface FakeUser {
  id: number;
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  roles: string[];
  active: boolean;
  /** '' = created without a password: cannot use basic auth (doc §1.2). */
  password: string;
  lastLogin: string | null;
  loginCount: number;
  failLoginCount: number;
  createdOn: string;
  changedOn: string;
}

export interface FakeRole {
  id: number;
  name: string;
  permissions: Array<[string, string]>;
}

export interface SeedUser {
  username: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  roles?: string[];
  password?: string;
  active?: boolean;
}

/** Doc §3 actions. */
export const ACTIONS = ['can_create', 'can_read', 'can_edit', 'can_delete', 'menu_access'];
/**
 * Resource names (ab_view_menu) of a fresh metadata DB, read from the real servers this fake is checked against
 * (test/real-airflow): Airflow 2.10.5 with FAB 1.5.3, Airflow 3.3.2 with FAB 3.10.2 (real-airflow.md §5).
 */
export const RESOURCES_2 = [
  'IndexView', 'UtilView', 'LocaleView', 'Passwords', 'My Password', 'My Profile', 'AuthDBView', 'Users', 'List Users', 'Security',
  'Roles', 'List Roles', 'User Stats Chart', "User's Statistics", 'Permissions', 'Actions', 'View Menus', 'Resources',
  'Permission Views', 'Permission Pairs', 'DAGs', 'DAG Dependencies', 'DAG Code', 'DAG Runs', 'Datasets', 'Cluster Activity', 'Pools',
  'ImportError', 'DAG Warnings', 'Jobs', 'SLA Misses', 'Task Instances', 'Task Logs', 'XComs', 'Website', 'Browse', 'Documentation',
  'Docs', 'Configurations', 'Admin', 'Connections', 'Plugins', 'Variables', 'Providers', 'Audit Logs', 'Task Reschedules', 'Triggers',
  'AutocompleteView', 'Airflow', 'DagDependenciesView', 'RedocView', 'DevView', 'DocsView',
];
export const RESOURCES_3 = [
  'DAGs', 'DAG Dependencies', 'DAG Code', 'DAG Runs', 'DAG Versions', 'DAG Warnings', 'Assets', 'Asset Aliases', 'Backfills',
  'Cluster Activity', 'Pools', 'ImportError', 'Jobs', 'My Password', 'My Profile', 'SLA Misses', 'Task Instances', 'Task Logs', 'XComs',
  'HITL Detail', 'Website', 'Browse', 'Documentation', 'Docs', 'Admin', 'Configurations', 'Connections', 'Plugins', 'Variables',
  'Providers', 'Audit Logs', 'All Audit Logs', 'All Import Errors', 'All Reparses', 'Task Reschedules', 'Triggers', 'Passwords', 'Roles',
  'FabIndexView', 'UtilView', 'SecurityApi', 'AuthDBView', 'Users', 'List Users', 'Security', 'List Roles', 'User Stats Chart',
  "User's Statistics", 'Permissions', 'Actions', 'View Menus', 'Resources', 'Permission Views', 'Permission Pairs',
];
/** DAGs whose permissions are "synced", so DAG:<id> resources exist (doc §3). */
export const SEED_DAGS = ['example_bash_operator', 'finance_daily', 'marketing_weekly'];

const VIEWER = (assets: string): Array<[string, string]> => [
  ...['DAGs', 'DAG Code', 'DAG Dependencies', 'DAG Runs', assets, 'Pools', 'Jobs', 'Task Instances', 'Task Logs',
    'XComs', 'Website', 'My Profile', 'My Password', 'ImportError', 'DAG Warnings'].map((r): [string, string] => ['can_read', r]),
  ['can_edit', 'My Profile'], ['can_edit', 'My Password'],
  ...['Browse', 'DAGs', 'DAG Runs', 'Jobs', 'Task Instances', 'Docs', 'Documentation'].map((r): [string, string] => ['menu_access', r]),
];
const USER = (assets: string): Array<[string, string]> => [
  ['can_edit', 'DAGs'], ['can_delete', 'DAGs'], ['can_create', assets],
  ...['Task Instances', 'DAG Runs'].flatMap((r) => ['can_create', 'can_edit', 'can_delete'].map((a): [string, string] => [a, r])),
];
const OP: Array<[string, string]> = [
  ['can_read', 'Configurations'], ['can_read', 'Providers'], ['can_read', 'Plugins'], ['can_delete', 'XComs'], ['menu_access', 'Admin'],
  ...['Connections', 'Pools', 'Variables'].flatMap((r) => ['can_create', 'can_read', 'can_edit', 'can_delete'].map((a): [string, string] => [a, r])),
];

const key = (a: string, r: string): string => `${a}\u0000${r}`;

export class FakeAirflowState {
  readonly users = new Map<number, FakeUser>();
  readonly roles = new Map<string, FakeRole>();
  readonly actions = new Set<string>(ACTIONS);
  readonly resources: Set<string>;
  /** Flask sessions stored by 2.x basic-auth sign-ins (session id → user id), like the real `session` table. */
  readonly sessions = new Map<string, number>();
  private nextUserId = 1;
  private nextRoleId = 1;

  constructor(
    private readonly now: () => Date = () => new Date(),
    readonly apiVersion: 2 | 3 = 2,
  ) {
    this.resources = new Set(apiVersion === 3 ? RESOURCES_3 : RESOURCES_2);
    const assets = apiVersion === 3 ? 'Assets' : 'Datasets';
    const VIEWER_ = VIEWER(assets);
    const USER_ = USER(assets);
    for (const dag of SEED_DAGS) this.addDag(dag);
    // ROLE_CONFIGS (doc §4): Public none; Viewer ⊂ User ⊂ Op ⊂ Admin; Admin gets every non-DAG permission.
    const all = [...this.resources].filter((r) => !r.startsWith('DAG:') && !r.startsWith('DAG Run:'));
    this.addRole('Admin', all.flatMap((r) => ACTIONS.map((a): [string, string] => [a, r])));
    this.addRole('Op', [...VIEWER_, ...USER_, ...OP]);
    this.addRole('User', [...VIEWER_, ...USER_]);
    this.addRole('Viewer', VIEWER_);
    this.addRole('Public', []);
  }

  /** Creates DAG:<id> and DAG Run:<id> resources, as sync_perm_for_dag does (doc §3). */
  addDag(dagId: string): void {
    this.resources.add(`DAG:${dagId}`);
    this.resources.add(`DAG Run:${dagId}`);
  }

  getUser(username: string): FakeUser | undefined {
    const lower = username.toLowerCase();
    for (const u of this.users.values()) if (u.username.toLowerCase() === lower) return u;
    return undefined;
  }

  findUserByEmail(email: string): FakeUser | undefined {
    for (const u of this.users.values()) if (u.email === email) return u;
    return undefined;
  }

  /** Users in id order (the API's default ordering). */
  listUsers(): FakeUser[] {
    return [...this.users.values()].sort((a, b) => a.id - b.id);
  }

  addUser(seed: SeedUser): FakeUser {
    if (this.getUser(seed.username)) throw new Error(`fake: user ${seed.username} exists`);
    for (const r of seed.roles ?? []) if (!this.roles.has(r)) throw new Error(`fake: role ${r} does not exist`);
    const at = this.now().toISOString();
    const user: FakeUser = {
      id: this.nextUserId++,
      username: seed.username,
      email: seed.email ?? `${seed.username}@example.com`,
      firstName: seed.firstName ?? seed.username,
      lastName: seed.lastName ?? 'User',
      roles: seed.roles && seed.roles.length > 0 ? [...seed.roles] : ['Public'],
      active: seed.active ?? true,
      password: seed.password ?? '',
      lastLogin: null,
      loginCount: 0,
      failLoginCount: 0,
      createdOn: at,
      changedOn: at,
    };
    this.users.set(user.id, user);
    return user;
  }

  /** Seeds n users named `${prefix}0000`… quickly (paging tests). */
  addUsers(n: number, prefix = 'user', roles: string[] = ['Viewer']): void {
    for (let i = 0; i < n; i++) this.addUser({ username: `${prefix}${String(i).padStart(4, '0')}`, roles });
  }

  removeUser(username: string): boolean {
    const u = this.getUser(username);
    return u ? this.users.delete(u.id) : false;
  }

  setPassword(username: string, password: string): void {
    this.mustUser(username).password = password;
  }

  setActive(username: string, active: boolean): void {
    this.mustUser(username).active = active;
  }

  touch(user: FakeUser): void {
    user.changedOn = this.now().toISOString();
  }

  /** Basic-auth / token check (auth_user_db): active user, non-empty matching password. */
  authenticate(username: string, password: string): FakeUser | undefined {
    if (!username || !password) return undefined;
    const u = this.getUser(username);
    if (!u || !u.active || u.password === '' || u.password !== password) {
      if (u) u.failLoginCount++;
      return undefined;
    }
    u.loginCount++;
    u.lastLogin = this.now().toISOString();
    return u;
  }

  getRole(name: string): FakeRole | undefined {
    return this.roles.get(name);
  }

  listRoles(): FakeRole[] {
    return [...this.roles.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  addRole(name: string, permissions: Array<[string, string]> = []): FakeRole {
    if (this.roles.has(name)) throw new Error(`fake: role ${name} exists`);
    const role: FakeRole = { id: this.nextRoleId++, name, permissions: [] };
    this.roles.set(name, role);
    this.grant(name, permissions);
    return role;
  }

  /** bulk_sync_roles: adds missing permissions, never removes (doc §1.4). Routes check the names exist first. */
  grant(roleName: string, permissions: Array<[string, string]>): void {
    const role = this.roles.get(roleName);
    if (!role) throw new Error(`fake: role ${roleName} does not exist`);
    const have = new Set(role.permissions.map(([a, r]) => key(a, r)));
    for (const [a, r] of permissions) {
      if (!this.actions.has(a) || !this.resources.has(r)) throw new Error(`fake: no permission ${a} on ${r}`);
      if (!have.has(key(a, r))) {
        role.permissions.push([a, r]);
        have.add(key(a, r));
      }
    }
  }

  /** FAB >= 3.8.1 role PATCH: the role ends with exactly these permissions (PR #71933, real-airflow.md §1). */
  setPermissions(roleName: string, permissions: Array<[string, string]>): void {
    const role = this.roles.get(roleName);
    if (!role) throw new Error(`fake: role ${roleName} does not exist`);
    role.permissions = [];
    this.grant(roleName, permissions);
  }

  renameRole(oldName: string, newName: string): boolean {
    const role = this.roles.get(oldName);
    if (!role || this.roles.has(newName)) return false;
    this.roles.delete(oldName);
    role.name = newName;
    this.roles.set(newName, role);
    for (const u of this.users.values()) u.roles = u.roles.map((r) => (r === oldName ? newName : r));
    return true;
  }

  removeRole(name: string): boolean {
    if (!this.roles.delete(name)) return false;
    for (const u of this.users.values()) u.roles = u.roles.filter((r) => r !== name);
    return true;
  }

  /** Does the user hold [action, resource] through any of its roles? */
  can(user: FakeUser | undefined, action: string, resource: string): boolean {
    const roles = user ? user.roles : ['Public'];
    return roles.some((r) => this.roles.get(r)?.permissions.some(([a, res]) => a === action && res === resource) ?? false);
  }

  private mustUser(username: string): FakeUser {
    const u = this.getUser(username);
    if (!u) throw new Error(`fake: no user ${username}`);
    return u;
  }
}
