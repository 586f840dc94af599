import type { Config } from '../config/schema';
import { desiredState, groupsByUser, roleSources } from '../reconcile/desired';
import type { AuditEntry, AuditLog } from '../store/audit-types';
import type { IdentitySnapshot } from '../store/types';

/** One row of `airflow-scim users`. */
export interface UserRow {
  id: string;
  userName: string;
  airflowUsername: string | null;
  state: 'active' | 'inactive';
  /** Roles the IdP wants in Airflow; [] = no account (see excluded). */
  roles: string[];
  groups: string[];
  managed: boolean;
  excluded?: string;
}

export function userRows(snapshot: IdentitySnapshot, config: Pick<Config, 'airflow' | 'roles'>, owned: Set<string>): UserRow[] {
  const desired = desiredState(snapshot, { usernameTemplate: config.airflow.username, mappings: config.roles.mappings, defaultRoles: config.roles.default, custom: config.roles.custom });
  const want = new Map(desired.users.map((u) => [u.scimUserId, u]));
  const excluded = new Map(desired.excluded.map((e) => [e.scimUserId, e]));
  const memberOf = groupsByUser(snapshot);
  return snapshot.users.map((u) => {
    const w = want.get(u.id);
    const x = excluded.get(u.id);
    const airflowUsername = w?.username ?? (x && x.kind !== 'no-username' ? x.username : null);
    return {
      id: u.id,
      userName: u.data.userName,
      airflowUsername,
      state: u.data.active === true ? 'active' : 'inactive',
      roles: w?.roles ?? [],
      groups: (memberOf.get(u.id) ?? []).map((g) => g.displayName).sort(),
      managed: airflowUsername !== null && owned.has(airflowUsername.toLowerCase()),
      ...(x ? { excluded: x.reason } : {}),
    };
  });
}

/** One row of `airflow-scim groups`. */
export interface GroupRow {
  id: string;
  displayName: string;
  externalId: string | null;
  members: number;
  /** Roles its mapping rules give (empty: not mapped). */
  roles: string[];
  rules: string[];
}

export function groupRows(snapshot: IdentitySnapshot, config: Pick<Config, 'roles'>): GroupRow[] {
  return snapshot.groups.map((g) => {
    const sources = roleSources([g], config.roles.mappings, []);
    return {
      id: g.id,
      displayName: g.displayName,
      externalId: g.externalId ?? null,
      members: g.memberIds.length,
      roles: [...new Set(sources.flatMap((s) => s.roles))].sort(),
      rules: sources.map((s) => s.rule),
    };
  });
}

/**
 * `audit --user`: the user's own entries plus the group changes that added or removed them (which give or take
 * roles), newest `limit` kept; SCIM ids in details are shown as userNames.
 */
export async function auditForUser(audit: Pick<AuditLog, 'query'>, snapshot: IdentitySnapshot, user: string, q: { since?: Date; source?: AuditEntry['source']; limit?: number }): Promise<AuditEntry[]> {
  const needle = user.toLowerCase();
  const match = snapshot.users.find((u) => u.id === user || u.data.userName.toLowerCase() === needle);
  const all = await audit.query({ since: q.since, source: q.source });
  const hits = all.filter(
    (e) =>
      e.subject?.toLowerCase() === needle ||
      (match !== undefined && (e.resourceId === match.id || e.subject?.toLowerCase() === match.data.userName.toLowerCase() || (e.resourceType === 'Group' && JSON.stringify(e.detail ?? {}).includes(`"${match.id}"`)))),
  );
  return q.limit === undefined ? hits : hits.slice(Math.max(0, hits.length - q.limit));
}

/** Replaces SCIM user ids inside details by userNames, so a membership change reads as names. */
export function withNames(entries: AuditEntry[], snapshot: IdentitySnapshot): AuditEntry[] {
  const names = new Map(snapshot.users.map((u) => [u.id, u.data.userName]));
  const swap = (v: unknown): unknown => (typeof v === 'string' ? (names.get(v) ?? v) : Array.isArray(v) ? v.map(swap) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)])) : v);
  return entries.map((e) => (e.detail ? { ...e, detail: swap(e.detail) as Record<string, unknown> } : e));
}
