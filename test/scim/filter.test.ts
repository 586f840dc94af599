import { MAX_FILTER_LENGTH, parseFilter } from '../../src/scim/filter';
import { ScimError } from '../../src/scim/errors';

describe('parseFilter (RFC 7644 §3.4.2.2)', () => {
  test('parses the RFC examples, any case of operators, kept attribute names', () => {
    expect(parseFilter('userName Eq "bjensen"')).toEqual({ op: 'eq', attrPath: 'userName', compValue: 'bjensen' });
    expect(parseFilter('USERNAME eq "x" AND title pr')).toEqual({
      op: 'and',
      filters: [{ op: 'eq', attrPath: 'USERNAME', compValue: 'x' }, { op: 'pr', attrPath: 'title' }],
    });
    expect(parseFilter('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")')).toMatchObject({
      op: 'and',
      filters: [{ op: 'ne' }, { op: 'not', filter: { op: 'or' } }],
    });
    expect(parseFilter('emails[type eq "work" and value co "@example.com"]')).toEqual({
      op: '[]',
      attrPath: 'emails',
      valFilter: { op: 'and', filters: [{ op: 'eq', attrPath: 'type', compValue: 'work' }, { op: 'co', attrPath: 'value', compValue: '@example.com' }] },
    });
    expect(parseFilter('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"')).toMatchObject({
      attrPath: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber',
    });
    expect(parseFilter('active eq true or meta.version eq 3 or x eq null')).toMatchObject({
      filters: [{ compValue: true }, { compValue: 3 }, { compValue: null }],
    });
  });

  test.each([
    ['displayName eq "say \\"hi\\""', 'say "hi"'],
    ['displayName eq "back\\\\slash"', 'back\\slash'],
    ['displayName eq "ends with\\\\"', 'ends with\\'],
    ['displayName eq "caf\\u00e9"', 'café'],
    ['displayName eq "tab\\there"', 'tab\there'],
    ['displayName eq "a (b) [c] and d"', 'a (b) [c] and d'],
    ['displayName eq ""', ''],
  ])('decodes JSON string escapes: %s', (filter, value) => {
    expect(parseFilter(filter)).toEqual({ op: 'eq', attrPath: 'displayName', compValue: value });
  });

  const BAD = [
    '',
    '   ',
    'userName eq',
    'userName foo "x"',
    'userName eq "unterminated',
    '(userName eq "a"',
    'userName eq "a")',
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    'userName eq bjensen',
    'and',
    'userName eq "a" and',
    'userName eq "a" or',
    'userName eq "a" garbage',
    'userName eq "bad \\x escape"',
    'userName eq {}',
    'userName gt [1]',
    'emails[]',
    'emails[type[value eq "x"]]',
    'emails[value.x eq "y"]',
    '5abc eq "x"',
    'not',
    'a eq "x" ' + 'and a eq "x" '.repeat(400),
    '('.repeat(40) + 'a pr' + ')'.repeat(40),
    '('.repeat(5000),
    'not '.repeat(40) + 'a pr',
  ];
  test.each(BAD.map((f) => [f.length > 60 ? f.slice(0, 60) + '…' : f, f]))('rejects %j as 400 invalidFilter', (_, filter) => {
    let err: unknown;
    try {
      parseFilter(filter);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScimError);
    expect(err).toMatchObject({ status: 400, scimType: 'invalidFilter' });
    expect((err as ScimError).message).toMatch(/^invalid filter: .+/);
  });

  test('messages name the problem', () => {
    const msg = (f: string) => {
      try {
        parseFilter(f);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    expect(msg('')).toMatch(/empty/);
    expect(msg('x'.repeat(MAX_FILTER_LENGTH + 1))).toMatch(/longer than 4096/);
    expect(msg('userName eq')).toMatch(/expected a comparison value/);
    expect(msg('userName foo "x"')).toMatch(/unknown operator "foo"/);
    expect(msg('(userName eq "a"')).toMatch(/missing '\)'/);
    expect(msg('userName eq "open')).toMatch(/unterminated string/);
    expect(msg('('.repeat(40) + 'a pr' + ')'.repeat(40))).toMatch(/nesting is deeper/);
  });
});
