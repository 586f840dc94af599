/**
 * Builds the Airflow client for the configured API version. 'auto' probes the unauthenticated version
 * endpoints on first use: GET /api/v2/version → Airflow 3, else GET /api/v1/version → Airflow 2 (doc §0, §6).
 */
import type { AirflowConfig } from '../config/schema';
import type { Logger } from '../logger';
import { toAirflowError } from './errors';
import { AirflowHttp, HttpFailure } from './http';
import type { AirflowClient, AirflowInfo, AirflowRole, AirflowUser, AirflowUserChange, NewAirflowUser, Permission } from './types';
import { AirflowError } from './types';
import { AirflowV2Client } from './v2-client';
import { AirflowV3Client } from './v3-client';
import type { SelfSignedToken } from './jwt-sign';
import type { AirflowClientOptions } from './wire';

export interface CreateAirflowClientOptions {
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** Per HTTP attempt, for metrics: "METHOD /template" and status or network error code. */
  onCall?: (call: string, status: number | string) => void;
}

export function createAirflowClient(cfg: AirflowConfig, logger: Logger, opts: CreateAirflowClientOptions = {}): AirflowClient {
  if (!cfg.url) throw new AirflowError('unsupported', 'airflow.url (AIRFLOW_URL) is not set');
  if (!cfg.apiUser || (!cfg.apiPassword && !cfg.jwtSecret)) {
    throw new AirflowError('auth', 'airflow.apiUser and airflow.apiPassword (AIRFLOW_USERNAME, AIRFLOW_PASSWORD[_FILE]) are required');
  }
  const http = new AirflowHttp({
    baseUrl: cfg.url, timeoutMs: cfg.timeout, retries: cfg.retries, concurrency: cfg.concurrency,
    sleep: opts.sleep, random: opts.random, logger, onCall: opts.onCall,
  });
  const selfSigned: SelfSignedToken | undefined = cfg.jwtSecret && cfg.jwtUserId
    ? { secret: cfg.jwtSecret, userId: cfg.jwtUserId, audience: cfg.jwtAudience, issuer: cfg.jwtIssuer ?? undefined, lifetimeSeconds: 3600 }
    : undefined;
  const base: AirflowClientOptions & { selfSigned?: SelfSignedToken } = {
    url: cfg.url, apiUser: cfg.apiUser, apiPassword: cfg.apiPassword ?? '', timeoutMs: cfg.timeout, retries: cfg.retries,
    concurrency: cfg.concurrency, logger, http, sleep: opts.sleep, random: opts.random, now: opts.now, selfSigned,
  };
  if (cfg.apiVersion === '2') return new AirflowV2Client(base);
  if (cfg.apiVersion === '3') return new AirflowV3Client(base);
  return new AutoAirflowClient(http, base, logger);
}

/** Which API major the server speaks, from its version endpoints. */
export async function detectApiVersion(http: AirflowHttp): Promise<{ apiVersion: 2 | 3; version?: string }> {
  const probe = async (path: string): Promise<{ ok: boolean; version?: string }> => {
    try {
      const r = await http.request<{ version?: unknown }>({ method: 'GET', path, template: path, accept: [401, 403, 404, 405] });
      return { ok: r.status === 200, version: typeof r.data?.version === 'string' ? r.data.version : undefined };
    } catch (e) {
      throw e instanceof HttpFailure ? toAirflowError(e, { apiVersion: 2, apiUser: '' }) : e;
    }
  };
  const v3 = await probe('/api/v2/version');
  if (v3.ok) return { apiVersion: 3, version: v3.version };
  const v2 = await probe('/api/v1/version');
  if (v2.ok) return { apiVersion: 2, version: v2.version };
  throw new AirflowError('unsupported', `Airflow at ${http.baseUrl} answers neither /api/v2/version nor /api/v1/version`);
}

/** Detects on first use, then delegates; shares one AirflowHttp so every call is counted in one place. */
class AutoAirflowClient implements AirflowClient {
  private inner?: Promise<AirflowClient>;

  constructor(
    private readonly http: AirflowHttp,
    private readonly opts: AirflowClientOptions & { selfSigned?: SelfSignedToken },
    private readonly logger: Logger,
  ) {}

  get calls(): ReadonlyMap<string, number> {
    return this.http.calls;
  }

  private client(): Promise<AirflowClient> {
    this.inner ??= detectApiVersion(this.http).then(
      ({ apiVersion, version }) => {
        this.logger.info('airflow api detected', { apiVersion, version });
        const o = { ...this.opts, knownVersion: version };
        return apiVersion === 3 ? new AirflowV3Client(o) : new AirflowV2Client(o);
      },
      (e: unknown) => {
        this.inner = undefined; // try again next time (Airflow may be starting)
        throw e;
      },
    );
    return this.inner;
  }

  async info(): Promise<AirflowInfo> {
    return (await this.client()).info();
  }
  async listUsers(): Promise<AirflowUser[]> {
    return (await this.client()).listUsers();
  }
  async listRoles(): Promise<AirflowRole[]> {
    return (await this.client()).listRoles();
  }
  async getUser(username: string): Promise<AirflowUser | null> {
    return (await this.client()).getUser(username);
  }
  async createUser(user: NewAirflowUser): Promise<AirflowUser> {
    return (await this.client()).createUser(user);
  }
  async updateUser(username: string, change: AirflowUserChange): Promise<AirflowUser> {
    return (await this.client()).updateUser(username, change);
  }
  async deleteUser(username: string): Promise<void> {
    return (await this.client()).deleteUser(username);
  }
  async createRole(role: AirflowRole): Promise<void> {
    return (await this.client()).createRole(role);
  }
  async setRolePermissions(name: string, permissions: Permission[]): Promise<void> {
    return (await this.client()).setRolePermissions(name, permissions);
  }
}
