/** SCIM bearer tokens: only a SHA-256 hash is stored; the secret is printed once at creation. */
export interface TokenRecord {
  name: string;
  hash: string;
  created: string;
  expiresAt?: string;
  lastUsed?: string;
  revokedAt?: string;
}

export interface TokenStore {
  /** Throws TokenExistsError when an unrevoked token of that name exists. */
  create(rec: { name: string; hash: string; created: string; expiresAt?: string }): Promise<void>;
  list(): Promise<TokenRecord[]>;
  /** Marks revoked; returns false when no such active token. */
  revoke(name: string, at: string): Promise<boolean>;
  /** Every token that is neither revoked nor expired at `at`. */
  active(at: string): Promise<TokenRecord[]>;
  touch(name: string, at: string): Promise<void>;
}

export class TokenExistsError extends Error {
  constructor(readonly tokenName: string) {
    super(`a token named "${tokenName}" already exists; revoke it first or pick another name`);
    this.name = 'TokenExistsError';
  }
}
