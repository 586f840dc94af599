import type { Permission } from '../airflow/types';
import type { Observed } from './plan';
import type { ActionOutcome } from './types';

/**
 * What the last full read saw of Airflow, moved forward by every change we applied since. A SCIM change wakes a
 * run that plans against this view instead of paging through every user again, so a deactivation reaches Airflow
 * in one write. Drift made by hand in Airflow is not in it: the scheduled, start-up and CLI runs always read
 * everything, and any failed action or run drops the view.
 */
export interface ObservedCache {
  observed: Observed;
  /** When the full read happened (ms since epoch). */
  readAt: number;
}

const key = (s: string) => s.toLowerCase();

/** Pure: the observed state after the successful outcomes, as Airflow will answer the next read. */
export function advanceObserved(observed: Observed, outcomes: ActionOutcome[]): Observed {
  const users = new Map(observed.users.map((u) => [key(u.username), { ...u, roles: [...u.roles] }]));
  const roles = new Map(observed.roles.map((r) => [r.name, { ...r, permissions: [...r.permissions] }]));
  for (const { action: a, ok } of outcomes) {
    if (!ok) continue;
    switch (a.kind) {
      case 'create-role':
        roles.set(a.role, { name: a.role, permissions: [...a.permissions] });
        break;
      case 'set-role-permissions': {
        const r = roles.get(a.role);
        if (r) r.permissions = unionPermissions(r.permissions.filter((p) => !a.remove.some((q) => q[0] === p[0] && q[1] === p[1])), a.add);
        break;
      }
      case 'create-user': {
        const { username, email, firstName, lastName, roles: rs } = a.user;
        users.set(key(username), { username, email, firstName, lastName, roles: [...rs], active: true });
        break;
      }
      case 'adopt-user':
        break;
      case 'update-user': {
        const u = users.get(key(a.username));
        if (!u) break;
        for (const [field, c] of Object.entries(a.changes)) (u as unknown as Record<string, unknown>)[field] = Array.isArray(c?.after) ? [...c.after] : c?.after;
        break;
      }
      case 'deprovision-user':
        if (a.mode === 'delete') users.delete(key(a.username));
        else {
          const u = users.get(key(a.username));
          if (u) u.roles = [];
        }
        break;
    }
  }
  return { users: [...users.values()], roles: [...roles.values()] };
}

function unionPermissions(have: Permission[], add: Permission[]): Permission[] {
  const seen = new Set(have.map((p) => p.join('\u0000')));
  return [...have, ...add.filter((p) => !seen.has(p.join('\u0000')))];
}
