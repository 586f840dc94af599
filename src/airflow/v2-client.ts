/**
 * Airflow 2.x client: basic auth (doc §1.6), /auth/fab/v1 on 2.8+ else /api/v1 (doc §0), problem+json errors.
 * Basic auth makes FAB check the password, bump login_count and store a new session row on every call
 * (real-airflow.md §6, confirmed on 2.10.5): we sign in once and send the session cookie after that, and fall
 * back to basic auth once when the cookie is refused.
 * PATCH validates username/email/first_name/last_name (email uniqueness included) before applying update_mask
 * (real-airflow.md §7): the body is filled from a fresh GET of the user, never from an earlier read.
 */
import { compareVersions } from '../core/version';
import { readCapabilities } from './capabilities';
import { credentialsRejected2, notFab, toAirflowError } from './errors';
import { AirflowHttp, HttpFailure, type HttpMethod, type HttpResponse } from './http';
import { AirflowError, type AirflowClient, type AirflowInfo, type AirflowRole, type AirflowUser, type AirflowUserChange, type NewAirflowUser, type Permission } from './types';
import {
  fromWireRole, fromWireUser, newUserBody, pageAll, toWireActions, type AirflowClientOptions, type WireRole,
  type WireUser,
} from './wire';

export type V2BasePath = '/auth/fab/v1' | '/api/v1';

export interface V2ClientOptions extends AirflowClientOptions {
  /** Skip detection and use this base path. */
  basePath?: V2BasePath;
  /** Version already read from /api/v1/version (by the detector). */
  knownVersion?: string;
}

const NOT_FAB_400 = /only available when using the default auth manager FabAuthManager/i;

export class AirflowV2Client implements AirflowClient {
  private readonly http: AirflowHttp;
  private readonly auth: string;
  private basePath?: V2BasePath;
  private version?: string;
  private resolving?: Promise<V2BasePath>;
  /** Set after any authenticated 2xx: from then on a 403 means a missing permission, not bad credentials. */
  private authConfirmed = false;
  /** The Flask session cookie from the last basic-auth sign-in ("session=…"). */
  private cookie?: string;
  private infoCache?: Promise<AirflowInfo>;

  constructor(private readonly opts: V2ClientOptions) {
    this.http = opts.http ?? new AirflowHttp({ baseUrl: opts.url, timeoutMs: opts.timeoutMs, retries: opts.retries, concurrency: opts.concurrency, sleep: opts.sleep, random: opts.random, logger: opts.logger });
    this.auth = `Basic ${Buffer.from(`${opts.apiUser}:${opts.apiPassword}`).toString('base64')}`;
    this.basePath = opts.basePath;
    this.version = opts.knownVersion;
  }

  get calls(): ReadonlyMap<string, number> {
    return this.http.calls;
  }

  /** Checks credentials and permissions with a cheap read; the provider version is read once per client. */
  async info(): Promise<AirflowInfo> {
    const base = await this.base();
    await this.send('GET', `${base}/users`, `${base}/users`, { limit: 1 });
    const read = () => this.send('GET', '/api/v1/providers', '/api/v1/providers', { limit: 100 });
    this.infoCache ??= readCapabilities(read, { apiVersion: 2, version: this.version, basePath: base }, this.http.baseUrl, this.opts.logger).catch((e: unknown) => {
      this.infoCache = undefined;
      throw e;
    });
    return this.infoCache;
  }

  async listUsers(): Promise<AirflowUser[]> {
    const base = await this.base();
    return pageAll<WireUser, AirflowUser>(this.send, `${base}/users`, 'users', fromWireUser, (u) => u.username.toLowerCase());
  }

  async listRoles(): Promise<AirflowRole[]> {
    const base = await this.base();
    return pageAll<WireRole, AirflowRole>(this.send, `${base}/roles`, 'roles', fromWireRole, (r) => r.name);
  }

  async getUser(username: string): Promise<AirflowUser | null> {
    const base = await this.base();
    return this.getOrNull(() => this.send<WireUser>('GET', `${base}/users/${encodeURIComponent(username)}`, `${base}/users/{username}`));
  }

  private async getOrNull(read: () => Promise<WireUser>): Promise<AirflowUser | null> {
    try {
      return fromWireUser(await read());
    } catch (e) {
      if (e instanceof AirflowError && e.kind === 'not-found') return null;
      throw e;
    }
  }

  async createUser(user: NewAirflowUser): Promise<AirflowUser> {
    const base = await this.base();
    return fromWireUser(await this.send<WireUser>('POST', `${base}/users`, `${base}/users`, undefined, newUserBody(user)));
  }

  async updateUser(username: string, change: AirflowUserChange): Promise<AirflowUser> {
    const base = await this.base();
    const path = `${base}/users/${encodeURIComponent(username)}`;
    const template = `${base}/users/{username}`;
    const fields: Array<[keyof AirflowUserChange, string]> = [
      ['email', 'email'], ['firstName', 'first_name'], ['lastName', 'last_name'], ['roles', 'roles'], ['password', 'password'],
    ];
    const changed = fields.filter(([k]) => change[k] !== undefined);
    // Fresh: a stale email in the body trips the email-uniqueness check even when email is not in the mask.
    const current = fromWireUser(await this.send<WireUser>('GET', path, template));
    if (changed.length === 0) return current;
    // Body username = the path value: a different spelling would trip the 409 check (doc §1.4).
    const body: Record<string, unknown> = {
      username,
      email: change.email ?? current.email,
      first_name: change.firstName ?? current.firstName,
      last_name: change.lastName ?? current.lastName,
    };
    if (change.roles) body['roles'] = change.roles.map((name) => ({ name }));
    if (change.password !== undefined) body['password'] = change.password;
    const mask = changed.map(([, wire]) => wire).join(',');
    return fromWireUser(await this.send<WireUser>('PATCH', path, template, { update_mask: mask }, body));
  }

  async deleteUser(username: string): Promise<void> {
    const base = await this.base();
    await this.send('DELETE', `${base}/users/${encodeURIComponent(username)}`, `${base}/users/{username}`);
  }

  async createRole(role: AirflowRole): Promise<void> {
    const base = await this.base();
    await this.send('POST', `${base}/roles`, `${base}/roles`, undefined, { name: role.name, actions: toWireActions(role.permissions) });
    // 2.x answers {} (doc §1.4): read it back to be sure it exists.
    await this.send('GET', `${base}/roles/${encodeURIComponent(role.name)}`, `${base}/roles/{name}`);
  }

  async setRolePermissions(name: string, permissions: Permission[]): Promise<void> {
    const base = await this.base();
    // The role schema requires name even with a mask; FAB 1.x adds the actions sent and removes none (doc §1.4).
    await this.send('PATCH', `${base}/roles/${encodeURIComponent(name)}`, `${base}/roles/{name}`, { update_mask: 'actions' }, {
      name,
      actions: toWireActions(permissions),
    });
  }

  /** Base path: from the (unauthenticated) version endpoint, else by probing (doc §0). */
  private async base(): Promise<V2BasePath> {
    if (this.basePath) return this.basePath;
    this.resolving ??= this.detectBase().finally(() => (this.resolving = undefined));
    this.basePath = await this.resolving;
    return this.basePath;
  }

  private async detectBase(): Promise<V2BasePath> {
    try {
      if (!this.version) {
        const v = await this.http.request<{ version?: string }>({ method: 'GET', path: '/api/v1/version', template: '/api/v1/version', accept: [401, 403, 404] });
        if (v.status === 200 && typeof v.data?.version === 'string') this.version = v.data.version;
      }
      if (this.version) return compareVersions(this.version, '2.8.0') >= 0 ? '/auth/fab/v1' : '/api/v1';
      const probe = await this.probe('/auth/fab/v1');
      return probe === 404 ? '/api/v1' : '/auth/fab/v1';
    } catch (e) {
      throw e instanceof HttpFailure ? toAirflowError(e, { apiVersion: 2, apiUser: this.opts.apiUser }) : e;
    }
  }

  /** Status of GET <base>/users?limit=1, no retries. 400 "only available … FabAuthManager" counts as 404. */
  private async probe(base: string): Promise<number> {
    const r = await this.http.request<unknown>({
      method: 'GET', path: `${base}/users`, template: `${base}/users`, query: { limit: 1 },
      headers: { Authorization: this.auth }, accept: [400, 401, 403, 404], noRetry: true,
    });
    if (r.status === 400 && NOT_FAB_400.test(JSON.stringify(r.data))) return 404;
    if (r.status >= 200 && r.status < 300) this.authConfirmed = true;
    return r.status;
  }

  private readonly send = async <T>(
    method: HttpMethod, path: string, template: string, query?: Record<string, string | number>, body?: unknown,
  ): Promise<T> => {
    const attempt = async (useCookie: boolean): Promise<HttpResponse<T>> =>
      this.http.request<T>({ method, path, template, query, body, headers: useCookie && this.cookie ? { Cookie: this.cookie } : { Authorization: this.auth } });
    try {
      let res: HttpResponse<T>;
      const cookie = this.cookie;
      try {
        res = await attempt(cookie !== undefined);
      } catch (e) {
        // An expired or revoked session: sign in with the password once more.
        if (!(e instanceof HttpFailure) || cookie === undefined || (e.status !== 401 && e.status !== 403)) throw e;
        if (this.cookie === cookie) this.cookie = undefined;
        res = await attempt(false);
      }
      this.keepSession(res);
      this.authConfirmed = true;
      return res.data;
    } catch (e) {
      if (!(e instanceof HttpFailure)) throw e;
      throw await this.explain(e);
    }
  };

  /** Keeps the session cookie a basic-auth sign-in set (Flask's "session" cookie). */
  private keepSession(res: HttpResponse<unknown>): void {
    const raw = res.headers['set-cookie'];
    const cookies = Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
    const session = cookies.map((c) => c.split(';')[0].trim()).find((c) => c.startsWith('session='));
    if (session && session !== 'session=') this.cookie = session;
  }

  /** 403 → bad credentials or a missing permission (probe decides); 404 on both bases → not FAB. */
  private async explain(f: HttpFailure): Promise<Error> {
    const ctx = { apiVersion: 2 as const, apiUser: this.opts.apiUser };
    const base = this.basePath ?? '/auth/fab/v1';
    try {
      if (f.status === 403 && !this.authConfirmed) {
        const isPing = f.method === 'GET' && f.template === `${base}/users`;
        if (isPing || (await this.probe(base)) === 403) return credentialsRejected2(this.opts.apiUser, f);
      }
      const notFabBody = f.status === 400 && NOT_FAB_400.test(JSON.stringify(f.body ?? ''));
      if ((f.status === 404 && !f.template.includes('{')) || notFabBody) {
        const other = base === '/auth/fab/v1' ? '/api/v1' : '/auth/fab/v1';
        if (notFabBody || (await this.probe(other)) === 404) return notFab(this.http.baseUrl, `${f.method} ${f.template}`);
      }
    } catch (probeError) {
      if (!(probeError instanceof HttpFailure)) throw probeError;
    }
    return toAirflowError(f, ctx);
  }
}
