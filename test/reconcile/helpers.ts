import type { AirflowRole, AirflowUser } from '../../src/airflow/types';
import type { IdentitySnapshot, SnapshotGroup, UserData, UserRecord } from '../../src/store/types';
import type { DesiredConfig } from '../../src/reconcile/desired';
import type { DesiredUser } from '../../src/reconcile/types';

/** Builders for the reconciler tests (the doubles are the contract-tested in-memory implementations). */

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
