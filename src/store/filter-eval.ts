import type { Filter } from 'scim2-parse-filter';
import type { ResourceType } from '../core/schema';
import {
  columnValue,
  compareText,
  comparisonValue,
  elementSub,
  foldAscii,
  isPlainObject,
  isPresent,
  resolveElementLeaf,
  resolveTarget,
  type CompareOp,
  type Leaf,
  type Target,
} from './filter-attributes';
import { InvalidQueryError, type ResourceMeta, type SortOrder } from './types';

/**
 * In-memory evaluation of SCIM filters and sorts with exactly the semantics of filter-sql.ts
 * (defined in filter-attributes.ts; checked by a differential property test).
 */
export interface FilterRecord {
  id: string;
  data: Record<string, unknown>;
  meta: ResourceMeta;
  /** Groups only. */
  memberIds?: ReadonlySet<string> | readonly string[];
}

export type Matcher = (r: FilterRecord) => boolean;

export function matchesFilter(rt: ResourceType, record: FilterRecord, ast: Filter): boolean {
  return compileMatcher(rt, ast)(record);
}

/** Resolves and validates the whole filter up front (throws InvalidQueryError even when nothing is evaluated). */
export function compileMatcher(rt: ResourceType, ast: Filter): Matcher {
  switch (ast.op) {
    case 'and': {
      const parts = ast.filters.map((f) => compileMatcher(rt, f));
      return (r) => parts.every((p) => p(r));
    }
    case 'or': {
      const parts = ast.filters.map((f) => compileMatcher(rt, f));
      return (r) => parts.some((p) => p(r));
    }
    case 'not': {
      const inner = compileMatcher(rt, ast.filter);
      return (r) => !inner(r);
    }
    case '[]':
      return valuePath(rt, ast.attrPath, ast.valFilter);
    case 'pr':
      return presentOn(resolveTarget(rt, ast.attrPath));
    case 'ne': {
      const eq = compareOn(resolveTarget(rt, ast.attrPath), 'eq', ast.compValue);
      return (r) => !eq(r);
    }
    default:
      return compareOn(resolveTarget(rt, ast.attrPath), ast.op, ast.compValue);
  }
}

function getPath(obj: unknown, path: readonly string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

const elements = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter(isPlainObject) : []);
const memberList = (r: FilterRecord): Iterable<string> => r.memberIds ?? [];

/** A leaf comparison on one stored value; only values of the attribute's type match. */
function leafTest(leaf: Leaf, op: CompareOp, v: string | boolean): (x: unknown) => boolean {
  if (typeof v === 'boolean') return (x) => x === v;
  const ci = !leaf.caseExact;
  const needle = ci ? foldAscii(v) : v;
  const text = (x: string) => (ci ? foldAscii(x) : x);
  const tests: Record<CompareOp, (x: string) => boolean> = {
    eq: (x) => compareText(x, v, ci) === 0,
    gt: (x) => compareText(x, v, ci) > 0,
    ge: (x) => compareText(x, v, ci) >= 0,
    lt: (x) => compareText(x, v, ci) < 0,
    le: (x) => compareText(x, v, ci) <= 0,
    co: (x) => text(x).includes(needle),
    sw: (x) => text(x).startsWith(needle),
    ew: (x) => text(x).endsWith(needle),
  };
  const t = tests[op];
  return (x) => typeof x === 'string' && t(x);
}

function compareOn(t: Target, op: CompareOp, raw: unknown): Matcher {
  switch (t.kind) {
    case 'column': {
      const test = leafTest(t.leaf, op, comparisonValue(t.written, t.leaf, op, raw));
      return (r) => test(columnValue(t.column, r));
    }
    case 'json': {
      const test = leafTest(t.leaf, op, comparisonValue(t.written, t.leaf, op, raw));
      return (r) => test(getPath(r.data, t.path));
    }
    case 'complex':
      throw new InvalidQueryError(`"${t.written}" is complex; filter on one of its sub-attributes`);
    case 'multi': {
      const sub = elementSub(t);
      const leaf = { type: sub.type, caseExact: sub.caseExact };
      const test = leafTest(leaf, op, comparisonValue(t.written, leaf, op, raw));
      return (r) => elements(getPath(r.data, t.path)).some((e) => test(e[sub.name]));
    }
    case 'members': {
      const leaf = { type: 'string' as const, caseExact: true };
      const v = comparisonValue(t.written, leaf, op, raw) as string;
      if (op === 'eq') return (r) => (r.memberIds instanceof Set ? r.memberIds.has(v) : [...memberList(r)].includes(v));
      const test = leafTest(leaf, op, v);
      return (r) => [...memberList(r)].some(test);
    }
  }
}

function presentOn(t: Target): Matcher {
  switch (t.kind) {
    case 'column':
      return (r) => isPresent(columnValue(t.column, r));
    case 'json':
    case 'complex':
      return (r) => isPresent(getPath(r.data, t.path));
    case 'multi':
      if (!t.sub) return (r) => isPresent(getPath(r.data, t.path));
      return (r) => elements(getPath(r.data, t.path)).some((e) => isPresent(e[t.sub!.name]));
    case 'members':
      return (r) => [...memberList(r)].length > 0;
  }
}

type ElementMatcher = (e: Record<string, unknown>) => boolean;

function valuePath(rt: ResourceType, written: string, valFilter: Filter): Matcher {
  const base = resolveTarget(rt, written);
  if (base.kind === 'members') {
    const m = element(rt, base, valFilter);
    return (r) => [...memberList(r)].some((id) => m({ value: id }));
  }
  if (base.kind === 'complex') {
    const m = element(rt, base, valFilter);
    return (r) => {
      const v = getPath(r.data, base.path);
      return isPlainObject(v) && m(v);
    };
  }
  if (base.kind !== 'multi' || base.sub) {
    throw new InvalidQueryError(`"${written}" is not a complex attribute; a value filter "[...]" needs one`);
  }
  const m = element(rt, base, valFilter);
  return (r) => elements(getPath(r.data, base.path)).some(m);
}

function element(rt: ResourceType, base: Target, f: Filter): ElementMatcher {
  switch (f.op) {
    case 'and': {
      const parts = f.filters.map((x) => element(rt, base, x));
      return (e) => parts.every((p) => p(e));
    }
    case 'or': {
      const parts = f.filters.map((x) => element(rt, base, x));
      return (e) => parts.some((p) => p(e));
    }
    case 'not': {
      const inner = element(rt, base, f.filter);
      return (e) => !inner(e);
    }
    case '[]':
      throw new InvalidQueryError('value filters cannot be nested');
    default: {
      const { name, leaf } = resolveElementLeaf(rt, base, f.attrPath);
      if (f.op === 'pr') return (e) => isPresent(e[name]);
      const written = `${base.written}.${f.attrPath}`;
      const op = f.op === 'ne' ? 'eq' : f.op;
      const test = leafTest(leaf, op, comparisonValue(written, leaf, op, f.compValue));
      return f.op === 'ne' ? (e) => !test(e[name]) : (e) => test(e[name]);
    }
  }
}

/** Sort key classes in SQLite order: NULL < numeric < text. */
type SortKey = null | number | string;

/** Comparator for sortBy/sortOrder with filter-sql.ts compileSort semantics; ties by seq. */
export function compileSorter(
  rt: ResourceType,
  sortBy?: string,
  order?: SortOrder,
): (a: { record: FilterRecord; seq: number }, b: { record: FilterRecord; seq: number }) => number {
  if (!sortBy) return (a, b) => a.seq - b.seq;
  const t = resolveTarget(rt, sortBy, 'sort');
  const { key, ci } = sortKeyOf(t);
  const sign = order === 'descending' ? -1 : 1;
  const cls = (k: SortKey) => (k === null ? 0 : typeof k === 'number' ? 1 : 2);
  const cmp = (x: SortKey, y: SortKey): number => {
    if (cls(x) !== cls(y)) return cls(x) - cls(y);
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'string' && typeof y === 'string') return compareText(x, y, ci);
    return 0;
  };
  return (a, b) => sign * cmp(key(a.record), key(b.record)) || a.seq - b.seq;
}

function typedKey(leaf: Leaf, v: unknown, written: string): SortKey {
  if (leaf.type === 'complex' || leaf.type === 'binary') throw new InvalidQueryError(`cannot sort by "${written}"`, 'sort');
  if (leaf.type === 'boolean') return typeof v === 'boolean' ? (v ? 1 : 0) : null;
  return typeof v === 'string' ? v : null;
}

function sortKeyOf(t: Target): { key: (r: FilterRecord) => SortKey; ci: boolean } {
  switch (t.kind) {
    case 'column':
      return {
        ci: !t.leaf.caseExact,
        key: (r) => {
          const v = columnValue(t.column, r);
          return typeof v === 'boolean' ? (v ? 1 : 0) : v;
        },
      };
    case 'json':
      typedKey(t.leaf, undefined, t.written);
      return { ci: !t.leaf.caseExact, key: (r) => typedKey(t.leaf, getPath(r.data, t.path), t.written) };
    case 'multi': {
      const sub = elementSub(t);
      const leaf = { type: sub.type, caseExact: sub.caseExact };
      typedKey(leaf, undefined, t.written);
      return {
        ci: !leaf.caseExact && leaf.type !== 'boolean',
        key: (r) => {
          const els = elements(getPath(r.data, t.path));
          const chosen = els.find((e) => e.primary === true) ?? els[0];
          return chosen ? typedKey(leaf, chosen[sub.name], t.written) : null;
        },
      };
    }
    default:
      throw new InvalidQueryError(`cannot sort by "${t.written}"`, 'sort');
  }
}
