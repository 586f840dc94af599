/**
 * Airflow 3.x client (FAB auth manager, doc §2): JWT from POST /auth/token, cached and renewed before its
 * `exp` claim (no refresh for API clients, doc §2.8) and once when refused, then the call is retried once.
 * Refused means 401 (none or expired) or 403 "Invalid JWT token" (signed with another secret, e.g. after an
 * API-server restart without a fixed [api_auth] jwt_secret: real-airflow.md §2).
 * With a shared jwt_secret configured we sign our own token instead (real-airflow.md §3): FAB >= 3.11 issues no
 * token for a password unless AUTH_TYPE is AUTH_DB, so under SSO that is the only non-interactive way in.
 */
import { readCapabilities } from './capabilities';
import { errorDetail, notFab, toAirflowError } from './errors';
import { AirflowHttp, HttpFailure, type HttpMethod } from './http';
import { signAirflowJwt, type SelfSignedToken } from './jwt-sign';
import type { AirflowClient, AirflowInfo, AirflowRole, AirflowUser, AirflowUserChange, NewAirflowUser, Permission } from './types';
import { AirflowError } from './types';
import {
  fromWireRole, fromWireUser, newUserBody, pageAll, toWireActions, type AirflowClientOptions, type WireRole, type WireUser,
} from './wire';

export interface V3ClientOptions extends AirflowClientOptions {
  /** Renew this long before exp (default 60 s, at most a tenth of the lifetime). */
  renewBeforeMs?: number;
  knownVersion?: string;
  /** Sign tokens with Airflow's shared [api_auth] jwt_secret instead of asking POST /auth/token. */
  selfSigned?: SelfSignedToken;
}

/** FastAPI's detail for a token that fails signature or claim checks (security.py resolve_user_from_token). */
const INVALID_JWT = /invalid jwt token/i;

const BASE = '/auth/fab/v1';

/** The exp claim (seconds) of a JWT, unverified; undefined when absent or unreadable. */
export function jwtExpiry(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown; iat?: unknown };
    return typeof payload.exp === 'number' ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}

export class AirflowV3Client implements AirflowClient {
  private readonly http: AirflowHttp;
  private readonly now: () => number;
  private token?: { value: string; renewAt: number };
  private fetching?: Promise<string>;
  private version?: string;
  private infoCache?: Promise<AirflowInfo>;

  constructor(private readonly opts: V3ClientOptions) {
    this.http = opts.http ?? new AirflowHttp({ baseUrl: opts.url, timeoutMs: opts.timeoutMs, retries: opts.retries, concurrency: opts.concurrency, sleep: opts.sleep, random: opts.random, logger: opts.logger });
    this.now = opts.now ?? Date.now;
    this.version = opts.knownVersion;
  }

  get calls(): ReadonlyMap<string, number> {
    return this.http.calls;
  }

  async info(): Promise<AirflowInfo> {
    if (!this.version) {
      try {
        const v = await this.http.request<{ version?: string }>({ method: 'GET', path: '/api/v2/version', template: '/api/v2/version', accept: [401, 403, 404] });
        if (v.status === 200 && typeof v.data?.version === 'string') this.version = v.data.version;
      } catch (e) {
        throw e instanceof HttpFailure ? this.map(e) : e;
      }
    }
    await this.send('GET', `${BASE}/users`, `${BASE}/users`, { limit: 1 });
    // The FAB provider version decides the role PATCH behaviour and whether we support the server at all.
    const read = () => this.send('GET', '/api/v2/providers', '/api/v2/providers', { limit: 100 });
    this.infoCache ??= readCapabilities(read, { apiVersion: 3, version: this.version, basePath: BASE }, this.http.baseUrl, this.opts.logger).catch((e: unknown) => {
      this.infoCache = undefined;
      throw e;
    });
    return this.infoCache;
  }

  listUsers(): Promise<AirflowUser[]> {
    return pageAll<WireUser, AirflowUser>(this.send, `${BASE}/users`, 'users', fromWireUser, (u) => u.username.toLowerCase());
  }

  listRoles(): Promise<AirflowRole[]> {
    return pageAll<WireRole, AirflowRole>(this.send, `${BASE}/roles`, 'roles', fromWireRole, (r) => r.name);
  }

  async getUser(username: string): Promise<AirflowUser | null> {
    try {
      return fromWireUser(await this.send<WireUser>('GET', `${BASE}/users/${encodeURIComponent(username)}`, `${BASE}/users/{username}`));
    } catch (e) {
      if (e instanceof AirflowError && e.kind === 'not-found') return null;
      throw e;
    }
  }

  async createUser(user: NewAirflowUser): Promise<AirflowUser> {
    // 3.x requires a password and non-empty first/last names (doc §2.3, §6).
    const body = newUserBody({ ...user, firstName: user.firstName || user.username, lastName: user.lastName || '-' });
    return fromWireUser(await this.send<WireUser>('POST', `${BASE}/users`, `${BASE}/users`, undefined, body));
  }

  async updateUser(username: string, change: AirflowUserChange): Promise<AirflowUser> {
    const path = `${BASE}/users/${encodeURIComponent(username)}`;
    const template = `${BASE}/users/{username}`;
    const body: Record<string, unknown> = {};
    if (change.email !== undefined) body['email'] = change.email;
    if (change.firstName !== undefined) body['first_name'] = change.firstName || username;
    if (change.lastName !== undefined) body['last_name'] = change.lastName || '-';
    if (change.roles !== undefined) body['roles'] = change.roles.map((name) => ({ name }));
    if (change.password !== undefined) body['password'] = change.password;
    const fields = Object.keys(body);
    if (fields.length === 0) return fromWireUser(await this.send<WireUser>('GET', path, template));
    // UserPatchBody: all optional; update_mask is a comma-separated string (doc §2.5).
    return fromWireUser(await this.send<WireUser>('PATCH', path, template, { update_mask: fields.join(',') }, body));
  }

  async deleteUser(username: string): Promise<void> {
    await this.send('DELETE', `${BASE}/users/${encodeURIComponent(username)}`, `${BASE}/users/{username}`);
  }

  async createRole(role: AirflowRole): Promise<void> {
    // 3.x returns the created role (doc §2.5): no read-back needed.
    await this.send('POST', `${BASE}/roles`, `${BASE}/roles`, undefined, { name: role.name, actions: toWireActions(role.permissions) });
  }

  async setRolePermissions(name: string, permissions: Permission[]): Promise<void> {
    // FAB >= 3.8.1 makes the role hold exactly these; 3.3.0-3.8.0 add them (real-airflow.md §1).
    await this.send('PATCH', `${BASE}/roles/${encodeURIComponent(name)}`, `${BASE}/roles/{name}`, { update_mask: 'actions' }, {
      name,
      actions: toWireActions(permissions),
    });
  }

  /** A token valid for a while yet; one POST /auth/token at a time. */
  private async bearer(force = false): Promise<string> {
    if (!force && this.token && this.now() < this.token.renewAt) return this.token.value;
    this.fetching ??= this.fetchToken().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchToken(): Promise<string> {
    if (this.opts.selfSigned) return this.remember(signAirflowJwt(this.opts.selfSigned, this.now()));
    let res;
    try {
      res = await this.http.request<{ access_token?: string }>({
        method: 'POST', path: '/auth/token', template: '/auth/token',
        body: { username: this.opts.apiUser, password: this.opts.apiPassword },
      });
    } catch (e) {
      if (!(e instanceof HttpFailure)) throw e;
      if (e.status === 404) throw new AirflowError('unsupported', `Airflow at ${this.http.baseUrl} has no POST /auth/token (not Airflow 3?)`, 404, 'POST /auth/token');
      if (e.status === 401 || e.status === 400) throw await this.tokenRefused(e);
      throw this.map(e);
    }
    const value = res.data?.access_token;
    if (typeof value !== 'string') throw new AirflowError('server', 'POST /auth/token answered without access_token', res.status, 'POST /auth/token');
    return this.remember(value);
  }

  /**
   * POST /auth/token said no. SimpleAuthManager and the Keycloak auth manager serve that path too, without a FAB
   * users API (real-airflow.md §8): an unauthenticated FAB users read tells them apart (FAB: 401 JSON; others: 404,
   * or SimpleAuthManager's web UI page with 200, as 3.3.2 answers).
   */
  private async tokenRefused(f: HttpFailure): Promise<AirflowError> {
    try {
      const probe = await this.http.request({ method: 'GET', path: `${BASE}/users`, template: `${BASE}/users`, query: { limit: 1 }, accept: [401, 403, 404], noRetry: true });
      if (probe.status !== 401) return notFab(this.http.baseUrl, 'POST /auth/token');
    } catch {
      // keep the original answer
    }
    return new AirflowError(
      'auth',
      `Airflow refused a token for API user '${this.opts.apiUser}' (${f.status} on POST /auth/token: ${errorDetail(f.body) ?? 'no detail'}). Check AIRFLOW_USERNAME/AIRFLOW_PASSWORD; ` +
        `under SSO (AUTH_TYPE other than AUTH_DB) FAB provider 3.11+ issues no token for a password: set AIRFLOW_JWT_SECRET ` +
        `(Airflow's [api_auth] jwt_secret) and AIRFLOW_JWT_USER_ID (the service account's id in \`airflow users list\`) instead`,
      f.status,
      'POST /auth/token',
    );
  }

  private remember(value: string): string {
    const issued = this.now();
    const exp = jwtExpiry(value);
    const life = exp !== undefined ? exp * 1000 - issued : 3_600_000;
    const margin = Math.min(this.opts.renewBeforeMs ?? 60_000, Math.max(0, life / 10));
    this.token = { value, renewAt: issued + life - margin };
    return value;
  }

  private readonly send = async <T>(
    method: HttpMethod, path: string, template: string, query?: Record<string, string | number>, body?: unknown,
  ): Promise<T> => {
    const attempt = async (token: string): Promise<T> => {
      const data = (await this.http.request<T>({ method, path, template, query, body, headers: { Authorization: `Bearer ${token}` } })).data;
      // Without FAB the API server answers /auth/fab/... with its web UI (200 text/html), not with JSON.
      if (template.startsWith(BASE) && typeof data === 'string' && data.trim() !== '') throw notFab(this.http.baseUrl, `${method} ${template}`);
      return data;
    };
    try {
      try {
        return await attempt(await this.bearer());
      } catch (e) {
        // Expired, revoked or signed with another secret: renew once and retry once (doc §2.8, real-airflow.md §2).
        if (!(e instanceof HttpFailure) || !tokenRefused(e)) throw e;
        return await attempt(await this.bearer(true));
      }
    } catch (e) {
      if (!(e instanceof HttpFailure)) throw e;
      if (e.status === 404 && !template.includes('{')) throw notFab(this.http.baseUrl, `${method} ${template}`);
      throw this.map(e);
    }
  };

  private map(f: HttpFailure): AirflowError {
    if (f.status === 403 && INVALID_JWT.test(JSON.stringify(f.body ?? ''))) {
      return new AirflowError(
        'auth',
        `Airflow refused our token as invalid even after renewing it (${f.method} ${f.template}): every API-server replica must share one ` +
          `[api_auth] jwt_secret${this.opts.selfSigned ? ', and AIRFLOW_JWT_SECRET must be that secret' : ''}`,
        403,
        `${f.method} ${f.template}`,
      );
    }
    return toAirflowError(f, { apiVersion: 3, apiUser: this.opts.apiUser });
  }
}

/** 401, or 403 "Invalid JWT token": the token, not the permission, is the problem. */
const tokenRefused = (e: HttpFailure): boolean => e.status === 401 || (e.status === 403 && INVALID_JWT.test(JSON.stringify(e.body ?? '')));
