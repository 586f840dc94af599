import { TokenExistsError, type TokenRecord, type TokenStore } from './token-types';

/** In-memory TokenStore with SqlTokenStore's behaviour. */
export class MemoryTokenStore implements TokenStore {
  private readonly tokens: TokenRecord[] = [];

  async create(rec: { name: string; hash: string; created: string; expiresAt?: string }): Promise<void> {
    if (this.tokens.some((t) => t.name === rec.name && t.revokedAt === undefined)) throw new TokenExistsError(rec.name);
    if (this.tokens.some((t) => t.hash === rec.hash)) throw new TokenExistsError(rec.name);
    this.tokens.push({ name: rec.name, hash: rec.hash, created: rec.created, ...(rec.expiresAt !== undefined ? { expiresAt: rec.expiresAt } : {}) });
  }

  async list(): Promise<TokenRecord[]> {
    return this.tokens.map((t) => ({ ...t }));
  }

  async revoke(name: string, at: string): Promise<boolean> {
    const t = this.live(name);
    if (!t) return false;
    t.revokedAt = at;
    return true;
  }

  async active(at: string): Promise<TokenRecord[]> {
    return this.tokens.filter((t) => t.revokedAt === undefined && (t.expiresAt === undefined || t.expiresAt > at)).map((t) => ({ ...t }));
  }

  async touch(name: string, at: string): Promise<void> {
    const t = this.live(name);
    if (t) t.lastUsed = at;
  }

  private live(name: string): TokenRecord | undefined {
    return this.tokens.find((t) => t.name === name && t.revokedAt === undefined);
  }
}
