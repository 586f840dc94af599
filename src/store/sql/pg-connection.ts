/**
 * Connecting to PostgreSQL: the URL (and what may be said of it in messages: never the password), the pool with
 * its per-connection settings, the advisory lock keys, and connection errors that name the server.
 */
import crypto from 'node:crypto';
import pg from 'pg';

export const DEFAULT_SCHEMA = 'airflow_scim';
export const DEFAULT_POOL_SIZE = 10;

export interface PgTarget {
  /** The URL as given, less its `options` parameter (merged into the pool's options instead). */
  connectionString: string;
  /** The URL's own `options` (for example `-c statement_timeout=5s`), kept beside our search_path. */
  urlOptions?: string;
  /** host:port/database, for messages. */
  where: string;
  /** The URL without its password. */
  describe: string;
}

export function parsePgUrl(url: string): PgTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('the PostgreSQL URL does not parse (expected postgresql://user:password@host:port/database)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new Error(`the PostgreSQL URL must start with postgresql:// or postgres://, not ${u.protocol}//`);
  }
  const urlOptions = u.searchParams.get('options') ?? undefined;
  const rest = new URL(url);
  rest.searchParams.delete('options');
  const host = u.hostname || u.searchParams.get('host') || 'localhost';
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || '(default)';
  const shown = new URL(url);
  shown.password = '';
  for (const secret of ['password', 'sslpassword']) shown.searchParams.delete(secret);
  return {
    connectionString: rest.toString(),
    urlOptions,
    where: `${host}:${u.port || '5432'}/${database}`,
    describe: shown.toString(),
  };
}

/** Schema names are spliced into SQL and into search_path: plain lower-case identifiers only. */
export function checkSchemaName(schema: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`PostgreSQL schema name "${schema}" must be a lower-case identifier: a-z, 0-9 and _, at most 63 characters, not starting with a digit`);
  }
}

/**
 * A fixed signed 64-bit advisory lock key for one purpose in one schema (advisory locks are per database, so two
 * installations in two schemas of one database do not block each other). As a decimal string: pass it as $n::bigint.
 */
export function advisoryLockKey(purpose: 'journal' | 'migrate', schema: string): string {
  const digest = crypto.createHash('sha256').update(`airflow-scim-sync:${purpose}:${schema}`).digest();
  return digest.readBigInt64BE(0).toString();
}

const INT8_OID = 20;

/** int8 (BIGINT, count(*)) as a JS number, as SQLite gives it; a value past 2^53 throws rather than rounds. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`PostgreSQL bigint ${text} does not fit a JavaScript number`);
  return n;
}

/** This pool's type parsers: pg's defaults, except int8. Set per pool, not on pg.types, so other users of pg keep theirs. */
const TYPES = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format ?? 'text'),
} as pg.CustomTypesConfig;

export interface PoolOptions {
  poolSize?: number;
  /** Milliseconds to wait for a connection (a new one, or a free one from a busy pool) before failing. */
  connectTimeoutMs?: number;
  /** An idle pooled connection failed (the server restarted, say): the pool drops it; this hears about it. */
  onIdleError?: (e: Error) => void;
}

/** Every connection starts with search_path = the schema (a startup option: no extra round trip, no race). */
export function createPool(target: PgTarget, schema: string, opts: PoolOptions = {}): pg.Pool {
  checkSchemaName(schema);
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: opts.poolSize ?? DEFAULT_POOL_SIZE,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 15_000,
    options: [target.urlOptions, `-c search_path=${schema}`].filter(Boolean).join(' '),
    application_name: 'airflow-scim-sync',
    types: TYPES,
  });
  // Without a listener an idle connection's error would crash the process (node-postgres README, "error" event).
  pool.on('error', (e) => opts.onIdleError?.(e));
  return pool;
}

/** A failure to get a connection, naming the server (host:port/database) and never the password. */
export class PgConnectionError extends Error {
  readonly code?: string;
  constructor(where: string, cause: unknown) {
    super(`cannot connect to PostgreSQL at ${where}: ${reason(cause)}`, { cause });
    this.name = 'PgConnectionError';
    this.code = (cause as { code?: string } | undefined)?.code;
  }
}

/** Node reports a refused localhost (::1 and 127.0.0.1 both tried) as an AggregateError with an empty message. */
function reason(e: unknown): string {
  if (e instanceof AggregateError && !e.message) return e.errors.map(reason).join('; ');
  return e instanceof Error ? e.message || e.name : String(e);
}

export async function connect(pool: pg.Pool, target: PgTarget): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (e) {
    throw new PgConnectionError(target.where, e);
  }
}
