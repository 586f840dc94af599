import type { Filter } from 'scim2-parse-filter';
import type { ResourceType } from '../core/schema';
import {
  comparisonValue,
  elementSub,
  resolveElementLeaf,
  resolveTarget,
  type CompareOp,
  type Leaf,
  type Target,
} from './filter-attributes';
import type { Dialect } from './sql/driver';
import { InvalidQueryError, type SortOrder } from './types';

/**
 * SCIM filter (RFC 7644 §3.4.2.2) to a parameterised SQLite WHERE over `users u` or `groups g`.
 * Semantics are defined in filter-attributes.ts and mirrored by filter-eval.ts. Every generated predicate
 * is two-valued (never NULL), so `not` behaves as in the evaluator. Values always go in params; the only
 * inlined text is JSON paths built from the schema catalogue.
 */
export function compileFilter(ast: Filter, rt: ResourceType, dialect: Dialect = 'sqlite'): { where: string; params: unknown[] } {
  if (dialect !== 'sqlite') throw new Error(`no ${dialect} filter compiler yet`);
  const c: Ctx = { rt, a: rt === 'User' ? 'u' : 'g', params: [] };
  return { where: node(ast, c), params: c.params };
}

interface Ctx {
  rt: ResourceType;
  a: 'u' | 'g';
  params: unknown[];
}

/** Where an element's sub-attributes live inside a value filter. */
type Element = { kind: 'json'; doc: string; base: string[] } | { kind: 'member'; column: string };

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
/** JSON path with every key quoted: $."urn:...:User"."department" (URN keys contain ':' and '.'). */
export const jsonPath = (keys: string[]) => q('$' + keys.map((k) => `."${k.replace(/"/g, '\\"')}"`).join(''));
/**
 * The document as SQLite's JSON functions may read it. A row stored before the body depth limit may nest deeper
 * than SQLite's JSON parser allows (1,000 levels); it then reads as '{}' for filter and sort, so one row can never
 * make every query fail. The API refuses such bodies now (src/scim/json-limits.ts).
 */
const docOf = (a: string) => `(CASE WHEN json_valid(${a}.doc) THEN ${a}.doc ELSE '{}' END)`;
const likeEscape = (s: string) => s.replace(/[\\%_]/g, (ch) => '\\' + ch);
const globEscape = (s: string) => s.replace(/[*?[]/g, (ch) => `[${ch}]`);

function node(f: Filter, c: Ctx): string {
  switch (f.op) {
    case 'and':
    case 'or':
      return '(' + f.filters.map((x) => node(x, c)).join(f.op === 'and' ? ' AND ' : ' OR ') + ')';
    case 'not':
      return `NOT (${node(f.filter, c)})`;
    case '[]':
      return valuePath(f.attrPath, f.valFilter, c);
    case 'pr':
      return present(resolveTarget(c.rt, f.attrPath), c);
    case 'ne':
      return `NOT (${compare(resolveTarget(c.rt, f.attrPath), 'eq', f.compValue, c)})`;
    default:
      return compare(resolveTarget(c.rt, f.attrPath), f.op, f.compValue, c);
  }
}

/** A text comparison on an SQL expression known to be text. ci: NOCASE (ASCII folding), as LIKE does. */
function textCond(expr: string, ci: boolean, op: CompareOp, v: string, c: Ctx): string {
  const coll = ci ? ' COLLATE NOCASE' : '';
  const rel = { eq: '=', gt: '>', ge: '>=', lt: '<', le: '<=' } as const;
  if (op === 'co' || op === 'sw' || op === 'ew') {
    const [pre, post] = [op === 'sw' ? '' : '*', op === 'ew' ? '' : '*'];
    if (ci) {
      c.params.push(`${pre && '%'}${likeEscape(v)}${post && '%'}`);
      return `${expr} LIKE ? ESCAPE '\\'`;
    }
    c.params.push(`${pre}${globEscape(v)}${post}`);
    return `${expr} GLOB ?`;
  }
  c.params.push(v);
  return `${expr} ${rel[op]} ?${coll}`;
}

/** A comparison on a JSON value at doc/path: only values of the attribute's JSON type match. */
function jsonCond(doc: string, path: string, leaf: Leaf, written: string, op: CompareOp, raw: unknown, c: Ctx): string {
  const v = comparisonValue(written, leaf, op, raw);
  if (typeof v === 'boolean') return `json_type(${doc}, ${path}) IS '${v ? 'true' : 'false'}'`;
  return `(json_type(${doc}, ${path}) IS 'text' AND ${textCond(`json_extract(${doc}, ${path})`, !leaf.caseExact, op, v, c)})`;
}

function jsonPresent(doc: string, path: string): string {
  return (
    `(CASE json_type(${doc}, ${path}) WHEN 'text' THEN json_extract(${doc}, ${path}) <> '' ` +
    `WHEN 'array' THEN json_array_length(${doc}, ${path}) > 0 WHEN 'object' THEN json_extract(${doc}, ${path}) <> '{}' ` +
    `WHEN 'null' THEN 0 ELSE json_type(${doc}, ${path}) IS NOT NULL END)`
  );
}

/** EXISTS over the object elements of a multi-valued attribute (alias e). */
function eachElement(c: Ctx, path: string[], cond: string): string {
  const p = jsonPath(path);
  return `(json_type(${docOf(c.a)}, ${p}) IS 'array' AND EXISTS (SELECT 1 FROM json_each(${docOf(c.a)}, ${p}) e WHERE e.type = 'object' AND ${cond}))`;
}

const isUserEmails = (c: Ctx, t: Target) => c.rt === 'User' && t.kind === 'multi' && t.attr.name === 'emails';

function compare(t: Target, op: CompareOp, raw: unknown, c: Ctx): string {
  switch (t.kind) {
    case 'column': {
      const col = `${c.a}.${t.column}`;
      const v = comparisonValue(t.written, t.leaf, op, raw);
      if (typeof v === 'boolean') {
        c.params.push(v ? 1 : 0);
        return `${col} = ?`;
      }
      const cond = textCond(col, !t.leaf.caseExact, op, v, c);
      return t.nullable ? `(${col} IS NOT NULL AND ${cond})` : cond;
    }
    case 'json':
      return jsonCond(docOf(c.a), jsonPath(t.path), t.leaf, t.written, op, raw, c);
    case 'complex':
      throw new InvalidQueryError(`"${t.written}" is complex; filter on one of its sub-attributes`);
    case 'multi': {
      const sub = elementSub(t);
      const leaf = { type: sub.type, caseExact: sub.caseExact };
      if (isUserEmails(c, t) && sub.name === 'value') {
        // user_emails mirrors the emails with a string value; IN (not EXISTS) so user_emails_value is used.
        const v = comparisonValue(t.written, leaf, op, raw) as string;
        return `u.id IN (SELECT user_id FROM user_emails WHERE ${textCond('value', true, op, v, c)})`;
      }
      return eachElement(c, t.path, jsonCond('e.value', jsonPath([sub.name]), leaf, t.written, op, raw, c));
    }
    case 'members': {
      const v = comparisonValue(t.written, { type: 'string', caseExact: true }, op, raw) as string;
      return `g.id IN (SELECT group_id FROM group_members WHERE ${textCond('user_id', false, op, v, c)})`;
    }
  }
}

function present(t: Target, c: Ctx): string {
  switch (t.kind) {
    case 'column': {
      const col = `${c.a}.${t.column}`;
      if (t.leaf.type === 'boolean') return '1';
      return t.nullable ? `(${col} IS NOT NULL AND ${col} <> '')` : `${col} <> ''`;
    }
    case 'json':
    case 'complex':
      return jsonPresent(docOf(c.a), jsonPath(t.path));
    case 'multi':
      if (!t.sub) return jsonPresent(docOf(c.a), jsonPath(t.path));
      return eachElement(c, t.path, jsonPresent('e.value', jsonPath([t.sub.name])));
    case 'members':
      return `g.id IN (SELECT group_id FROM group_members)`;
  }
}

/** attr[valFilter]: some element satisfies the whole valFilter (RFC 7644 §3.4.2.2 valuePath). */
function valuePath(written: string, valFilter: Filter, c: Ctx): string {
  const base = resolveTarget(c.rt, written);
  if (base.kind === 'members') {
    return `g.id IN (SELECT m.group_id FROM group_members m WHERE ${element(valFilter, base, { kind: 'member', column: 'm.user_id' }, c)})`;
  }
  if (base.kind === 'complex') {
    const p = jsonPath(base.path);
    return `(json_type(${docOf(c.a)}, ${p}) IS 'object' AND ${element(valFilter, base, { kind: 'json', doc: docOf(c.a), base: base.path }, c)})`;
  }
  if (base.kind !== 'multi' || base.sub) {
    throw new InvalidQueryError(`"${written}" is not a complex attribute; a value filter "[...]" needs one`);
  }
  // Narrow through the user_emails index first when the value filter pins emails.value.
  let prefix = '';
  const pinned = isUserEmails(c, base) ? pinnedValue(valFilter) : undefined;
  if (pinned !== undefined) {
    c.params.push(pinned);
    prefix = `u.id IN (SELECT user_id FROM user_emails WHERE value = ?) AND `;
  }
  const cond = element(valFilter, base, { kind: 'json', doc: 'e.value', base: [] }, c);
  return `(${prefix}${eachElement(c, base.path, cond)})`;
}

/** `value eq "x"` as the filter or as a top-level conjunct of it. */
function pinnedValue(f: Filter): string | undefined {
  const candidates = f.op === 'and' ? f.filters : [f];
  for (const x of candidates) {
    if (x.op === 'eq' && x.attrPath.toLowerCase() === 'value' && typeof x.compValue === 'string') return x.compValue;
  }
  return undefined;
}

function element(f: Filter, base: Target, el: Element, c: Ctx): string {
  switch (f.op) {
    case 'and':
    case 'or':
      return '(' + f.filters.map((x) => element(x, base, el, c)).join(f.op === 'and' ? ' AND ' : ' OR ') + ')';
    case 'not':
      return `NOT (${element(f.filter, base, el, c)})`;
    case '[]':
      throw new InvalidQueryError('value filters cannot be nested');
    default: {
      const { name, leaf } = resolveElementLeaf(c.rt, base, f.attrPath);
      const written = `${base.written}.${f.attrPath}`;
      if (el.kind === 'member') {
        if (f.op === 'pr') return `${el.column} <> ''`;
        const op = f.op === 'ne' ? 'eq' : f.op;
        const v = comparisonValue(written, leaf, op, f.compValue) as string;
        const cond = textCond(el.column, false, op, v, c);
        return f.op === 'ne' ? `NOT (${cond})` : cond;
      }
      const path = jsonPath([...el.base, name]);
      if (f.op === 'pr') return jsonPresent(el.doc, path);
      if (f.op === 'ne') return `NOT (${jsonCond(el.doc, path, leaf, written, 'eq', f.compValue, c)})`;
      return jsonCond(el.doc, path, leaf, written, f.op, f.compValue, c);
    }
  }
}

/**
 * ORDER BY for sortBy/sortOrder (RFC 7644 §3.4.2.3), always ending with the insertion-order tie-break seq.
 * Multi-valued attributes sort by the primary element, else the first. Values not of the attribute's type sort as NULL
 * (NULLs first ascending, last descending, as SQLite does).
 */
export function compileSort(rt: ResourceType, sortBy?: string, order?: SortOrder, dialect: Dialect = 'sqlite'): string {
  if (dialect !== 'sqlite') throw new Error(`no ${dialect} sort compiler yet`);
  const a = rt === 'User' ? 'u' : 'g';
  if (!sortBy) return `ORDER BY ${a}.seq`;
  const t = resolveTarget(rt, sortBy, 'sort');
  const dir = order === 'descending' ? 'DESC' : 'ASC';
  return `ORDER BY ${sortExpr(t, a)} ${dir}, ${a}.seq`;
}

function sortValue(doc: string, path: string, leaf: Leaf, written: string): string {
  if (leaf.type === 'boolean') return `(CASE json_type(${doc}, ${path}) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)`;
  if (leaf.type === 'complex' || leaf.type === 'binary') throw new InvalidQueryError(`cannot sort by "${written}"`, 'sort');
  const coll = leaf.caseExact ? '' : ' COLLATE NOCASE';
  return `(CASE WHEN json_type(${doc}, ${path}) IS 'text' THEN json_extract(${doc}, ${path}) END)${coll}`;
}

function sortExpr(t: Target, a: string): string {
  switch (t.kind) {
    case 'column':
      return `${a}.${t.column}`;
    case 'json':
      return sortValue(docOf(a), jsonPath(t.path), t.leaf, t.written);
    case 'multi': {
      const sub = elementSub(t);
      const p = jsonPath(t.path);
      const leaf = { type: sub.type, caseExact: sub.caseExact };
      const value = sortValue('e.value', jsonPath([sub.name]), leaf, t.written);
      return (
        `(CASE WHEN json_type(${docOf(a)}, ${p}) IS 'array' THEN (SELECT ${value} FROM json_each(${docOf(a)}, ${p}) e ` +
        `WHERE e.type = 'object' ORDER BY json_type(e.value, '$."primary"') IS 'true' DESC, e.key LIMIT 1) END)` +
        (leaf.caseExact || leaf.type === 'boolean' ? '' : ' COLLATE NOCASE')
      );
    }
    default:
      throw new InvalidQueryError(`cannot sort by "${t.written}"`, 'sort');
  }
}
