import type { Request } from 'express';
import { CORE_GROUP, CORE_USER, ENTERPRISE_USER } from '../core/schema';
import { isSecretName } from '../core/secrets';
import type { GroupRecord, ResourceMeta, UserRecord } from '../store/types';
import { isKnownSchemaKey, isUrnKey, undeclaredValue } from './normalize';

export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

export type ScimResource = Record<string, unknown>;

/** Absolute base of the SCIM API, e.g. https://scim.example.com/scim/v2 (RFC 7643 §3.1 meta.location). */
export interface UrlBase {
  base: string;
}

/** A group reference on a user (RFC 7643 §4.1.2 "groups", read-only). */
export interface GroupRef {
  value: string;
  display?: string;
}

/** RFC 7644 §3.14: weak ETag from the record's version counter. */
export const etagOf = (meta: ResourceMeta): string => `W/"${meta.version}"`;

/** Host header as sent, if it looks like a host (it ends up in meta.location). */
const SANE_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The API base: configured publicUrl, else the request's protocol and host (honouring trust proxy). */
export function apiBase(req: Request, publicUrl: string | null): string {
  // The SCIM router records its own mount path (req.baseUrl inside /Users is /scim/v2/Users).
  const mount = String(req.res?.locals.scimBase ?? '/scim/v2');
  if (publicUrl) return publicUrl.replace(/\/+$/, '') + mount;
  const host = req.get('host');
  return `${req.protocol}://${host && SANE_HOST.test(host) ? host : 'localhost'}${mount}`;
}

/** Data as returned: values under undeclared schemas lose secret-named attributes stored before that rule. */
function visible(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    if (!isUrnKey(k) || isKnownSchemaKey(k)) out[k] = v;
    else if (!isSecretName(k)) {
      const c = undeclaredValue(k, v);
      if (c !== undefined) out[k] = c;
    }
  }
  return out;
}

function schemasOf(core: string, data: Record<string, unknown>): string[] {
  const out = [core];
  for (const key of Object.keys(data)) {
    if (key.toLowerCase().startsWith('urn:') && !out.includes(key)) out.push(key);
  }
  // Keep the enterprise URN spelled canonically right after the core schema.
  return out.sort((a, b) => rank(a) - rank(b));
}
const rank = (urn: string) => (urn === CORE_USER || urn === CORE_GROUP ? 0 : urn === ENTERPRISE_USER ? 1 : 2);

function meta(resourceType: 'User' | 'Group', m: ResourceMeta, location: string) {
  return { resourceType, created: m.created, lastModified: m.lastModified, location, version: etagOf(m) };
}

/** UserRecord → SCIM User (RFC 7643 §4.1). password is never returned (returned "never"). */
export function userToScim(rec: UserRecord, url: UrlBase, groups?: GroupRef[]): ScimResource {
  const { password: _password, ...data } = visible(rec.data);
  const out: ScimResource = { schemas: schemasOf(CORE_USER, data), id: rec.id, ...data };
  if (groups) out.groups = groups.map((g) => ({ value: g.value, ...(g.display !== undefined ? { display: g.display } : {}), $ref: `${url.base}/Groups/${g.value}`, type: 'direct' }));
  out.meta = meta('User', rec.meta, `${url.base}/Users/${rec.id}`);
  return out;
}

/** GroupRecord → SCIM Group (RFC 7643 §4.2); members only when the record carries them. */
export function groupToScim(rec: GroupRecord, url: UrlBase): ScimResource {
  const data = visible(rec.data);
  const out: ScimResource = { schemas: schemasOf(CORE_GROUP, data), id: rec.id, ...data };
  if (rec.members) {
    out.members = rec.members.map((m) => ({
      value: m.value,
      ...(m.display !== undefined ? { display: m.display } : {}),
      $ref: `${url.base}/Users/${m.value}`,
      type: 'User',
    }));
  }
  out.meta = meta('Group', rec.meta, `${url.base}/Groups/${rec.id}`);
  return out;
}

/** RFC 7644 §3.4.2: totalResults, startIndex, itemsPerPage as JSON numbers; Resources with a capital R. */
export function listResponse(resources: ScimResource[], totalResults: number, startIndex: number): ScimResource {
  return { schemas: [LIST_RESPONSE], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}
