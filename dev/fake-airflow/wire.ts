/** Wire shapes and list parameters shared by the fake's 2.x and 3.x routes (doc §1.2, §1.5, §2.3, §2.6). */
import type { FakeRole, FakeUser } from './state';

export function userJson(u: FakeUser): Record<string, unknown> {
  return {
    first_name: u.firstName,
    last_name: u.lastName,
    username: u.username,
    email: u.email,
    active: u.active,
    last_login: u.lastLogin,
    login_count: u.loginCount,
    // The server says fail_login_count although the 2.x spec says failed_login_count (doc §1.2).
    fail_login_count: u.failLoginCount,
    roles: u.roles.map((name) => ({ name })),
    created_on: u.createdOn,
    changed_on: u.changedOn,
  };
}

export function roleJson(r: FakeRole): Record<string, unknown> {
  return { name: r.name, actions: r.permissions.map(([a, res]) => ({ action: { name: a }, resource: { name: res } })) };
}

export type ListParams = { ok: true; limit: number; offset: number } | { ok: false; detail: string };

/** check_limit: >max clamps, 0 → fallback, negative → 400 (doc §1.5, §2.6). */
export function listParams(query: Record<string, unknown>, fallback: number, max = 100): ListParams {
  const limitRaw = query['limit'];
  const offsetRaw = query['offset'];
  let limit = 100;
  let offset = 0;
  if (limitRaw !== undefined) {
    if (typeof limitRaw !== 'string' || !/^-?\d+$/.test(limitRaw)) return { ok: false, detail: `'${String(limitRaw)}' is not of type 'integer' - 'limit'` };
    limit = Number(limitRaw);
    if (limit < 0) return { ok: false, detail: 'Page limit must be a positive integer' };
  }
  if (offsetRaw !== undefined) {
    if (typeof offsetRaw !== 'string' || !/^-?\d+$/.test(offsetRaw)) return { ok: false, detail: `'${String(offsetRaw)}' is not of type 'integer' - 'offset'` };
    offset = Number(offsetRaw);
    if (offset < 0) return { ok: false, detail: `${offset} is less than the minimum of 0 - 'offset'` };
  }
  if (limit === 0) limit = fallback;
  if (limit > max) limit = max;
  return { ok: true, limit, offset };
}

/** Sort by an allow-listed attribute; `allowDesc` = 3.x (2.x checks the raw value incl. '-', doc §1.5). */
export function sortBy<T>(
  items: T[],
  orderBy: string | undefined,
  fields: Record<string, (t: T) => string | number | boolean>,
  fallback: string,
  allowDesc: boolean,
): { ok: true; items: T[] } | { ok: false; detail: string } {
  const raw = orderBy ?? fallback;
  const desc = allowDesc && raw.startsWith('-');
  const name = desc ? raw.slice(1) : raw;
  const get = fields[name];
  if (!get) return { ok: false, detail: `Ordering with '${raw}' is disallowed or the attribute does not exist on the model` };
  const sorted = [...items].sort((a, b) => {
    const x = get(a);
    const y = get(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  if (desc) sorted.reverse();
  return { ok: true, items: sorted };
}

export const userOrderFields2: Record<string, (u: FakeUser) => string | number | boolean> = {
  id: (u) => u.id,
  first_name: (u) => u.firstName,
  last_name: (u) => u.lastName,
  user_name: (u) => u.username,
  email: (u) => u.email,
  is_active: (u) => u.active,
  role: (u) => u.id,
};
export const userOrderFields3: Record<string, (u: FakeUser) => string | number | boolean> = {
  id: (u) => u.id,
  user_id: (u) => u.id,
  first_name: (u) => u.firstName,
  last_name: (u) => u.lastName,
  username: (u) => u.username,
  email: (u) => u.email,
  active: (u) => u.active,
};
export const roleOrderFields: Record<string, (r: FakeRole) => string | number> = { name: (r) => r.name, role_id: (r) => r.id };

/** Python repr of a list of names: 'a', 'b'. */
export const pyNames = (names: string[]): string => names.map((n) => `'${n}'`).join(', ');

/** Python repr of a marshmallow error dict: {'x': ['Unknown field.']}. */
export const pyErrors = (errors: Array<[string, string]>): string =>
  `{${errors.map(([k, m]) => `'${k}': ['${m}']`).join(', ')}}`;

/** Body as a plain object, or undefined. */
export function objectBody(body: unknown): Record<string, unknown> | undefined {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
}

/** [action, resource] pairs from `actions`, or a message about the shape. */
export function parseActions(value: unknown): Array<[string, string]> | string {
  if (!Array.isArray(value)) return 'Not a valid list.';
  const out: Array<[string, string]> = [];
  for (const item of value) {
    const a = (item as { action?: { name?: unknown } } | null)?.action?.name;
    const r = (item as { resource?: { name?: unknown } } | null)?.resource?.name;
    if (typeof a !== 'string' || typeof r !== 'string') return 'Invalid input type.';
    out.push([a, r]);
  }
  return out;
}
