import type { Filter } from 'scim2-parse-filter';
import { compileFilter, compileSort } from '../filter-sql';
import type { ListQuery, Page } from '../types';
import type { ResourceRow } from './identity';
import type { SqlDriver } from './driver';

/** Attributes whose `eq` matches at most one resource: id, userName (users), displayName (groups). */
function uniqueEq(rt: 'User' | 'Group', f: Filter | undefined): boolean {
  if (!f || f.op !== 'eq' || typeof f.compValue !== 'string') return false;
  const a = f.attrPath.toLowerCase().replace(/^urn:ietf:params:scim:schemas:core:2\.0:(user|group):/, '');
  return a === 'id' || a === (rt === 'User' ? 'username' : 'displayname');
}

/**
 * RFC 7644 §3.4.2: totalResults and one page (count 0: totals only). An `eq` on a unique attribute reads the match
 * itself instead of counting first: one query where an IdP's "does this user exist?" lookup would cost two.
 */
export async function listPage<T>(db: SqlDriver, rt: 'User' | 'Group', q: ListQuery, map: (r: ResourceRow) => T): Promise<Page<T>> {
  const { where, params } = q.filter ? compileFilter(q.filter, rt, db.dialect) : { where: '1 = 1', params: [] };
  const [table, a] = rt === 'User' ? ['users', 'u'] : ['groups', 'g'];
  const from = `${table} ${a}`;
  const offset = Math.max(1, q.startIndex) - 1;
  if (uniqueEq(rt, q.filter)) {
    const rows = await db.all<ResourceRow>(`SELECT ${a}.* FROM ${from} WHERE ${where} LIMIT 2`, params);
    return { totalResults: rows.length, resources: q.count > 0 ? rows.slice(offset, offset + q.count).map(map) : [] };
  }
  const total = Number((await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${from} WHERE ${where}`, params))!.n);
  if (q.count <= 0 || total === 0) return { totalResults: total, resources: [] };
  const order = compileSort(rt, q.sortBy, q.sortOrder, db.dialect);
  const rows = await db.all<ResourceRow>(`SELECT ${a}.* FROM ${from} WHERE ${where} ${order} LIMIT ? OFFSET ?`, [...params, q.count, offset]);
  return { totalResults: total, resources: rows.map(map) };
}
