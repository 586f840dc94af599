import { ENTERPRISE_USER, resolveAttribute, type AttrDef, type AttrType, type ResourceType } from '../core/schema';
import { InvalidQueryError } from './types';

/**
 * Filter and sort semantics shared by filter-sql.ts (SQLite and PostgreSQL) and filter-eval.ts (memory store), so
 * they agree exactly (RFC 7644 §3.4.2.2, §3.4.2.3). Definitions used by all:
 * - case-insensitive means SQLite NOCASE: only ASCII A-Z fold (PostgreSQL: nocase()); text order is UTF-8 byte
 *   order (PostgreSQL: COLLATE "C"); NULLs sort first ascending, last descending;
 * - `ne` is `not eq` (an absent attribute is "not equal"); comparing with null is rejected;
 * - a comparison only matches a stored value of the attribute's type (a string attribute holding 5 never matches);
 * - multi-valued attributes match when any element matches; `emails op v` means `emails.value op v`;
 * - pr: not absent, null, "", [] or {}.
 */

export interface Leaf {
  type: AttrType;
  caseExact: boolean;
}

export type Column = 'id' | 'external_id' | 'user_name' | 'display_name' | 'active' | 'created' | 'last_modified';

export type Target =
  /** Single-valued attribute mirrored in an indexed column. */
  | { kind: 'column'; written: string; column: Column; leaf: Leaf; nullable: boolean }
  /** Single-valued simple attribute inside the JSON document. */
  | { kind: 'json'; written: string; path: string[]; leaf: Leaf }
  /** Single-valued complex attribute (name, manager) without sub-attribute. */
  | { kind: 'complex'; written: string; path: string[]; attr: AttrDef }
  /** Multi-valued complex attribute (emails, phoneNumbers, ...); path is the array, sub the written sub-attribute. */
  | { kind: 'multi'; written: string; path: string[]; attr: AttrDef; sub?: AttrDef }
  /** Group members: one row per membership. */
  | { kind: 'members'; written: string; sub?: AttrDef };

const COLUMNS: Record<ResourceType, Record<string, { column: Column; nullable: boolean }>> = {
  User: {
    id: { column: 'id', nullable: false },
    externalId: { column: 'external_id', nullable: true },
    userName: { column: 'user_name', nullable: false },
    displayName: { column: 'display_name', nullable: true },
    active: { column: 'active', nullable: false },
    'meta.created': { column: 'created', nullable: false },
    'meta.lastModified': { column: 'last_modified', nullable: false },
  },
  Group: {
    id: { column: 'id', nullable: false },
    externalId: { column: 'external_id', nullable: true },
    displayName: { column: 'display_name', nullable: false },
    'meta.created': { column: 'created', nullable: false },
    'meta.lastModified': { column: 'last_modified', nullable: false },
  },
};

/** Attributes that exist but cannot be filtered or sorted on. */
const UNFILTERABLE = new Set(['password', 'groups', 'meta']);

export const foldAscii = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** SQLite BINARY (or NOCASE when ci) text order: UTF-8 bytes. */
export function compareText(a: string, b: string, ci: boolean): number {
  return Buffer.compare(Buffer.from(ci ? foldAscii(a) : a, 'utf8'), Buffer.from(ci ? foldAscii(b) : b, 'utf8'));
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** pr (RFC 7644 §3.4.2.2): a non-empty value. */
export function isPresent(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** Column values as the SQLite store writes them; the evaluator reads the same. */
export function columnValue(
  column: Column,
  r: { id: string; data: Record<string, unknown>; meta: { created: string; lastModified: string } },
): string | boolean | null {
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  switch (column) {
    case 'id':
      return r.id;
    case 'external_id':
      return text(r.data.externalId);
    case 'user_name':
      return text(r.data.userName);
    case 'display_name':
      return text(r.data.displayName);
    case 'active':
      return r.data.active === true;
    case 'created':
      return r.meta.created;
    case 'last_modified':
      return r.meta.lastModified;
  }
}

/** The rows of user_emails: every emails element that is an object with a string value. */
export function emailRows(data: Record<string, unknown>): { value: string; type: string | null; primary: boolean }[] {
  const emails = Array.isArray(data.emails) ? data.emails : [];
  return emails
    .filter((e): e is Record<string, unknown> => isPlainObject(e) && typeof e.value === 'string')
    .map((e) => ({ value: e.value as string, type: typeof e.type === 'string' ? e.type : null, primary: e.primary === true }));
}

/** dateTimes compare as normalised ISO text, so case never matters: treat them as caseExact (BINARY). */
const leafOf = (d: AttrDef): Leaf => ({ type: d.type, caseExact: d.caseExact || d.type === 'dateTime' });

/** Resolves a written attribute path (any case, optional schema URN) to where its value lives. */
export function resolveTarget(rt: ResourceType, written: string, kind: 'filter' | 'sort' = 'filter'): Target {
  const r = resolveAttribute(rt, written);
  if (!r) throw new InvalidQueryError(`unknown attribute "${written}" for ${rt}`, kind);
  const key = r.path.join('.');
  const col = COLUMNS[rt][key];
  if (col) {
    return { kind: 'column', written, column: col.column, nullable: col.nullable, leaf: leafOf(r.sub ?? r.attr) };
  }
  if (UNFILTERABLE.has(r.attr.name) && r.schema !== ENTERPRISE_USER) {
    throw new InvalidQueryError(`attribute "${written}" cannot be used in a ${kind === 'sort' ? 'sortBy' : 'filter'}`, kind);
  }
  if (rt === 'Group' && r.attr.name === 'members') {
    if (r.sub && r.sub.name !== 'value') throw new InvalidQueryError(`only members.value can be filtered, not "${written}"`, kind);
    return { kind: 'members', written, sub: r.sub };
  }
  if (r.attr.multiValued) {
    return { kind: 'multi', written, path: r.sub ? r.path.slice(0, -1) : r.path, attr: r.attr, sub: r.sub };
  }
  if (r.attr.type === 'complex' && !r.sub) return { kind: 'complex', written, path: r.path, attr: r.attr };
  return { kind: 'json', written, path: r.path, leaf: leafOf(r.sub ?? r.attr) };
}

/** The sub-attribute a multi-valued comparison applies to: the written one, else `value` (RFC 7644 §3.4.2.2). */
export function elementSub(t: Extract<Target, { kind: 'multi' }>): AttrDef {
  const sub = t.sub ?? t.attr.subAttributes?.find((s) => s.name === 'value');
  if (!sub) throw new InvalidQueryError(`"${t.written}" needs a sub-attribute`);
  return sub;
}

/** Resolves a sub-attribute inside a value filter `attr[sub op v]` to its leaf. */
export function resolveElementLeaf(rt: ResourceType, base: Target, subWritten: string): { name: string; leaf: Leaf } {
  if (base.kind === 'members') {
    if (subWritten.toLowerCase() !== 'value') throw new InvalidQueryError(`only members[value ...] can be filtered, not "${subWritten}"`);
    return { name: 'value', leaf: { type: 'string', caseExact: true } };
  }
  const r = resolveAttribute(rt, `${base.written}.${subWritten}`);
  if (!r?.sub) throw new InvalidQueryError(`unknown sub-attribute "${subWritten}" of "${base.written}"`);
  return { name: r.sub.name, leaf: leafOf(r.sub) };
}

export type CompareOp = 'eq' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

/**
 * Checks that `op` is defined for the attribute type and returns the comparison value to use
 * (RFC 7644 §3.4.2.2: gt/ge/lt/le on booleans and co/sw/ew on dateTime are invalidFilter; dateTimes normalised to ISO).
 */
export function comparisonValue(written: string, leaf: Leaf, op: CompareOp, v: unknown): string | boolean {
  if (v === null) throw new InvalidQueryError(`comparing "${written}" with null is not supported; use "${written} pr" or "not (${written} pr)"`);
  switch (leaf.type) {
    case 'boolean':
      if (typeof v !== 'boolean') throw new InvalidQueryError(`"${written}" is a boolean; compare it with true or false`);
      if (op !== 'eq') throw new InvalidQueryError(`operator ${op} is not defined for the boolean "${written}"`);
      return v;
    case 'dateTime': {
      if (typeof v !== 'string') throw new InvalidQueryError(`"${written}" is a dateTime; compare it with a quoted timestamp`);
      if (op === 'co' || op === 'sw' || op === 'ew') throw new InvalidQueryError(`operator ${op} is not defined for the dateTime "${written}"`);
      const t = Date.parse(v);
      if (Number.isNaN(t)) throw new InvalidQueryError(`"${v}" is not a valid dateTime for "${written}"`);
      return new Date(t).toISOString();
    }
    case 'string':
    case 'reference':
      if (typeof v !== 'string') throw new InvalidQueryError(`"${written}" is a string; compare it with a quoted value`);
      return v;
    case 'complex':
      throw new InvalidQueryError(`"${written}" is complex; filter on one of its sub-attributes`);
    default:
      throw new InvalidQueryError(`"${written}" (${leaf.type}) supports only the pr operator`);
  }
}
