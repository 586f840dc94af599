/**
 * The SCIM schemas we serve, as data (RFC 7643 §4.1 User, §4.2 Group, §4.3 Enterprise User, §7 schema format).
 * One source for: case-insensitive attribute resolution (RFC 7643 §2.1), caseExact comparisons in filters
 * (RFC 7644 §3.4.2.2), type coercion of IdP dialects, and the /Schemas discovery endpoint.
 */
export const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export type AttrType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';

export interface AttrDef {
  name: string;
  type: AttrType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  subAttributes?: AttrDef[];
  canonicalValues?: string[];
  referenceTypes?: string[];
}

export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttrDef[];
}

type Opts = Partial<Omit<AttrDef, 'name' | 'type' | 'description'>>;
const a = (name: string, type: AttrType, description: string, o: Opts = {}): AttrDef => ({
  name,
  type,
  multiValued: false,
  description,
  required: false,
  caseExact: false,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
  ...o,
});
const str = (name: string, description: string, o: Opts = {}) => a(name, 'string', description, o);
const multi = (name: string, description: string, subs: AttrDef[], o: Opts = {}) =>
  a(name, 'complex', description, { multiValued: true, subAttributes: subs, ...o });
const typed = (types: string[]) => str('type', 'A label indicating the function.', { canonicalValues: types });
const primary = a('primary', 'boolean', 'Whether this is the primary value.');
const display = str('display', 'A human-readable name.');
const valueStr = (d: string, o: Opts = {}) => str('value', d, o);

export const USER_ATTRIBUTES: AttrDef[] = [
  str('userName', 'Unique identifier for the User, used to authenticate.', { required: true, uniqueness: 'server' }),
  a('name', 'complex', "The components of the user's real name.", {
    subAttributes: [
      str('formatted', 'The full name.'),
      str('familyName', 'The family name.'),
      str('givenName', 'The given name.'),
      str('middleName', 'The middle name(s).'),
      str('honorificPrefix', 'The honorific prefix(es).'),
      str('honorificSuffix', 'The honorific suffix(es).'),
    ],
  }),
  str('displayName', 'The name of the User, suitable for display.'),
  str('nickName', 'The casual way to address the user.'),
  a('profileUrl', 'reference', "A URI of the user's online profile.", { referenceTypes: ['external'] }),
  str('title', "The user's title."),
  str('userType', 'The relationship between the organization and the user.'),
  str('preferredLanguage', "The user's preferred written or spoken language."),
  str('locale', "The user's default location."),
  str('timezone', "The User's time zone (IANA)."),
  a('active', 'boolean', "The User's administrative status."),
  str('password', "The User's cleartext password.", { mutability: 'writeOnly', returned: 'never' }),
  multi('emails', 'Email addresses for the user.', [valueStr('Email address.'), display, typed(['work', 'home', 'other']), primary]),
  multi('phoneNumbers', 'Phone numbers for the User.', [valueStr('Phone number.'), display, typed(['work', 'home', 'mobile', 'fax', 'pager', 'other']), primary]),
  multi('ims', 'Instant messaging addresses.', [valueStr('Address.'), display, typed(['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']), primary]),
  multi('photos', 'URLs of photos of the User.', [
    a('value', 'reference', 'URL of a photo.', { referenceTypes: ['external'] }),
    display,
    typed(['photo', 'thumbnail']),
    primary,
  ]),
  multi('addresses', 'A physical mailing address.', [
    str('formatted', 'The full mailing address.'),
    str('streetAddress', 'The street address.'),
    str('locality', 'The city or locality.'),
    str('region', 'The state or region.'),
    str('postalCode', 'The zip or postal code.'),
    str('country', 'The country name (ISO 3166-1 alpha-2).'),
    typed(['work', 'home', 'other']),
    primary,
  ]),
  multi(
    'groups',
    'Groups the user belongs to (read-only; change membership through /Groups).',
    [
      str('value', 'The group id.', { mutability: 'readOnly' }),
      a('$ref', 'reference', 'The URI of the group.', { mutability: 'readOnly', referenceTypes: ['Group'] }),
      str('display', 'The group displayName.', { mutability: 'readOnly' }),
      str('type', 'direct or indirect.', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
    ],
    { mutability: 'readOnly' },
  ),
  multi('entitlements', 'Entitlements for the User.', [valueStr('Entitlement.'), display, str('type', 'Label.'), primary]),
  multi('roles', 'Roles for the User.', [valueStr('Role.'), display, str('type', 'Label.'), primary]),
  multi('x509Certificates', 'X.509 certificates.', [a('value', 'binary', 'DER certificate, base64.'), display, str('type', 'Label.'), primary]),
];

export const ENTERPRISE_ATTRIBUTES: AttrDef[] = [
  str('employeeNumber', 'Numeric or alphanumeric identifier assigned to a person.'),
  str('costCenter', 'Identifies the name of a cost center.'),
  str('organization', 'Identifies the name of an organization.'),
  str('division', 'Identifies the name of a division.'),
  str('department', 'Identifies the name of a department.'),
  a('manager', 'complex', "The User's manager.", {
    subAttributes: [
      str('value', 'The id of the manager.'),
      a('$ref', 'reference', 'The URI of the manager.', { referenceTypes: ['User'] }),
      str('displayName', 'The displayName of the manager.', { mutability: 'readOnly' }),
    ],
  }),
];

export const GROUP_ATTRIBUTES: AttrDef[] = [
  str('displayName', 'A human-readable name for the Group.', { required: true, uniqueness: 'server' }),
  multi('members', 'A list of members of the Group (users only).', [
    str('value', 'Identifier of the member.', { mutability: 'immutable' }),
    a('$ref', 'reference', 'The URI of the member.', { mutability: 'immutable', referenceTypes: ['User'] }),
    str('display', 'The userName of the member.', { mutability: 'readOnly' }),
    str('type', 'User.', { mutability: 'immutable', canonicalValues: ['User'] }),
  ]),
];

/** Common attributes (RFC 7643 §3.1), not part of any schema's attribute list. */
export const COMMON_ATTRIBUTES: AttrDef[] = [
  str('id', 'Unique identifier assigned by the service provider.', { caseExact: true, mutability: 'readOnly', returned: 'always', uniqueness: 'server' }),
  str('externalId', 'Identifier assigned by the provisioning client.', { caseExact: true }),
  a('meta', 'complex', 'Resource metadata.', {
    mutability: 'readOnly',
    subAttributes: [
      str('resourceType', 'The resource type.', { caseExact: true, mutability: 'readOnly' }),
      a('created', 'dateTime', 'When the resource was added.', { mutability: 'readOnly' }),
      a('lastModified', 'dateTime', 'When the resource was last changed.', { mutability: 'readOnly' }),
      a('location', 'reference', 'The URI of the resource.', { mutability: 'readOnly', caseExact: true }),
      str('version', 'The version (ETag) of the resource.', { caseExact: true, mutability: 'readOnly' }),
    ],
  }),
];

export const SCHEMAS: SchemaDef[] = [
  { id: CORE_USER, name: 'User', description: 'User Account', attributes: USER_ATTRIBUTES },
  { id: ENTERPRISE_USER, name: 'EnterpriseUser', description: 'Enterprise User', attributes: ENTERPRISE_ATTRIBUTES },
  { id: CORE_GROUP, name: 'Group', description: 'Group', attributes: GROUP_ATTRIBUTES },
];

export type ResourceType = 'User' | 'Group';

export interface ResolvedAttribute {
  /** Schema URN the attribute belongs to; null for common attributes (id, externalId, meta). */
  schema: string | null;
  attr: AttrDef;
  sub?: AttrDef;
  /** Canonical key path into the stored document, e.g. ['name','givenName'] or [ENTERPRISE_USER,'manager','value']. */
  path: string[];
}

const coreOf = (rt: ResourceType) => (rt === 'User' ? CORE_USER : CORE_GROUP);
const extensionsOf = (rt: ResourceType) => (rt === 'User' ? [ENTERPRISE_USER] : []);
const attrsOf = (urn: string) => SCHEMAS.find((s) => s.id === urn)!.attributes;
const find = (list: AttrDef[] | undefined, name: string) => list?.find((d) => d.name.toLowerCase() === name.toLowerCase());

/**
 * Resolves an attribute path as written by a client ("USERNAME", "name.GivenName", "emails.value",
 * "urn:...:enterprise:2.0:User:manager.value", "urn:...:core:2.0:User:userName") case-insensitively
 * (RFC 7643 §2.1; RFC 7644 §3.10). Returns undefined for attributes we do not know.
 */
export function resolveAttribute(rt: ResourceType, written: string): ResolvedAttribute | undefined {
  let urn: string | null = null;
  let rest = written;
  const lower = written.toLowerCase();
  for (const candidate of [coreOf(rt), ...extensionsOf(rt)]) {
    if (lower.startsWith(candidate.toLowerCase() + ':')) {
      urn = candidate;
      rest = written.slice(candidate.length + 1);
      break;
    }
  }
  const [head, subName, ...more] = rest.split('.');
  if (more.length) return undefined;
  let attr: AttrDef | undefined;
  let schema: string | null;
  if (urn) {
    attr = find(attrsOf(urn), head);
    schema = urn;
  } else {
    attr = find(COMMON_ATTRIBUTES, head);
    schema = null;
    if (!attr) {
      attr = find(attrsOf(coreOf(rt)), head);
      schema = coreOf(rt);
    }
  }
  if (!attr) return undefined;
  const prefix = schema && schema !== coreOf(rt) ? [schema] : [];
  if (subName === undefined) return { schema, attr, path: [...prefix, attr.name] };
  const sub = find(attr.subAttributes, subName);
  if (!sub) return undefined;
  return { schema, attr, sub, path: [...prefix, attr.name, sub.name] };
}

/** Whether comparisons on the resolved attribute are case-sensitive (RFC 7644 §3.4.2.2). */
export function isCaseExact(r: ResolvedAttribute): boolean {
  return (r.sub ?? r.attr).caseExact;
}

/** Is `key` (any case) a schema URN we know as an extension of rt? Returns the canonical URN. */
export function extensionUrn(rt: ResourceType, key: string): string | undefined {
  return extensionsOf(rt).find((u) => u.toLowerCase() === key.toLowerCase());
}

export const coreSchemaOf = coreOf;
