/**
 * The one boundary where IdP dialects (Okta, Entra) become canonical UserData / GroupData (STYLE habit 4).
 * Names are case-insensitive (RFC 7643 §2.1) and come out in schema case; values are stored as sent, except
 * "True"/"False" strings for booleans (Entra, scim-idp.md §A1.4) and manager as a bare string or an array.
 * null, "" and empty objects/arrays mean "unset" and are dropped, so canonical data never holds them.
 */
import {
  type AttrDef,
  COMMON_ATTRIBUTES,
  CORE_GROUP,
  CORE_USER,
  ENTERPRISE_ATTRIBUTES,
  ENTERPRISE_USER,
  resolveAttribute,
  type ResolvedAttribute,
  type ResourceType,
  USER_ATTRIBUTES,
  extensionUrn,
} from '../core/schema';
import { copyJson, jsonEquals } from '../core/json';
import { MAX_MEMBERS_PER_REQUEST } from '../core/limits';
import { isSecretName } from '../core/secrets';
import type { GroupData, UserData } from '../store/types';
import { badRequest } from './errors';

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A key that names a schema URN or a URN-qualified attribute (RFC 7643 §3.3). */
export const isUrnKey = (key: string): boolean => /^urn:[^:\s]+:/i.test(key);

/** URN keys under a schema we know (core User/Group, enterprise): never kept verbatim, only resolved or ignored. */
export const isKnownSchemaKey = (key: string): boolean =>
  [CORE_USER, CORE_GROUP, ENTERPRISE_USER].some((u) => key.toLowerCase().startsWith(u.toLowerCase()));

const findDef = (defs: AttrDef[] | undefined, name: string) => defs?.find((d) => d.name.toLowerCase() === name.toLowerCase());

/** Case-insensitive own-property lookup (RFC 7643 §2.1). */
export function getCI(obj: Json, name: string): unknown {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

const invalid = (label: string, what: string) => badRequest('invalidValue', `attribute "${label}" ${what}`);

/**
 * A value under a schema we do not declare in /Schemas, as kept: verbatim, except that attributes named like a
 * secret (password, token, …) are dropped at any depth, so they are never stored, returned or logged.
 */
export function undeclaredValue(key: string, v: unknown): unknown {
  return isSecretName(key) ? undefined : copyJson(v, isSecretName);
}

export const userDataEquals = (a: UserData, b: UserData): boolean => jsonEquals(a, b);

function toBoolean(v: unknown, label: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw invalid(label, 'must be a boolean');
}

function normalizeSimple(def: AttrDef, v: unknown, label: string): unknown {
  switch (def.type) {
    case 'boolean':
      return toBoolean(v, label);
    case 'integer':
    case 'decimal':
      if (typeof v !== 'number' || !Number.isFinite(v) || (def.type === 'integer' && !Number.isInteger(v))) {
        throw invalid(label, `must be ${def.type === 'integer' ? 'an integer' : 'a number'}`);
      }
      return v;
    case 'complex':
      return normalizeComplex(def, v, label);
    default:
      if (typeof v !== 'string') throw invalid(label, 'must be a string');
      return v === '' ? undefined : v;
  }
}

function normalizeComplex(def: AttrDef, v: unknown, label: string): Json | undefined {
  if (def.name === 'manager') {
    // Entra: a bare id (ISS-SDK541) or the old array form [{value,$ref}] (MS-TUT Example 5).
    if (Array.isArray(v)) v = v.find((x) => x !== null && x !== undefined);
    if (typeof v === 'string') v = { value: v };
    if (v === undefined) return undefined;
  }
  if (!isObject(v)) throw invalid(label, 'must be an object');
  const out: Json = {};
  for (const sub of def.subAttributes ?? []) {
    // Read-only sub-attributes are ignored on input (RFC 7643 §2.2), e.g. manager.displayName.
    if (sub.mutability === 'readOnly') continue;
    const raw = getCI(v, sub.name);
    if (raw === null || raw === undefined) continue;
    const nv = normalizeSimple(sub, raw, `${label}.${sub.name}`);
    if (nv !== undefined) out[sub.name] = nv;
  }
  return Object.keys(out).length ? out : undefined;
}

function normalizeMulti(def: AttrDef, v: unknown, label: string): Json[] | undefined {
  const hasValue = !!findDef(def.subAttributes, 'value');
  const items = (Array.isArray(v) ? v : [v]).flatMap((el) => {
    if (el === null || el === undefined) return [];
    const obj = typeof el === 'string' && hasValue ? { value: el } : el;
    const nv = normalizeComplex(def, obj, label);
    return nv ? [nv] : [];
  });
  if (items.filter((e) => e.primary === true).length > 1) throw invalid(label, 'has more than one primary value (RFC 7643 §2.4)');
  return items.length ? items : undefined;
}

/** Canonical form of one attribute (or sub-attribute) value; undefined means unset. Throws 400 invalidValue. */
export function normalizeValue(def: AttrDef, v: unknown, label: string = def.name): unknown {
  if (v === null || v === undefined) return undefined;
  return def.multiValued ? normalizeMulti(def, v, label) : normalizeSimple(def, v, label);
}

const EXTERNAL_ID = COMMON_ATTRIBUTES.find((d) => d.name === 'externalId')!;

/** Read-only or never-stored attributes, ignored on input (RFC 7643 §2.2; Okta's placeholder password). */
const IGNORED_USER = new Set(['id', 'meta', 'schemas', 'groups', 'password']);

type Raw = { core: Json; ent: Json; ext: Json };

function placeResolved(rt: ResourceType, raw: Raw, r: ResolvedAttribute, v: unknown): void {
  if (IGNORED_USER.has(r.attr.name) && (r.schema === null || r.schema === CORE_USER || r.attr.name === 'password')) return;
  if (rt === 'Group' && r.attr.mutability === 'readOnly') return;
  const bucket = r.schema === ENTERPRISE_USER ? raw.ent : raw.core;
  const name = r.attr.name;
  if (!r.sub) {
    bucket[name] = v;
  } else if (!r.attr.multiValued && v !== null && v !== undefined) {
    // Flattened sub-attribute ("name.givenName": "x"): merge into the complex value.
    const prev = bucket[name];
    const base = isObject(prev) ? prev : typeof prev === 'string' ? { value: prev } : {};
    const kept = Object.entries(base).filter(([k]) => k.toLowerCase() !== r.sub!.name.toLowerCase());
    bucket[name] = { ...Object.fromEntries(kept), [r.sub.name]: v };
  }
}

/** Sorts every top-level key of a client body into canonical buckets; unknown non-URN keys are ignored. */
function collect(rt: ResourceType, body: Json): Raw {
  const raw: Raw = { core: {}, ent: {}, ext: {} };
  const core = rt === 'User' ? CORE_USER : CORE_GROUP;
  const place = (key: string, v: unknown): void => {
    const r = resolveAttribute(rt, key);
    if (r) return placeResolved(rt, raw, r, v);
    if (isUrnKey(key) && !isKnownSchemaKey(key)) {
      const c = undeclaredValue(key, v);
      if (c !== undefined) raw.ext[key] = c;
    }
  };
  for (const [key, v] of Object.entries(body)) {
    const ext = extensionUrn(rt, key);
    const nestedCore = key.toLowerCase() === core.toLowerCase();
    if (ext || nestedCore) {
      // Nested form: "urn:...:enterprise:2.0:User": {department}. Same as the flattened URN:attr form.
      if (v === null || v === undefined) continue;
      if (!isObject(v)) throw invalid(key, 'must be an object of attributes');
      for (const [inner, iv] of Object.entries(v)) place(`${ext ?? core}:${inner}`, iv);
    } else {
      place(key, v);
    }
  }
  return raw;
}

function build(defs: AttrDef[], bucket: Json, prefix: string): Json {
  const out: Json = {};
  for (const def of defs) {
    if (!Object.hasOwn(bucket, def.name)) continue;
    const nv = normalizeValue(def, bucket[def.name], prefix + def.name);
    if (nv !== undefined) out[def.name] = nv;
  }
  return out;
}

function requireString(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw badRequest('invalidValue', `attribute "${name}" is required and must be a non-empty string`);
  return v;
}

/** RFC 7643 §4.1 User from a POST/PUT body (or a PATCH working copy) to canonical UserData. */
export function normalizeUser(body: unknown): UserData {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
  const raw = collect('User', body);
  const core = build(USER_ATTRIBUTES, raw.core, '');
  const userName = requireString(core.userName, 'userName');
  const out: UserData = { userName, active: true, ...core } as UserData;
  const externalId = normalizeValue(EXTERNAL_ID, raw.core.externalId);
  if (externalId !== undefined) out.externalId = externalId as string;
  const ent = build(ENTERPRISE_ATTRIBUTES, raw.ent, `${ENTERPRISE_USER}:`);
  if (Object.keys(ent).length) out[ENTERPRISE_USER] = ent;
  return Object.assign(out, raw.ext);
}

/**
 * Member references (RFC 7643 §4.2) to user ids, in order, without duplicates. Accepts one object or a bare id
 * for a one-element list. type "Group" is refused: Airflow has no group nesting.
 */
export function parseMemberIds(v: unknown, label = 'members'): string[] {
  if (v === null || v === undefined) return [];
  const ids: string[] = [];
  const seen = new Set<string>(); // keyed: a large member list stays linear
  for (const el of Array.isArray(v) ? v : [v]) {
    if (el === null || el === undefined) continue;
    const m = typeof el === 'string' ? { value: el } : el;
    if (!isObject(m)) throw invalid(label, 'must hold member objects like {"value": "<user id>"}');
    const type = getCI(m, 'type');
    if (typeof type === 'string' && type.toLowerCase() === 'group') {
      throw badRequest('invalidValue', 'nested groups are not supported: Airflow has no group nesting');
    }
    const id = getCI(m, 'value');
    if (typeof id !== 'string' || id === '') throw invalid(`${label}.value`, 'is required on every member (the user id)');
    if (seen.has(id)) continue;
    seen.add(id);
    ids.push(id);
  }
  return ids;
}

export const tooManyMembers = (n: number) =>
  badRequest('invalidValue', `${n} member references in one request; at most ${MAX_MEMBERS_PER_REQUEST} are accepted, send the rest in another PATCH`);

/** RFC 7643 §4.2 Group from a POST/PUT body: attributes plus member ids. */
export function normalizeGroup(body: unknown): { data: GroupData; memberIds: string[] } {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
  const raw = collect('Group', body);
  const displayName = requireString(raw.core.displayName, 'displayName');
  const data: GroupData = { displayName };
  const externalId = normalizeValue(EXTERNAL_ID, raw.core.externalId);
  if (externalId !== undefined) data.externalId = externalId as string;
  Object.assign(data, raw.ext);
  const memberIds = parseMemberIds(raw.core.members);
  if (memberIds.length > MAX_MEMBERS_PER_REQUEST) throw tooManyMembers(memberIds.length);
  return { data, memberIds };
}
