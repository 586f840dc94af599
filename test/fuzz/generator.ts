/**
 * A seeded generator of hostile SCIM requests (issue 11): malformed URIs, bodies, PATCH operations, filters and
 * list parameters, deep and wide JSON, bad and missing tokens. Same seed, same requests.
 */

export interface FuzzRequest {
  method: string;
  /** Below the SCIM base, e.g. "/Users/abc?filter=…" (already encoded, possibly malformed). */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Which token the driver should send: the valid one, a wrong one, or none. */
  auth: 'valid' | 'invalid' | 'none';
}

/** Ids the server handed out so far, so requests can hit real resources. */
export interface Known {
  users: string[];
  groups: string[];
}

/** mulberry32: small, fast, good enough for test input. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const CUSTOM = 'urn:example:params:scim:schemas:extension:fuzz:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const ATTRS = [
  'userName', 'USERNAME', 'name', 'name.givenName', 'name.familyName', 'displayName', 'nickName', 'title', 'active',
  'emails', 'emails.value', 'emails[type eq "work"].value', 'emails[primary eq true]', 'phoneNumbers', 'addresses',
  'externalId', 'id', 'meta', 'meta.created', 'groups', 'password', 'members', 'members[value eq "x"]', 'roles',
  'entitlements', 'x509Certificates', 'manager', 'locale', 'timezone', 'profileUrl', 'userType', 'preferredLanguage',
  `${ENTERPRISE}:department`, `${ENTERPRISE}:manager`, `${ENTERPRISE}:manager.value`, `${CUSTOM}:anything`, `${CUSTOM}:password`,
  'urn:bogus', 'urn:a:b', '__proto__', 'constructor', 'prototype', 'emails[', 'emails]', 'emails[value eq', 'a.b.c.d',
  '', ' ', 'x'.repeat(300), 'émails', 'name..givenName', 'members[value eq "a" or value eq "b"]', 'emails[type pr]',
];
const OPS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'pr', 'EQ', 'xx', ''];
const WEIRD = ['', ' ', '%', '%zz', '%FF', 'abc%', '\u0000', '\uffff', '\ud800', '"', '\\', "'", '*', '[', ']', '(', ')', 'null', 'true', '1e309', '-0', '𝔘𝔫𝔦', 'a'.repeat(5000)];

/**
 * Strings no store may be given: PostgreSQL text cannot hold U+0000, and an unpaired surrogate has no UTF-8 form
 * (RFC 8259 §8.2). Put where they reach columns (userName, displayName, externalId, ids), so a backend that fails
 * on them instead of refusing them with a 400 shows up. FILTER_ESCAPES are the same inside filter literals, which
 * are decoded as JSON strings.
 */
const UNSTORABLE = ['a\u0000b', '\u0000', 'a\ud800', '\udc00b', 'x\udfff\ud800'];
const FILTER_ESCAPES = ['"a\\u0000b"', '"\\ud800"', '"x\\udc00"'];

/** encodeURIComponent, with lone surrogates (which it refuses) replaced. */
const enc = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "?"));
  }
};

export class Generator {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = rng(seed);
  }

  private int(n: number): number {
    return Math.floor(this.r() * n);
  }
  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  private chance(p: number): boolean {
    return this.r() < p;
  }

  private str(): string {
    switch (this.int(6)) {
      case 0:
        return this.pick(WEIRD);
      case 1:
        return `user${this.int(50)}@example.com`;
      case 2:
        return String.fromCharCode(...Array.from({ length: this.int(20) }, () => this.int(0x3000)));
      default:
        return `v${this.int(1000)}`;
    }
  }

  /** An arbitrary JSON value, at most `depth` levels (sometimes far more). */
  value(depth = 3): unknown {
    const k = this.int(depth <= 0 ? 5 : 9);
    switch (k) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER, 42]);
      case 3:
      case 4:
        return this.str();
      case 5:
      case 6: {
        const o: Record<string, unknown> = {};
        for (let i = this.int(5); i > 0; i--) o[this.chance(0.5) ? this.pick(ATTRS) : this.str()] = this.value(depth - 1);
        return o;
      }
      default:
        return Array.from({ length: this.int(5) }, () => this.value(depth - 1));
    }
  }

  /** A value nested `n` levels, as text (JSON.stringify would recurse). */
  private deepText(n: number): string {
    return this.chance(0.5) ? '{"a":'.repeat(n) + '1' + '}'.repeat(n) : '['.repeat(n) + ']'.repeat(n);
  }

  private userBody(): Record<string, unknown> {
    const userName = this.chance(0.9) ? `fz${this.int(400)}@example.com` : this.chance(0.3) ? `fz${this.pick(UNSTORABLE)}` : this.value(1);
    const u: Record<string, unknown> = { schemas: [CORE_USER], userName };
    if (this.chance(0.05)) u.externalId = this.pick(UNSTORABLE);
    if (this.chance(0.5)) u.name = { givenName: this.str(), familyName: this.str() };
    if (this.chance(0.5)) u.emails = Array.from({ length: this.chance(0.05) ? 900 + this.int(300) : this.int(4) }, (_, i) => ({ value: `e${i}-${this.int(99)}@x.io`, type: this.pick(['work', 'home', 1, null]), primary: this.chance(0.3) }));
    if (this.chance(0.3)) u.active = this.pick([true, false, 'True', 'False', 'yes', 0, null]);
    if (this.chance(0.2)) u[CUSTOM] = { anything: this.value(4), password: 'fuzz-secret', nested: { token: 'fuzz-secret' } };
    if (this.chance(0.2)) u[ENTERPRISE] = { department: this.str(), manager: this.pick([{ value: 'x' }, 'bare', [{ value: 'y' }], 7]) };
    for (let i = this.int(3); i > 0; i--) u[this.pick(ATTRS)] = this.value(2);
    return u;
  }

  private groupBody(known: Known): Record<string, unknown> {
    const members = Array.from({ length: this.int(6) }, () => (this.chance(0.7) && known.users.length ? { value: this.pick(known.users) } : this.value(1)));
    const g: Record<string, unknown> = { displayName: this.chance(0.9) ? `fzg${this.int(100)}` : this.chance(0.3) ? this.pick(UNSTORABLE) : this.value(1) };
    if (this.chance(0.8)) g.members = members;
    return g;
  }

  private patchBody(known: Known): Record<string, unknown> {
    const ops = Array.from({ length: this.chance(0.02) ? 1000 + this.int(50) : 1 + this.int(4) }, () => {
      const op: Record<string, unknown> = { op: this.pick(['add', 'replace', 'remove', 'Add', 'REPLACE', 'delete', 1]) };
      if (this.chance(0.8)) op.path = this.pick(ATTRS);
      if (this.chance(0.85)) {
        op.value = this.chance(0.3) && known.users.length ? [{ value: this.pick(known.users) }] : this.value(3);
      }
      return op;
    });
    return this.chance(0.9) ? { schemas: [PATCH_OP], Operations: ops } : { Operations: this.value(2) };
  }

  private filter(): string {
    const one = () => `${this.pick(ATTRS)} ${this.pick(OPS)} ${this.pick(['"x"', '"user1@example.com"', 'true', '5', 'null', '"' + this.str() + '"', '', this.pick(FILTER_ESCAPES)])}`;
    let f = one();
    for (let i = this.int(3); i > 0; i--) f = `${this.chance(0.5) ? 'not ' : ''}(${f}) ${this.pick(['and', 'or', 'AND', 'xor'])} ${one()}`;
    return f;
  }

  private query(): string {
    const params: string[] = [];
    if (this.chance(0.5)) params.push(`filter=${this.chance(0.9) ? enc(this.filter()) : this.pick(WEIRD)}`);
    if (this.chance(0.2)) params.push(`sortBy=${enc(this.pick(ATTRS))}`);
    if (this.chance(0.1)) params.push(`sortOrder=${this.pick(['ascending', 'descending', 'up', ''])}`);
    if (this.chance(0.2)) params.push(`startIndex=${this.pick(['1', '0', '-5', '1e20', 'abc', '99999999999'])}`);
    if (this.chance(0.2)) params.push(`count=${this.pick(['0', '10', '-1', '1000000', 'x'])}`);
    if (this.chance(0.1)) params.push(`attributes=${enc(this.pick(ATTRS))}`);
    if (this.chance(0.1)) params.push(`excludedAttributes=${enc(this.pick(ATTRS))}`);
    return params.length ? `?${params.join('&')}` : '';
  }

  private id(known: string[]): string {
    if (known.length && this.chance(0.7)) return this.pick(known);
    return this.pick(['%zz', '%', '%FF', 'abc%', '%E0%A4%A', 'missing', '..', '%2e%2e', enc(this.str()), '.search', 'x'.repeat(2000), enc(this.pick(UNSTORABLE))]);
  }

  /** One request. */
  next(known: Known): FuzzRequest {
    const kind = this.pick(['Users', 'Users', 'Users', 'Groups', 'Groups', 'search', 'discovery', 'junk'] as const);
    const method = this.pick(['GET', 'GET', 'POST', 'PUT', 'PATCH', 'PATCH', 'DELETE']);
    let path: string;
    let body: unknown;
    if (kind === 'search') {
      path = this.pick(['/.search', '/Users/.search', '/Groups/.search']);
      body = this.chance(0.8) ? { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: this.filter(), sortBy: this.pick(ATTRS), count: this.value(0) } : this.value(2);
    } else if (kind === 'discovery') {
      path = this.pick(['/ServiceProviderConfig', '/Schemas', `/Schemas/${CORE_USER}`, '/Schemas/urn:x', '/ResourceTypes', '/ResourceTypes/User', '/ResourceTypes/%zz']);
    } else if (kind === 'junk') {
      path = this.pick(['/', '//Users', '/Users//x', '/%', '/Users/a/b', '/Bulk', '/Me', '/users', '/GROUPS/%FF']);
    } else {
      const known_ = kind === 'Users' ? known.users : known.groups;
      const withId = method !== 'POST' && (method !== 'GET' || this.chance(0.6));
      path = `/${kind}${withId ? `/${this.id(known_)}` : ''}${method === 'GET' ? this.query() : ''}`;
      if (method === 'PATCH') body = this.patchBody(known);
      else if (method === 'POST' || method === 'PUT') body = kind === 'Users' ? this.userBody() : this.groupBody(known);
    }
    const headers: Record<string, string> = {};
    if (body !== undefined || this.chance(0.05)) {
      headers['Content-Type'] = this.pick(['application/scim+json', 'application/scim+json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/scim+json; charset=latin1']);
    }
    if (this.chance(0.05)) headers['If-Match'] = this.pick(['*', 'W/"1"', '"2"', 'garbage', 'W/"99999999999999999999"']);
    if (this.chance(0.03)) headers['X-Forwarded-For'] = `10.0.${this.int(255)}.${this.int(255)}`;
    let text: string | undefined;
    if (body !== undefined && method !== 'GET') {
      const r = this.int(20);
      if (r === 0) text = this.pick(['{', '{"userName": ', '[]', 'null', '"str"', '1', '', '{"a":1,}', '\u0000']);
      else if (r === 1) text = JSON.stringify(body).replace(/}$/, `,"deep":${this.deepText(60 + this.int(5000))}}`);
      else text = JSON.stringify(body);
    }
    const auth = this.chance(0.92) ? 'valid' : this.chance(0.5) ? 'invalid' : 'none';
    return { method, path, headers, ...(text !== undefined ? { body: text } : {}), auth };
  }
}
