import { parseFilter } from '../../src/scim/filter';
import { openDatabase, type Db } from '../../src/store/database';
import { compileFilter, compileSort } from '../../src/store/filter-sql';
import { InvalidQueryError } from '../../src/store/types';

const sql = (f: string, rt: 'User' | 'Group' = 'User') => compileFilter(parseFilter(f), rt);
/** How filter-sql reads the document: a row too deep for SQLite's JSON functions reads as '{}'. */
const DOC = "(CASE WHEN json_valid(u.doc) THEN u.doc ELSE '{}' END)";

describe('compileFilter', () => {
  test.each([
    ['userName eq "Bjensen"', 'u.user_name = ? COLLATE NOCASE', ['Bjensen']],
    ['externalId eq "E1"', '(u.external_id IS NOT NULL AND u.external_id = ?)', ['E1']],
    ['displayName sw "a_b%"', "(u.display_name IS NOT NULL AND u.display_name LIKE ? ESCAPE '\\')", ['a\\_b\\%%']],
    ['id co "a*"', 'u.id GLOB ?', ['*a[*]*']],
    ['active eq true', 'u.active = ?', [1]],
    ['userName ne "x"', 'NOT (u.user_name = ? COLLATE NOCASE)', ['x']],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', 'u.last_modified > ?', ['2011-05-13T04:42:34.000Z']],
    ['emails.value eq "a@x"', 'u.id IN (SELECT user_id FROM user_emails WHERE value = ? COLLATE NOCASE)', ['a@x']],
    [
      'title eq "Boss"',
      `(json_type(${DOC}, '$."title"') IS 'text' AND json_extract(${DOC}, '$."title"') = ? COLLATE NOCASE)`,
      ['Boss'],
    ],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D"',
      `(json_type(${DOC}, '$."urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"."department"') IS 'text' AND ` +
        `json_extract(${DOC}, '$."urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"."department"') = ? COLLATE NOCASE)`,
      ['R&D'],
    ],
    [
      'phoneNumbers[type eq "mobile"]',
      `((json_type(${DOC}, '$."phoneNumbers"') IS 'array' AND EXISTS (SELECT 1 FROM json_each(${DOC}, '$."phoneNumbers"') e WHERE e.type = 'object' AND ` +
        `(json_type(e.value, '$."type"') IS 'text' AND json_extract(e.value, '$."type"') = ? COLLATE NOCASE))))`,
      ['mobile'],
    ],
    ['members.value eq "u1"', 'g.id IN (SELECT group_id FROM group_members WHERE user_id = ?)', ['u1'], 'Group'],
    ['userName eq "a" or not (displayName pr)', "(u.user_name = ? COLLATE NOCASE OR NOT ((u.display_name IS NOT NULL AND u.display_name <> '')))", ['a']],
  ])('%s', (filter, where, params, rt = 'User') => {
    expect(sql(filter, rt as 'User' | 'Group')).toEqual({ where, params });
  });

  test('a value path pinning emails.value narrows through the user_emails index first', () => {
    const { where, params } = sql('emails[type eq "work" and value eq "a@x"]');
    expect(where.startsWith('(u.id IN (SELECT user_id FROM user_emails WHERE value = ?) AND ')).toBe(true);
    expect(params).toEqual(['a@x', 'work', 'a@x']);
  });

  test.each(['bogus eq "x"', 'name eq "x"', 'active lt true', 'meta.created co "2020"', 'title eq 1', 'groups.value eq "g"', 'members.display eq "x"', 'emails[bogus eq "x"]'])(
    'rejects %s',
    (f) => {
      expect(() => sql(f, f.startsWith('members') ? 'Group' : 'User')).toThrow(InvalidQueryError);
    },
  );
});

describe('compileSort', () => {
  test('default and explicit orders end with the seq tie-break', () => {
    expect(compileSort('User')).toBe('ORDER BY u.seq');
    expect(compileSort('User', 'UserName', 'descending')).toBe('ORDER BY u.user_name DESC, u.seq');
    expect(compileSort('Group', 'displayName')).toBe('ORDER BY g.display_name ASC, g.seq');
    expect(compileSort('User', 'name.familyName')).toBe(
      `ORDER BY (CASE WHEN json_type(${DOC}, '$."name"."familyName"') IS 'text' THEN json_extract(${DOC}, '$."name"."familyName"') END) COLLATE NOCASE ASC, u.seq`,
    );
    expect(() => compileSort('User', 'name')).toThrow(InvalidQueryError);
    expect(() => compileSort('Group', 'members')).toThrow(InvalidQueryError);
  });
});

describe('query plans at 100,000 users (RFC 7644 §3.4.2.2 lookups IdPs make before every write)', () => {
  let db: Db;
  beforeAll(() => {
    db = openDatabase(':memory:');
    const user = db.prepare(
      `INSERT INTO users (id, user_name, external_id, display_name, active, doc, created, last_modified, version, seq)
       VALUES (?, ?, ?, ?, 1, ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1, ?)`,
    );
    const email = db.prepare('INSERT INTO user_emails (user_id, value, type, is_primary) VALUES (?, ?, ?, 1)');
    db.transaction(() => {
      for (let i = 0; i < 100_000; i++) {
        const name = `user${i}@example.com`;
        user.run(`id-${i}`, name, `ext-${i}`, `User ${i}`, JSON.stringify({ userName: name, active: true, emails: [{ value: name, type: 'work', primary: true }] }), i + 1);
        email.run(`id-${i}`, name, 'work');
      }
    })();
  });
  afterAll(() => db.close());

  const plan = (filter: string) => {
    const { where, params } = sql(filter);
    const page = `SELECT u.* FROM users u WHERE ${where} ${compileSort('User')} LIMIT ? OFFSET ?`;
    const rows = db.prepare(`EXPLAIN QUERY PLAN ${page}`).all(...params, 100, 0) as { detail: string }[];
    const count = db.prepare(`EXPLAIN QUERY PLAN SELECT COUNT(*) FROM users u WHERE ${where}`).all(...params) as { detail: string }[];
    const found = db.prepare(page).all(...params, 100, 0) as { id: string }[];
    return { page: rows.map((r) => r.detail).join(' | '), count: count.map((r) => r.detail).join(' | '), found: found.map((r) => r.id) };
  };

  test.each([
    ['userName eq "USER4242@example.com"', /SEARCH u USING (COVERING )?INDEX sqlite_autoindex_users_2 \(user_name=\?\)/],
    ['externalId eq "ext-4242"', /SEARCH u USING (COVERING )?INDEX users_external_id \(external_id=\?\)/],
    ['displayName eq "user 4242"', /SEARCH u USING (COVERING )?INDEX users_display_name \(display_name=\?\)/],
    ['emails.value eq "User4242@Example.com"', /SEARCH u USING (COVERING )?INDEX sqlite_autoindex_users_1 \(id=\?\).*SEARCH user_emails USING (COVERING )?INDEX user_emails_value \(value=\?\)/],
    ['emails[type eq "work" and value eq "user4242@example.com"]', /SEARCH u USING (COVERING )?INDEX sqlite_autoindex_users_1 \(id=\?\).*user_emails_value \(value=\?\)/],
  ])('%s is an index search, not a scan', (filter, expected) => {
    const p = plan(filter);
    for (const text of [p.page, p.count]) {
      expect(text).toMatch(expected);
      expect(text).not.toMatch(/SCAN u\b|SCAN users/);
    }
    expect(p.found).toEqual(['id-4242']);
  });
});
