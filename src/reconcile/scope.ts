/**
 * What a change-triggered run looks at (pure). A SCIM change only makes the next run come sooner; that run is
 * level-based for what it touches: the Airflow usernames whose desired state differs from the desired state of
 * the last run that applied cleanly are read fresh from Airflow (one GET each) and planned; the rest are left to
 * the scheduled run, which reads everything (STYLE: external-dns controller.go).
 */
import type { DesiredState } from './types';

const lower = (s: string): string => s.toLowerCase();

function index(d: DesiredState): Map<string, string> {
  const out = new Map<string, string>();
  for (const u of d.users) {
    out.set(lower(u.username), JSON.stringify(['want', u.username, u.email, u.firstName, u.lastName, [...u.roles].sort(), u.scimUserId]));
  }
  for (const e of d.excluded) {
    const k = lower(e.username);
    if (!out.has(k)) out.set(k, JSON.stringify(['excluded', e.kind, e.scimUserId]));
  }
  return out;
}

const rolesKey = (d: DesiredState): string => JSON.stringify(d.roles.map((r) => [r.name, r.permissions.map((p) => p.join('\u0000')).sort()]));

/** Lower-cased usernames whose wanted state changed, or 'all' when a custom role changed (it touches everyone). */
export function changedUsernames(before: DesiredState, after: DesiredState): Set<string> | 'all' {
  if (rolesKey(before) !== rolesKey(after)) return 'all';
  const a = index(before);
  const b = index(after);
  const changed = new Set<string>();
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) changed.add(k);
  return changed;
}

/** The desired state limited to these (lower-cased) usernames; custom roles stay whole. */
export function restrictDesired(d: DesiredState, keys: ReadonlySet<string>): DesiredState {
  return {
    users: d.users.filter((u) => keys.has(lower(u.username))),
    roles: d.roles,
    excluded: d.excluded.filter((e) => keys.has(lower(e.username))),
  };
}
