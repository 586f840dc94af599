import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** HS512 JWTs like Airflow 3's `[api_auth] jwt_secret` tokens (doc §2.8: claims jti, iss, aud, sub, iat, nbf, exp). */

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

export interface JwtClaims {
  jti: string;
  iss?: string;
  aud: string;
  sub: string;
  iat: number;
  nbf: number;
  exp: number;
}

export class JwtSigner {
  private secret: Buffer;

  /** secret: a fixed [api_auth] jwt_secret; without it a random one per process, as Airflow makes when unset. */
  constructor(
    private ttlSeconds: number,
    private readonly now: () => number = () => Date.now(),
    secret?: string,
  ) {
    this.secret = secret ? Buffer.from(secret) : randomBytes(32);
  }

  sign(sub: string): string {
    const iat = Math.floor(this.now() / 1000);
    const claims: JwtClaims = { jti: randomUUID(), aud: 'apache-airflow', sub, iat, nbf: iat, exp: iat + this.ttlSeconds };
    const head = b64url(JSON.stringify({ alg: 'HS512', kid: 'not-used', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    return `${head}.${body}.${this.mac(`${head}.${body}`)}`;
  }

  /** The claims, or why the token is refused. */
  verify(token: string): { ok: true; claims: JwtClaims } | { ok: false; reason: 'invalid' | 'expired' } {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'invalid' };
    const [head, body, sig] = parts as [string, string, string];
    const want = Buffer.from(this.mac(`${head}.${body}`));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: 'invalid' };
    let claims: JwtClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as JwtClaims;
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    if (claims.aud !== 'apache-airflow' || typeof claims.nbf !== 'number' || typeof claims.iat !== 'number') return { ok: false, reason: 'invalid' };
    if (typeof claims.exp !== 'number' || claims.exp <= Math.floor(this.now() / 1000)) return { ok: false, reason: 'expired' };
    return { ok: true, claims };
  }

  /** New secret: every issued token stops verifying (like a rotated jwt_secret). */
  rotate(): void {
    this.secret = randomBytes(32);
  }

  setTtl(seconds: number): void {
    this.ttlSeconds = seconds;
  }

  private mac(input: string): string {
    return createHmac('sha512', this.secret).update(input).digest('base64url');
  }
}
