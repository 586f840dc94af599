/**
 * A token Airflow 3 accepts as its own (real-airflow.md §3): HS512 over the shared [api_auth] jwt_secret, with the
 * claims Airflow's JWTValidator requires (exp, iat, nbf; aud = [api_auth] jwt_audience; iss when jwt_issuer is
 * set) and FAB's subject, the user's numeric id (fab_auth_manager.serialize_user). RFC 7519 §4.1, RFC 7515 §3.
 */
import { createHmac, randomUUID } from 'node:crypto';

export interface SelfSignedToken {
  secret: string;
  /** The service account's FAB user id (`airflow users list`). */
  userId: string;
  audience: string;
  issuer?: string;
  lifetimeSeconds: number;
}

const b64url = (v: string | Buffer): string => Buffer.from(v).toString('base64url');

export function signAirflowJwt(opts: SelfSignedToken, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  // Airflow's own signer puts a kid in the header and its validator requires one; the secret has no key id.
  const header = { alg: 'HS512', kid: 'not-used', typ: 'JWT' };
  const claims: Record<string, unknown> = {
    sub: opts.userId, jti: randomUUID().replace(/-/g, ''), aud: opts.audience, nbf: iat, iat, exp: iat + opts.lifetimeSeconds,
  };
  if (opts.issuer) claims['iss'] = opts.issuer;
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${createHmac('sha512', opts.secret).update(input).digest('base64url')}`;
}
