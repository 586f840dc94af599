import { TokenExistsError, type TokenRecord, type TokenStore } from '../token-types';
import { dialects } from './dialect';
import { isUniqueViolation, type SqlDriver } from './driver';

interface Row {
  name: string;
  hash: string;
  created: string;
  expires_at: string | null;
  last_used: string | null;
  revoked_at: string | null;
}

const toRecord = (r: Row): TokenRecord => ({
  name: r.name,
  hash: r.hash,
  created: r.created,
  ...(r.expires_at !== null ? { expiresAt: r.expires_at } : {}),
  ...(r.last_used !== null ? { lastUsed: r.last_used } : {}),
  ...(r.revoked_at !== null ? { revokedAt: r.revoked_at } : {}),
});

/** SCIM bearer tokens in the `tokens` table (hashes only); one unrevoked token per name (a partial unique index). */
export class SqlTokenStore implements TokenStore {
  private readonly order: string;

  constructor(private readonly db: SqlDriver) {
    this.order = dialects[db.dialect].tokenOrder;
  }

  async create(rec: { name: string; hash: string; created: string; expiresAt?: string }): Promise<void> {
    try {
      await this.db.run('INSERT INTO tokens (name, hash, created, expires_at) VALUES (?, ?, ?, ?)', [rec.name, rec.hash, rec.created, rec.expiresAt ?? null]);
    } catch (e) {
      if (isUniqueViolation(e)) throw new TokenExistsError(rec.name);
      throw e;
    }
  }

  async list(): Promise<TokenRecord[]> {
    return (await this.db.all<Row>(`SELECT name, hash, created, expires_at, last_used, revoked_at FROM tokens ORDER BY ${this.order}`)).map(toRecord);
  }

  async revoke(name: string, at: string): Promise<boolean> {
    return (await this.db.run('UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL', [at, name])).changes > 0;
  }

  async active(at: string): Promise<TokenRecord[]> {
    const rows = await this.db.all<Row>(`SELECT name, hash, created, expires_at, last_used, revoked_at FROM tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY ${this.order}`, [at]);
    return rows.map(toRecord);
  }

  async touch(name: string, at: string): Promise<void> {
    await this.db.run('UPDATE tokens SET last_used = ? WHERE name = ? AND revoked_at IS NULL', [at, name]);
  }
}
