import type { AirflowRole, AirflowUser, Permission, RolePatchBehaviour } from '../airflow/types';
import type { Action, DesiredState, DesiredUser, Drift, Plan } from './types';
import type { OwnershipRecord } from './state';
import { cmp } from './desired';

export const ADMIN_ROLE = 'Admin';

export interface PlanContext {
  /** Lower-cased username → ownership. */
  owned: Map<string, OwnershipRecord>;
  protectedUsers: string[];
  serviceAccount: string | null;
  deprovision: 'strip-roles' | 'delete';
  /** What this Airflow's role PATCH does (AirflowInfo.rolePatch); 'add' when no custom role is configured. */
  rolePatch: RolePatchBehaviour;
  /**
   * Custom roles Airflow refused for the permissions configured now (role → Airflow's message), e.g. naming a DAG
   * not parsed yet. Planned as drift, not as another 400, until the scheduled run tries again.
   */
  unavailableRoles?: ReadonlyMap<string, string>;
  /** false (airflow.createUsers): missing accounts are awaited from the user's first SSO login, not created. */
  createUsers?: boolean;
  /** Managed accounts in all of Airflow, when `observed` holds only some users (a change-triggered run). */
  managedUsers?: number;
}

export interface Observed {
  users: AirflowUser[];
  roles: AirflowRole[];
}

type UpdateAction = Extract<Action, { kind: 'update-user' }>;
type Changes = UpdateAction['changes'];

const lower = (s: string): string => s.toLowerCase();
const permKey = (p: Permission): string => `${p[0]}\u0000${p[1]}`;
const sameSet = (a: string[], b: string[]): boolean => a.length === b.length && new Set([...a, ...b]).size === new Set(a).size;
const byUsername = (a: { username: string }, b: { username: string }): number => cmp(lower(a.username), lower(b.username));

/**
 * Desired vs observed → actions and drift (pure; external-dns plan.go). Acts only on owned accounts, never on
 * protected users, the service account or the last Admin; leaves accounts alone when the IdP side is ambiguous.
 */
export function plan(desired: DesiredState, observed: Observed, ctx: PlanContext): Plan {
  const drift: Drift[] = [];
  const roleActions: Action[] = [];
  const airflowUsers = new Map(observed.users.map((u) => [lower(u.username), u]));
  const untouchable = new Set([...ctx.protectedUsers, ...(ctx.serviceAccount ? [ctx.serviceAccount] : [])].map(lower));

  // Custom roles. Role PATCH always carries the whole wanted set. Where it replaces (FAB >= 3.8.1) extra
  // permissions are removed by it; where it only adds (2.x, FAB <= 3.8.0) they are drift (real-airflow.md §1).
  const airflowRoles = new Map(observed.roles.map((r) => [r.name, r]));
  const unavailable = new Set<string>();
  for (const role of desired.roles) {
    const current = airflowRoles.get(role.name);
    const refused = ctx.unavailableRoles?.get(role.name);
    if (refused !== undefined) {
      if (!current) unavailable.add(role.name);
      drift.push({ kind: 'unavailable-role', role: role.name, note: `Airflow refused this custom role: ${refused}; tried again on the next scheduled run` });
      continue;
    }
    if (!current) {
      roleActions.push({ kind: 'create-role', role: role.name, permissions: role.permissions, reason: 'custom role missing in Airflow' });
      continue;
    }
    const have = new Set(current.permissions.map(permKey));
    const want = new Set(role.permissions.map(permKey));
    const missing = role.permissions.filter((p) => !have.has(permKey(p)));
    const extra = current.permissions.filter((p) => !want.has(permKey(p)));
    const remove = ctx.rolePatch === 'replace' ? extra : [];
    if (missing.length > 0 || remove.length > 0) {
      const why = [missing.length ? `lacks ${missing.length} configured permission(s)` : '', remove.length ? `has ${remove.length} permission(s) not configured` : ''];
      roleActions.push({ kind: 'set-role-permissions', role: role.name, permissions: role.permissions, add: missing, remove, reason: `custom role ${why.filter(Boolean).join(' and ')}` });
    }
    if (extra.length > 0 && ctx.rolePatch === 'add') {
      drift.push({ kind: 'extra-permissions', role: role.name, permissions: extra, note: "this Airflow's role API can only add permissions (Airflow 2.x, FAB provider < 3.8.1); remove these by hand" });
    }
  }
  const knownRoles = new Set([...observed.roles.map((r) => r.name), ...desired.roles.map((r) => r.name).filter((n) => !unavailable.has(n))]);

  const creates: Action[] = [];
  const adopts: Action[] = [];
  const updates: UpdateAction[] = [];
  const deprovisions: Array<Extract<Action, { kind: 'deprovision-user' }>> = [];
  const unknownRoles = new Map<string, string[]>();
  const emailHolders = new Map(observed.users.map((u) => [lower(u.email), u.username]));
  let unchanged = 0;

  const desiredKeys = new Set<string>();
  const mappedRoles = new Map<UpdateAction, Set<string>>();
  const nameOf = (id: string | null): string => {
    const n = id === null ? undefined : desired.userNames?.get(id);
    return n ? `${n} (id ${id})` : `id ${id} (no longer in the IdP)`;
  };
  for (const c of desired.collisions ?? []) {
    const named = c.scimUserIds.map((id, i) => `${c.userNames[i]} (id ${id})`).join(' and ');
    drift.push({ kind: 'username-collision', username: c.username, scimUserIds: c.scimUserIds, note: `rendered by ${named}; none is provisioned until the IdP tells them apart` });
  }
  for (const d of [...desired.users].sort(byUsername)) {
    const key = lower(d.username);
    if (untouchable.has(key)) {
      desiredKeys.add(key);
      drift.push({ kind: 'protected', username: d.username, note: 'protected user or API service account: never changed by the reconciler' });
      continue;
    }
    const bound = ctx.owned.get(key);
    if (bound && bound.scimUserId !== null && airflowUsers.has(key) && !sameIdentity(bound, d)) {
      // Never re-bound to another identity (issue 11): the account is left to its own identity's fate.
      drift.push({
        kind: 'username-collision',
        username: d.username,
        scimUserIds: [bound.scimUserId, d.scimUserId],
        note:
          `bound to SCIM user ${nameOf(bound.scimUserId)}; ${nameOf(d.scimUserId)} also renders this username and is not given it ` +
          `until an admin runs "airflow-scim release ${d.username}"`,
      });
      continue;
    }
    desiredKeys.add(key);
    const roles = d.roles.filter((r) => knownRoles.has(r));
    for (const r of d.roles.filter((r) => !knownRoles.has(r))) unknownRoles.set(r, [...(unknownRoles.get(r) ?? []), d.username]);
    const current = airflowUsers.get(key);
    const holder = emailHolders.get(lower(d.email));
    const clashes = holder !== undefined && lower(holder) !== key;
    if (clashes) {
      drift.push({ kind: 'email-clash', username: d.username, email: d.email, holder, note: `Airflow user "${holder}" already has this email; emails are unique in Airflow` });
    }

    if (!current) {
      // No usable role: Airflow would assign its registration role instead (airflow-api.md §1.7); unknown-role says why.
      if (clashes || roles.length === 0) continue;
      if (ctx.createUsers === false) {
        drift.push({ kind: 'awaiting-login', username: d.username, note: `no Airflow account yet; created at the first SSO login, then given [${roles.join(', ')}]` });
        continue;
      }
      emailHolders.set(lower(d.email), d.username);
      creates.push({ kind: 'create-user', username: d.username, user: { ...d, roles }, reason: `provisioned by ${describeSources(d)}` });
      continue;
    }

    const owner = ctx.owned.get(key);
    if (!owner || owner.scimUserId !== d.scimUserId) {
      adopts.push({
        kind: 'adopt-user',
        username: current.username,
        scimUserId: d.scimUserId,
        ...(d.externalId !== undefined ? { externalId: d.externalId } : {}),
        reason: owner ? `now managed for SCIM user ${d.scimUserId} (was ${owner.scimUserId ?? 'none'})` : 'an Airflow user with this username already exists; the IdP manages it from now on',
      });
    }
    const changes = diff(current, { ...d, roles }, clashes);
    if (Object.keys(changes).length > 0) {
      const adminRemoval = current.roles.includes(ADMIN_ROLE) && !roles.includes(ADMIN_ROLE);
      const update: UpdateAction = { kind: 'update-user', username: current.username, changes, reason: `differs from the IdP (${Object.keys(changes).join(', ')})`, ...(adminRemoval ? { adminRemoval } : {}) };
      mappedRoles.set(update, new Set(d.sources.filter((s) => s.group !== null).flatMap((s) => s.roles)));
      updates.push(update);
    } else if (owner && owner.scimUserId === d.scimUserId) {
      unchanged++;
    }
  }

  // Owned accounts the IdP no longer wants. Ambiguous ones (collision, unrenderable username) are left alone.
  const unsure = new Map(desired.excluded.filter((e) => e.kind === 'collision' || e.kind === 'no-username').map((e) => [lower(e.username), e]));
  const excludedByKey = new Map(desired.excluded.map((e) => [lower(e.username), e]));
  for (const u of [...observed.users].sort(byUsername)) {
    const key = lower(u.username);
    if (desiredKeys.has(key)) continue;
    if (!ctx.owned.has(key)) {
      const ex = excludedByKey.get(key);
      if (ex) drift.push({ kind: 'unowned', username: u.username, note: `the IdP says "${ex.reason}", but this account was not provisioned by us; left as is` });
      continue;
    }
    if (untouchable.has(key)) {
      drift.push({ kind: 'protected', username: u.username, note: 'protected user or API service account: never deprovisioned' });
      continue;
    }
    const ambiguous = unsure.get(key);
    if (ambiguous) {
      drift.push({ kind: 'protected', username: u.username, note: `not deprovisioned while the IdP side is ambiguous: ${ambiguous.reason}` });
      continue;
    }
    if (ctx.deprovision === 'strip-roles' && u.roles.length === 0) continue;
    const reason = excludedByKey.get(key)?.reason ?? 'no longer in the IdP';
    deprovisions.push({ kind: 'deprovision-user', username: u.username, mode: ctx.deprovision, rolesBefore: [...u.roles].sort(cmp), adminRemoval: u.roles.includes(ADMIN_ROLE), reason });
  }

  spareLastAdmin(observed.users, creates, updates, deprovisions, drift);
  for (const u of updates) if (isRoleRemoval(u, mappedRoles.get(u) ?? new Set())) u.roleRemoval = true;

  for (const [role, usernames] of [...unknownRoles].sort((a, b) => cmp(a[0], b[0]))) {
    drift.push({ kind: 'unknown-role', role, usernames, note: 'mapped role does not exist in Airflow and is not in roles.custom; users get their other roles' });
  }
  const managedUsers = ctx.managedUsers ?? observed.users.filter((u) => ctx.owned.has(lower(u.username))).length;
  const actions = [...roleActions, ...creates, ...adopts, ...updates.filter((a) => Object.keys(a.changes).length > 0), ...deprovisions];
  return { actions, drift, unchanged, managedUsers };
}

/** The same SCIM identity: the bound SCIM id, or the same externalId (the person re-created in the IdP). */
function sameIdentity(bound: OwnershipRecord, d: DesiredUser): boolean {
  return bound.scimUserId === d.scimUserId || (bound.externalId !== undefined && bound.externalId === d.externalId);
}

/**
 * A downgrade the safety window counts: the update removes a role and grants no role through a group mapping
 * (falling back to roles.default, or losing one of several groups). Moving between mapped groups does not count.
 */
function isRoleRemoval(u: UpdateAction, mapped: Set<string>): boolean {
  const roles = u.changes.roles;
  if (!roles) return false;
  const before = new Set(roles.before as string[]);
  const after = roles.after as string[];
  const removes = [...before].some((r) => !after.includes(r));
  const grantsMapped = after.some((r) => !before.has(r) && mapped.has(r));
  return removes && !grantsMapped;
}

function diff(current: AirflowUser, want: DesiredUser, emailClash: boolean): Changes {
  const changes: Changes = {};
  if (current.email !== want.email && !emailClash) changes.email = { before: current.email, after: want.email };
  if (current.firstName !== want.firstName) changes.firstName = { before: current.firstName, after: want.firstName };
  if (current.lastName !== want.lastName) changes.lastName = { before: current.lastName, after: want.lastName };
  if (!sameSet(current.roles, want.roles)) changes.roles = { before: [...current.roles].sort(cmp), after: want.roles };
  return changes;
}

/** airflow-api.md §5: the API lets anyone remove the last Admin. If the plan would, keep one (first by name). */
function spareLastAdmin(
  users: AirflowUser[],
  creates: Action[],
  updates: UpdateAction[],
  deprovisions: Array<Extract<Action, { kind: 'deprovision-user' }>>,
  drift: Drift[],
): void {
  const holders = users.filter((u) => u.roles.includes(ADMIN_ROLE)).map((u) => lower(u.username));
  const removed = new Set([...deprovisions.filter((d) => d.adminRemoval), ...updates.filter((u) => u.adminRemoval)].map((a) => lower(a.username)));
  const gains =
    creates.some((c) => c.kind === 'create-user' && c.user.roles.includes(ADMIN_ROLE)) ||
    updates.some((u) => !u.adminRemoval && (u.changes.roles?.after as string[] | undefined)?.includes(ADMIN_ROLE) && !(u.changes.roles?.before as string[]).includes(ADMIN_ROLE));
  if (removed.size === 0 || gains || holders.some((h) => !removed.has(h))) return;

  const spared = [...removed].sort(cmp)[0];
  const dIndex = deprovisions.findIndex((d) => lower(d.username) === spared);
  if (dIndex >= 0) {
    drift.push({ kind: 'protected', username: deprovisions[dIndex].username, note: 'last user holding Admin: not deprovisioned' });
    deprovisions.splice(dIndex, 1);
    return;
  }
  const update = updates.find((u) => lower(u.username) === spared);
  if (!update?.changes.roles) return;
  drift.push({ kind: 'protected', username: update.username, note: 'last user holding Admin: keeps Admin' });
  const before = update.changes.roles.before as string[];
  const after = [...(update.changes.roles.after as string[]), ADMIN_ROLE].sort(cmp);
  if (sameSet(before, after)) delete update.changes.roles;
  else update.changes.roles = { before, after };
  delete update.adminRemoval;
}

function describeSources(d: DesiredUser): string {
  return d.sources.map((s) => s.rule).join('; ');
}
