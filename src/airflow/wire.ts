/** Airflow JSON ↔ our types, and offset paging; shared by the 2.x and 3.x clients (doc §1.2, §2.3, §1.5). */
import { forEachLimit } from '../core/limit';
import type { Logger } from '../logger';
import type { AirflowHttp, HttpMethod } from './http';
import type { AirflowRole, AirflowUser, NewAirflowUser, Permission } from './types';

export interface AirflowClientOptions {
  url: string;
  apiUser: string;
  apiPassword: string;
  timeoutMs: number;
  retries: number;
  concurrency: number;
  logger?: Logger;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** Shared with the detector so its probe calls are counted too. */
  http?: AirflowHttp;
}

export interface WireUser {
  username: string;
  email: string;
  first_name?: string | null;
  last_name?: string | null;
  roles?: Array<{ name: string }> | null;
  active?: boolean | null;
}
export interface WireRole {
  name: string;
  actions?: Array<{ action: { name: string }; resource: { name: string } }> | null;
}

export const fromWireUser = (u: WireUser): AirflowUser => ({
  username: u.username,
  email: u.email,
  firstName: u.first_name ?? '',
  lastName: u.last_name ?? '',
  roles: (u.roles ?? []).map((r) => r.name),
  active: u.active ?? null,
});

export const fromWireRole = (r: WireRole): AirflowRole => ({
  name: r.name,
  permissions: (r.actions ?? []).map((a): Permission => [a.action.name, a.resource.name]),
});

export const toWireActions = (perms: Permission[]): WireRole['actions'] =>
  perms.map(([action, resource]) => ({ action: { name: action }, resource: { name: resource } }));

export const newUserBody = (u: NewAirflowUser): Record<string, unknown> => ({
  username: u.username,
  email: u.email,
  first_name: u.firstName,
  last_name: u.lastName,
  roles: u.roles.map((name) => ({ name })),
  password: u.password,
});

export const PAGE = 100;

type Send = <T>(method: HttpMethod, path: string, template: string, query?: Record<string, string | number>) => Promise<T>;

/** limit=100&offset=n until offset ≥ total_entries, default (ascending) order only (doc §1.5). Deduplicates by key. */
/** Page reads in flight at once after the first page has told the total (doc §1.5: offset paging, 100 a page). */
export const PAGE_READ_CONCURRENCY = 4;

/**
 * Reads every item: the first page gives total_entries, the remaining offsets are read a few at a time (a full run
 * at 10,000 users is 100 pages: sequential reads put the page latency 100 times on the deprovisioning path), then
 * a sequential tail picks up anything added while paging. Items are keyed, so a shifted page cannot duplicate.
 */
export async function pageAll<W, T>(
  send: Send,
  path: string,
  field: 'users' | 'roles',
  map: (w: W) => T,
  keyOf: (t: T) => string,
): Promise<T[]> {
  const out = new Map<string, T>();
  const read = async (offset: number): Promise<{ count: number; total: number }> => {
    const page = await send<Record<string, unknown>>('GET', path, path, { limit: PAGE, offset });
    const items = (page[field] as W[] | undefined) ?? [];
    for (const w of items) {
      const t = map(w);
      out.set(keyOf(t), t);
    }
    return { count: items.length, total: typeof page['total_entries'] === 'number' ? (page['total_entries'] as number) : 0 };
  };
  const first = await read(0);
  if (first.count === 0 || first.count >= first.total) return [...out.values()];
  const size = first.count; // the server's page size (it clamps limit)
  const offsets: number[] = [];
  for (let o = size; o < first.total; o += size) offsets.push(o);
  let seen = first.total;
  await forEachLimit(offsets, PAGE_READ_CONCURRENCY, async (offset) => {
    seen = Math.max(seen, (await read(offset)).total);
  });
  // Tail: users created while we paged.
  for (let offset = offsets.length ? offsets[offsets.length - 1] + size : size; offset < seen; offset += size) {
    const r = await read(offset);
    seen = r.total;
    if (r.count === 0) break;
  }
  return [...out.values()];
}
