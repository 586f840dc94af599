/**
 * SCIM PATCH (RFC 7644 §3.5.2) as pure functions. Our own engine, not scim-patch: that library matches paths
 * case-sensitively, does not coerce Entra's "True"/"False" or bare-string manager, and copies the whole member
 * list (docs/deps.md §2). Users: ops apply in order to a copy, then the result goes through normalizeUser, so it
 * is canonical; any error throws ScimError and the caller keeps the old data (atomic, §3.5.2).
 * Groups: attribute ops plus MemberOp[] for the store; the member list is never materialised.
 */
import type { Filter } from 'scim2-parse-filter';
import { CORE_GROUP, CORE_USER, extensionUrn, USER_ATTRIBUTES, type ResourceType } from '../core/schema';
import type { GroupChange, GroupData, MemberOp, UserData } from '../store/types';
import { cloneJson, jsonEquals, jsonKey } from '../core/json';
import { isSecretName } from '../core/secrets';
import { MAX_MEMBERS_PER_REQUEST, MAX_MULTI_VALUES } from '../core/limits';
import { badRequest, ScimError } from './errors';
import {
  getCI,
  isKnownSchemaKey,
  isObject,
  isUrnKey,
  type Json,
  normalizeGroup,
  normalizeUser,
  normalizeValue,
  parseMemberIds,
  tooManyMembers,
  undeclaredValue,
} from './normalize';
import { filterTemplate, matchesFilter, parsePatchPath, type PatchPath } from './patch-path';

export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export type PatchOpName = 'add' | 'replace' | 'remove';

export interface PatchOperation {
  op: PatchOpName;
  /** Absent when the client sent none (or ""): the target is the resource itself. */
  path?: string;
  /** Absent when the client sent no "value" member; null when it sent null. */
  value?: unknown;
}

const OPS: PatchOpName[] = ['add', 'replace', 'remove'];
const MULTI_VALUED = USER_ATTRIBUTES.filter((a) => a.multiValued).map((a) => a.name);

/** Validates a PatchOp message (RFC 7644 §3.5.2). Member names and op values are case-insensitive (Entra). */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the PATCH body must be a JSON object');
  const schemas = getCI(body, 'schemas');
  if (schemas !== undefined && schemas !== null) {
    const list = Array.isArray(schemas) ? schemas : [schemas];
    if (!list.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase())) {
      throw badRequest('invalidSyntax', `schemas must contain "${PATCH_OP_SCHEMA}"`);
    }
  }
  const ops = getCI(body, 'Operations');
  if (!Array.isArray(ops)) throw badRequest('invalidSyntax', '"Operations" must be an array (RFC 7644 §3.5.2)');
  return ops.map((raw, i) => {
    if (!isObject(raw)) throw badRequest('invalidSyntax', `Operations[${i}] must be an object`);
    const name = getCI(raw, 'op');
    const op = typeof name === 'string' ? OPS.find((o) => o === name.toLowerCase()) : undefined;
    if (!op) throw badRequest('invalidSyntax', `Operations[${i}].op must be "add", "replace" or "remove", not ${JSON.stringify(name)}`);
    const path = getCI(raw, 'path');
    if (path !== undefined && path !== null && typeof path !== 'string') throw badRequest('invalidPath', `Operations[${i}].path must be a string`);
    const hasValue = Object.keys(raw).some((k) => k.toLowerCase() === 'value');
    if (op !== 'remove' && !hasValue) throw badRequest('invalidSyntax', `Operations[${i}] (${op}) needs a "value" (RFC 7644 §3.5.2.1)`);
    const out: PatchOperation = { op };
    if (typeof path === 'string' && path.trim() !== '') out.path = path;
    if (hasValue) out.value = getCI(raw, 'value');
    return out;
  });
}

const mutability = (detail: string) => badRequest('mutability', detail);
const noTargetRemove = () => badRequest('noTarget', 'remove needs a "path" (RFC 7644 §3.5.2.2)');
const pathlessValue = (op: string) => badRequest('invalidValue', `${op} without a path needs an object value (RFC 7644 §3.5.2.1)`);

/** id is readOnly (RFC 7643 §3.1); an unchanged id in a value object is tolerated (Okta, scim-idp.md §A2.2). */
function checkId(v: unknown, knownId: string | undefined, explicitPath: boolean): void {
  if (knownId !== undefined ? v === knownId : !explicitPath) return;
  throw mutability('attribute "id" is read-only');
}

/** The object holding the attribute: the document itself, or its extension object (created on demand). */
function holderOf(doc: Json, p: PatchPath, create: boolean): Json | undefined {
  if (p.key.length === 1) return doc;
  const ext = p.key[0];
  if (!isObject(doc[ext])) {
    if (!create) return undefined;
    doc[ext] = {};
  }
  return doc[ext] as Json;
}

function userRemove(doc: Json, p: PatchPath, raw: unknown): void {
  const { attr, sub, filter } = p;
  if (attr.required && !sub) throw mutability(`attribute "${attr.name}" is required and cannot be removed (RFC 7644 §3.5.2.2)`);
  if (attr.name === 'active' && !sub) throw mutability('attribute "active" cannot be removed; replace it with false to deactivate');
  const holder = holderOf(doc, p, false);
  const cur = holder?.[attr.name];
  if (!holder || cur === undefined) return;
  if (!attr.multiValued) {
    if (!sub) delete holder[attr.name];
    else if (isObject(cur)) delete cur[sub.name];
    return;
  }
  const list = Array.isArray(cur) ? (cur as Json[]) : [];
  if (!filter && !sub) {
    // Entra sends remove with a value list meaning "only these" (scim-idp.md §A1.4); without one, all go.
    if (raw === undefined || raw === null) delete holder[attr.name];
    else {
      // Keyed, so the cost is linear in list + values (a pairwise check stalled the event loop for 38 s).
      const gone = (normalizeValue(attr, raw, p.text) as Json[] | undefined) ?? [];
      const byValue = new Set(gone.filter((g) => g.value !== undefined).map((g) => jsonKey(g.value)));
      const whole = new Set(gone.filter((g) => g.value === undefined).map(jsonKey));
      holder[attr.name] = list.filter((e) => !byValue.has(jsonKey(e.value)) && !whole.has(jsonKey(e)));
    }
    return;
  }
  const targets = filter ? list.filter((e) => matchesFilter(e, filter, attr)) : list;
  keysOf.delete(list);
  if (sub) for (const t of targets) delete t[sub.name];
  else {
    const gone = new Set(targets);
    holder[attr.name] = list.filter((e) => !gone.has(e));
  }
}

/**
 * Keys of the values of a multi-valued attribute, kept from one add to the next within a PATCH, so a request of
 * many add operations stays linear. Dropped whenever values are edited in place.
 */
const keysOf = new WeakMap<Json[], Set<string>>();

function userSet(doc: Json, op: 'add' | 'replace', p: PatchPath, raw: unknown, pathless: boolean): void {
  const { attr, sub, filter } = p;
  let value: unknown;
  if (sub) value = normalizeValue(sub, raw, p.text);
  else if (filter) {
    const els = normalizeValue(attr, raw, p.text) as Json[] | undefined;
    if (els && els.length > 1) throw badRequest('invalidValue', `"${p.text}" selects one value; send one object`);
    value = els?.[0];
  } else value = normalizeValue(attr, raw, p.text);
  if (value === undefined) {
    // null or "" clears (Entra's "null/empty PATCH", scim-idp.md §A1.6); adding nothing to a list changes nothing.
    if (op === 'add' && attr.multiValued && !sub && !filter) return;
    if (attr.required && !sub) throw badRequest('invalidValue', `attribute "${attr.name}" is required and cannot be cleared`);
    return userRemove(doc, p, undefined);
  }
  const holder = holderOf(doc, p, true)!;
  const name = attr.name;
  const cur = holder[name];
  if (!attr.multiValued) {
    if (sub) holder[name] = { ...(isObject(cur) ? cur : {}), [sub.name]: value };
    // Complex: a path op or a path-less add merges sub-attributes (§3.5.2.1, §3.5.2.3); a path-less replace
    // replaces the attribute. manager is a reference, so it is always replaced whole.
    else if (attr.type === 'complex' && name !== 'manager' && isObject(cur) && (op === 'add' || !pathless)) holder[name] = { ...cur, ...(value as Json) };
    else holder[name] = value;
    return;
  }
  let list = Array.isArray(cur) ? (cur as Json[]) : [];
  let touched: Json[];
  if (!sub && !filter) {
    const items = value as Json[];
    if (op === 'replace') list = touched = items;
    else {
      const have = keysOf.get(list) ?? new Set(list.map(jsonKey));
      touched = items.filter((i) => {
        const k = jsonKey(i);
        if (have.has(k)) return false;
        have.add(k);
        return true;
      });
      // In place: doc is this PATCH's own copy. Copying the list per operation made 1,000 operations quadratic.
      for (const t of touched) list.push(t);
      keysOf.set(list, have);
      if (touched.length && list.length > MAX_MULTI_VALUES) throw tooManyValues(name, list.length);
    }
  } else {
    keysOf.delete(list); // elements are edited in place below
    touched = filter ? list.filter((e) => matchesFilter(e, filter, attr)) : list;
    if (!touched.length) {
      // Entra: add/replace on a filter matching nothing creates the element (scim-idp.md §A1.4).
      const tpl = filter ? filterTemplate(filter) : {};
      if (!tpl) throw badRequest('noTarget', `no value of "${name}" matches "${p.text}" (RFC 7644 §3.5.2.3)`);
      const el = ((normalizeValue(attr, [tpl], p.text) as Json[] | undefined)?.[0] ?? {}) as Json;
      list = [...list, el];
      touched = [el];
      if (!sub) Object.assign(el, value);
    } else if (!sub) {
      for (const t of touched) {
        if (op === 'replace') for (const k of Object.keys(t)) delete t[k];
        Object.assign(t, value);
      }
    }
    if (sub) for (const t of touched) t[sub.name] = value;
  }
  // RFC 7644 §3.5.2: setting primary true on one value sets it false on the others.
  if (touched.some((t) => t.primary === true)) {
    const mine = new Set(touched);
    keysOf.delete(list);
    for (const e of list) if (!mine.has(e) && e.primary === true) e.primary = false;
  }
  holder[name] = list;
}

function userPath(doc: Json, op: PatchOpName, p: PatchPath, raw: unknown, pathless: boolean, userId?: string): void {
  if (p.attr.name === 'password' && p.schema === CORE_USER) return; // writeOnly, never stored (RFC 7643 §4.1.1)
  if (p.attr.name === 'id' && p.schema === null && op !== 'remove') return checkId(raw, userId, !pathless);
  if (p.attr.mutability === 'readOnly' || p.sub?.mutability === 'readOnly') {
    throw mutability(`attribute "${p.text}" is read-only (RFC 7644 §3.5.2)`);
  }
  if (op === 'remove') userRemove(doc, p, raw);
  else userSet(doc, op, p, raw, pathless);
}

/** An attribute of a schema we do not know, kept verbatim under its URN key. */
function unknownExtension(doc: Json, op: 'add' | 'replace', key: string, v: unknown): void {
  if (isSecretName(key)) return;
  const c = undeclaredValue(key, v);
  if (c === undefined) {
    if (op === 'replace') delete doc[key];
  } else if (op === 'add' && isObject(c) && isObject(doc[key])) doc[key] = { ...(doc[key] as Json), ...c };
  else doc[key] = c;
}

/** One key of a path-less value object: plain, dotted ("name.givenName") or URN-qualified (scim-idp.md §A1.4). */
function userPathlessKey(doc: Json, op: 'add' | 'replace', key: string, v: unknown, userId?: string): void {
  const lower = key.toLowerCase();
  if (lower === 'schemas' || key === '__proto__') return;
  const ext = extensionUrn('User', key);
  if (ext || lower === CORE_USER.toLowerCase()) {
    if (v === null || v === undefined) return;
    if (!isObject(v)) throw badRequest('invalidValue', `"${key}" must be an object of attributes`);
    for (const [inner, iv] of Object.entries(v)) userPathlessKey(doc, op, `${ext ?? CORE_USER}:${inner}`, iv, userId);
    return;
  }
  let p: PatchPath;
  try {
    p = parsePatchPath('User', key);
  } catch (e) {
    if (!(e instanceof ScimError)) throw e;
    if (isUrnKey(key) && !isKnownSchemaKey(key)) unknownExtension(doc, op, key, v);
    return; // unknown attributes are ignored, as on POST (scim-idp.md §C14)
  }
  userPath(doc, op, p, v, true, userId);
}

/**
 * Applies a PATCH request to a user (RFC 7644 §3.5.2.1–3). Pure: `current` is not modified.
 * `userId`, when given, lets a value object carry the unchanged id.
 */
export function applyUserPatch(current: UserData, body: unknown, userId?: string): UserData {
  const ops = parsePatchRequest(body);
  const doc = cloneJson(current) as Json;
  for (const op of ops) {
    if (op.path === undefined) {
      if (op.op === 'remove') throw noTargetRemove();
      if (!isObject(op.value)) throw pathlessValue(op.op);
      for (const [k, v] of Object.entries(op.value)) userPathlessKey(doc, op.op, k, v, userId);
    } else {
      userPath(doc, op.op, parsePatchPath('User', op.path), op.value, false, userId);
    }
  }
  const out = normalizeUser(doc);
  checkGrowth(current, out);
  return out;
}

const tooManyValues = (attr: string, n: number) =>
  badRequest('invalidValue', `attribute "${attr}" would hold ${n} values; at most ${MAX_MULTI_VALUES} are accepted`);

/**
 * No operation may grow a multi-valued attribute past MAX_MULTI_VALUES (checked as values are added, and on the
 * result); a list stored before the limit may stay as it is.
 */
function checkGrowth(before: UserData, after: UserData): void {
  for (const attr of MULTI_VALUED) {
    const n = (after as Json)[attr];
    const was = (before as Json)[attr];
    if (Array.isArray(n) && n.length > MAX_MULTI_VALUES && n.length > (Array.isArray(was) ? was.length : 0)) throw tooManyValues(attr, n.length);
  }
}

/** members[value eq "a" or value eq "b"] → ["a", "b"]. */
function memberFilterIds(f: Filter, text: string): string[] {
  if (f.op === 'or') return f.filters.flatMap((x) => memberFilterIds(x, text));
  if (f.op === 'eq' && f.attrPath === 'value' && typeof f.compValue === 'string') return [f.compValue];
  throw badRequest('invalidPath', `invalid path "${text}": member filters must be value eq "<id>", optionally joined with or`);
}

function memberOp(ops: MemberOp[], op: PatchOpName, p: PatchPath, raw: unknown): void {
  if (p.sub) throw badRequest('invalidPath', `invalid path "${p.text}": member sub-attributes cannot be patched`);
  if (p.filter) {
    if (op !== 'remove') throw badRequest('invalidPath', `invalid path "${p.text}": a member filter can only be used with remove`);
    ops.push({ op: 'remove', ids: [...new Set(memberFilterIds(p.filter, p.text))] });
    return;
  }
  const ids = parseMemberIds(raw);
  if (op === 'add') {
    if (ids.length) ops.push({ op: 'add', ids });
  } else if (op === 'replace') {
    ops.push(ids.length ? { op: 'replace', ids } : { op: 'removeAll' });
  } else if (raw === undefined || raw === null) {
    ops.push({ op: 'removeAll' }); // RFC 7644 §3.5.2.2: no filter removes all values
  } else if (ids.length) {
    ops.push({ op: 'remove', ids }); // Entra: path "members" plus a value list removes only those (§A1.4)
  }
}

function groupPath(doc: Json, ops: MemberOp[], op: PatchOpName, p: PatchPath, raw: unknown, pathless: boolean, groupId?: string): void {
  const name = p.attr.name;
  if (name === 'members' && p.schema === CORE_GROUP) return memberOp(ops, op, p, raw);
  if (name === 'id' && p.schema === null && op !== 'remove') return checkId(raw, groupId, !pathless);
  if (p.attr.mutability === 'readOnly') throw mutability(`attribute "${p.text}" is read-only (RFC 7644 §3.5.2)`);
  const value = op === 'remove' ? undefined : normalizeValue(p.attr, raw, p.text);
  if (value !== undefined) doc[name] = value;
  else if (p.attr.required) {
    throw op === 'remove'
      ? mutability(`attribute "${name}" is required and cannot be removed (RFC 7644 §3.5.2.2)`)
      : badRequest('invalidValue', `attribute "${name}" is required and cannot be cleared`);
  } else delete doc[name];
}

function groupPathlessKey(doc: Json, ops: MemberOp[], op: 'add' | 'replace', key: string, v: unknown, groupId?: string): void {
  if (key.toLowerCase() === 'schemas' || key === '__proto__') return;
  let p: PatchPath;
  try {
    p = parsePatchPath('Group', key);
  } catch (e) {
    if (!(e instanceof ScimError)) throw e;
    if (isUrnKey(key) && !isKnownSchemaKey(key)) unknownExtension(doc, op, key, v);
    return;
  }
  groupPath(doc, ops, op, p, v, true, groupId);
}

/**
 * Plans a PATCH on a group (RFC 7644 §3.5.2): new attributes (only when they change) and membership edits in
 * request order. Pure. `groupId`, when given, lets Okta's value object carry the unchanged id (§A2.2).
 */
export function planGroupPatch(current: GroupData, body: unknown, groupId?: string): GroupChange {
  const ops = parsePatchRequest(body);
  const doc = cloneJson(current) as Json;
  const memberOps: MemberOp[] = [];
  for (const op of ops) {
    if (op.path === undefined) {
      if (op.op === 'remove') throw noTargetRemove();
      if (!isObject(op.value)) throw pathlessValue(op.op);
      for (const [k, v] of Object.entries(op.value)) groupPathlessKey(doc, memberOps, op.op, k, v, groupId);
    } else {
      groupPath(doc, memberOps, op.op, parsePatchPath('Group' as ResourceType, op.path), op.value, false, groupId);
    }
  }
  const refs = memberOps.reduce((n, m) => n + (m.op === 'removeAll' ? 0 : m.ids.length), 0);
  if (refs > MAX_MEMBERS_PER_REQUEST) throw tooManyMembers(refs);
  const change: GroupChange = {};
  const { data } = normalizeGroup(doc);
  if (!jsonEquals(data, current)) change.data = data;
  if (memberOps.length) change.memberOps = memberOps;
  return change;
}
