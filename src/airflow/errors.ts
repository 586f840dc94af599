/**
 * HTTP failures → AirflowError, mapped once (STYLE habit 3). Bodies are problem+json on 2.x (doc §1.7) and
 * {"detail": string | [{loc,msg,type}]} on 3.x (doc §2.7).
 */
import { AirflowError } from './types';
import type { HttpFailure, HttpMethod } from './http';

export interface ErrorContext {
  apiVersion: 2 | 3;
  apiUser: string;
}

/** The human message in an error body, whichever shape it has. */
export function errorDetail(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() === '' ? undefined : body.slice(0, 300);
  if (body === null || typeof body !== 'object') return undefined;
  const b = body as { detail?: unknown; title?: unknown };
  if (typeof b.detail === 'string') return b.detail;
  if (Array.isArray(b.detail)) {
    return b.detail
      .map((i: { loc?: unknown[]; msg?: unknown }) => `${(i.loc ?? []).filter((x) => x !== 'body').join('.')}: ${String(i.msg)}`)
      .join('; ');
  }
  if (b.detail && typeof b.detail === 'object') return JSON.stringify(b.detail);
  return typeof b.title === 'string' ? b.title : undefined;
}

const ACTION: Record<HttpMethod, string> = { GET: 'can_read', POST: 'can_create', PATCH: 'can_edit', DELETE: 'can_delete' };

/** The FAB permission an endpoint checks (doc §1.1: POST→can_create, GET→can_read, PATCH→can_edit, DELETE→can_delete). */
export function requiredPermission(method: HttpMethod, template: string): [string, string] {
  const resource = /\/users/.test(template) ? 'Users' : /\/roles/.test(template) ? 'Roles' : /\/permissions/.test(template) ? 'Permissions' : 'this resource';
  return [ACTION[method], resource];
}

export const unreachable = (url: string, code: string): AirflowError =>
  new AirflowError('unreachable', `Airflow at ${url} is unreachable (${code})`);

/** 2.9.1+ answers 403 for missing/bad credentials (AUTH_ROLE_PUBLIC, doc §1.6). */
export const credentialsRejected2 = (apiUser: string, f: HttpFailure): AirflowError =>
  new AirflowError(
    'auth',
    `Airflow credentials rejected for API user '${apiUser}' (Airflow 2 answers 403 for bad credentials; ` +
      `check AIRFLOW_USERNAME/AIRFLOW_PASSWORD, [api] auth_backends includes basic_auth, and that the user holds can_read on Users)`,
    f.status,
    `${f.method} ${f.template}`,
  );

export const notFab = (url: string, endpoint?: string): AirflowError =>
  new AirflowError(
    'not-fab',
    `Airflow at ${url}: the auth manager is not FAB (no user/role API at /auth/fab/v1 or /api/v1); the sync needs FabAuthManager`,
    undefined,
    endpoint,
  );

/** A permission names a resource Airflow does not have: usually a DAG not parsed yet, or a 2.x name on 3.x. */
export const unknownResource = (resource: string, endpoint: string): AirflowError =>
  new AirflowError(
    'unknown-resource',
    `Airflow has no resource '${resource}' (${endpoint}): a DAG:<id> resource exists only once the DAG is parsed, and resource ` +
      `names differ between Airflow 2 and 3 (e.g. Datasets became Assets); fix roles.custom or wait for the DAG`,
    400,
    endpoint,
  );

const UNKNOWN_RESOURCE_400 = /^The specified resource: '(.*)' was not found$/;

const NOT_FAB_400 = /only available when using the default auth manager FabAuthManager/i;

/** Maps a final HTTP failure. 2.x callers decide 403 → 'auth' themselves (they need a probe). */
export function toAirflowError(f: HttpFailure, ctx: ErrorContext): AirflowError {
  const endpoint = `${f.method} ${f.template}`;
  const base = f.url.replace(/^(https?:\/\/[^/]+).*$/, '$1');
  if (f.status === undefined) return unreachable(base, f.code ?? 'network error');
  const detail = errorDetail(f.body);
  const suffix = detail ? `: ${detail}` : '';
  const s = f.status;
  if (s === 401) {
    return new AirflowError('auth', `Airflow rejected the credentials of API user '${ctx.apiUser}' (401 on ${endpoint}${suffix})`, s, endpoint);
  }
  if (s === 403) {
    const [action, resource] = requiredPermission(f.method, f.template);
    return new AirflowError(
      'forbidden',
      `Airflow refused ${endpoint}: the API user '${ctx.apiUser}' lacks ${action} on ${resource} (grant it to one of its roles` +
        (action === 'can_create' && resource === 'Users' ? "; under SSO FAB's Admin role has no can_create on Users, so add a role that has it" : '') +
        ')',
      s,
      endpoint,
    );
  }
  if (s === 404) return new AirflowError('not-found', `${endpoint}: not found${suffix}`, s, endpoint);
  if (s === 409) return new AirflowError('conflict', `${endpoint}: conflict${suffix}`, s, endpoint);
  if (s === 429) return new AirflowError('rate-limited', `${endpoint}: Airflow is rate limiting (429) after ${f.attempts} attempts`, s, endpoint);
  if (s >= 500) return new AirflowError('server', `${endpoint}: Airflow server error ${s} after ${f.attempts} attempts${suffix}`, s, endpoint);
  if (s === 400 && detail && NOT_FAB_400.test(detail)) return notFab(base, endpoint);
  const resource = s === 400 && detail ? UNKNOWN_RESOURCE_400.exec(detail) : null;
  if (resource) return unknownResource(resource[1], endpoint);
  if (s === 400 && detail?.startsWith('Unknown roles:')) {
    const roles = detail.slice('Unknown roles:'.length).trim();
    return new AirflowError('bad-request', `Airflow has no role ${roles} (${endpoint}); create it or fix the role mapping`, s, endpoint);
  }
  return new AirflowError('bad-request', `${endpoint}: Airflow rejected the request (${s})${suffix}`, s, endpoint);
}
