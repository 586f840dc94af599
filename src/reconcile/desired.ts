import picomatch from 'picomatch';
import type { RolesConfig } from '../config/schema';
import type { IdentitySnapshot, SnapshotGroup, UserRecord } from '../store/types';
import type { DesiredRole, DesiredState, DesiredUser, ExclusionKind, RoleSource } from './types';
import type { Filter } from 'scim2-parse-filter';
import { parseFilterText } from '../core/filter';
import { pickEmail, renderUsername } from '../core/username-template';
import { compileMatcher } from '../store/filter-eval';

export interface DesiredConfig {
  usernameTemplate: string;
  mappings: RolesConfig['mappings'];
  defaultRoles: string[];
  custom: RolesConfig['custom'];
}

type Mapping = RolesConfig['mappings'][number];
type Matcher = { rule: string; roles: string[]; test: (g: SnapshotGroup) => boolean };

/** A mapping rule on the user's own attributes (filter:), evaluated by the same engine as GET /Users?filter=. */
type UserRule = { rule: string; roles: string[]; test: (u: UserRecord) => boolean; values: (u: UserRecord) => string };

function userRule(m: Mapping): UserRule {
  const ast = parseFilterText(m.filter as string);
  const match = compileMatcher('User', ast);
  return { rule: `filter: ${m.filter}`, roles: m.roles, test: (u) => match(u), values: (u) => filterValues(ast, u) };
}

/** The user's values of the attributes a filter names, for explain: 'department = "Finance"'. */
function filterValues(f: Filter, u: UserRecord): string {
  const paths = new Set<string>();
  const walk = (x: Filter): void => {
    if (x.op === 'and' || x.op === 'or') x.filters.forEach(walk);
    else if (x.op === 'not') walk(x.filter);
    else if ('attrPath' in x) paths.add(x.attrPath);
  };
  walk(f);
  return [...paths].map((p) => `${p.replace(/^urn:.*:/i, '')} = ${JSON.stringify(valueAt(u.data, p) ?? null)}`).join(', ');
}

function valueAt(data: Record<string, unknown>, path: string): unknown {
  const urn = /^(urn:.*):([^:]+)$/i.exec(path);
  const [root, rest] = urn ? [data[Object.keys(data).find((k) => k.toLowerCase() === urn[1]!.toLowerCase()) ?? ''], urn[2]!] : [data, path];
  let v: unknown = root;
  for (const part of rest.split('.')) {
    if (!v || typeof v !== 'object') return undefined;
    const o = v as Record<string, unknown>;
    v = o[Object.keys(o).find((k) => k.toLowerCase() === part.toLowerCase()) ?? ''];
  }
  return v;
}

function matcher(m: Mapping): Matcher {
  if (m.group !== undefined) {
    const want = m.group.toLowerCase();
    return { rule: `group: ${m.group}`, roles: m.roles, test: (g) => g.displayName.toLowerCase() === want };
  }
  if (m.groupExternalId !== undefined) {
    const want = m.groupExternalId;
    return { rule: `groupExternalId: ${m.groupExternalId}`, roles: m.roles, test: (g) => g.externalId === want };
  }
  const isMatch = picomatch(m.groupPattern ?? '', { nocase: true, dot: true });
  return { rule: `groupPattern: ${m.groupPattern}`, roles: m.roles, test: (g) => isMatch(g.displayName) };
}

/**
 * Role sources of one user: every (group, rule) that matches, every attribute rule (filter:) the user matches,
 * then the default roles. Sorted, deterministic.
 */
export function roleSources(groups: SnapshotGroup[], mappings: Mapping[], defaultRoles: string[], user?: UserRecord): RoleSource[] {
  return sourcesResolver(mappings, defaultRoles)(groups, user);
}

/**
 * Compiles the mappings once and remembers each group's matches, so resolving 10,000 users costs one match per
 * (group, rule), not one picomatch compile per user.
 */
function sourcesResolver(mappings: Mapping[], defaultRoles: string[]): (groups: SnapshotGroup[], user?: UserRecord) => RoleSource[] {
  const matchers = mappings.filter((m) => m.filter === undefined).map(matcher);
  const userRules = mappings.filter((m) => m.filter !== undefined).map(userRule);
  const byGroup = new Map<string, RoleSource[]>();
  const defaults: RoleSource[] = defaultRoles.length > 0 ? [{ group: null, rule: 'default', roles: [...defaultRoles].sort(cmp) }] : [];
  const ofGroup = (g: SnapshotGroup): RoleSource[] => {
    let found = byGroup.get(g.id);
    if (!found) {
      found = matchers.filter((m) => m.test(g)).map((m) => ({ group: g.displayName, rule: m.rule, roles: [...m.roles].sort(cmp) }));
      byGroup.set(g.id, found);
    }
    return found;
  };
  return (groups, user) => {
    const sorted = [...groups].sort((a, b) => cmp(a.displayName.toLowerCase(), b.displayName.toLowerCase()) || cmp(a.id, b.id));
    const byAttribute: RoleSource[] = user
      ? userRules.filter((r) => r.test(user)).map((r) => ({ group: null, rule: r.rule, roles: [...r.roles].sort(cmp), values: r.values(user) }))
      : [];
    return [
      ...sorted.flatMap((g) => ofGroup(g).map((src) => ({ ...src, roles: [...src.roles] }))),
      ...byAttribute,
      ...defaults.map((d) => ({ ...d, roles: [...d.roles] })),
    ];
  };
}

/** The groups each user belongs to. */
export function groupsByUser(snapshot: IdentitySnapshot): Map<string, SnapshotGroup[]> {
  const out = new Map<string, SnapshotGroup[]>();
  for (const g of snapshot.groups) {
    for (const id of g.memberIds) {
      const list = out.get(id);
      if (list) list.push(g);
      else out.set(id, [g]);
    }
  }
  return out;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/**
 * Names for Airflow, which on 3.x rejects empty first/last names (airflow-api.md §2.3): name.givenName /
 * name.familyName, else displayName split at the first space, else the userName for both.
 */
export function personName(user: UserRecord): { firstName: string; lastName: string } {
  const name = (user.data.name ?? {}) as Record<string, unknown>;
  const display = str(user.data.displayName) ?? str(name.formatted);
  const [first, ...rest] = display ? display.split(/\s+/) : [];
  const fallback = user.data.userName;
  return {
    firstName: str(name.givenName) ?? first ?? fallback,
    lastName: str(name.familyName) ?? (rest.length > 0 ? rest.join(' ') : undefined) ?? fallback,
  };
}

/**
 * Desired Airflow state from the SCIM store (pure). Email: primary, else work, else first; without any,
 * `<username>@email.notfound`, the placeholder FAB itself uses for SSO users without email (airflow-api.md §5).
 */
export function desiredState(snapshot: IdentitySnapshot, cfg: DesiredConfig): DesiredState {
  const memberOf = groupsByUser(snapshot);
  const excluded: DesiredState['excluded'] = [];
  const exclude = (username: string, scimUserId: string, kind: ExclusionKind, reason: string): void => {
    excluded.push({ username, scimUserId, reason, kind });
  };
  const candidates: DesiredUser[] = [];
  const resolveSources = sourcesResolver(cfg.mappings, cfg.defaultRoles);

  for (const user of snapshot.users) {
    const rendered = renderUsername(cfg.usernameTemplate, user);
    if (!rendered.ok) {
      exclude(user.data.userName, user.id, 'no-username', rendered.reason);
      continue;
    }
    const username = rendered.username;
    if (user.data.active !== true) {
      exclude(username, user.id, 'inactive', 'inactive in the IdP');
      continue;
    }
    const sources = resolveSources(memberOf.get(user.id) ?? [], user);
    if (sources.length === 0) {
      exclude(username, user.id, 'unmapped', 'in no group that roles.mappings maps to a role, and roles.default is empty');
      continue;
    }
    candidates.push({
      username,
      email: pickEmail(user.data) ?? `${username}@email.notfound`,
      ...personName(user),
      roles: [...new Set(sources.flatMap((s) => s.roles))].sort(cmp),
      scimUserId: user.id,
      scimUserName: user.data.userName,
      ...(user.data.externalId !== undefined ? { externalId: user.data.externalId } : {}),
      sources,
    });
  }

  // Airflow matches usernames case-insensitively (airflow-api.md §5): two claimants means we cannot tell whose it is.
  const byKey = new Map<string, DesiredUser[]>();
  for (const c of candidates) {
    const key = c.username.toLowerCase();
    byKey.set(key, [...(byKey.get(key) ?? []), c]);
  }
  const users: DesiredUser[] = [];
  const collisions: NonNullable<DesiredState['collisions']> = [];
  for (const group of byKey.values()) {
    if (group.length === 1) {
      users.push(group[0]);
      continue;
    }
    const claimants = [...group].sort((a, b) => cmp(a.scimUserId, b.scimUserId));
    const named = claimants.map((u) => `${u.scimUserName} (id ${u.scimUserId})`).join(', ');
    collisions.push({ username: group[0].username, scimUserIds: claimants.map((u) => u.scimUserId), userNames: claimants.map((u) => u.scimUserName ?? u.scimUserId) });
    for (const u of group) {
      exclude(u.username, u.scimUserId, 'collision', `Airflow username "${u.username}" is rendered by ${group.length} SCIM users: ${named}; none is provisioned`);
    }
  }

  const roles: DesiredRole[] = Object.entries(cfg.custom)
    .map(([name, r]) => ({ name, permissions: withImplicit(r.permissions.map(([a, res]) => [a, res] as [string, string])) }))
    .sort((a, b) => cmp(a.name, b.name));

  users.sort((a, b) => cmp(a.username.toLowerCase(), b.username.toLowerCase()));
  excluded.sort((a, b) => cmp(a.username.toLowerCase(), b.username.toLowerCase()) || cmp(a.scimUserId, b.scimUserId));
  collisions.sort((a, b) => cmp(a.username.toLowerCase(), b.username.toLowerCase()));
  const userNames = new Map(snapshot.users.map((u) => [u.id, u.data.userName]));
  return { users, roles, excluded, collisions, userNames };
}

/**
 * FAB's role sync (api-server start, `airflow sync-perm`) gives every custom role can_read on Website
 * (override.py add_homepage_access_to_custom_roles). It is part of each custom role's wanted set, so a role PATCH
 * that replaces permissions never takes it away and Airflow never puts it back: no flapping.
 */
export const IMPLICIT_CUSTOM_ROLE_PERMISSIONS: ReadonlyArray<readonly [string, string]> = [['can_read', 'Website']];

function withImplicit(perms: Array<[string, string]>): Array<[string, string]> {
  const out = [...perms];
  for (const [a, r] of IMPLICIT_CUSTOM_ROLE_PERMISSIONS) if (!out.some((p) => p[0] === a && p[1] === r)) out.push([a, r]);
  return out;
}

/** Code-point order: deterministic regardless of locale. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
