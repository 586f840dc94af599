/**
 * In-memory AirflowClient with the semantics that matter (STYLE habit 1): case-insensitive usernames
 * (doc §5), 409 on taken username/email, unknown roles rejected, roles replaced on update (doc §1.4),
 * role PATCH adding (Airflow 2.x, FAB <= 3.8.0) or replacing (FAB >= 3.8.1) as configured. Records calls like the
 * HTTP clients do.
 */
import type { AirflowClient, AirflowInfo, AirflowRole, AirflowUser, AirflowUserChange, NewAirflowUser, Permission, RolePatchBehaviour } from './types';
import { unknownResource } from './errors';
import { AirflowError } from './types';

export interface MemorySeed {
  users?: Array<Omit<AirflowUser, 'active'> & { active?: boolean | null }>;
  /** Extra roles; Admin, Op, User, Viewer and Public always exist (doc §4). */
  roles?: AirflowRole[];
  /** What role PATCH does (default 'replace', as the newest FAB provider). */
  rolePatch?: RolePatchBehaviour;
  /** Resource names that exist (permissions on others are refused); default: any name. */
  resources?: string[];
}

const clone = <T>(v: T): T => structuredClone(v);
const permKey = ([a, r]: Permission): string => `${a}\u0000${r}`;

export class MemoryAirflowClient implements AirflowClient {
  private readonly users = new Map<string, AirflowUser>();
  private readonly roles = new Map<string, AirflowRole>();
  private readonly counts = new Map<string, number>();
  private readonly passwords = new Map<string, string>();
  /** Every call in order, e.g. "createUser alice" (for assertions). */
  readonly log: string[] = [];
  private failures: AirflowError[] = [];
  private readonly rolePatch: RolePatchBehaviour;
  private readonly resources?: Set<string>;

  constructor(seed: MemorySeed = {}) {
    this.rolePatch = seed.rolePatch ?? 'replace';
    this.resources = seed.resources && new Set(seed.resources);
    for (const name of ['Admin', 'Op', 'User', 'Viewer', 'Public']) this.roles.set(name, { name, permissions: [] });
    for (const r of seed.roles ?? []) this.roles.set(r.name, clone(r));
    for (const u of seed.users ?? []) this.users.set(u.username.toLowerCase(), { ...clone(u), active: u.active ?? true });
  }

  get calls(): ReadonlyMap<string, number> {
    return this.counts;
  }

  /** The next calls fail with these errors, in order (for callers' tests). */
  failNext(...errors: AirflowError[]): void {
    this.failures.push(...errors);
  }

  /** Direct reads for assertions, without counting a call. */
  peekUser(username: string): AirflowUser | undefined {
    const u = this.users.get(username.toLowerCase());
    return u && clone(u);
  }
  /** The password last set through the API (undefined for seeded users). */
  peekPassword(username: string): string | undefined {
    return this.passwords.get(username.toLowerCase());
  }
  peekRole(name: string): AirflowRole | undefined {
    const r = this.roles.get(name);
    return r && clone(r);
  }

  async info(): Promise<AirflowInfo> {
    this.record('GET /users', 'info');
    return { apiVersion: 3, version: 'memory', basePath: '/memory', rolePatch: this.rolePatch };
  }

  async listUsers(): Promise<AirflowUser[]> {
    this.record('GET /users', 'listUsers');
    return [...this.users.values()].map(clone);
  }

  async getUser(username: string): Promise<AirflowUser | null> {
    this.record('GET /users/{username}', `getUser ${username}`);
    const u = this.users.get(username.toLowerCase());
    return u ? clone(u) : null;
  }

  async listRoles(): Promise<AirflowRole[]> {
    this.record('GET /roles', 'listRoles');
    return [...this.roles.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(clone);
  }

  async createUser(user: NewAirflowUser): Promise<AirflowUser> {
    this.record('POST /users', `createUser ${user.username}`);
    if (this.users.has(user.username.toLowerCase())) {
      throw new AirflowError('conflict', `Username \`${user.username}\` already exists. Use PATCH to update.`, 409, 'POST /users');
    }
    if ([...this.users.values()].some((u) => u.email === user.email)) {
      throw new AirflowError('conflict', `The email \`${user.email}\` is already taken.`, 409, 'POST /users');
    }
    this.checkRoles(user.roles, 'POST /users');
    const created: AirflowUser = {
      username: user.username, email: user.email, firstName: user.firstName, lastName: user.lastName,
      roles: user.roles.length > 0 ? [...new Set(user.roles)] : ['Public'], // no roles → Public (doc §1.7)
      active: true,
    };
    this.users.set(user.username.toLowerCase(), created);
    this.passwords.set(user.username.toLowerCase(), user.password);
    return clone(created);
  }

  async updateUser(username: string, change: AirflowUserChange): Promise<AirflowUser> {
    this.record('PATCH /users/{username}', `updateUser ${username}`);
    const u = this.mustUser(username, 'PATCH /users/{username}');
    if (change.email !== undefined && change.email !== u.email && [...this.users.values()].some((o) => o.email === change.email)) {
      throw new AirflowError('conflict', `The email \`${change.email}\` already exists`, 409, 'PATCH /users/{username}');
    }
    if (change.roles) this.checkRoles(change.roles, 'PATCH /users/{username}');
    if (change.email !== undefined) u.email = change.email;
    if (change.firstName !== undefined) u.firstName = change.firstName;
    if (change.lastName !== undefined) u.lastName = change.lastName;
    if (change.roles) u.roles = [...new Set(change.roles)]; // replaces the list
    if (change.password !== undefined) this.passwords.set(u.username.toLowerCase(), change.password);
    return clone(u);
  }

  async deleteUser(username: string): Promise<void> {
    this.record('DELETE /users/{username}', `deleteUser ${username}`);
    this.mustUser(username, 'DELETE /users/{username}');
    this.users.delete(username.toLowerCase());
    this.passwords.delete(username.toLowerCase());
  }

  async createRole(role: AirflowRole): Promise<void> {
    this.record('POST /roles', `createRole ${role.name}`);
    if (this.roles.has(role.name)) {
      throw new AirflowError('conflict', `Role with name '${role.name}' already exists; please update with the PATCH endpoint`, 409, 'POST /roles');
    }
    this.checkResources(role.permissions, 'POST /roles');
    this.roles.set(role.name, { name: role.name, permissions: dedupe(role.permissions) });
  }

  async setRolePermissions(name: string, permissions: Permission[]): Promise<void> {
    this.record('PATCH /roles/{name}', `setRolePermissions ${name}`);
    const role = this.roles.get(name);
    if (!role) throw new AirflowError('not-found', `Role with name '${name}' was not found`, 404, 'PATCH /roles/{name}');
    this.checkResources(permissions, 'PATCH /roles/{name}');
    role.permissions = dedupe(this.rolePatch === 'replace' ? permissions : [...role.permissions, ...permissions]);
  }

  private record(call: string, entry: string): void {
    this.counts.set(call, (this.counts.get(call) ?? 0) + 1);
    this.log.push(entry);
    const failure = this.failures.shift();
    if (failure) throw failure;
  }

  private mustUser(username: string, endpoint: string): AirflowUser {
    const u = this.users.get(username.toLowerCase());
    if (!u) throw new AirflowError('not-found', `The User with username \`${username}\` was not found`, 404, endpoint);
    return u;
  }

  private checkResources(perms: Permission[], endpoint: string): void {
    const missing = perms.find(([, r]) => this.resources && !this.resources.has(r));
    if (missing) throw unknownResource(missing[1], endpoint);
  }

  private checkRoles(roles: string[], endpoint: string): void {
    const missing = roles.filter((r) => !this.roles.has(r));
    if (missing.length > 0) {
      const names = missing.map((n) => `'${n}'`).join(', ');
      throw new AirflowError('bad-request', `Airflow has no role ${names} (${endpoint}); create it or fix the role mapping`, 400, endpoint);
    }
  }
}

function dedupe(perms: Permission[]): Permission[] {
  const seen = new Map<string, Permission>();
  for (const p of perms) seen.set(permKey(p), [p[0], p[1]]);
  return [...seen.values()];
}
