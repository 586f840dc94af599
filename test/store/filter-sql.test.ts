import { parseFilter } from '../../src/scim/filter';
import { openDatabase, type Db } from '../../src/store/database';
import { compileFilter, compileSort } from '../../src/store/filter-sql';
import { pgPath } from '../../src/store/sql/filter-dialect';
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

/** The same compiler for PostgreSQL: json operators on doc::json, nocase() for ASCII folding, byte order by COLLATE "C". */
describe('compileFilter for PostgreSQL', () => {
  const pg = (f: string, rt: 'User' | 'Group' = 'User') => compileFilter(parseFilter(f), rt, 'postgres');
  /** A document PostgreSQL cannot read (a \u0000 or unpaired surrogate escape) reads as '{}'. */
  const PGDOC = String.raw`(CASE WHEN u.doc LIKE '%\\u%' AND u.doc ~* '(^|[^\\])(\\\\)*\\u(0000|d[89a-f])' THEN '{}' ELSE u.doc END)::json`;
  const J = (path: string) => `${PGDOC} #> '${path}'`;
  const T = (path: string) => `(${PGDOC} #>> '${path}')`;
  const ELEMENTS = `json_array_elements(CASE json_typeof(${J('{"emails"}')}) WHEN 'array' THEN ${J('{"emails"}')} END) WITH ORDINALITY AS e(value, key)`;
  const EMAILS = (cond: string) =>
    `(json_typeof(${J('{"emails"}')}) IS NOT DISTINCT FROM 'array' AND EXISTS (SELECT 1 FROM ${ELEMENTS} WHERE json_typeof(e.value) = 'object' AND ${cond}))`;

  test.each([
    // Equality as the nocase() and plain indexes are written, so they serve it.
    ['userName eq "Bjensen"', 'nocase(u.user_name) = nocase(?)', ['Bjensen']],
    ['externalId eq "E1"', '(u.external_id IS NOT NULL AND u.external_id = ?)', ['E1']],
    ['displayName eq "Ann"', '(u.display_name IS NOT NULL AND nocase(u.display_name) = nocase(?))', ['Ann']],
    ['emails.value eq "a@x"', 'u.id IN (SELECT user_id FROM user_emails WHERE nocase(value) = nocase(?))', ['a@x']],
    // Ranges in byte order whatever the database's locale.
    ['userName gt "b"', 'nocase(u.user_name) COLLATE "C" > nocase(?)', ['b']],
    ['externalId le "E9"', '(u.external_id IS NOT NULL AND u.external_id COLLATE "C" <= ?)', ['E9']],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', 'u.last_modified COLLATE "C" > ?', ['2011-05-13T04:42:34.000Z']],
    // co/sw/ew: LIKE is case-sensitive in PostgreSQL; ASCII-only folding for case-insensitive attributes.
    ['id co "a*_%\\\\"', "u.id LIKE ? ESCAPE '\\'", ['%a*\\_\\%\\\\%']],
    ['displayName sw "a_b%"', "(u.display_name IS NOT NULL AND nocase(u.display_name) LIKE nocase(?) ESCAPE '\\')", ['a\\_b\\%%']],
    ['userName ew "X"', "nocase(u.user_name) LIKE nocase(?) ESCAPE '\\'", ['%X']],
    // Booleans: predicates are boolean, never 1/0.
    ['active eq true', 'u.active = ?', [1]],
    ['active pr', 'TRUE', []],
    ['userName ne "x"', 'NOT (nocase(u.user_name) = nocase(?))', ['x']],
    [
      'title eq "Boss"',
      `(json_typeof(${J('{"title"}')}) IS NOT DISTINCT FROM 'string' AND nocase(${T('{"title"}')}) = nocase(?))`,
      ['Boss'],
    ],
    [
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D"',
      `(json_typeof(${J('{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","department"}')}) IS NOT DISTINCT FROM 'string' AND ` +
        `nocase(${T('{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","department"}')}) = nocase(?))`,
      ['R&D'],
    ],
    [
      'title pr',
      `(CASE json_typeof(${J('{"title"}')}) WHEN 'string' THEN ${T('{"title"}')} <> '' WHEN 'array' THEN json_array_length(${J('{"title"}')}) > 0 ` +
        `WHEN 'object' THEN (${J('{"title"}')})::text !~ '^[{][[:space:]]*[}]$' WHEN 'null' THEN FALSE ELSE json_typeof(${J('{"title"}')}) IS NOT NULL END)`,
      [],
    ],
    ['emails.primary eq true', EMAILS(`(e.value #> '{"primary"}')::text IS NOT DISTINCT FROM 'true'`), []],
    [
      'emails[type eq "work" and value eq "a@x"]',
      `(u.id IN (SELECT user_id FROM user_emails WHERE nocase(value) = nocase(?)) AND ${EMAILS(
        `((json_typeof(e.value #> '{"type"}') IS NOT DISTINCT FROM 'string' AND nocase((e.value #>> '{"type"}')) = nocase(?)) AND ` +
          `(json_typeof(e.value #> '{"value"}') IS NOT DISTINCT FROM 'string' AND nocase((e.value #>> '{"value"}')) = nocase(?)))`,
      )})`,
      ['a@x', 'work', 'a@x'],
    ],
    [
      'name[familyName ew "q"]',
      `(json_typeof(${J('{"name"}')}) IS NOT DISTINCT FROM 'object' AND (json_typeof(${J('{"name","familyName"}')}) IS NOT DISTINCT FROM 'string' AND ` +
        `nocase(${T('{"name","familyName"}')}) LIKE nocase(?) ESCAPE '\\'))`,
      ['%q'],
    ],
    ['displayName eq "Ops"', 'nocase(g.display_name) = nocase(?)', ['Ops'], 'Group'],
    ['externalId eq "G1"', '(g.external_id IS NOT NULL AND g.external_id = ?)', ['G1'], 'Group'],
    ['members.value lt "u1"', 'g.id IN (SELECT group_id FROM group_members WHERE user_id COLLATE "C" < ?)', ['u1'], 'Group'],
    ['members[value sw "u"]', "g.id IN (SELECT m.group_id FROM group_members m WHERE m.user_id LIKE ? ESCAPE '\\')", ['u%'], 'Group'],
  ])('%s', (filter, where, params, rt = 'User') => {
    expect(pg(filter, rt as 'User' | 'Group')).toEqual({ where, params });
  });

  test('rejects what SQLite rejects', () => {
    for (const f of ['bogus eq "x"', 'name eq "x"', 'active lt true', 'meta.created co "2020"', 'title eq 1']) {
      expect(() => pg(f)).toThrow(InvalidQueryError);
    }
  });

  test('text[] paths quote every key, so quotes, braces, commas and backslashes stay inside one key', () => {
    expect(pgPath(['urn:a:b:2.0:User', 'x.y'])).toBe(`'{"urn:a:b:2.0:User","x.y"}'`);
    expect(pgPath(['a,b', '{c}', 'd"e', 'f\\g', "h'i", 'NULL', ''])).toBe(`'{"a,b","{c}","d\\"e","f\\\\g","h''i","NULL",""}'`);
  });

  test('sorts: NULLs first ascending and last descending, text in byte order, ASCII case folded where not caseExact', () => {
    expect(compileSort('User', undefined, undefined, 'postgres')).toBe('ORDER BY u.seq');
    expect(compileSort('User', 'userName', 'descending', 'postgres')).toBe('ORDER BY nocase(u.user_name) COLLATE "C" DESC NULLS LAST, u.seq');
    expect(compileSort('User', 'externalId', 'ascending', 'postgres')).toBe('ORDER BY u.external_id COLLATE "C" ASC NULLS FIRST, u.seq');
    expect(compileSort('User', 'active', 'ascending', 'postgres')).toBe('ORDER BY u.active ASC NULLS FIRST, u.seq');
    expect(compileSort('Group', 'displayName', undefined, 'postgres')).toBe('ORDER BY nocase(g.display_name) COLLATE "C" ASC NULLS FIRST, g.seq');
    expect(compileSort('User', 'name.familyName', 'ascending', 'postgres')).toBe(
      `ORDER BY nocase((CASE WHEN json_typeof(${J('{"name","familyName"}')}) IS NOT DISTINCT FROM 'string' THEN ${T('{"name","familyName"}')} END)) ` +
        `COLLATE "C" ASC NULLS FIRST, u.seq`,
    );
    expect(compileSort('User', 'emails', 'descending', 'postgres')).toBe(
      `ORDER BY nocase((CASE WHEN json_typeof(${J('{"emails"}')}) IS NOT DISTINCT FROM 'array' THEN (SELECT (CASE WHEN json_typeof(e.value #> '{"value"}') ` +
        `IS NOT DISTINCT FROM 'string' THEN (e.value #>> '{"value"}') END) FROM ${ELEMENTS} WHERE json_typeof(e.value) = 'object' ` +
        `ORDER BY (e.value #> '{"primary"}')::text IS NOT DISTINCT FROM 'true' DESC, e.key LIMIT 1) END)) COLLATE "C" DESC NULLS LAST, u.seq`,
    );
    expect(() => compileSort('User', 'name', undefined, 'postgres')).toThrow(InvalidQueryError);
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
