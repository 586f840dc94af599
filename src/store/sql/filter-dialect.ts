import { dialects } from './dialect';
import type { Dialect } from './driver';

/**
 * Where SQLite and PostgreSQL differ in filter and sort SQL (filter-sql.ts), in one table beside dialect.ts; the
 * compiler itself is shared. Both must give the semantics of filter-attributes.ts: case-insensitive is ASCII-only
 * folding (SQLite NOCASE; PostgreSQL nocase()), text order is byte order (SQLite BINARY; PostgreSQL COLLATE "C"),
 * NULLs sort first ascending and last descending (SQLite's order), every predicate is two-valued.
 *
 * A `json` argument is an SQL expression holding JSON (a row's document or an array element); `keys` are object
 * keys from the schema catalogue, the only text inlined into SQL. Every '?' consumes one parameter.
 */
export interface FilterDialect {
  /** The document of row alias a as JSON. */
  doc(a: string): string;
  /** The JSON type of the value at keys, one of `types`, or NULL when there is none. */
  typeOf(json: string, keys: string[]): string;
  types: { text: string; array: string; object: string; null: string };
  /** Two-valued: the value at keys is the JSON literal true (or false). */
  isBool(json: string, keys: string[], v: boolean): string;
  /** The text of the JSON string at keys (where typeOf is text). */
  text(json: string, keys: string[]): string;
  /** Length of the array at keys (where typeOf is array). */
  arrayLength(json: string, keys: string[]): string;
  /** The object at keys has a member (where typeOf is object). */
  nonEmptyObject(json: string, keys: string[]): string;
  /** The elements of the array at keys as a table source e(value, key), key in array order; isObject tests e. */
  elements(json: string, keys: string[]): { from: string; isObject: string };
  /** Null-safe equality with a text literal (two-valued). */
  is(expr: string, literal: string): string;
  true: string;
  false: string;
  /** `expr rel ?` on text: ci ignores ASCII case; order is byte order. */
  compare(expr: string, ci: boolean, rel: '=' | '>' | '>=' | '<' | '<='): string;
  /** `expr` contains, starts or ends with v (co/sw/ew): the SQL with one '?' and its parameter. */
  match(expr: string, ci: boolean, v: string, anyBefore: boolean, anyAfter: boolean): { sql: string; param: string };
  /** `col = ?` ignoring ASCII case on a column whose index folds case (users.user_name, user_emails.value …). */
  indexedCiEq(col: string): string;
  /** An ORDER BY key for a text expression. */
  orderText(expr: string, ci: boolean): string;
  /** An ORDER BY key for a text column of users or groups (SQLite: the column's declared collation). */
  orderColumn(col: string, ci: boolean): string;
  /** After ASC/DESC: NULLs first ascending, last descending. */
  nulls(dir: 'ASC' | 'DESC'): string;
}

const sqlLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;
const likeEscape = (s: string) => s.replace(/[\\%_]/g, (ch) => '\\' + ch);
const globEscape = (s: string) => s.replace(/[*?[]/g, (ch) => `[${ch}]`);

/** SQLite JSON path with every key quoted: $."urn:...:User"."department" (URN keys contain ':' and '.'). */
export const sqlitePath = (keys: string[]) => sqlLiteral('$' + keys.map((k) => `."${k.replace(/"/g, '\\"')}"`).join(''));

/** PostgreSQL text[] literal for #> and #>>, every element quoted ("…", with \ and " escaped), so any key is safe. */
export const pgPath = (keys: string[]) => sqlLiteral('{' + keys.map((k) => `"${k.replace(/[\\"]/g, (ch) => '\\' + ch)}"`).join(',') + '}');

const sqlite: FilterDialect = {
  /**
   * A row stored before the body depth limit may nest deeper than SQLite's JSON parser allows (1,000 levels); it
   * then reads as '{}', so one row can never make every query fail. The API refuses such bodies now.
   */
  doc: (a) => `(CASE WHEN json_valid(${a}.doc) THEN ${a}.doc ELSE '{}' END)`,
  typeOf: (json, keys) => `json_type(${json}, ${sqlitePath(keys)})`,
  types: { text: 'text', array: 'array', object: 'object', null: 'null' },
  isBool: (json, keys, v) => `json_type(${json}, ${sqlitePath(keys)}) IS '${v}'`,
  text: (json, keys) => `json_extract(${json}, ${sqlitePath(keys)})`,
  arrayLength: (json, keys) => `json_array_length(${json}, ${sqlitePath(keys)})`,
  nonEmptyObject: (json, keys) => `json_extract(${json}, ${sqlitePath(keys)}) <> '{}'`,
  elements: (json, keys) => ({ from: `json_each(${json}, ${sqlitePath(keys)}) e`, isObject: `e.type = 'object'` }),
  is: (expr, literal) => `${expr} IS ${sqlLiteral(literal)}`,
  true: '1',
  false: '0',
  compare: (expr, ci, rel) => `${expr} ${rel} ?${ci ? ' COLLATE NOCASE' : ''}`,
  match: (expr, ci, v, before, after) =>
    ci
      ? { sql: `${expr} LIKE ? ESCAPE '\\'`, param: `${before ? '%' : ''}${likeEscape(v)}${after ? '%' : ''}` }
      : { sql: `${expr} GLOB ?`, param: `${before ? '*' : ''}${globEscape(v)}${after ? '*' : ''}` },
  indexedCiEq: (col) => `${col} = ?`, // the column is declared COLLATE NOCASE, and so is its index
  orderText: (expr, ci) => (ci ? `${expr} COLLATE NOCASE` : expr),
  orderColumn: (col) => col,
  nulls: () => '',
};

/** PostgreSQL's json (not jsonb): the document is TEXT, read with ::json; #> gives NULL where a key is missing. */
const at = (json: string, keys: string[]) => `${json} #> ${pgPath(keys)}`;
/**
 * In the document's JSON text, a \u0000 escape or an unpaired surrogate escape (JSON.stringify writes pairs as UTF-8,
 * so any \ud800-\udfff escape is unpaired) whose backslash is not itself escaped. PostgreSQL text cannot hold either,
 * and #> and #>> then refuse the whole document, whichever key is asked for.
 */
const PG_UNREADABLE = String.raw`(^|[^\\])(\\\\)*\\u(0000|d[89a-f])`;
const nocase = dialects.postgres.fold;
const C = (expr: string) => `${expr} COLLATE "C"`;

const postgres: FilterDialect = {
  /**
   * A document PostgreSQL cannot read (PG_UNREADABLE) reads as '{}', so one row can never make every query fail. The
   * LIKE first (a backslash-u anywhere) keeps the cost off the usual document, which has none.
   */
  doc: (a) => String.raw`(CASE WHEN ${a}.doc LIKE '%\\u%' AND ${a}.doc ~* '${PG_UNREADABLE}' THEN '{}' ELSE ${a}.doc END)::json`,
  typeOf: (json, keys) => `json_typeof(${at(json, keys)})`,
  types: { text: 'string', array: 'array', object: 'object', null: 'null' },
  // json keeps the literal's text: a boolean reads as true or false, a string "true" as "true" with its quotes.
  isBool: (json, keys, v) => `(${at(json, keys)})::text IS NOT DISTINCT FROM '${v}'`,
  text: (json, keys) => `(${json} #>> ${pgPath(keys)})`, // parenthesised: COLLATE binds tighter than #>>
  arrayLength: (json, keys) => `json_array_length(${at(json, keys)})`,
  // On the text, not ::jsonb, which refuses a \u0000 anywhere inside.
  nonEmptyObject: (json, keys) => `(${at(json, keys)})::text !~ '^[{][[:space:]]*[}]$'`,
  // json_array_elements raises on a non-array, and AND does not promise to test the type first: feed it NULL instead.
  elements: (json, keys) => ({
    from: `json_array_elements(CASE json_typeof(${at(json, keys)}) WHEN 'array' THEN ${at(json, keys)} END) WITH ORDINALITY AS e(value, key)`,
    isObject: `json_typeof(e.value) = 'object'`,
  }),
  is: (expr, literal) => `${expr} IS NOT DISTINCT FROM ${sqlLiteral(literal)}`,
  true: 'TRUE',
  false: 'FALSE',
  // Equality needs no collation (deterministic collations compare bytes), and without one the indexes serve it.
  compare: (expr, ci, rel) => {
    const [l, r] = ci ? [nocase(expr), nocase('?')] : [expr, '?'];
    return rel === '=' ? `${l} = ${r}` : `${C(l)} ${rel} ${r}`;
  },
  match: (expr, ci, v, before, after) => ({
    sql: ci ? `${nocase(expr)} LIKE ${nocase('?')} ESCAPE '\\'` : `${expr} LIKE ? ESCAPE '\\'`,
    param: `${before ? '%' : ''}${likeEscape(v)}${after ? '%' : ''}`,
  }),
  indexedCiEq: dialects.postgres.ciEq,
  orderText: (expr, ci) => C(ci ? nocase(expr) : expr),
  orderColumn: (col, ci) => C(ci ? nocase(col) : col),
  nulls: (dir) => (dir === 'ASC' ? ' NULLS FIRST' : ' NULLS LAST'),
};

export const filterDialects: Record<Dialect, FilterDialect> = { sqlite, postgres };
