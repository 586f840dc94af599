import { z } from 'zod';
import { redactUrl } from '../core/redact';

/** A PostgreSQL schema name we create and use unquoted: lowercase, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1). */
export const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** The scheme of a URL ("mysql" of "mysql://…"), for a message that must not echo the rest: it may hold a password. */
const schemeOf = (u: string): string => /^([a-z][a-z0-9+.-]*):\/\//i.exec(u)?.[1] ?? '';

/**
 * A PostgreSQL connection string (postgres:// or postgresql://, libpq's URI form). It may carry a password:
 * messages never echo it, and redactUrl masks it wherever it is shown.
 */
const postgresUrl = z.string().superRefine((u, ctx) => {
  const scheme = schemeOf(u);
  if (!/^postgres(ql)?$/i.test(scheme)) {
    ctx.addIssue({
      code: 'custom',
      message:
        'must be a PostgreSQL connection string (DATABASE_URL or database.url) starting with postgres:// or postgresql://, ' +
        `e.g. postgres://scim:PASSWORD@db.example.com:5432/airflow (${scheme ? `got ${scheme}://` : 'got no scheme'}); unset it to use SQLite (DATABASE_PATH)`,
    });
    return;
  }
  try {
    if (!new URL(u).hostname && !/[?&]host=/.test(u)) throw new Error('no host');
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: 'is not a valid PostgreSQL URL (DATABASE_URL or database.url): it needs a host, and special characters in the user or password must be percent-encoded (@ as %40, / as %2F, : as %3A)',
    });
  }
});

export const databaseSchema = z
  .object({
    /** SQLite file (DATABASE_PATH). Ignored when url is set. */
    path: z.string().min(1).default('./data/airflow-scim.db'),
    /**
     * PostgreSQL connection string (DATABASE_URL). When set, PostgreSQL is the store and path is ignored; several
     * replicas may then share it (one elected reconciler, through a lease in the database). null or absent: SQLite.
     */
    url: z.preprocess((v) => (v === null ? undefined : v), postgresUrl.optional()),
    /** PostgreSQL only (DATABASE_SCHEMA): the schema that holds our tables; created if missing. */
    schema: z
      .string()
      .regex(SQL_IDENTIFIER, 'must be a lowercase SQL identifier: a-z, 0-9 and _, not starting with a digit, at most 63 characters')
      .default('airflow_scim'),
    /** PostgreSQL only: connections per process. Several replicas each open this many. */
    poolSize: z.number().int().min(1).max(100).default(10),
  })
  .strict()
  .prefault({});

export type DatabaseConfig = z.output<typeof databaseSchema>;

/** "postgres://scim:***@db/airflow (schema airflow_scim)" or the SQLite file: which database a message is about. */
export function describeDatabase(db: DatabaseConfig, resolvePath: (p: string) => string = (p) => p): string {
  if (db.url) return `${redactUrl(db.url)} (schema ${db.schema})`;
  return db.path === ':memory:' ? ':memory:' : resolvePath(db.path);
}
