import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock';
import { TokenExistsError, type TokenRecord, type TokenStore } from '../store/token-types';

/** The name under which the bootstrap SCIM_TOKEN authenticates (audit actor). */
export const BOOTSTRAP_TOKEN_NAME = 'bootstrap';
/** last-used is written at most this often per token, so auth does not write on every request. */
const TOUCH_INTERVAL_MS = 60_000;

export type TokenStatus = 'active' | 'expired' | 'revoked';
export type VerifyResult = { name: string } | { error: 'invalid' | 'expired' | 'revoked' };
export interface CreatedToken {
  name: string;
  /** Shown once; only its SHA-256 is stored. */
  secret: string;
  expiresAt?: string;
}
/** A stored token with its status (hash is the SHA-256 of a 256-bit secret; callers usually drop it). */
export type TokenInfo = TokenRecord & { status: TokenStatus };

/** One-shot digest (crypto.hash: no Hash object per request). */
const sha256 = (s: string): Buffer => hash('sha256', s, 'buffer');

/**
 * SCIM bearer tokens (RFC 6750 via RFC 7644 §2). Several may be active at once, so a rotation can overlap:
 * create the new one, switch the IdP, revoke the old one.
 */
/** How long verify() trusts its copy of the token table: another process's create or revoke shows within this. */
export const TOKEN_CACHE_MS = 1000;

export class TokenService {
  private readonly bootstrapHash: Buffer | null;
  private readonly lastTouch = new Map<string, number>();
  /**
   * Every token record, read at most once per TOKEN_CACHE_MS; this process's own create/revoke drops it at once.
   * It holds the read itself, so requests arriving while it runs share one read; a failed read is not kept.
   * Beside the records: their digests decoded once, so verify() allocates nothing per request.
   */
  private cache?: { tokens: Promise<CachedTokens>; readAtMs: number };

  constructor(
    private readonly store: TokenStore,
    private readonly clock: Clock,
    bootstrapToken: string | null,
  ) {
    this.bootstrapHash = bootstrapToken ? sha256(bootstrapToken) : null;
  }

  async create(name: string, expiresInMs?: number): Promise<CreatedToken> {
    const trimmed = name.trim();
    if (!trimmed) throw new Error('a token needs a name');
    if (trimmed.toLowerCase() === BOOTSTRAP_TOKEN_NAME) throw new TokenExistsError(trimmed);
    if (expiresInMs !== undefined && !(expiresInMs > 0)) throw new Error('a token expiry must be positive');
    const now = this.clock.now();
    const secret = 'scim_' + randomBytes(32).toString('base64url');
    const expiresAt = expiresInMs === undefined ? undefined : new Date(now.getTime() + expiresInMs).toISOString();
    await this.store.create({ name: trimmed, hash: sha256(secret).toString('hex'), created: now.toISOString(), ...(expiresAt ? { expiresAt } : {}) });
    this.cache = undefined;
    return { name: trimmed, secret, ...(expiresAt ? { expiresAt } : {}) };
  }

  async list(): Promise<TokenInfo[]> {
    const now = this.clock.now().toISOString();
    return (await this.store.list()).map((rec) => ({ ...rec, status: statusOf(rec, now) }));
  }

  /** false when there is no active token of that name. */
  async revoke(name: string): Promise<boolean> {
    this.lastTouch.delete(name);
    const revoked = await this.store.revoke(name, this.clock.now().toISOString());
    this.cache = undefined;
    return revoked;
  }

  /**
   * Constant-time check: the presented secret's digest is compared with timingSafeEqual against every token that
   * is active now and the bootstrap token, without stopping at the first match. Token records and their decoded
   * digests come from memory (no database read per request); last-used is written at most once a minute.
   */
  async verify(presented: string): Promise<VerifyResult> {
    const ms = this.clock.now().getTime();
    const digest = sha256(presented);
    let match: string | undefined;
    const { records, digests, untilMs } = await this.tokens(ms);
    for (let i = 0; i < records.length; i++) {
      if (timingSafeEqual(digest, digests[i]) && untilMs[i] > ms && match === undefined) match = records[i].name;
    }
    const bootstrap = this.bootstrapHash !== null && timingSafeEqual(digest, this.bootstrapHash);
    if (match !== undefined) {
      await this.touch(match, ms);
      return { name: match };
    }
    if (bootstrap) return { name: BOOTSTRAP_TOKEN_NAME };
    // Not active: say why (for metrics and the admin log only; the client sees one "invalid").
    const hex = digest.toString('hex');
    const known = records.filter((r) => r.hash === hex);
    if (known.some((r) => r.revokedAt)) return { error: 'revoked' };
    if (known.length) return { error: 'expired' };
    return { error: 'invalid' };
  }

  /** Token records from memory, read again from the store once TOKEN_CACHE_MS has passed (no database read per request). */
  private tokens(ms: number): Promise<CachedTokens> {
    if (!this.cache || ms - this.cache.readAtMs >= TOKEN_CACHE_MS || ms < this.cache.readAtMs) {
      const cache = { tokens: this.store.list().then(decode), readAtMs: ms };
      this.cache = cache;
      cache.tokens.catch(() => {
        if (this.cache === cache) this.cache = undefined; // the caller sees the error; the next request reads again
      });
    }
    return this.cache.tokens;
  }

  private async touch(name: string, ms: number): Promise<void> {
    const last = this.lastTouch.get(name);
    if (last !== undefined && ms - last < TOUCH_INTERVAL_MS) return;
    this.lastTouch.set(name, ms);
    await this.store.touch(name, new Date(ms).toISOString());
  }
}

/** Token records, each SHA-256 digest as 32 bytes, and until when (epoch ms) each one authenticates. */
interface CachedTokens {
  records: TokenRecord[];
  digests: Buffer[];
  /** -Infinity when revoked or its stored hash is not a SHA-256; Infinity when it never expires. */
  untilMs: number[];
}

function decode(records: TokenRecord[]): CachedTokens {
  const digests = records.map((r) => Buffer.from(r.hash, 'hex'));
  return {
    records,
    digests: digests.map((d) => (d.length === 32 ? d : Buffer.alloc(32))),
    untilMs: records.map((r, i) => (r.revokedAt || digests[i].length !== 32 ? -Infinity : r.expiresAt ? Date.parse(r.expiresAt) : Infinity)),
  };
}

function statusOf(rec: TokenRecord, now: string): TokenStatus {
  if (rec.revokedAt) return 'revoked';
  if (rec.expiresAt && rec.expiresAt <= now) return 'expired';
  return 'active';
}

/** status warns this long before a token expires, and when a token has not been used for this long (issue 12). */
export const TOKEN_EXPIRY_WARNING_DAYS = 14;
export const TOKEN_IDLE_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

/** Active tokens close to their expiry or unused for long: what an operator should rotate or revoke (pure). */
export function tokenWarnings(tokens: ReadonlyArray<Pick<TokenRecord, 'name' | 'created' | 'expiresAt' | 'lastUsed' | 'revokedAt'>>, now: Date): string[] {
  const at = now.toISOString();
  const out: string[] = [];
  for (const t of tokens) {
    if (statusOf(t as TokenRecord, at) !== 'active') continue;
    if (t.expiresAt) {
      const days = Math.ceil((Date.parse(t.expiresAt) - now.getTime()) / DAY_MS);
      if (days <= TOKEN_EXPIRY_WARNING_DAYS) out.push(`token "${t.name}" expires in ${days} day(s) (${t.expiresAt}): create its successor, switch the IdP to it, then revoke this one`);
    }
    const since = t.lastUsed ?? t.created;
    const idle = Math.floor((now.getTime() - Date.parse(since)) / DAY_MS);
    if (idle >= TOKEN_IDLE_WARNING_DAYS) out.push(`token "${t.name}" has not been used for ${idle} days (${t.lastUsed ? `last used ${t.lastUsed}` : 'never used'}): revoke it if no IdP needs it`);
  }
  return out;
}
