/**
 * Airflow 3.x FAB auth manager API as the fake serves it (doc §2; spec airflow3-fab-auth-manager.yaml):
 * POST /auth/token → JWT, Bearer on /auth/fab/v1, {"detail"} errors, pydantic 422s.
 */
import { compareVersions } from '../../src/core/version';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { JwtSigner } from './jwt';
import type { FakeAirflowState } from './state';
import { checkPermissions } from './v2-routes';
import {
  listParams, objectBody, parseActions, pyNames, roleJson, roleOrderFields, sortBy, userJson, userOrderFields3,
} from './wire';

export interface V3Settings {
  fab: boolean;
  /** apache-airflow-providers-fab version: decides role PATCH semantics and /auth/token rules. */
  fabVersion: string;
  authType: 'AUTH_DB' | 'AUTH_OAUTH';
  providers: object[];
}

type Issue = { type: string; loc: Array<string | number>; msg: string; input?: unknown };

const detail = (res: Response, status: number, d: unknown): void => void res.status(status).json({ detail: d });

/** pydantic StrictBaseModel check: extra fields, required, minLength 1 strings (doc §2.3). */
function validate(b: Record<string, unknown>, fields: string[], required: string[], nonEmpty: string[]): Issue[] {
  const issues: Issue[] = [];
  for (const f of required) if (!(f in b)) issues.push({ type: 'missing', loc: ['body', f], msg: 'Field required', input: b });
  for (const [k, v] of Object.entries(b)) {
    if (!fields.includes(k)) {
      issues.push({ type: 'extra_forbidden', loc: ['body', k], msg: 'Extra inputs are not permitted', input: v });
    } else if (k === 'roles' || k === 'actions') {
      if (v !== null && !Array.isArray(v)) issues.push({ type: 'list_type', loc: ['body', k], msg: 'Input should be a valid list', input: v });
    } else if (v === null && !required.includes(k)) {
      continue;
    } else if (typeof v !== 'string') {
      issues.push({ type: 'string_type', loc: ['body', k], msg: 'Input should be a valid string', input: v });
    } else if (nonEmpty.includes(k) && v.length < 1) {
      issues.push({ type: 'string_too_short', loc: ['body', k], msg: 'String should have at least 1 character', input: v });
    }
  }
  return issues;
}

const USER_FIELDS = ['username', 'email', 'first_name', 'last_name', 'roles', 'password'];

export function v3Router(state: FakeAirflowState, jwt: JwtSigner, settings: V3Settings): express.Router {
  const r = express.Router();

  r.post('/auth/token', (req, res) => {
    const b = objectBody(req.body) ?? {};
    const { username, password } = b as { username?: unknown; password?: unknown };
    if (typeof username !== 'string' || typeof password !== 'string' || !username || !password) {
      return detail(res, 400, 'Username and password must be provided');
    }
    // FAB >= 3.11 checks only the configured AUTH_TYPE: no password tokens under SSO (real-airflow.md §3).
    if (settings.fab && settings.authType !== 'AUTH_DB' && compareVersions(settings.fabVersion, '3.11.0') >= 0) {
      return detail(res, 401, 'Invalid credentials');
    }
    const user = state.authenticate(username, password);
    if (!user) return detail(res, 401, 'Invalid credentials');
    res.status(201).json({ access_token: jwt.sign(String(user.id)) });
  });

  // security.py resolve_user_from_token: none → 401 "Not authenticated", expired → 401 "Token Expired", any other
  // invalid token (another secret, a deleted or inactive user) → 403 "Invalid JWT token" (real-airflow.md §2).
  const requires = (action: string, resource: string) => (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return detail(res, 401, 'Not authenticated');
    const v = jwt.verify(m[1] as string);
    if (!v.ok) return v.reason === 'expired' ? detail(res, 401, 'Token Expired') : detail(res, 403, 'Invalid JWT token');
    const user = state.users.get(Number(v.claims.sub));
    if (!user || !user.active) return detail(res, 403, 'Invalid JWT token');
    if (!state.can(user, action, resource)) return detail(res, 403, 'Forbidden');
    next();
  };

  r.get('/api/v2/providers', requires('can_read', 'Providers'), (_req, res) => {
    res.json({ providers: settings.providers, total_entries: settings.providers.length });
  });

  if (!settings.fab) return r; // not FAB: no /auth/fab/v1 (doc §2.1)
  const base = '/auth/fab/v1';

  r.get(`${base}/users`, requires('can_read', 'Users'), (req, res) => {
    const p = listParams(req.query as Record<string, unknown>, 50); // fallback_page_limit 50 (doc §2.6)
    if (!p.ok) return detail(res, 400, p.detail);
    const sorted = sortBy(state.listUsers(), req.query['order_by'] as string | undefined, userOrderFields3, 'id', true);
    if (!sorted.ok) return detail(res, 400, sorted.detail);
    res.json({ users: sorted.items.slice(p.offset, p.offset + p.limit).map(userJson), total_entries: sorted.items.length });
  });

  r.get(`${base}/users/:username`, requires('can_read', 'Users'), (req, res) => {
    const u = state.getUser(String(req.params['username']));
    if (!u) return detail(res, 404, `The User with username \`${String(req.params['username'])}\` was not found`);
    res.json(userJson(u));
  });

  r.post(`${base}/users`, requires('can_create', 'Users'), (req, res) => {
    const b = objectBody(req.body) ?? {};
    const nonEmpty = ['username', 'email', 'first_name', 'last_name'];
    const issues = validate(b, USER_FIELDS, [...nonEmpty, 'password'], nonEmpty);
    if (issues.length > 0) return detail(res, 422, issues);
    const username = b['username'] as string;
    const email = b['email'] as string;
    if (state.getUser(username)) return detail(res, 409, `Username \`${username}\` already exists. Use PATCH to update.`);
    if (state.findUserByEmail(email)) return detail(res, 409, `The email \`${email}\` is already taken.`);
    const roles = roleNames(b['roles']);
    const missing = roles.filter((n) => !state.getRole(n));
    if (missing.length > 0) return detail(res, 400, `Unknown roles: ${pyNames(missing)}`);
    const u = state.addUser({
      username, email, firstName: b['first_name'] as string, lastName: b['last_name'] as string,
      roles: [...new Set(roles)], password: b['password'] as string,
    });
    res.status(200).json(userJson(u));
  });

  r.patch(`${base}/users/:username`, requires('can_edit', 'Users'), (req, res) => {
    const pathName = String(req.params['username']);
    const user = state.getUser(pathName);
    if (!user) return detail(res, 404, `The User with username \`${pathName}\` was not found`);
    const b = objectBody(req.body) ?? {};
    const issues = validate(b, USER_FIELDS, [], ['username', 'email', 'first_name', 'last_name']);
    if (issues.length > 0) return detail(res, 422, issues);
    const rawMask = req.query['update_mask'];
    const mask = typeof rawMask === 'string' && rawMask !== '' ? rawMask.split(',').map((s) => s.trim()) : undefined;
    if (mask) {
      const unknown = mask.filter((f) => !USER_FIELDS.includes(f));
      if (unknown.length > 0) return detail(res, 400, `Unknown update masks: ${pyNames(unknown)}`);
    }
    // Only non-null fields apply; the mask narrows them further (doc §2.5).
    const apply = (f: string): boolean => b[f] !== undefined && b[f] !== null && (!mask || mask.includes(f));
    if (apply('username') && (b['username'] as string).toLowerCase() !== user.username.toLowerCase() && state.getUser(b['username'] as string)) {
      return detail(res, 409, `The username \`${String(b['username'])}\` already exists`);
    }
    if (apply('email') && b['email'] !== user.email && state.findUserByEmail(b['email'] as string)) {
      return detail(res, 409, `The email \`${String(b['email'])}\` already exists`);
    }
    if (apply('roles')) {
      const roles = roleNames(b['roles']);
      const missing = roles.filter((n) => !state.getRole(n));
      if (missing.length > 0) return detail(res, 400, `Unknown roles: ${pyNames(missing)}`);
      user.roles = [...new Set(roles)]; // replaces, deduplicated
    }
    if (apply('username')) user.username = b['username'] as string;
    if (apply('email')) user.email = b['email'] as string;
    if (apply('first_name')) user.firstName = b['first_name'] as string;
    if (apply('last_name')) user.lastName = b['last_name'] as string;
    if (apply('password')) user.password = b['password'] as string;
    state.touch(user);
    res.json(userJson(user));
  });

  r.delete(`${base}/users/:username`, requires('can_delete', 'Users'), (req, res) => {
    const name = String(req.params['username']);
    if (!state.removeUser(name)) return detail(res, 404, `The User with username \`${name}\` was not found`);
    res.status(204).end();
  });

  r.get(`${base}/roles`, requires('can_read', 'Roles'), (req, res) => {
    const p = listParams(req.query as Record<string, unknown>, 50);
    if (!p.ok) return detail(res, 400, p.detail);
    const sorted = sortBy(state.listRoles(), req.query['order_by'] as string | undefined, roleOrderFields, 'name', true);
    if (!sorted.ok) return detail(res, 400, sorted.detail);
    res.json({ roles: sorted.items.slice(p.offset, p.offset + p.limit).map(roleJson), total_entries: sorted.items.length });
  });

  r.get(`${base}/roles/:name`, requires('can_read', 'Roles'), (req, res) => {
    const role = state.getRole(String(req.params['name']));
    if (!role) return detail(res, 404, `Role with name '${String(req.params['name'])}' does not exist.`);
    res.json(roleJson(role));
  });

  r.post(`${base}/roles`, requires('can_create', 'Roles'), (req, res) => {
    const b = objectBody(req.body) ?? {};
    const issues = validate(b, ['name', 'actions'], ['name'], ['name']);
    const actions = 'actions' in b ? parseActions(b['actions']) : [];
    if (typeof actions === 'string') issues.push({ type: 'model_type', loc: ['body', 'actions'], msg: 'Input should be a valid list of ActionResource' });
    if (issues.length > 0 || typeof actions === 'string') return detail(res, 422, issues);
    const name = b['name'] as string;
    if (state.getRole(name)) return detail(res, 409, `Role with name '${name}' already exists; please update with the PATCH endpoint`);
    const bad = checkPermissions(state, actions);
    if (bad) return detail(res, 400, bad);
    res.status(200).json(roleJson(state.addRole(name, actions))); // returns the role (fixed vs 2.x, doc §2.5)
  });

  r.patch(`${base}/roles/:name`, requires('can_edit', 'Roles'), (req, res) => {
    const role = state.getRole(String(req.params['name']));
    if (!role) return detail(res, 404, `Role with name '${String(req.params['name'])}' does not exist.`);
    const b = objectBody(req.body) ?? {};
    const issues = validate(b, ['name', 'actions'], ['name'], ['name']);
    const actions = 'actions' in b ? parseActions(b['actions']) : undefined;
    if (typeof actions === 'string') issues.push({ type: 'model_type', loc: ['body', 'actions'], msg: 'Input should be a valid list of ActionResource' });
    if (issues.length > 0 || typeof actions === 'string') return detail(res, 422, issues);
    const rawMask = req.query['update_mask'];
    const mask = typeof rawMask === 'string' && rawMask !== '' ? rawMask.split(',').map((s) => s.trim()) : ['name', 'actions'];
    const unknown = mask.find((f) => f !== 'name' && f !== 'actions');
    if (unknown !== undefined) return detail(res, 400, `'${unknown}' in update_mask is unknown`);
    if (actions && mask.includes('actions')) {
      const bad = checkPermissions(state, actions);
      if (bad) return detail(res, 400, bad);
      // FAB >= 3.8.1 replaces the permission set (PR #71933); 3.3.0-3.8.0 only add (real-airflow.md §1).
      if (compareVersions(settings.fabVersion, '3.8.1') >= 0) state.setPermissions(role.name, actions);
      else state.grant(role.name, actions);
    }
    if (mask.includes('name') && b['name'] !== role.name) state.renameRole(role.name, b['name'] as string);
    res.json(roleJson(role));
  });

  r.delete(`${base}/roles/:name`, requires('can_delete', 'Roles'), (req, res) => {
    const name = String(req.params['name']);
    if (!state.removeRole(name)) return detail(res, 404, `Role with name '${name}' does not exist.`);
    res.status(200).end(); // 200 with an empty body (doc §2.2)
  });

  r.get(`${base}/permissions`, requires('can_read', 'Permissions'), (req, res) => {
    const p = listParams(req.query as Record<string, unknown>, 50);
    if (!p.ok) return detail(res, 400, p.detail);
    const pairs = state.listRoles().find((x) => x.name === 'Admin')?.permissions ?? [];
    const all = [...new Map([...pairs, ...state.listRoles().flatMap((x) => x.permissions)].map((pr) => [pr.join('\u0000'), pr])).values()];
    res.json({
      actions: all.slice(p.offset, p.offset + p.limit).map(([a, res2]) => ({ action: { name: a }, resource: { name: res2 } })),
      total_entries: all.length,
    });
  });

  return r;
}

function roleNames(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => String((x as { name?: unknown } | null)?.name ?? ''));
}
