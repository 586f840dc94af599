/**
 * PATCH "path" (RFC 7644 §3.5.2, PATH = attrPath / valuePath ["." subAttr]) resolved against our schemas,
 * case-insensitively (RFC 7643 §2.1), plus the value-filter matcher used on multi-valued attributes.
 * The bracket filter goes through the same parser as list filters (filter.ts); it does not take the trailing
 * ".subAttr", so we split first.
 */
import type { Filter } from 'scim2-parse-filter';
import { type AttrDef, ENTERPRISE_USER, resolveAttribute, type ResourceType } from '../core/schema';
import { badRequest } from './errors';
import { parseFilter } from './filter';

export interface PatchPath {
  /** As the client wrote it, for error details. */
  text: string;
  /** Schema URN of the attribute; null for common attributes (id, externalId, meta). */
  schema: string | null;
  attr: AttrDef;
  /** Canonical keys to the attribute in the stored document: ['emails'] or [ENTERPRISE_USER, 'manager']. */
  key: string[];
  /** Value filter (valuePath), with attribute names rewritten to the sub-attributes' canonical case. */
  filter?: Filter;
  sub?: AttrDef;
}

const invalidPath = (text: string, why: string) => badRequest('invalidPath', `invalid path "${text}": ${why}`);
const ATTRNAME = /^[A-Za-z$][\w$-]*$/;

function resolve(rt: ResourceType, text: string, written: string) {
  let r = resolveAttribute(rt, written);
  // Entra's old manager form uses the bare name "manager" (MS-TUT Example 5): fall back to the enterprise schema.
  if (!r && rt === 'User' && !/^urn:/i.test(written)) r = resolveAttribute(rt, `${ENTERPRISE_USER}:${written}`);
  if (!r) throw invalidPath(text, 'unknown attribute');
  return r;
}

/** Index of the "]" closing the "[" at `open`, skipping quoted strings; -1 when unbalanced. */
function closingBracket(s: string, open: number): number {
  let quoted = false;
  for (let i = open + 1; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '[') return -1;
    else if (c === ']') return i;
  }
  return -1;
}

/** Rewrites filter attribute names to canonical sub-attribute names; unknown names or nesting → invalidPath. */
function canonicalFilter(f: Filter, attr: AttrDef, text: string): Filter {
  switch (f.op) {
    case 'and':
    case 'or':
      return { op: f.op, filters: f.filters.map((x) => canonicalFilter(x, attr, text)) };
    case 'not':
      return { op: 'not', filter: canonicalFilter(f.filter, attr, text) };
    case '[]':
      throw invalidPath(text, 'nested value filters are not allowed');
    default: {
      let name = f.attrPath;
      if (name.toLowerCase().startsWith(attr.name.toLowerCase() + '.')) name = name.slice(attr.name.length + 1);
      const sub = attr.subAttributes?.find((s) => s.name.toLowerCase() === name.toLowerCase());
      if (!sub) throw invalidPath(text, `"${f.attrPath}" is not a sub-attribute of ${attr.name}`);
      return { ...f, attrPath: sub.name };
    }
  }
}

/** Parses and resolves a PATCH path. Throws 400 invalidPath for unknown attributes and malformed paths. */
export function parsePatchPath(rt: ResourceType, text: unknown): PatchPath {
  if (typeof text !== 'string' || text.trim() === '') throw badRequest('invalidPath', 'path must be a non-empty string');
  const t = text.trim();
  const open = t.indexOf('[');
  if (open < 0) {
    if (t.includes(']')) throw invalidPath(t, 'unbalanced "]"');
    const r = resolve(rt, t, t);
    return { text: t, schema: r.schema, attr: r.attr, key: r.sub ? r.path.slice(0, -1) : r.path, sub: r.sub };
  }
  const close = closingBracket(t, open);
  if (close < 0) throw invalidPath(t, 'unbalanced "["');
  const rest = t.slice(close + 1);
  if (rest !== '' && !(rest.startsWith('.') && ATTRNAME.test(rest.slice(1)))) throw invalidPath(t, `unexpected "${rest}" after the filter`);
  const r = resolve(rt, t, t.slice(0, open).trim());
  if (r.sub || !r.attr.multiValued || r.attr.type !== 'complex') {
    throw invalidPath(t, 'a value filter needs a multi-valued complex attribute (RFC 7644 §3.5.2)');
  }
  let parsed: Filter;
  try {
    // The list-filter parser, so a value filter means the same here as in ?filter= (string literals decoded as
    // JSON strings, RFC 7644 §3.4.2.2 / RFC 7159 §7: "a\u0041b" is aAb in both).
    parsed = parseFilter(t.slice(open + 1, close));
  } catch (e) {
    throw invalidPath(t, `bad filter (${(e as Error).message.replace(/^invalid filter: /, '')})`);
  }
  const filter = canonicalFilter(parsed, r.attr, t);
  let sub: AttrDef | undefined;
  if (rest) {
    sub = r.attr.subAttributes?.find((s) => s.name.toLowerCase() === rest.slice(1).toLowerCase());
    if (!sub) throw invalidPath(t, `"${rest.slice(1)}" is not a sub-attribute of ${r.attr.name}`);
  }
  return { text: t, schema: r.schema, attr: r.attr, key: r.path, filter, sub };
}

function fold(v: unknown, caseExact: boolean): unknown {
  return typeof v === 'string' && !caseExact ? v.toLowerCase() : v;
}

/** Does one element of a multi-valued attribute match a canonical value filter (RFC 7644 §3.4.2.2)? */
export function matchesFilter(el: Record<string, unknown>, f: Filter, attr: AttrDef): boolean {
  switch (f.op) {
    case 'and':
      return f.filters.every((x) => matchesFilter(el, x, attr));
    case 'or':
      return f.filters.some((x) => matchesFilter(el, x, attr));
    case 'not':
      return !matchesFilter(el, f.filter, attr);
    case '[]':
      return false;
    case 'pr': {
      const v = el[f.attrPath];
      return v !== undefined && v !== null && v !== '';
    }
    default: {
      const exact = attr.subAttributes?.find((s) => s.name === f.attrPath)?.caseExact ?? false;
      const a = fold(el[f.attrPath], exact);
      const b = fold(f.compValue, exact);
      if (f.op === 'eq') return b === null ? a === undefined : a === b;
      if (f.op === 'ne') return b === null ? a !== undefined : a !== b;
      if (typeof a === 'string' && typeof b === 'string') {
        if (f.op === 'co') return a.includes(b);
        if (f.op === 'sw') return a.startsWith(b);
        if (f.op === 'ew') return a.endsWith(b);
      }
      const comparable = (typeof a === 'string' && typeof b === 'string') || (typeof a === 'number' && typeof b === 'number');
      if (!comparable) return false;
      const [x, y] = [a as string | number, b as string | number];
      if (f.op === 'gt') return x > y;
      if (f.op === 'ge') return x >= y;
      if (f.op === 'lt') return x < y;
      if (f.op === 'le') return x <= y;
      return false;
    }
  }
}

/**
 * The element a filter describes, from its "eq" terms joined by "and": type eq "work" → {type: "work"}.
 * Entra expects add/replace on a filter that matches nothing to create this element (scim-idp.md §A1.4).
 * undefined when the filter is not such a conjunction (then the RFC answer, 400 noTarget, applies).
 */
export function filterTemplate(f: Filter): Record<string, unknown> | undefined {
  if (f.op === 'eq' && f.compValue !== null) return { [f.attrPath]: f.compValue };
  if (f.op !== 'and') return undefined;
  const out: Record<string, unknown> = {};
  for (const part of f.filters) {
    const t = filterTemplate(part);
    if (!t) return undefined;
    for (const [k, v] of Object.entries(t)) {
      if (Object.hasOwn(out, k) && out[k] !== v) return undefined;
      out[k] = v;
    }
  }
  return out;
}
