/**
 * Airflow 3.x client (FAB auth manager, doc §2): JWT from POST /auth/token, cached and renewed before its
 * `exp` claim (no refresh for API clients, doc §2.8) and once on a 401, then the call is retried once.
 */
import { notFab, toAirflowError } from './errors';
import { AirflowHttp, HttpFailure, type HttpMethod } from './http';
import type { AirflowClient, AirflowInfo, AirflowRole, AirflowUser, AirflowUserChange, NewAirflowUser, Permission } from './types';
import { AirflowError } from './types';
import {
  fromWireRole, fromWireUser, newUserBody, pageAll, toWireActions, type AirflowClientOptions, type WireRole, type WireUser,
} from './wire';

export interface V3ClientOptions extends AirflowClientOptions {
  /** Renew this long before exp (default 60 s, at most a tenth of the lifetime). */
  renewBeforeMs?: number;
  knownVersion?: string;
}

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
    return { apiVersion: 3, version: this.version, basePath: BASE };
  }

  listUsers(): Promise<AirflowUser[]> {
    return pageAll<WireUser, AirflowUser>(this.send, `${BASE}/users`, 'users', fromWireUser, (u) => u.username.toLowerCase());
  }

  listRoles(): Promise<AirflowRole[]> {
    return pageAll<WireRole, AirflowRole>(this.send, `${BASE}/roles`, 'roles', fromWireRole, (r) => r.name);
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

  async addRolePermissions(name: string, permissions: Permission[]): Promise<void> {
    if (permissions.length === 0) return;
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
    let res;
    try {
      res = await this.http.request<{ access_token?: string }>({
        method: 'POST', path: '/auth/token', template: '/auth/token',
        body: { username: this.opts.apiUser, password: this.opts.apiPassword },
      });
    } catch (e) {
      if (!(e instanceof HttpFailure)) throw e;
      if (e.status === 404) throw new AirflowError('unsupported', `Airflow at ${this.http.baseUrl} has no POST /auth/token (not Airflow 3?)`, 404, 'POST /auth/token');
      throw this.map(e);
    }
    const value = res.data?.access_token;
    if (typeof value !== 'string') throw new AirflowError('server', 'POST /auth/token answered without access_token', res.status, 'POST /auth/token');
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
    const attempt = async (token: string): Promise<T> =>
      (await this.http.request<T>({ method, path, template, query, body, headers: { Authorization: `Bearer ${token}` } })).data;
    try {
      try {
        return await attempt(await this.bearer());
      } catch (e) {
        // Expired or revoked token: renew once and retry once (doc §2.8).
        if (!(e instanceof HttpFailure) || e.status !== 401) throw e;
        return await attempt(await this.bearer(true));
      }
    } catch (e) {
      if (!(e instanceof HttpFailure)) throw e;
      if (e.status === 404 && !template.includes('{')) throw notFab(this.http.baseUrl, `${method} ${template}`);
      throw this.map(e);
    }
  };

  private map(f: HttpFailure): AirflowError {
    return toAirflowError(f, { apiVersion: 3, apiUser: this.opts.apiUser });
  }
}
