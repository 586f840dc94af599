import type { RequestHandler } from 'express';
import type { Clock } from '../core/clock';
import { ScimError } from './errors';
import type { TokenService } from './tokens';

export type AuthFailureReason = 'missing' | 'invalid' | 'expired' | 'revoked' | 'rate-limited';

export interface AuthOptions {
  tokens: TokenService;
  clock: Clock;
  /** Failed attempts allowed per client address within `window` ms; further failures get 429 (valid tokens never do). */
  authFailures: { limit: number; window: number };
  onAuthFailure?: (reason: AuthFailureReason) => void;
}

const CHALLENGE = 'Bearer realm="airflow-scim"';
/** Bound on tracked addresses, so a spray of spoofed sources cannot grow memory without limit. */
const MAX_TRACKED = 10_000;

/** The token from `Authorization: Bearer <t>`, the bare `Authorization: <t>` (Okta header mode) or Basic's password. */
export function presentedToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const value = header.trim();
  const m = /^bearer\s+(.+)$/i.exec(value);
  if (m) return m[1].trim() || undefined;
  // Basic (Okta AIW test apps): the token is the password.
  const basic = /^basic\s+(.+)$/i.exec(value);
  if (basic) {
    const decoded = Buffer.from(basic[1].trim(), 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1) || value;
  }
  return value || undefined; // the bare token; any other scheme simply fails verification
}

/**
 * Sliding-window failure counter per client address. Bounded: at most `maxTracked` addresses (least recently failed
 * dropped first) and `limit` timestamps each, so a spray of addresses or failures cannot grow memory.
 */
export class FailureWindow {
  private readonly hits = new Map<string, number[]>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxTracked = MAX_TRACKED,
  ) {}

  /** Seconds until the address may try again, or 0 when it is not blocked. */
  retryAfter(key: string, now: number): number {
    const list = this.prune(key, now);
    if (list.length < this.limit) return 0;
    return Math.max(1, Math.ceil((list[list.length - this.limit] + this.windowMs - now) / 1000));
  }

  fail(key: string, now: number): void {
    const list = this.prune(key, now);
    list.push(now);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
    this.hits.delete(key); // re-insert: Map order becomes least-recently-failed first
    this.hits.set(key, list);
    while (this.hits.size > this.maxTracked) this.hits.delete(this.hits.keys().next().value as string);
  }

  /** Addresses tracked (for tests and metrics). */
  size(): number {
    return this.hits.size;
  }

  /** Failures remembered for one address. */
  tracked(key: string): number {
    return this.hits.get(key)?.length ?? 0;
  }

  private prune(key: string, now: number): number[] {
    const list = (this.hits.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (list.length) this.hits.set(key, list);
    else this.hits.delete(key);
    return list;
  }
}

/**
 * Bearer-token authentication (RFC 7644 §2, RFC 6750 §3). The token is checked first: a valid token is never
 * refused, so clients sharing an address (everyone behind an ingress) cannot lock the IdP out. The failure limiter
 * only counts failures and answers 429 to further failures (RFC 6585 §4). The client learns only "missing" or
 * "invalid"; the precise reason goes to onAuthFailure. Sets res.locals.actor to the token name.
 */
export function createAuthMiddleware(opts: AuthOptions): RequestHandler {
  const failures = new FailureWindow(opts.authFailures.limit, opts.authFailures.window);
  // Express 5 passes a rejected promise (the token store failing) to the error handler: a 500, never a 401.
  return async (req, res, next) => {
    const token = presentedToken(req.get('authorization'));
    const result = token === undefined ? ({ error: 'missing' } as const) : await opts.tokens.verify(token);
    if ('name' in result) {
      res.locals.actor = result.name;
      return next();
    }
    const now = opts.clock.now().getTime();
    const key = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const wait = failures.retryAfter(key, now);
    failures.fail(key, now);
    if (wait > 0) {
      opts.onAuthFailure?.('rate-limited');
      return next(new ScimError(429, 'too many failed authentication attempts; retry later', undefined, { 'Retry-After': String(wait) }));
    }
    opts.onAuthFailure?.(result.error);
    if (result.error === 'missing') {
      return next(new ScimError(401, 'authentication required: send Authorization: Bearer <token>', undefined, { 'WWW-Authenticate': CHALLENGE }));
    }
    return next(new ScimError(401, 'invalid bearer token', undefined, { 'WWW-Authenticate': `${CHALLENGE}, error="invalid_token"` }));
  };
}
