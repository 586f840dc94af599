import { numberPlaceholders } from '../../src/store/sql/pg-placeholders';

describe("numberPlaceholders: '?' to $1..$n", () => {
  test.each([
    ['no placeholder', 'SELECT 1', 'SELECT 1', 0],
    ['in order', 'SELECT * FROM t WHERE a = ? AND b IN (?, ?)', 'SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)', 3],
    ['next to other text', 'VALUES (?,?),(?)', 'VALUES ($1,$2),($3)', 3],
    ['string literal', "SELECT '?' , ?", "SELECT '?' , $1", 1],
    ["doubled quote inside a string", "SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1],
    ['empty string', "SELECT '', ?", "SELECT '', $1", 1],
    ['escape string: \\\' does not close it', "SELECT E'a\\'?', ?", "SELECT E'a\\'?', $1", 1],
    ['lower-case escape string', "SELECT e'\\\\', ?", "SELECT e'\\\\', $1", 1],
    ['an identifier ending in e is not an escape string', "SELECT name'x', ?", "SELECT name'x', $1", 1],
    ['backslash in a standard string is plain text', "SELECT 'a\\', ?", "SELECT 'a\\', $1", 1],
    ['quoted identifier', 'SELECT "what?" FROM t WHERE x = ?', 'SELECT "what?" FROM t WHERE x = $1', 1],
    ['doubled quote in an identifier', 'SELECT "a""?" , ?', 'SELECT "a""?" , $1', 1],
    ['line comment', 'SELECT ? -- why?\n, ?', 'SELECT $1 -- why?\n, $2', 2],
    ['line comment at the end', 'SELECT ? -- why?', 'SELECT $1 -- why?', 1],
    ['block comment', 'SELECT /* ? */ ?', 'SELECT /* ? */ $1', 1],
    ['nested block comment', 'SELECT /* a /* ? */ ? */ ?', 'SELECT /* a /* ? */ ? */ $1', 1],
    ['dollar quoting', 'SELECT $$ ? $$, ?', 'SELECT $$ ? $$, $1', 1],
    ['tagged dollar quoting', 'SELECT $f$ $$ ? $f$, ?', 'SELECT $f$ $$ ? $f$, $1', 1],
    ['$ inside an identifier is not a quote', 'SELECT a$b$, ?', 'SELECT a$b$, $1', 1],
    ['minus minus inside a string', "SELECT '--', ?", "SELECT '--', $1", 1],
    ['a quote inside a comment', "SELECT ? -- it's\n, ?", "SELECT $1 -- it's\n, $2", 2],
    ['ten and more', Array(11).fill('?').join(','), Array.from({ length: 11 }, (_, i) => `$${i + 1}`).join(','), 11],
    ['unterminated string: left to PostgreSQL', "SELECT ?, 'abc ?", "SELECT $1, 'abc ?", 1],
  ])('%s', (_name, sql, text, count) => {
    expect(numberPlaceholders(sql)).toEqual({ text, count });
  });
});
