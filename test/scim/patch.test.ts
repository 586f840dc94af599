import { ENTERPRISE_USER } from '../../src/core/schema';
import { ScimError } from '../../src/scim/errors';
import { expectScimErrorFrom } from '../support/scim-error';
import { normalizeUser } from '../../src/scim/normalize';
import { applyUserPatch, parsePatchRequest, planGroupPatch } from '../../src/scim/patch';
import type { GroupChange, GroupData, UserData } from '../../src/store/types';

const ENT = ENTERPRISE_USER;
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const req = (...Operations: unknown[]) => ({ schemas: [PATCH], Operations });

const base: UserData = normalizeUser({
  userName: 'Test_User_1',
  active: true,
  externalId: 'ext-1',
  displayName: 'Test User',
  name: { givenName: 'Given', familyName: 'Family', formatted: 'Given Family' },
  emails: [
    { value: 'work@x.com', type: 'work', primary: true },
    { value: 'home@x.com', type: 'home' },
  ],
  [ENT]: { department: 'Sales', employeeNumber: '1', manager: { value: 'm0', $ref: '../Users/m0' } },
});
/** The same user without a work email, address or enterprise data. */
const bare: UserData = normalizeUser({ userName: 'bare', emails: [{ value: 'home@x.com', type: 'home' }] });

const caught = expectScimErrorFrom;

/** [name, current, request, expected user]; sources are scim-idp.md sections. */
const userRows: [string, UserData, unknown, UserData][] = [
  ['Entra §A1.2 update multi-valued: Replace work email + family name, home email untouched', base,
    req({ op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' }, { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' }),
    { ...base, name: { ...(base.name as object), familyName: 'updatedFamilyName' }, emails: [{ value: 'updatedEmail@microsoft.com', type: 'work', primary: true }, { value: 'home@x.com', type: 'home' }] }],
  ['Entra §A1.2 update single-valued userName', base, req({ op: 'Replace', path: 'userName', value: 'new@testuser.com' }), { ...base, userName: 'new@testuser.com' }],
  ['Entra §A1.2 disable (boolean)', base, req({ op: 'Replace', path: 'active', value: false }), { ...base, active: false }],
  ['Entra §A1.4 disable without the flag ("False" string)', base, req({ op: 'Replace', path: 'active', value: 'False' }), { ...base, active: false }],
  ['Entra §A1.4 Add single-value attribute', base, req({ op: 'Add', path: 'nickName', value: 'Babs' }), { ...base, nickName: 'Babs' }],
  ['Entra §A1.4 one Replace per path', base,
    req({ op: 'Replace', path: 'displayName', value: 'Bjfe' }, { op: 'Replace', path: 'emails[type eq "work"].value', value: 'w@y' }, { op: 'Replace', path: 'name.givenName', value: 'Kkom' },
      { op: 'Replace', path: 'externalId', value: 'Eqpj' }, { op: 'Replace', path: `${ENT}:employeeNumber`, value: 'Aklq' }),
    normalizeUser({ ...base, displayName: 'Bjfe', externalId: 'Eqpj', name: { ...(base.name as object), givenName: 'Kkom' }, emails: [{ value: 'w@y', type: 'work', primary: true }, { value: 'home@x.com', type: 'home' }], [ENT]: { ...(base[ENT] as object), employeeNumber: 'Aklq' } })],
  ['Entra §A1.4 aadOptscim062020: path-less value with dotted and URN keys', base,
    req({ op: 'replace', path: 'emails[type eq "work"].value', value: 'w@y' }, { op: 'replace', value: { displayName: 'Bjfe', 'name.givenName': 'Kkom', 'name.familyName': 'Unua', [`${ENT}:employeeNumber`]: 'Aklq' } }),
    normalizeUser({ ...base, displayName: 'Bjfe', name: { formatted: 'Given Family', givenName: 'Kkom', familyName: 'Unua' }, emails: [{ value: 'w@y', type: 'work', primary: true }, { value: 'home@x.com', type: 'home' }], [ENT]: { ...(base[ENT] as object), employeeNumber: 'Aklq' } })],
  ['Validator §A1.4: add on a filter that matches nothing creates the element', bare,
    req({ op: 'add', path: 'emails[type eq "work"].value', value: 'x@y' }), { ...bare, emails: [{ value: 'home@x.com', type: 'home' }, { value: 'x@y', type: 'work' }] }],
  ['Validator §A1.4 (ISS-SG49119): value, display, primary on the same new element merge into one', bare,
    req({ op: 'add', path: 'emails[type eq "work"].value', value: 'w@y' }, { op: 'add', path: 'emails[type eq "work"].display', value: 'Work' }, { op: 'add', path: 'emails[type eq "work"].primary', value: 'True' }),
    { ...bare, emails: [{ value: 'home@x.com', type: 'home' }, { value: 'w@y', type: 'work', display: 'Work', primary: true }] }],
  ['ISS-SDK680: address parts on the same filtered element merge', bare,
    req({ op: 'Add', path: 'addresses[type eq "work"].formatted', value: '1 Main St' }, { op: 'Replace', path: 'addresses[type eq "work"].locality', value: 'Springfield' }, { op: 'Add', path: 'addresses[type eq "work"].region', value: 'IL' }),
    { ...bare, addresses: [{ type: 'work', formatted: '1 Main St', locality: 'Springfield', region: 'IL' }] }],
  ['MS-TUT map: mobile → phoneNumbers[type eq "mobile"].value', bare, req({ op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555' }), { ...bare, phoneNumbers: [{ value: '+1 555', type: 'mobile' }] }],
  ['Entra §A1.2 manager old style: path "manager", value [{$ref, value}]', bare,
    req({ op: 'Add', path: 'manager', value: [{ $ref: 'http://x/scim/Users/26', value: '26' }] }), { ...bare, [ENT]: { manager: { value: '26', $ref: 'http://x/scim/Users/26' } } }],
  ['ISS-SDK541: manager as bare string on the enterprise path', bare, req({ op: 'Add', path: `${ENT}:manager`, value: '271' }), { ...bare, [ENT]: { manager: { value: '271' } } }],
  ['MS-LOGICAPP: manager changed with Replace drops the stale $ref', base, req({ op: 'Replace', path: `${ENT}:manager`, value: 'm9' }), { ...base, [ENT]: { department: 'Sales', employeeNumber: '1', manager: { value: 'm9' } } }],
  ['MS-LOGICAPP: manager removed with Replace-empty', base, req({ op: 'Replace', path: `${ENT}:manager`, value: '' }), { ...base, [ENT]: { department: 'Sales', employeeNumber: '1' } }],
  ['manager removed with Replace {value: ""}', base, req({ op: 'Replace', path: `${ENT}:manager`, value: { value: '' } }), { ...base, [ENT]: { department: 'Sales', employeeNumber: '1' } }],
  ['manager removed with remove', base, req({ op: 'remove', path: `${ENT}:manager` }), { ...base, [ENT]: { department: 'Sales', employeeNumber: '1' } }],
  ['MS-LOGICAPP: empty strings then nulls clear attributes', base,
    req({ op: 'Replace', path: 'displayName', value: '' }, { op: 'Replace', path: `${ENT}:department`, value: null }, { op: 'replace', value: { nickName: null, externalId: '' } }),
    (() => { const { displayName: _d, externalId: _e, ...rest } = base; return { ...rest, [ENT]: { employeeNumber: '1', manager: { value: 'm0', $ref: '../Users/m0' } } } as UserData; })()],
  ['Okta §A2.2 deactivate: path-less replace {active:false}', base, req({ op: 'replace', value: { active: false } }), { ...base, active: false }],
  ['Okta: a value object carrying an unchanged id is tolerated', base, req({ op: 'replace', value: { id: 'u-1', active: true, displayName: 'D' } }), { ...base, displayName: 'D' }],
  ['Okta: password in a value object is dropped, never stored', base, req({ op: 'replace', value: { password: 'secret' } }), base],
  ['RFC §3.5.2.1 add to multi-valued appends; a new primary unsets the old one', base,
    req({ op: 'add', path: 'emails', value: [{ value: 'other@x.com', type: 'other', primary: true }] }),
    { ...base, emails: [{ value: 'work@x.com', type: 'work', primary: false }, { value: 'home@x.com', type: 'home' }, { value: 'other@x.com', type: 'other', primary: true }] }],
  ['RFC §3.5.2.1 adding an existing value is a no-op', base, req({ op: 'add', path: 'emails', value: [{ value: 'home@x.com', type: 'home' }] }), base],
  ['RFC §3.5.2.3 replace multi-valued without filter replaces all', base, req({ op: 'replace', path: 'emails', value: { value: 'only@x.com' } }), { ...base, emails: [{ value: 'only@x.com' }] }],
  ['RFC §3.5.2.3 replace complex with path merges sub-attributes', base, req({ op: 'replace', path: 'name', value: { givenName: 'G2' } }), { ...base, name: { givenName: 'G2', familyName: 'Family', formatted: 'Given Family' } }],
  ['RFC §3.5.2.3 path-less replace replaces the complex attribute', base, req({ op: 'replace', value: { name: { givenName: 'G2' } } }), { ...base, name: { givenName: 'G2' } }],
  ['RFC §3.5.2.1 path-less add merges the complex attribute', base, req({ op: 'add', value: { name: { middleName: 'M' } } }), { ...base, name: { givenName: 'Given', familyName: 'Family', formatted: 'Given Family', middleName: 'M' } }],
  ['RFC §3.5.2.3 replace on a matched element, no sub-attribute', base, req({ op: 'replace', path: 'emails[type eq "home"]', value: { value: 'h2@x.com', type: 'home' } }), { ...base, emails: [(base.emails as object[])[0], { value: 'h2@x.com', type: 'home' }] }],
  ['RFC §3.5.2.2 remove by filter', base, req({ op: 'remove', path: 'emails[type eq "home"]' }), { ...base, emails: [(base.emails as object[])[0]] }],
  ['RFC §3.5.2.2 remove of a sub-attribute by filter', base, req({ op: 'remove', path: 'emails[type eq "work"].primary' }), { ...base, emails: [{ value: 'work@x.com', type: 'work' }, { value: 'home@x.com', type: 'home' }] }],
  ['RFC §3.5.2.2 remove by filter matching nothing is a no-op', base, req({ op: 'remove', path: 'emails[type eq "other"]' }), base],
  ['RFC §3.5.2.2 remove a whole multi-valued attribute', base, req({ op: 'Remove', path: 'emails' }), (() => { const { emails: _e, ...rest } = base; return rest as UserData; })()],
  ['Entra-style remove with a value list removes only those', base, req({ op: 'Remove', path: 'emails', value: [{ value: 'home@x.com' }] }), { ...base, emails: [(base.emails as object[])[0]] }],
  ['nested enterprise object in a path-less add', bare, req({ op: 'add', value: { [ENT]: { Department: 'R&D' } } }), { ...bare, [ENT]: { department: 'R&D' } }],
  ['case-insensitive paths and op', base, req({ op: 'REPLACE', path: 'DisplayName', value: 'X' }, { op: 'rEpLaCe', path: 'Emails[Type eq "WORK"].Value', value: 'W@x' }),
    { ...base, displayName: 'X', emails: [{ value: 'W@x', type: 'work', primary: true }, { value: 'home@x.com', type: 'home' }] }],
  ['unknown plain attribute in a path-less value is ignored; unknown URN extension is kept', bare, req({ op: 'add', value: { nickNam: 'typo', 'urn:acme:ext:1.0:badge': 'B' } }), { ...bare, 'urn:acme:ext:1.0:badge': 'B' }],
  ['empty Operations is a no-op', base, req(), base],
  ['no schemas member is accepted', base, { Operations: [{ op: 'add', path: 'title', value: 'Boss' }] }, { ...base, title: 'Boss' }],
];

describe('applyUserPatch', () => {
  it.each(userRows)('%s', (_, current, body, expected) => {
    const before = structuredClone(current);
    const out = applyUserPatch(current, body, 'u-1');
    expect(out).toEqual(expected);
    expect(current).toEqual(before);
    expect(normalizeUser(out)).toEqual(out);
  });

  const errorRows: [string, unknown, number, string][] = [
    ['remove without path', req({ op: 'remove' }), 400, 'noTarget'],
    ['remove userName', req({ op: 'remove', path: 'userName' }), 400, 'mutability'],
    ['remove active', req({ op: 'remove', path: 'active' }), 400, 'mutability'],
    ['replace userName with empty', req({ op: 'replace', path: 'userName', value: '' }), 400, 'invalidValue'],
    ['replace id', req({ op: 'replace', path: 'id', value: 'other' }), 400, 'mutability'],
    ['value object with a different id', req({ op: 'replace', value: { id: 'other' } }), 400, 'mutability'],
    ['replace meta', req({ op: 'replace', path: 'meta', value: {} }), 400, 'mutability'],
    ['add groups', req({ op: 'add', path: 'groups', value: [{ value: 'g1' }] }), 400, 'mutability'],
    ['path-less groups', req({ op: 'add', value: { groups: [{ value: 'g1' }] } }), 400, 'mutability'],
    ['manager.displayName is readOnly', req({ op: 'add', path: `${ENT}:manager.displayName`, value: 'x' }), 400, 'mutability'],
    ['unknown op', req({ op: 'move', path: 'title', value: 'x' }), 400, 'invalidSyntax'],
    ['op not a string', req({ op: 1, path: 'title', value: 'x' }), 400, 'invalidSyntax'],
    ['wrong schemas', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [] }, 400, 'invalidSyntax'],
    ['no Operations', { schemas: [PATCH] }, 400, 'invalidSyntax'],
    ['Operations not an array', { schemas: [PATCH], Operations: {} }, 400, 'invalidSyntax'],
    ['body not an object', [], 400, 'invalidSyntax'],
    ['add without value', req({ op: 'add', path: 'title' }), 400, 'invalidSyntax'],
    ['unknown attribute path', req({ op: 'replace', path: 'titel', value: 'x' }), 400, 'invalidPath'],
    ['malformed filter', req({ op: 'replace', path: 'emails[type eq ].value', value: 'x' }), 400, 'invalidPath'],
    ['path not a string', req({ op: 'replace', path: 5, value: 'x' }), 400, 'invalidPath'],
    ['active not boolean', req({ op: 'replace', path: 'active', value: 'nope' }), 400, 'invalidValue'],
    ['title not a string', req({ op: 'replace', path: 'title', value: 3 }), 400, 'invalidValue'],
    ['path-less value not an object', req({ op: 'replace', value: 'x' }), 400, 'invalidValue'],
    ['two primaries after the patch', req({ op: 'add', path: 'emails', value: [{ value: 'a', primary: true }, { value: 'b', primary: true }] }), 400, 'invalidValue'],
    ['replace on a non-eq filter matching nothing (RFC §3.5.2.3)', req({ op: 'replace', path: 'emails[type co "zzz"].value', value: 'x' }), 400, 'noTarget'],
  ];
  it.each(errorRows)('%s → 400, and the current data is untouched', (_, body, status, scimType) => {
    const before = structuredClone(base);
    const e = caught(() => applyUserPatch(base, body, 'u-1'));
    expect([e.status, e.scimType]).toEqual([status, scimType]);
    expect(base).toEqual(before);
  });

  it('is atomic: a failing later op leaves nothing of the earlier ones', () => {
    expect(() => applyUserPatch(base, req({ op: 'replace', path: 'displayName', value: 'X' }, { op: 'remove' }))).toThrow(ScimError);
    expect(base.displayName).toBe('Test User');
  });

  it('an id in a value object is tolerated when the caller does not know the id', () => {
    expect(applyUserPatch(base, req({ op: 'replace', value: { id: 'whatever', title: 'T' } })).title).toBe('T');
  });
});

const group: GroupData = { displayName: 'Admins', externalId: 'ext-g' };

/** [name, request, expected change]; sources are scim-idp.md sections. */
const groupRows: [string, unknown, GroupChange][] = [
  ['Entra §A1.2 rename', req({ op: 'Replace', path: 'displayName', value: 'Ops' }), { data: { displayName: 'Ops', externalId: 'ext-g' } }],
  ['Entra §A1.2 add members ($ref null)', req({ op: 'Add', path: 'members', value: [{ $ref: null, value: 'u1' }] }), { memberOps: [{ op: 'add', ids: ['u1'] }] }],
  ['Entra §A1.4 Remove path members + value list removes only those', req({ op: 'Remove', path: 'members', value: [{ value: 'u1091' }] }), { memberOps: [{ op: 'remove', ids: ['u1091'] }] }],
  ['Entra §A1.4 aadOptscim062020 remove by filter', req({ op: 'remove', path: 'members[value eq "7f4bc1a3-1"]' }), { memberOps: [{ op: 'remove', ids: ['7f4bc1a3-1'] }] }],
  ['Azure collection §A1.4: remove members without value removes all', req({ op: 'remove', path: 'members' }), { memberOps: [{ op: 'removeAll' }] }],
  ['Okta §A2.2 rename: path-less replace with the unchanged id inside', req({ op: 'replace', value: { id: 'g-1', displayName: 'Renamed' } }), { data: { displayName: 'Renamed', externalId: 'ext-g' } }],
  ['Okta §A2.2 the same, sent on a membership update with no name change', req({ op: 'replace', value: { id: 'g-1', displayName: 'Admins' } }), {}],
  ['Okta §A2.2 membership: remove by filter then add, in order', req({ op: 'remove', path: 'members[value eq "u1"]' }, { op: 'add', path: 'members', value: [{ value: 'u2', display: 'user@x' }] }),
    { memberOps: [{ op: 'remove', ids: ['u1'] }, { op: 'add', ids: ['u2'] }] }],
  ['Okta §A2.2 full member push', req({ op: 'replace', path: 'members', value: [{ value: 'u1' }, { value: 'u2' }] }), { memberOps: [{ op: 'replace', ids: ['u1', 'u2'] }] }],
  ['replace members with an empty list removes all', req({ op: 'replace', path: 'members', value: [] }), { memberOps: [{ op: 'removeAll' }] }],
  ['or-joined member filter', req({ op: 'remove', path: 'members[value eq "a" or value eq "b"]' }), { memberOps: [{ op: 'remove', ids: ['a', 'b'] }] }],
  ['path-less add with members', req({ op: 'add', value: { members: [{ value: 'u3' }] } }), { memberOps: [{ op: 'add', ids: ['u3'] }] }],
  ['path-less replace with members and displayName', req({ op: 'replace', value: { displayName: 'D', members: [{ value: 'u3' }] } }), { data: { displayName: 'D', externalId: 'ext-g' }, memberOps: [{ op: 'replace', ids: ['u3'] }] }],
  ['remove externalId', req({ op: 'remove', path: 'externalId' }), { data: { displayName: 'Admins' } }],
  ['replace externalId with null clears it', req({ op: 'replace', path: 'externalId', value: null }), { data: { displayName: 'Admins' } }],
  ['empty Operations', req(), {}],
];

describe('planGroupPatch', () => {
  it.each(groupRows)('%s', (_, body, expected) => {
    const before = structuredClone(group);
    expect(planGroupPatch(group, body, 'g-1')).toEqual(expected);
    expect(group).toEqual(before);
  });

  const errorRows: [string, unknown, string, string][] = [
    ['nested group member', req({ op: 'add', path: 'members', value: [{ value: 'g2', type: 'Group' }] }), 'invalidValue', 'nested groups are not supported'],
    ['member without value', req({ op: 'add', path: 'members', value: [{ display: 'x' }] }), 'invalidValue', 'members.value'],
    ['Okta rename with a different id', req({ op: 'replace', value: { id: 'g-2', displayName: 'X' } }), 'mutability', 'id'],
    ['remove displayName', req({ op: 'remove', path: 'displayName' }), 'mutability', 'displayName'],
    ['replace displayName with empty', req({ op: 'replace', path: 'displayName', value: '' }), 'invalidValue', 'displayName'],
    ['remove without path', req({ op: 'remove' }), 'noTarget', 'path'],
    ['add with a member filter', req({ op: 'add', path: 'members[value eq "x"]', value: [{ value: 'x' }] }), 'invalidPath', 'remove'],
    ['member filter on display', req({ op: 'remove', path: 'members[display eq "x"]' }), 'invalidPath', 'value eq'],
    ['members sub-attribute', req({ op: 'replace', path: 'members.value', value: 'x' }), 'invalidPath', 'sub-attributes'],
    ['unknown attribute', req({ op: 'replace', path: 'owner', value: 'x' }), 'invalidPath', 'owner'],
    ['replace meta', req({ op: 'replace', path: 'meta', value: {} }), 'mutability', 'meta'],
    ['op "delete"', req({ op: 'delete', path: 'members' }), 'invalidSyntax', 'op'],
  ];
  it.each(errorRows)('%s → 400', (_, body, scimType, detail) => {
    const e = caught(() => planGroupPatch(group, body, 'g-1'));
    expect([e.status, e.scimType]).toEqual([400, scimType]);
    expect(e.detail).toContain(detail);
  });
});

describe('parsePatchRequest', () => {
  it('normalises op case, keeps order, distinguishes a missing value from null', () => {
    expect(parsePatchRequest({ schemas: [PATCH], Operations: [{ op: 'Add', path: 'a', value: 1 }, { OP: 'REMOVE', Path: 'b' }, { op: 'replace', path: '', value: null }] })).toEqual([
      { op: 'add', path: 'a', value: 1 },
      { op: 'remove', path: 'b' },
      { op: 'replace', value: null },
    ]);
  });
});
