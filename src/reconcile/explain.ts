import type { Config } from '../config/schema';
import type { AuditEntry, AuditLog } from '../store/audit-types';
import type { IdentityStore, UserRecord } from '../store/types';
import type { AirflowUser } from '../airflow/types';
import { desiredState, groupsByUser, roleSources } from './desired';
import type { OwnershipRecord, ReconcileState } from './state';
import type { RoleSource } from './types';

export interface ExplainDeps {
  store: Pick<IdentityStore, 'snapshot'>;
  state: Pick<ReconcileState, 'owned'>;
  audit: Pick<AuditLog, 'query'>;
  config: Pick<Config, 'airflow' | 'roles'>;
  /** Airflow's users as read now, or why they could not be read; absent: no Airflow configured. */
  airflowUsers?: AirflowUser[] | { error: string };
}

/** What Airflow holds now for the user's account. */
export type AirflowNow =
  | { read: true; account: { username: string; email: string; roles: string[]; active?: boolean } | null; emailClash?: { email: string; holder: string } }
  | { read: false; reason: string };

/** Why a user has (or lacks) an Airflow account and roles; printed by `airflow-scim explain`. */
export interface Explanation {
  query: string;
  scimUser: null | { id: string; userName: string; active: boolean; externalId?: string; displayName?: string };
  groups: string[];
  /** Every mapping rule that matches the user's groups (also when the user is inactive), plus default roles. */
  rules: RoleSource[];
  airflowUsername: string | null;
  /** The account the IdP wants, or null with excludedReason. */
  desired: null | { username: string; email: string; firstName: string; lastName: string; roles: string[] };
  excludedReason?: string;
  /** The Airflow account is bound to another SCIM identity: this user is not given it (plan drift username-collision). */
  collision?: string;
  ownership: OwnershipRecord | null;
  lastChange: AuditEntry | null;
  airflowNow: AirflowNow;
}

/** query: a SCIM id, a SCIM userName or an Airflow username (both case-insensitive). */
export async function explainUser(query: string, deps: ExplainDeps): Promise<Explanation> {
  const { config } = deps;
  const snapshot = await deps.store.snapshot();
  const desired = desiredState(snapshot, {
    usernameTemplate: config.airflow.username,
    mappings: config.roles.mappings,
    defaultRoles: config.roles.default,
    custom: config.roles.custom,
  });
  const q = query.trim().toLowerCase();
  const nameOf = new Map<string, string>();
  for (const u of desired.users) nameOf.set(u.scimUserId, u.username);
  for (const e of desired.excluded) nameOf.set(e.scimUserId, e.username);

  const user: UserRecord | undefined =
    snapshot.users.find((u) => u.id === query.trim()) ??
    snapshot.users.find((u) => u.data.userName.toLowerCase() === q) ??
    snapshot.users.find((u) => nameOf.get(u.id)?.toLowerCase() === q);

  const owned = await deps.state.owned();
  const ownershipOf = (username: string | null): OwnershipRecord | null =>
    username === null ? null : (owned.find((o) => o.username.toLowerCase() === username.toLowerCase()) ?? null);
  const lastChangeOf = async (username: string | null): Promise<AuditEntry | null> => {
    if (username === null) return null;
    const entries = await deps.audit.query({ subject: username, source: 'airflow' });
    return entries.length > 0 ? entries[entries.length - 1] : null;
  };

  const nowOf = (username: string | null, email: string | undefined): AirflowNow => {
    const a = deps.airflowUsers;
    if (a === undefined) return { read: false, reason: 'no Airflow configured (AIRFLOW_URL unset)' };
    if (!Array.isArray(a)) return { read: false, reason: a.error };
    const acc = username === null ? undefined : a.find((u) => u.username.toLowerCase() === username.toLowerCase());
    const holder = email ? a.find((u) => u.email.toLowerCase() === email.toLowerCase() && u.username.toLowerCase() !== (username ?? '').toLowerCase()) : undefined;
    return {
      read: true,
      account: acc ? { username: acc.username, email: acc.email, roles: [...acc.roles].sort(), ...(acc.active !== null ? { active: acc.active } : {}) } : null,
      ...(holder && email ? { emailClash: { email, holder: holder.username } } : {}),
    };
  };

  if (!user) {
    // Not in the IdP: maybe an Airflow account we still own.
    const ownership = ownershipOf(query.trim());
    const username = ownership?.username ?? null;
    return { query, scimUser: null, groups: [], rules: [], airflowUsername: username, desired: null, excludedReason: 'no SCIM user matches', ownership, lastChange: await lastChangeOf(username), airflowNow: nowOf(username, undefined) };
  }

  const groups = groupsByUser(snapshot).get(user.id) ?? [];
  const want = desired.users.find((u) => u.scimUserId === user.id);
  const excluded = desired.excluded.find((e) => e.scimUserId === user.id);
  const airflowUsername = want?.username ?? (excluded?.kind === 'no-username' ? null : (excluded?.username ?? null));
  const d = user.data;
  const bound = want ? ownershipOf(want.username) : null;
  const other = bound && bound.scimUserId !== null && bound.scimUserId !== user.id && !(bound.externalId !== undefined && bound.externalId === d.externalId);
  const boundName = other ? snapshot.users.find((u) => u.id === bound.scimUserId)?.data.userName : undefined;
  const collision = other
    ? `Airflow account ${bound.username} is bound to SCIM user ${boundName ? `${boundName} (id ${bound.scimUserId})` : `id ${bound.scimUserId} (no longer in the IdP)`}; ` +
      `not given to this user until an admin runs "airflow-scim release ${bound.username}"`
    : undefined;
  return {
    query,
    scimUser: {
      id: user.id,
      userName: d.userName,
      active: d.active === true,
      ...(d.externalId !== undefined ? { externalId: d.externalId } : {}),
      ...(d.displayName !== undefined ? { displayName: d.displayName } : {}),
    },
    groups: groups.map((g) => g.displayName).sort(),
    rules: roleSources(groups, config.roles.mappings, config.roles.default, user),
    airflowUsername,
    desired: want ? { username: want.username, email: want.email, firstName: want.firstName, lastName: want.lastName, roles: want.roles } : null,
    ...(excluded ? { excludedReason: excluded.reason } : {}),
    ...(collision ? { collision } : {}),
    ownership: ownershipOf(airflowUsername),
    lastChange: await lastChangeOf(airflowUsername),
    airflowNow: nowOf(airflowUsername, want?.email ?? primaryEmail(d.emails)),
  };
}

export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  if (!e.scimUser) {
    lines.push(`"${e.query}": no SCIM user has this id, userName or Airflow username.`);
  } else {
    const u = e.scimUser;
    lines.push(`SCIM user ${u.userName} (id ${u.id}${u.externalId ? `, externalId ${u.externalId}` : ''}): ${u.active ? 'active' : 'INACTIVE'}`);
    lines.push(`Groups: ${e.groups.length > 0 ? e.groups.join(', ') : '(none)'}`);
    if (e.rules.length === 0) lines.push('Mapping rules: none match');
    for (const r of e.rules) lines.push(`  ${r.rule}${r.group ? ` (group ${r.group})` : r.values !== undefined ? ` (the user's ${r.values})` : ''} -> ${r.roles.join(', ')}`);
    if (e.desired) {
      lines.push(`Airflow: ${e.desired.username} <${e.desired.email}> ${e.desired.firstName} ${e.desired.lastName}`);
      lines.push(`Desired roles: ${e.desired.roles.join(', ')}`);
      lines.push(airflowNowLine(e.airflowNow));
      if (e.collision) lines.push(`USERNAME COLLISION: ${e.collision}`);
    } else {
      lines.push(`Airflow: ${e.airflowUsername ?? '(no username)'}: no account wanted: ${e.excludedReason ?? 'unknown'}`);
      lines.push(airflowNowLine(e.airflowNow));
    }
  }
  if (e.airflowNow.read && e.airflowNow.emailClash) {
    const c = e.airflowNow.emailClash;
    lines.push(`Email clash: Airflow user "${c.holder}" already has ${c.email}; emails are unique in Airflow, so no account is created until one of them changes`);
  }
  const o = e.ownership;
  lines.push(`Managed: ${o ? `yes, ${o.how} ${o.since}${o.scimUserId ? ` for SCIM user ${o.scimUserId}` : ''}` : 'no (the reconciler does not touch this account)'}`);
  const c = e.lastChange;
  lines.push(`Last Airflow change: ${c ? `${c.at} ${c.action} ${c.outcome}${c.detail ? ` ${JSON.stringify(c.detail)}` : ''}` : 'none recorded'}`);
  return lines.join('\n');
}

function airflowNowLine(n: AirflowNow): string {
  if (!n.read) return `Airflow roles now: unknown (${n.reason})`;
  if (!n.account) return 'Airflow roles now: (no account)';
  return `Airflow roles now: ${n.account.roles.length ? n.account.roles.join(', ') : '(none)'}`;
}

function primaryEmail(emails: unknown): string | undefined {
  if (!Array.isArray(emails)) return undefined;
  const list = emails as Array<{ value?: string; primary?: boolean }>;
  return (list.find((m) => m.primary) ?? list[0])?.value;
}
