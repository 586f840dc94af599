import type { Permission } from '../airflow/types';
import type { Observed } from './plan';
import type { ActionOutcome } from './types';

/**
 * Pure: the observed state after the successful outcomes, as Airflow will answer the next read. Used within one
 * run only (custom roles are applied first, then the users are planned against what that left), never as a cache
 * between runs: every run reads what it acts on (STYLE, external-dns controller.go).
 */
const key = (s: string) => s.toLowerCase();

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
