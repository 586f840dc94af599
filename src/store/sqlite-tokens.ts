import type Database from 'better-sqlite3';
import type { Db } from './database';
import { TokenExistsError, type TokenRecord, type TokenStore } from './token-types';

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

/** SCIM bearer tokens in the `tokens` table (hashes only); one unrevoked token per name. */
export class SqliteTokenStore implements TokenStore {
  private readonly s: Record<'insert' | 'list' | 'revoke' | 'active' | 'touch' | 'byName', Database.Statement>;

  constructor(private readonly db: Db) {
    this.s = {
      insert: db.prepare('INSERT INTO tokens (name, hash, created, expires_at) VALUES (?, ?, ?, ?)'),
      list: db.prepare('SELECT * FROM tokens ORDER BY rowid'),
      byName: db.prepare('SELECT 1 FROM tokens WHERE name = ? AND revoked_at IS NULL'),
      revoke: db.prepare('UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL'),
      active: db.prepare('SELECT * FROM tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY rowid'),
      touch: db.prepare('UPDATE tokens SET last_used = ? WHERE name = ? AND revoked_at IS NULL'),
    };
  }

  async create(rec: { name: string; hash: string; created: string; expiresAt?: string }): Promise<void> {
    this.db.transaction(() => {
      if (this.s.byName.get(rec.name)) throw new TokenExistsError(rec.name);
      try {
        this.s.insert.run(rec.name, rec.hash, rec.created, rec.expiresAt ?? null);
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new TokenExistsError(rec.name);
        throw e;
      }
    })();
  }

  async list(): Promise<TokenRecord[]> {
    return (this.s.list.all() as Row[]).map(toRecord);
  }

  async revoke(name: string, at: string): Promise<boolean> {
    return this.s.revoke.run(at, name).changes > 0;
  }

  async active(at: string): Promise<TokenRecord[]> {
    return (this.s.active.all(at) as Row[]).map(toRecord);
  }

  async touch(name: string, at: string): Promise<void> {
    this.s.touch.run(at, name);
  }
}
