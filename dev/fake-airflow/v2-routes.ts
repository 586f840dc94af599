/**
 * Airflow 2.x user/role API as the fake serves it under /auth/fab/v1 and /api/v1 (doc §1; spec
 * airflow2-fab-auth-manager-v1.yaml): basic auth, problem+json errors, marshmallow-style validation.
 */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { FakeAirflowState, FakeUser } from './state';
import {
  listParams, objectBody, parseActions, pyErrors, pyNames, roleJson, roleOrderFields, sortBy, userJson, userOrderFields2,
} from './wire';

export interface V2Settings {
  airflowVersion: string;
  /** Answer for missing/bad credentials: 403 (2.9.1+ AUTH_ROLE_PUBLIC quirk, doc §1.6) or 401. */
  authFailureStatus: 401 | 403;
  fab: boolean;
}

const TITLES: Record<number, [string, string]> = {
  400: ['Bad Request', 'BadRequest'],
  401: ['Unauthorized', 'Unauthenticated'],
  403: ['Forbidden', 'PermissionDenied'],
  404: ['Not Found', 'NotFound'],
  409: ['Conflict', 'AlreadyExists'],
  429: ['Too Many Requests', 'Unknown'],
  500: ['Internal Server Error', 'Unknown'],
};

/** RFC 7807 body (doc §1.7). */
export function problem(res: Response, version: string, status: number, detail?: string, title?: string): void {
  const [t, link] = TITLES[status] ?? ['Error', 'Unknown'];
  const body: Record<string, unknown> = {
    type: `https://airflow.apache.org/docs/apache-airflow/${version}/stable-rest-api-ref.html#section/Errors/${link}`,
    title: title ?? t,
    status,
  };
  if (detail !== undefined) body['detail'] = detail;
  res.status(status).type('application/problem+json').send(JSON.stringify(body));
}

type Caller = { user?: FakeUser };
const USER_FIELDS = ['first_name', 'last_name', 'username', 'email', 'roles', 'password'];
const REQUIRED_USER_FIELDS = ['first_name', 'last_name', 'username', 'email'];

export function v2Router(state: FakeAirflowState, settings: V2Settings): express.Router {
  const r = express.Router();
  const fail = (res: Response, status: number, detail?: string, title?: string): void =>
    problem(res, settings.airflowVersion, status, detail, title);

  // strict_validation=True: unknown query parameters are 400 (doc §1.5).
  const query = (...allowed: string[]) => (req: Request, res: Response, next: NextFunction) => {
    const extra = Object.keys(req.query as object).filter((k) => !allowed.includes(k));
    if (extra.length > 0) return fail(res, 400, `Extra query parameter(s) ${extra.join(', ')} not in spec`);
    next();
  };
  const requires = requirer(state, settings);

  r.get('/users', query('limit', 'offset', 'order_by'), requires('can_read', 'Users'), (req, res) => {
    const p = listParams(req.query as Record<string, unknown>, 100);
    if (!p.ok) return fail(res, 400, p.detail);
    const sorted = sortBy(state.listUsers(), req.query['order_by'] as string | undefined, userOrderFields2, 'id', false);
    if (!sorted.ok) return fail(res, 400, sorted.detail);
    res.json({ users: sorted.items.slice(p.offset, p.offset + p.limit).map(userJson), total_entries: sorted.items.length });
  });

  r.get('/users/:username', query(), requires('can_read', 'Users'), (req, res) => {
    const u = state.getUser(String(req.params['username']));
    if (!u) return fail(res, 404, `The User with username \`${String(req.params['username'])}\` was not found`, 'User not found');
    res.json(userJson(u));
  });

  r.post('/users', query(), requires('can_create', 'Users'), (req, res) => {
    const loaded = loadUser(req.body);
    if (typeof loaded === 'string') return fail(res, 400, loaded);
    const username = loaded['username'] as string;
    const email = loaded['email'] as string;
    if (state.getUser(username)) return fail(res, 409, `Username \`${username}\` already exists. Use PATCH to update.`);
    if (state.findUserByEmail(email)) return fail(res, 409, `The email \`${email}\` is already taken.`);
    const roles = (loaded['roles'] as string[] | undefined) ?? [];
    const missing = roles.filter((n) => !state.getRole(n));
    if (missing.length > 0) return fail(res, 400, `Unknown roles: ${pyNames(missing)}`);
    const u = state.addUser({
      username, email, firstName: loaded['first_name'] as string, lastName: loaded['last_name'] as string,
      roles: [...new Set(roles)], password: (loaded['password'] as string | undefined) ?? '',
    });
    res.status(200).json(userJson(u)); // 200, not 201 (doc §1.1)
  });

  r.patch('/users/:username', query('update_mask'), requires('can_edit', 'Users'), (req, res) => {
    const pathName = String(req.params['username']);
    const user = state.getUser(pathName);
    if (!user) return fail(res, 404, `The User with username \`${pathName}\` was not found`, 'User not found');
    // Body fully validated even with a mask (doc §1.4).
    const loaded = loadUser(req.body);
    if (typeof loaded === 'string') return fail(res, 400, loaded);
    let data: Record<string, unknown> = loaded;
    const newName = data['username'] as string;
    if (newName && newName !== pathName && state.getUser(newName)) return fail(res, 409, `The username \`${newName}\` already exists`);
    const email = data['email'] as string;
    if (email && email !== user.email && state.findUserByEmail(email)) return fail(res, 409, `The email \`${email}\` already exists`);
    const mask = maskOf(req.query['update_mask']);
    if (mask) {
      const masked: Record<string, unknown> = {};
      const unknown = mask.filter((f) => !(f in data));
      if (unknown.length > 0) return fail(res, 400, `Unknown update masks: ${pyNames(unknown)}`);
      for (const f of mask) masked[f] = data[f];
      data = masked;
    }
    if ('roles' in data) {
      const roles = data['roles'] as string[];
      const missing = roles.filter((n) => !state.getRole(n));
      if (missing.length > 0) return fail(res, 400, `Unknown roles: ${pyNames(missing)}`);
      user.roles = [...new Set(roles)]; // replaces the whole list
    }
    if ('username' in data) user.username = data['username'] as string;
    if ('email' in data) user.email = data['email'] as string;
    if ('first_name' in data) user.firstName = data['first_name'] as string;
    if ('last_name' in data) user.lastName = data['last_name'] as string;
    if ('password' in data) user.password = data['password'] as string;
    state.touch(user);
    res.json(userJson(user));
  });

  r.delete('/users/:username', query(), requires('can_delete', 'Users'), (req, res) => {
    const name = String(req.params['username']);
    if (!state.removeUser(name)) return fail(res, 404, `The User with username \`${name}\` was not found`, 'User not found');
    res.status(204).end();
  });

  r.get('/roles', query('limit', 'offset', 'order_by'), requires('can_read', 'Roles'), (req, res) => {
    const p = listParams(req.query as Record<string, unknown>, 100);
    if (!p.ok) return fail(res, 400, p.detail);
    const sorted = sortBy(state.listRoles(), req.query['order_by'] as string | undefined, roleOrderFields, 'name', false);
    if (!sorted.ok) return fail(res, 400, sorted.detail);
    res.json({ roles: sorted.items.slice(p.offset, p.offset + p.limit).map(roleJson), total_entries: sorted.items.length });
  });

  r.get('/roles/:name', query(), requires('can_read', 'Roles'), (req, res) => {
    const role = state.getRole(String(req.params['name']));
    if (!role) return fail(res, 404, `Role with name '${String(req.params['name'])}' was not found`, 'Role not found');
    res.json(roleJson(role));
  });

  r.post('/roles', query(), requires('can_create', 'Roles'), (req, res) => {
    const loaded = loadRole(req.body);
    if (typeof loaded === 'string') return fail(res, 400, loaded);
    if (state.getRole(loaded.name)) {
      return fail(res, 409, `Role with name '${loaded.name}' already exists; please update with the PATCH endpoint`);
    }
    const bad = checkPermissions(state, loaded.actions ?? []);
    if (bad) return fail(res, 400, bad);
    state.addRole(loaded.name, loaded.actions ?? []);
    res.status(200).json({}); // dumps the pre-creation lookup (None) → {} (doc §1.4)
  });

  r.patch('/roles/:name', query('update_mask'), requires('can_edit', 'Roles'), (req, res) => {
    const role = state.getRole(String(req.params['name']));
    if (!role) return fail(res, 404, `Role with name '${String(req.params['name'])}' was not found`, 'Role not found');
    const loaded = loadRole(req.body);
    if (typeof loaded === 'string') return fail(res, 400, loaded);
    let data: { name?: string; actions?: Array<[string, string]> } = loaded;
    const mask = maskOf(req.query['update_mask']);
    if (mask) {
      const unknown = mask.find((f) => f !== 'name' && f !== 'actions');
      if (unknown !== undefined) return fail(res, 400, `'${unknown}' in update_mask is unknown`);
      data = { name: mask.includes('name') ? loaded.name : undefined, actions: mask.includes('actions') ? loaded.actions : undefined };
    }
    if (data.actions) {
      const bad = checkPermissions(state, data.actions);
      if (bad) return fail(res, 400, bad);
      state.grant(role.name, data.actions); // additive only (bulk_sync_roles, doc §1.4)
    }
    // A rename onto an existing name fails silently and still answers 200 (doc §1.4).
    if (data.name !== undefined && data.name !== role.name) state.renameRole(role.name, data.name);
    res.json(roleJson(role));
  });

  r.delete('/roles/:name', query(), requires('can_delete', 'Roles'), (req, res) => {
    const name = String(req.params['name']);
    if (!state.removeRole(name)) return fail(res, 404, `Role with name '${name}' was not found`, 'Role not found');
    res.status(204).end();
  });

  r.get('/permissions', query('limit', 'offset'), requires('can_read', 'Permissions'), (req, res) => {
    const p = listParams(req.query as Record<string, unknown>, 100);
    if (!p.ok) return fail(res, 400, p.detail);
    const actions = [...state.actions].sort();
    res.json({ actions: actions.slice(p.offset, p.offset + p.limit).map((name) => ({ name })), total_entries: actions.length });
  });

  return r;
}

/**
 * Basic auth, else the Flask session cookie. Like FAB's basic-auth backend on 2.10.5 (real-airflow.md §6, checked
 * on the real server), every password sign-in stores a new session row and sets its cookie; a request carrying only
 * the cookie is authenticated by it and stores nothing. Bad credentials fall back to the Public role → 403, unless
 * the knob asks for 401 (doc §1.6).
 */
function requirer(state: FakeAirflowState, settings: V2Settings) {
  return (action: string, resource: string) => (req: Request, res: Response, next: NextFunction) => {
    const caller = basicUser(req, state, res);
    if (!caller.user && settings.authFailureStatus === 401) {
      res.setHeader('WWW-Authenticate', 'Basic');
      return problem(res, settings.airflowVersion, 401);
    }
    if (!state.can(caller.user, action, resource)) return problem(res, settings.airflowVersion, 403);
    res.locals['caller'] = caller;
    next();
  };
}

/** GET /api/v1/providers (can_read on Providers). */
export function v2Providers(state: FakeAirflowState, settings: V2Settings, providers: object[]): express.RequestHandler {
  const guard = requirer(state, settings)('can_read', 'Providers');
  return (req, res) => guard(req, res, () => void res.json({ providers, total_entries: providers.length }));
}

function basicUser(req: Request, state: FakeAirflowState, res: Response): Caller {
  const h = req.headers.authorization ?? '';
  const m = /^Basic\s+(.+)$/i.exec(h);
  if (!m) {
    const sid = /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const uid = sid !== undefined ? state.sessions.get(sid) : undefined;
    const user = uid !== undefined ? state.users.get(uid) : undefined;
    return user && user.active ? { user } : {};
  }
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return {};
  const user = state.authenticate(decoded.slice(0, i), decoded.slice(i + 1));
  if (user) {
    const sid = randomUUID();
    state.sessions.set(sid, user.id);
    res.setHeader('Set-Cookie', `session=${sid}; HttpOnly; Path=/; SameSite=Lax`);
  }
  return { user };
}

const maskOf = (raw: unknown): string[] | undefined =>
  typeof raw === 'string' && raw !== '' ? raw.split(',').map((s) => s.trim()) : undefined;

/** UserSchema.load: connexion minLength first, then marshmallow required/unknown (doc §1.2). Roles → names. */
function loadUser(body: unknown): Record<string, unknown> | string {
  const b = objectBody(body);
  if (!b) return "{'_schema': ['Invalid input type.']}";
  for (const f of ['username', 'email']) if (b[f] === '') return `'' is too short - '${f}'`;
  const errors: Array<[string, string]> = [];
  const out: Record<string, unknown> = {};
  for (const f of USER_FIELDS) {
    if (!(f in b)) {
      if (REQUIRED_USER_FIELDS.includes(f)) errors.push([f, 'Missing data for required field.']);
      continue;
    }
    const v = b[f];
    if (f === 'roles') {
      if (!Array.isArray(v) || v.some((x) => typeof (x as { name?: unknown } | null)?.name !== 'string')) errors.push([f, 'Not a valid list.']);
      else out[f] = v.map((x) => (x as { name: string }).name);
    } else if (typeof v !== 'string') errors.push([f, 'Not a valid string.']);
    else out[f] = v;
  }
  // dump_only fields (active, login_count, …) are unknown on load (doc §1.3).
  for (const k of Object.keys(b)) if (!USER_FIELDS.includes(k)) errors.push([k, 'Unknown field.']);
  return errors.length > 0 ? pyErrors(errors) : out;
}

function loadRole(body: unknown): { name: string; actions?: Array<[string, string]> } | string {
  const b = objectBody(body);
  if (!b) return "{'_schema': ['Invalid input type.']}";
  const errors: Array<[string, string]> = [];
  if (!('name' in b)) errors.push(['name', 'Missing data for required field.']);
  else if (typeof b['name'] !== 'string' || b['name'] === '') errors.push(['name', 'Not a valid string.']);
  let actions: Array<[string, string]> | undefined;
  if ('actions' in b) {
    const parsed = parseActions(b['actions']);
    if (typeof parsed === 'string') errors.push(['actions', parsed]);
    else actions = parsed;
  }
  for (const k of Object.keys(b)) if (k !== 'name' && k !== 'actions') errors.push([k, 'Unknown field.']);
  return errors.length > 0 ? pyErrors(errors) : { name: b['name'] as string, actions };
}

/** _check_action_and_resource (doc §1.4). */
export function checkPermissions(state: FakeAirflowState, perms: Array<[string, string]>): string | undefined {
  for (const [a, r] of perms) {
    if (!state.actions.has(a)) return `The specified action: '${a}' was not found`;
    if (!state.resources.has(r)) return `The specified resource: '${r}' was not found`;
  }
  return undefined;
}
