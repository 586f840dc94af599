import { ENTERPRISE_USER } from '../../src/core/schema';
import { ScimError } from '../../src/scim/errors';
import { parseFilter } from '../../src/scim/filter';
import { filterTemplate, matchesFilter, parsePatchPath } from '../../src/scim/patch-path';
import { parse } from 'scim2-parse-filter';

const ENT = ENTERPRISE_USER;

const summary = (text: string, rt: 'User' | 'Group' = 'User') => {
  const p = parsePatchPath(rt, text);
  return { key: p.key, sub: p.sub?.name, filter: p.filter, schema: p.schema };
};

describe('parsePatchPath (RFC 7644 §3.5.2 PATH)', () => {
  it.each([
    ['userName', { key: ['userName'], sub: undefined, filter: undefined, schema: 'urn:ietf:params:scim:schemas:core:2.0:User' }],
    ['ACTIVE', { key: ['active'], sub: undefined, filter: undefined, schema: 'urn:ietf:params:scim:schemas:core:2.0:User' }],
    ['name.FamilyName', { key: ['name'], sub: 'familyName', filter: undefined, schema: 'urn:ietf:params:scim:schemas:core:2.0:User' }],
    ['externalId', { key: ['externalId'], sub: undefined, filter: undefined, schema: null }],
    ['urn:ietf:params:scim:schemas:core:2.0:User:displayName', { key: ['displayName'], sub: undefined, filter: undefined, schema: 'urn:ietf:params:scim:schemas:core:2.0:User' }],
    [`${ENT}:manager`, { key: [ENT, 'manager'], sub: undefined, filter: undefined, schema: ENT }],
    [`${ENT}:manager.value`, { key: [ENT, 'manager'], sub: 'value', filter: undefined, schema: ENT }],
    [`${ENT.toUpperCase()}:EMPLOYEENUMBER`, { key: [ENT, 'employeeNumber'], sub: undefined, filter: undefined, schema: ENT }],
    ['manager', { key: [ENT, 'manager'], sub: undefined, filter: undefined, schema: ENT }],
    ['emails[type eq "work"]', { key: ['emails'], sub: undefined, filter: { op: 'eq', attrPath: 'type', compValue: 'work' }, schema: 'urn:ietf:params:scim:schemas:core:2.0:User' }],
    ['Emails[Type EQ "work"].Value', { key: ['emails'], sub: 'value', filter: { op: 'eq', attrPath: 'type', compValue: 'work' }, schema: 'urn:ietf:params:scim:schemas:core:2.0:User' }],
    ['addresses[type eq "work"].formatted', { key: ['addresses'], sub: 'formatted', filter: { op: 'eq', attrPath: 'type', compValue: 'work' }, schema: 'urn:ietf:params:scim:schemas:core:2.0:User' }],
    ['emails[value eq "a]b"].display', { key: ['emails'], sub: 'display', filter: { op: 'eq', attrPath: 'value', compValue: 'a]b' }, schema: 'urn:ietf:params:scim:schemas:core:2.0:User' }],
    ['emails[emails.type eq "work" and not (primary eq true)]', {
      key: ['emails'],
      sub: undefined,
      filter: { op: 'and', filters: [{ op: 'eq', attrPath: 'type', compValue: 'work' }, { op: 'not', filter: { op: 'eq', attrPath: 'primary', compValue: true } }] },
      schema: 'urn:ietf:params:scim:schemas:core:2.0:User',
    }],
  ])('User %s', (text, expected) => {
    expect(summary(text)).toEqual(expected);
  });

  it.each([
    ['members', { key: ['members'], sub: undefined, filter: undefined, schema: 'urn:ietf:params:scim:schemas:core:2.0:Group' }],
    ['members[value eq "7f4bc1a3"]', { key: ['members'], sub: undefined, filter: { op: 'eq', attrPath: 'value', compValue: '7f4bc1a3' }, schema: 'urn:ietf:params:scim:schemas:core:2.0:Group' }],
    ['DisplayName', { key: ['displayName'], sub: undefined, filter: undefined, schema: 'urn:ietf:params:scim:schemas:core:2.0:Group' }],
  ])('Group %s', (text, expected) => {
    expect(summary(text, 'Group')).toEqual(expected);
  });

  it.each([
    ['User', 'nickname2'],
    ['User', 'name.middle'],
    ['User', 'name.givenName.x'],
    ['User', 'emails[type eq "work"'],
    ['User', 'emails]'],
    ['User', 'emails[type eq work]'],
    ['User', 'emails[foo eq "x"]'],
    ['User', 'emails[type eq "work"].nope'],
    ['User', 'emails[type eq "work"]value'],
    ['User', 'emails[type eq "work"][x]'],
    ['User', 'name[givenName eq "x"]'],
    ['User', 'userName[value eq "x"]'],
    ['User', 'emails[]'],
    ['User', 'emails[type[value eq "x"]]'],
    ['User', ''],
    ['User', '   '],
    ['User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nope'],
    ['Group', 'manager'],
    ['Group', 'members[display eq "x"].nope'],
  ])('%s %j → 400 invalidPath', (rt, text) => {
    let err: unknown;
    try {
      parsePatchPath(rt as 'User' | 'Group', text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScimError);
    expect([(err as ScimError).status, (err as ScimError).scimType]).toEqual([400, 'invalidPath']);
  });

  it('non-string path → invalidPath', () => {
    expect(() => parsePatchPath('User', 5)).toThrow(ScimError);
  });
});

test('a value filter decodes string escapes exactly as a list filter does (one parser, one meaning)', () => {
  const p = parsePatchPath('User', 'emails[value eq "a\\u0041b@x.example"].primary');
  expect(p.filter).toEqual({ op: 'eq', attrPath: 'value', compValue: 'aAb@x.example' });
  expect(parseFilter('emails[value eq "a\\u0041b@x.example"]')).toEqual({
    op: '[]', attrPath: 'emails', valFilter: { op: 'eq', attrPath: 'value', compValue: 'aAb@x.example' },
  });
  expect(matchesFilter({ value: 'aab@x.example' }, p.filter!, p.attr)).toBe(true); // caseExact false: folded
  expect(() => parsePatchPath('User', 'emails[value eq "bad \\x"]')).toThrow(/invalid path .*not a valid JSON string/);
});

describe('matchesFilter', () => {
  const emails = parsePatchPath('User', 'emails').attr;
  const f = (s: string) => parsePatchPath('User', `emails[${s}]`).filter!;
  const el = { value: 'Bob@Example.com', type: 'Work', primary: true };
  it.each([
    ['type eq "work"', true],
    ['type eq "home"', false],
    ['type ne "home"', true],
    ['value co "example"', true],
    ['value sw "bob@"', true],
    ['value ew ".org"', false],
    ['primary eq true', true],
    ['display pr', false],
    ['value pr', true],
    ['type eq "work" and primary eq false', false],
    ['type eq "home" or primary eq true', true],
    ['not (type eq "work")', false],
    ['value gt "a"', true],
    ['display eq null', true],
  ])('%s → %p', (filter, expected) => {
    expect(matchesFilter(el, f(filter), emails)).toBe(expected);
  });
});

describe('filterTemplate', () => {
  it.each([
    ['type eq "work"', { type: 'work' }],
    ['type eq "work" and primary eq true', { type: 'work', primary: true }],
    ['type eq "work" or type eq "home"', undefined],
    ['type co "work"', undefined],
    ['type eq "work" and type eq "home"', undefined],
  ])('%s → %j', (filter, expected) => {
    expect(filterTemplate(parse(filter))).toEqual(expected);
  });
});
