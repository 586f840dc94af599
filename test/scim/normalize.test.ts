import { ENTERPRISE_USER } from '../../src/core/schema';
import { expectScimErrorFrom } from '../support/scim-error';
import { normalizeGroup, normalizeUser, parseMemberIds, userDataEquals } from '../../src/scim/normalize';

const ENT = ENTERPRISE_USER;

const scimError = expectScimErrorFrom;

describe('normalizeUser', () => {
  it('Entra create body (scim-idp.md §A1.2): keeps values, drops meta/schemas/nulls, defaults nothing it has', () => {
    const body = {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', `${ENT}`, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0User'],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'Test_User_fd0ea19b@testuser.com' }],
      meta: { resourceType: 'User' },
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      roles: [],
      addresses: null,
      phoneNumbers: null,
      title: null,
      manager: null,
    };
    expect(normalizeUser(body)).toEqual({
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
      active: true,
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      emails: [{ value: 'Test_User_fd0ea19b@testuser.com', type: 'work', primary: true }],
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
    });
  });

  it('Okta create body (§A2.2): drops the placeholder password and groups', () => {
    const out = normalizeUser({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'test.user@okta.local',
      name: { givenName: 'Test', familyName: 'User' },
      emails: [{ primary: true, value: 'test.user@okta.local', type: 'work' }],
      displayName: 'Test User',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      groups: [],
      password: '1mz050nq',
      active: true,
    });
    expect(out).toEqual({
      userName: 'test.user@okta.local',
      active: true,
      name: { givenName: 'Test', familyName: 'User' },
      displayName: 'Test User',
      locale: 'en-US',
      emails: [{ value: 'test.user@okta.local', type: 'work', primary: true }],
      externalId: '00ujl29u0le5T6Aj10h7',
    });
    expect(out).not.toHaveProperty('password');
    expect(out).not.toHaveProperty('groups');
  });

  it('resolves attribute names case-insensitively to canonical case (RFC 7643 §2.1)', () => {
    expect(normalizeUser({ USERNAME: 'a', Name: { GIVENNAME: 'A' }, DisplayName: 'x', EMAILS: [{ Value: 'a@x', Primary: 'TRUE' }] })).toEqual({
      userName: 'a',
      active: true,
      name: { givenName: 'A' },
      displayName: 'x',
      emails: [{ value: 'a@x', primary: true }],
    });
  });

  it.each([
    ['True', true],
    ['false', false],
    ['FALSE', false],
    [false, false],
  ])('active %p → %p', (active, expected) => {
    expect(normalizeUser({ userName: 'a', active }).active).toBe(expected);
  });

  it('active defaults to true; null means unset', () => {
    expect(normalizeUser({ userName: 'a' }).active).toBe(true);
    expect(normalizeUser({ userName: 'a', active: null }).active).toBe(true);
  });

  it.each([
    [{ userName: 'a', active: 'yes' }, 'active'],
    [{ userName: 'a', active: 1 }, 'active'],
    [{ userName: 'a', emails: [{ value: 'x', primary: 'sure' }] }, 'emails.primary'],
    [{ userName: 'a', displayName: 5 }, 'displayName'],
    [{ userName: 'a', name: 'Bob' }, 'name'],
    [{ userName: 'a', emails: [5] }, 'emails'],
    [{ userName: 'a', addresses: ['street'] }, 'addresses'],
    [{ userName: 'a', [ENT]: { department: 7 } }, `${ENT}:department`],
    [{ userName: 'a', [ENT]: 'sales' }, ENT],
  ])('wrong type %j → 400 invalidValue naming %s', (body, attr) => {
    const e = scimError(() => normalizeUser(body));
    expect([e.status, e.scimType]).toEqual([400, 'invalidValue']);
    expect(e.detail).toContain(attr);
  });

  it.each([[{}], [{ userName: '' }], [{ userName: '  ' }], [{ userName: null }], [{ userName: 42 }]])('userName required: %j', (body) => {
    const e = scimError(() => normalizeUser(body));
    expect([e.status, e.scimType]).toEqual([400, 'invalidValue']);
    expect(e.detail).toContain('userName');
  });

  it.each([[null], [[]], ['x'], [3]])('non-object body %j → 400 invalidSyntax', (body) => {
    expect(scimError(() => normalizeUser(body)).scimType).toBe('invalidSyntax');
  });

  it('accepts enterprise attributes nested and flattened, URN in any case', () => {
    const out = normalizeUser({
      userName: 'a',
      [ENT.toUpperCase()]: { Department: 'Sales', manager: { value: 'm1', displayName: 'ignored (readOnly)' } },
      [`${ENT.toLowerCase()}:employeeNumber`]: '701984',
      [`${ENT}:costCenter`]: '4130',
    });
    expect(out[ENT]).toEqual({ employeeNumber: '701984', costCenter: '4130', department: 'Sales', manager: { value: 'm1' } });
  });

  it.each([
    ['bare string (ISS-SDK541)', '271', { value: '271' }],
    ['old Entra array (MS-TUT Example 5)', [{ $ref: 'http://x/scim/Users/26', value: '26' }, { value: '27' }], { value: '26', $ref: 'http://x/scim/Users/26' }],
    ['object', { value: '9' }, { value: '9' }],
  ])('manager as %s', (_, manager, expected) => {
    expect(normalizeUser({ userName: 'a', [ENT]: { manager } })[ENT]).toEqual({ manager: expected });
  });

  it('manager null, empty string or empty array is unset', () => {
    for (const manager of [null, '', [], { value: '' }]) expect(normalizeUser({ userName: 'a', [ENT]: { manager } })).not.toHaveProperty(ENT);
  });

  it('keeps other extension schemas verbatim under their URN, ignores unknown plain attributes and unknown known-schema ones', () => {
    const ext = 'urn:example:params:scim:schemas:extension:airflow:1.0:User';
    const out = normalizeUser({
      userName: 'a',
      [ext]: { team: 'data', tags: ['x', null] },
      'urn:ietf:params:scim:schemas:extension:acme:2.0:User:badge': 'B1',
      usrName: 'typo',
      [`${ENT}:shoeSize`]: '44',
    });
    expect(out).toEqual({ userName: 'a', active: true, [ext]: { team: 'data', tags: ['x'] }, 'urn:ietf:params:scim:schemas:extension:acme:2.0:User:badge': 'B1' });
  });

  it('multi-valued: a single object is wrapped, strings become {value}', () => {
    expect(normalizeUser({ userName: 'a', emails: { value: 'a@x', type: 'work' }, phoneNumbers: ['+1 555'] })).toMatchObject({
      emails: [{ value: 'a@x', type: 'work' }],
      phoneNumbers: [{ value: '+1 555' }],
    });
  });

  it('at most one primary per attribute (RFC 7643 §2.4)', () => {
    const e = scimError(() => normalizeUser({ userName: 'a', emails: [{ value: 'a', primary: true }, { value: 'b', primary: 'True' }] }));
    expect([e.scimType, e.detail.includes('emails')]).toEqual(['invalidValue', true]);
    expect(normalizeUser({ userName: 'a', emails: [{ value: 'a', primary: true }, { value: 'b', primary: false }] }).emails).toHaveLength(2);
  });

  it('flattened sub-attributes merge into the complex value', () => {
    expect(normalizeUser({ userName: 'a', name: { GivenName: 'x', familyName: 'F' }, 'name.givenName': 'y' }).name).toEqual({ givenName: 'y', familyName: 'F' });
  });

  it('is idempotent and does not mutate its input', () => {
    const body = { userName: 'a', active: 'False', emails: 'a@x', [ENT]: { manager: '1' } };
    const copy = structuredClone(body);
    const once = normalizeUser(body);
    expect(body).toEqual(copy);
    expect(normalizeUser(once)).toEqual(once);
  });

  it('does not let a "__proto__" key pollute anything', () => {
    const out = normalizeUser(JSON.parse('{"userName":"a","__proto__":{"polluted":1},"urn:x:y":{"__proto__":{"p":1},"k":1}}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(out).toEqual({ userName: 'a', active: true, 'urn:x:y': { k: 1 } });
  });
});

describe('normalizeGroup', () => {
  it('Entra create (§A1.2): ignores the Microsoft schema URN and meta', () => {
    expect(
      normalizeGroup({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group', 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
        externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
        displayName: 'displayName',
        meta: { resourceType: 'Group' },
      }),
    ).toEqual({ data: { displayName: 'displayName', externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159' }, memberIds: [] });
  });

  it('Okta push (§A2.2) and members with display/$ref/type User, de-duplicated', () => {
    expect(
      normalizeGroup({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        id: 'ignored',
        DISPLAYNAME: 'Test SCIMv2',
        members: [{ value: 'u1', display: 'a@x' }, { Value: 'u2', $ref: null, type: 'User' }, { value: 'u1' }],
      }),
    ).toEqual({ data: { displayName: 'Test SCIMv2' }, memberIds: ['u1', 'u2'] });
  });

  it('keeps unknown URN extension attributes', () => {
    expect(normalizeGroup({ displayName: 'g', 'urn:acme:group:1.0': { owner: 'x' } }).data).toEqual({ displayName: 'g', 'urn:acme:group:1.0': { owner: 'x' } });
  });

  it.each([
    [{}, 'invalidValue', 'displayName'],
    [{ displayName: '' }, 'invalidValue', 'displayName'],
    [{ displayName: 'g', externalId: 3 }, 'invalidValue', 'externalId'],
    [{ displayName: 'g', members: [{ value: 'g2', type: 'Group' }] }, 'invalidValue', 'nested groups are not supported: Airflow has no group nesting'],
    [{ displayName: 'g', members: [{ value: 'g2', type: 'GROUP' }] }, 'invalidValue', 'nested groups'],
    [{ displayName: 'g', members: [{ display: 'no value' }] }, 'invalidValue', 'members.value'],
    [{ displayName: 'g', members: [7] }, 'invalidValue', 'members'],
    ['g', 'invalidSyntax', 'JSON object'],
  ])('%j → 400 %s', (body, scimType, detail) => {
    const e = scimError(() => normalizeGroup(body));
    expect([e.status, e.scimType]).toEqual([400, scimType]);
    expect(e.detail).toContain(detail);
  });
});

describe('helpers', () => {
  it('parseMemberIds accepts one object or a bare id', () => {
    expect(parseMemberIds({ value: 'u1' })).toEqual(['u1']);
    expect(parseMemberIds(['u1', null, { value: 'u2' }])).toEqual(['u1', 'u2']);
  });

  it('userDataEquals ignores key order and compares deeply', () => {
    expect(userDataEquals({ userName: 'a', active: true, name: { givenName: 'x' } }, { name: { givenName: 'x' }, active: true, userName: 'a' })).toBe(true);
    expect(userDataEquals({ userName: 'a', active: true }, { userName: 'a', active: false })).toBe(false);
    expect(userDataEquals({ userName: 'a', active: true, emails: [{ value: '1' }] }, { userName: 'a', active: true, emails: [{ value: '1' }, { value: '2' }] })).toBe(false);
  });
});
