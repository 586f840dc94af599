import type { Dialect } from './driver';

/**
 * Where SQLite and PostgreSQL SQL differ, in one table (dex's storage/sql/sqlite.go beside postgres.go). Everything
 * else in this folder is the same SQL for both: ON CONFLICT, RETURNING, TEXT timestamps, 0/1 integers.
 * Case-insensitive text is SQLite's NOCASE (ASCII A–Z folded); PostgreSQL has the same fold as the schema's
 * nocase() function (pg-migrations.ts), with unique and lookup indexes on nocase(column).
 */
export interface SqlDialect {
  /** `col = ?` ignoring ASCII case, served by the column's index. */
  ciEq(col: string): string;
  /** An ORDER BY key that ignores ASCII case, in byte order (SQLite NOCASE) whatever the database's locale. */
  ciOrder(col: string): string;
  /** ASCII lower-casing of an expression. */
  fold(expr: string): string;
  /** The ON CONFLICT target of a column unique ignoring ASCII case (SQLite: its NOCASE key; PostgreSQL: the nocase() index). */
  ciConflict(col: string): string;
  /** A table source of the elements of one JSON array parameter (a '?'), as alias(value, key) in array order. */
  jsonIds(alias: string): string;
  /** The tokens table's insertion order: SQLite's rowid, PostgreSQL's identity column. */
  tokenOrder: string;
}

const sqlite: SqlDialect = {
  ciEq: (col) => `${col} = ? COLLATE NOCASE`,
  ciOrder: (col) => `${col} COLLATE NOCASE`,
  fold: (expr) => `lower(${expr})`,
  ciConflict: (col) => `(${col})`,
  jsonIds: (alias) => `json_each(?) ${alias}`,
  tokenOrder: 'rowid',
};

const postgres: SqlDialect = {
  ciEq: (col) => `nocase(${col}) = nocase(?)`,
  ciOrder: (col) => `nocase(${col}) COLLATE "C"`,
  fold: (expr) => `nocase(${expr})`,
  ciConflict: (col) => `(nocase(${col}))`,
  jsonIds: (alias) => `json_array_elements_text(?::json) WITH ORDINALITY AS ${alias}(value, key)`,
  tokenOrder: 'id',
};

export const dialects: Record<Dialect, SqlDialect> = { sqlite, postgres };
