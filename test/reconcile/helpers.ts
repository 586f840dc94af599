import { AirflowError, type AirflowClient, type AirflowRole, type AirflowUser, type AirflowUserChange, type NewAirflowUser, type Permission } from '../../src/airflow/types';
import type { AuditEntry, AuditLog, AuditQuery } from '../../src/store/audit-types';
import type { Change, IdentitySnapshot, SnapshotGroup, UserData, UserRecord } from '../../src/store/types';
import type { DesiredConfig } from '../../src/reconcile/desired';
import type { DesiredUser } from '../../src/reconcile/types';

/** Local test doubles and builders for the reconciler tests. */

export function scimUser(id: string, data: Partial<UserData> & { userName?: string } = {}): UserRecord {
  return {
    id,
    data: { userName: data.userName ?? id, active: true, ...data } as UserData,
    meta: { created: '2026-01-01T00:00:00Z', lastModified: '2026-01-01T00:00:00Z', version: 1 },
  };
}

export function group(id: string, displayName: string, memberIds: string[], externalId?: string): SnapshotGroup {
  return { id, displayName, memberIds, ...(externalId ? { externalId } : {}) };
}

export function snapshot(users: UserRecord[], groups: SnapshotGroup[] = [], seq = 1): IdentitySnapshot {
  return { seq, users, groups };
}

export function desiredCfg(over: Partial<DesiredConfig> = {}): DesiredConfig {
  return {
    usernameTemplate: '{userName}',
    mappings: [
      { group: 'airflow-admins', roles: ['Admin'] },
      { group: 'airflow-viewers', roles: ['Viewer'] },
    ],
    defaultRoles: [],
    custom: {},
    ...over,
  };
}

export function desiredUser(username: string, roles: string[], over: Partial<DesiredUser> = {}): DesiredUser {
  return {
    username,
    email: `${username}@example.com`,
    firstName: username,
    lastName: 'Test',
    roles,
    scimUserId: `scim-${username}`,
    sources: [{ group: 'g', rule: 'group: g', roles }],
    ...over,
  };
}

export function airflowUser(username: string, roles: string[], over: Partial<AirflowUser> = {}): AirflowUser {
  return { username, email: `${username}@example.com`, firstName: username, lastName: 'Test', roles, active: true, ...over };
}

export const BUILTIN_ROLES: AirflowRole[] = ['Admin', 'Op', 'Public', 'User', 'Viewer'].map((name) => ({ name, permissions: [] }));

/** An in-memory Airflow with FAB's rules that matter here: unique username (NOCASE) and email, known roles. */
export class TestAirflow implements AirflowClient {
  users: AirflowUser[] = [];
  roles: AirflowRole[] = BUILTIN_ROLES.map((r) => ({ ...r, permissions: [...r.permissions] }));
  writes: string[] = [];
  passwords = new Map<string, string>();
  /** Throws this on every call while set. */
  down: AirflowError | null = null;
  /** Per-username failure for writes. */
  failFor = new Set<string>();
  listCalls = 0;

  constructor(users: AirflowUser[] = []) {
    this.users = users.map((u) => ({ ...u, roles: [...u.roles] }));
  }

  private check(username?: string): void {
    if (this.down) throw this.down;
    if (username && this.failFor.has(username.toLowerCase())) throw new AirflowError('server', `injected failure for ${username}`, 500);
  }
  private find(username: string): AirflowUser {
    const u = this.users.find((x) => x.username.toLowerCase() === username.toLowerCase());
    if (!u) throw new AirflowError('not-found', `The User with username \`${username}\` was not found`, 404);
    return u;
  }
  private checkRoles(roles: string[]): void {
    const unknown = roles.filter((r) => !this.roles.some((x) => x.name === r));
    if (unknown.length) throw new AirflowError('bad-request', `Unknown roles: ${unknown.join(', ')}`, 400);
  }

  async info() {
    this.check();
    return { apiVersion: 3 as const, basePath: '/auth/fab/v1', rolePatch: 'replace' as const };
  }
  async listUsers(): Promise<AirflowUser[]> {
    this.check();
    this.listCalls++;
    return this.users.map((u) => ({ ...u, roles: [...u.roles] }));
  }
  async listRoles(): Promise<AirflowRole[]> {
    this.check();
    return this.roles.map((r) => ({ ...r, permissions: r.permissions.map((p) => [...p] as Permission) }));
  }
  async createUser(user: NewAirflowUser): Promise<AirflowUser> {
    this.check(user.username);
    if (this.users.some((u) => u.username.toLowerCase() === user.username.toLowerCase())) throw new AirflowError('conflict', 'username taken', 409);
    if (this.users.some((u) => u.email === user.email)) throw new AirflowError('conflict', 'email taken', 409);
    this.checkRoles(user.roles);
    this.writes.push(`create ${user.username}`);
    const created: AirflowUser = { username: user.username, email: user.email, firstName: user.firstName, lastName: user.lastName, roles: [...user.roles], active: true };
    this.users.push(created);
    this.passwords.set(user.username, user.password);
    return { ...created };
  }
  async updateUser(username: string, change: AirflowUserChange): Promise<AirflowUser> {
    this.check(username);
    const u = this.find(username);
    if (change.roles) this.checkRoles(change.roles);
    this.writes.push(`update ${username} ${Object.keys(change).sort().join(',')}`);
    if (change.email !== undefined) u.email = change.email;
    if (change.firstName !== undefined) u.firstName = change.firstName;
    if (change.lastName !== undefined) u.lastName = change.lastName;
    if (change.roles !== undefined) u.roles = [...new Set(change.roles)];
    if (change.password !== undefined) this.passwords.set(u.username, change.password);
    return { ...u };
  }
  async deleteUser(username: string): Promise<void> {
    this.check(username);
    const u = this.find(username);
    this.writes.push(`delete ${username}`);
    this.users = this.users.filter((x) => x !== u);
  }
  async createRole(role: AirflowRole): Promise<void> {
    this.check();
    if (this.roles.some((r) => r.name === role.name)) throw new AirflowError('conflict', 'role exists', 409);
    this.writes.push(`create-role ${role.name}`);
    this.roles.push({ name: role.name, permissions: role.permissions.map((p) => [...p] as Permission) });
  }
  async setRolePermissions(name: string, permissions: Permission[]): Promise<void> {
    this.check();
    const r = this.roles.find((x) => x.name === name);
    if (!r) throw new AirflowError('not-found', 'role not found', 404);
    this.writes.push(`set-perms ${name}`);
    r.permissions = permissions.map((p) => [...p] as Permission); // replaces, as FAB >= 3.8.1
  }
}

export class TestAudit implements AuditLog {
  entries: AuditEntry[] = [];
  record(entry: AuditEntry): void {
    this.entries.push({ ...entry, id: this.entries.length + 1 });
  }
  query(q: AuditQuery): AuditEntry[] {
    return this.entries.filter((e) => (!q.source || e.source === q.source) && (!q.subject || e.subject?.toLowerCase() === q.subject.toLowerCase()));
  }
}

/** The slice of IdentityStore the reconciler and loop read, with a journal. */
export class TestStore {
  users: UserRecord[] = [];
  groups: SnapshotGroup[] = [];
  journal: Change[] = [];
  constructor(private readonly now: () => Date = () => new Date()) {}
  touch(resourceId = 'x'): void {
    this.journal.push({ seq: this.journal.length + 1, at: this.now().toISOString(), resourceType: 'User', resourceId, op: 'patch' });
  }
  addUser(u: UserRecord, groups: string[] = []): void {
    this.users.push(u);
    for (const name of groups) {
      let g = this.groups.find((x) => x.displayName === name);
      if (!g) this.groups.push((g = group(`g-${name}`, name, [])));
      g.memberIds.push(u.id);
    }
    this.touch(u.id);
  }
  setActive(id: string, active: boolean): void {
    const u = this.users.find((x) => x.id === id)!;
    u.data = { ...u.data, active };
    this.touch(id);
  }
  latestSeq(): number {
    return this.journal.length;
  }
  changesSince(seq: number, limit = 1000): Change[] {
    return this.journal.filter((c) => c.seq > seq).slice(0, limit);
  }
  snapshot(): IdentitySnapshot {
    return structuredClone({ seq: this.latestSeq(), users: this.users, groups: this.groups });
  }
}
