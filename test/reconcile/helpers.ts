import type { AirflowRole, AirflowUser } from '../../src/airflow/types';
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
