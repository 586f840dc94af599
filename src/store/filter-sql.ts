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
import { filterDialects, type FilterDialect } from './sql/filter-dialect';
import { InvalidQueryError, type SortOrder } from './types';

/**
 * SCIM filter (RFC 7644 §3.4.2.2) to a parameterised WHERE over `users u` or `groups g`, for SQLite or PostgreSQL:
 * one compiler, the differing fragments in sql/filter-dialect.ts. Semantics are defined in filter-attributes.ts
 * and mirrored by filter-eval.ts. Every generated predicate is two-valued (never NULL), so `not` behaves as in the
 * evaluator. Values always go in params; the only inlined text is JSON paths built from the schema catalogue.
 */
export function compileFilter(ast: Filter, rt: ResourceType, dialect: Dialect = 'sqlite'): { where: string; params: unknown[] } {
  const c: Ctx = { rt, a: rt === 'User' ? 'u' : 'g', params: [], d: filterDialects[dialect] };
  return { where: node(ast, c), params: c.params };
}

interface Ctx {
  rt: ResourceType;
  a: 'u' | 'g';
  params: unknown[];
  d: FilterDialect;
}

/** Where an element's sub-attributes live inside a value filter: JSON (json, keys below base) or a membership row. */
type Element = { kind: 'json'; json: string; base: string[] } | { kind: 'member'; column: string };

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

const REL = { eq: '=', gt: '>', ge: '>=', lt: '<', le: '<=' } as const;

/** A text comparison on an SQL expression known to be text. ci: ASCII folding (SQLite NOCASE), as LIKE does. */
function textCond(expr: string, ci: boolean, op: CompareOp, v: string, c: Ctx): string {
  if (op === 'co' || op === 'sw' || op === 'ew') {
    const { sql, param } = c.d.match(expr, ci, v, op !== 'sw', op !== 'ew');
    c.params.push(param);
    return sql;
  }
  c.params.push(v);
  return c.d.compare(expr, ci, REL[op]);
}

/** A comparison on a JSON value at json/keys: only values of the attribute's JSON type match. */
function jsonCond(json: string, keys: string[], leaf: Leaf, written: string, op: CompareOp, raw: unknown, c: Ctx): string {
  const v = comparisonValue(written, leaf, op, raw);
  if (typeof v === 'boolean') return c.d.isBool(json, keys, v);
  const { d } = c;
  return `(${d.is(d.typeOf(json, keys), d.types.text)} AND ${textCond(d.text(json, keys), !leaf.caseExact, op, v, c)})`;
}

function jsonPresent(json: string, keys: string[], d: FilterDialect): string {
  const type = d.typeOf(json, keys);
  return (
    `(CASE ${type} WHEN '${d.types.text}' THEN ${d.text(json, keys)} <> '' ` +
    `WHEN '${d.types.array}' THEN ${d.arrayLength(json, keys)} > 0 WHEN '${d.types.object}' THEN ${d.nonEmptyObject(json, keys)} ` +
    `WHEN '${d.types.null}' THEN ${d.false} ELSE ${type} IS NOT NULL END)`
  );
}

/** EXISTS over the object elements of a multi-valued attribute (alias e). */
function eachElement(c: Ctx, keys: string[], cond: string): string {
  const { d } = c;
  const doc = d.doc(c.a);
  const { from, isObject } = d.elements(doc, keys);
  return `(${d.is(d.typeOf(doc, keys), d.types.array)} AND EXISTS (SELECT 1 FROM ${from} WHERE ${isObject} AND ${cond}))`;
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
      return jsonCond(c.d.doc(c.a), t.path, t.leaf, t.written, op, raw, c);
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
      return eachElement(c, t.path, jsonCond('e.value', [sub.name], leaf, t.written, op, raw, c));
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
      if (t.leaf.type === 'boolean') return c.d.true;
      return t.nullable ? `(${col} IS NOT NULL AND ${col} <> '')` : `${col} <> ''`;
    }
    case 'json':
    case 'complex':
      return jsonPresent(c.d.doc(c.a), t.path, c.d);
    case 'multi':
      if (!t.sub) return jsonPresent(c.d.doc(c.a), t.path, c.d);
      return eachElement(c, t.path, jsonPresent('e.value', [t.sub.name], c.d));
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
    const { d } = c;
    const doc = d.doc(c.a);
    return `(${d.is(d.typeOf(doc, base.path), d.types.object)} AND ${element(valFilter, base, { kind: 'json', json: doc, base: base.path }, c)})`;
  }
  if (base.kind !== 'multi' || base.sub) {
    throw new InvalidQueryError(`"${written}" is not a complex attribute; a value filter "[...]" needs one`);
  }
  // Narrow through the user_emails index first when the value filter pins emails.value.
  let prefix = '';
  const pinned = isUserEmails(c, base) ? pinnedValue(valFilter) : undefined;
  if (pinned !== undefined) {
    c.params.push(pinned);
    prefix = `u.id IN (SELECT user_id FROM user_emails WHERE ${c.d.indexedCiEq('value')}) AND `;
  }
  const cond = element(valFilter, base, { kind: 'json', json: 'e.value', base: [] }, c);
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
      const keys = [...el.base, name];
      if (f.op === 'pr') return jsonPresent(el.json, keys, c.d);
      if (f.op === 'ne') return `NOT (${jsonCond(el.json, keys, leaf, written, 'eq', f.compValue, c)})`;
      return jsonCond(el.json, keys, leaf, written, f.op, f.compValue, c);
    }
  }
}

/**
 * ORDER BY for sortBy/sortOrder (RFC 7644 §3.4.2.3), always ending with the insertion-order tie-break seq.
 * Multi-valued attributes sort by the primary element, else the first. Values not of the attribute's type sort as NULL
 * (NULLs first ascending, last descending, as SQLite does).
 */
export function compileSort(rt: ResourceType, sortBy?: string, order?: SortOrder, dialect: Dialect = 'sqlite'): string {
  const a = rt === 'User' ? 'u' : 'g';
  if (!sortBy) return `ORDER BY ${a}.seq`;
  const d = filterDialects[dialect];
  const t = resolveTarget(rt, sortBy, 'sort');
  const dir = order === 'descending' ? 'DESC' : 'ASC';
  return `ORDER BY ${sortExpr(t, a, d)} ${dir}${d.nulls(dir)}, ${a}.seq`;
}

/** The sort key of the value at json/keys: 1/0 for booleans, text for the rest, NULL where the type differs. */
function sortValue(json: string, keys: string[], leaf: Leaf, written: string, d: FilterDialect): string {
  if (leaf.type === 'boolean') return `(CASE WHEN ${d.isBool(json, keys, true)} THEN 1 WHEN ${d.isBool(json, keys, false)} THEN 0 END)`;
  if (leaf.type === 'complex' || leaf.type === 'binary') throw new InvalidQueryError(`cannot sort by "${written}"`, 'sort');
  return `(CASE WHEN ${d.is(d.typeOf(json, keys), d.types.text)} THEN ${d.text(json, keys)} END)`;
}

/** A sort key is text ordered by the attribute's caseExact, or (booleans) a number. */
const ordered = (expr: string, leaf: Leaf, d: FilterDialect) => (leaf.type === 'boolean' ? expr : d.orderText(expr, !leaf.caseExact));

function sortExpr(t: Target, a: string, d: FilterDialect): string {
  switch (t.kind) {
    case 'column':
      return t.leaf.type === 'boolean' ? `${a}.${t.column}` : d.orderColumn(`${a}.${t.column}`, !t.leaf.caseExact);
    case 'json':
      return ordered(sortValue(d.doc(a), t.path, t.leaf, t.written, d), t.leaf, d);
    case 'multi': {
      const sub = elementSub(t);
      const leaf = { type: sub.type, caseExact: sub.caseExact };
      const doc = d.doc(a);
      const value = sortValue('e.value', [sub.name], leaf, t.written, d);
      const { from, isObject } = d.elements(doc, t.path);
      const first = `(SELECT ${value} FROM ${from} WHERE ${isObject} ORDER BY ${d.isBool('e.value', ['primary'], true)} DESC, e.key LIMIT 1)`;
      return ordered(`(CASE WHEN ${d.is(d.typeOf(doc, t.path), d.types.array)} THEN ${first} END)`, leaf, d);
    }
    default:
      throw new InvalidQueryError(`cannot sort by "${t.written}"`, 'sort');
  }
}
