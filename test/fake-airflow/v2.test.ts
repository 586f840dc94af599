/** The 2.x fake's quirks, each from ../shared/docs/airflow-api.md §1. */
import request from 'supertest';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';

const BASE = '/auth/fab/v1';
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const ADMIN = basic('admin', 'admin');
const body = (username: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  username, email: `${username}@corp.example`, first_name: 'F', last_name: 'L', ...extra,
});

let fake: FakeAirflow;
beforeEach(async () => {
  fake = await startFakeAirflow({ version: 2 });
});
afterEach(async () => {
  await fake.close();
});
const api = () => request(fake.url);

test('version and health answer without credentials (§1.1 spec security: [])', async () => {
  expect((await api().get('/api/v1/version')).body).toEqual({ version: '2.10.5', git_version: null });
  expect((await api().get('/api/v1/health')).body.metadatabase).toEqual({ status: 'healthy' });
  expect((await api().get('/api/v2/version')).status).toBe(404);
});

test('bad or missing credentials answer 403 problem+json (§1.6), or 401 when the knob says so', async () => {
  const bad = await api().get(`${BASE}/users`).set('Authorization', basic('admin', 'wrong'));
  expect(bad.status).toBe(403);
  expect(bad.headers['content-type']).toContain('application/problem+json');
  expect(bad.body).toMatchObject({ title: 'Forbidden', status: 403 });
  expect(bad.body.type).toContain('#section/Errors/PermissionDenied');
  expect((await api().get(`${BASE}/users`)).status).toBe(403);
  fake.settings.authFailureStatus = 401;
  const r = await api().get(`${BASE}/users`);
  expect(r.status).toBe(401);
  expect(r.headers['www-authenticate']).toBe('Basic');
  expect(r.body).toMatchObject({ title: 'Unauthorized', status: 401 });
});

test('a user without the permission gets 403; Admin holds Users and Roles CRUD (§1.1)', async () => {
  fake.state.addUser({ username: 'viewer', roles: ['Viewer'], password: 'pw' });
  expect((await api().get(`${BASE}/users`).set('Authorization', basic('viewer', 'pw'))).status).toBe(403);
  fake.state.addRole('UserReader', [['can_read', 'Users']]);
  fake.state.addUser({ username: 'reader', roles: ['UserReader'], password: 'pw' });
  expect((await api().get(`${BASE}/users`).set('Authorization', basic('reader', 'pw'))).status).toBe(200);
  expect((await api().post(`${BASE}/users`).set('Authorization', basic('reader', 'pw')).send(body('x'))).status).toBe(403);
});

test('POST /users answers 200 (not 201); no roles → Public; both base paths serve the same data', async () => {
  const r = await api().post(`${BASE}/users`).set('Authorization', ADMIN).send(body('amy', { password: 'p' }));
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ username: 'amy', roles: [{ name: 'Public' }], active: true, fail_login_count: 0 });
  expect(r.body.password).toBeUndefined();
  const viaV1 = await api().get('/api/v1/users/amy').set('Authorization', ADMIN);
  expect(viaV1.status).toBe(200);
});

test('validation: required fields, unknown fields, read-only active, unknown roles (§1.2, §1.3)', async () => {
  const post = (b: unknown) => api().post(`${BASE}/users`).set('Authorization', ADMIN).send(b as object);
  const missing = await post({ username: 'a', email: 'a@x', last_name: 'L' });
  expect(missing.status).toBe(400);
  expect(missing.body.detail).toBe("{'first_name': ['Missing data for required field.']}");
  expect((await post(body('b', { 'i-am': 'x' }))).body.detail).toBe("{'i-am': ['Unknown field.']}");
  expect((await post(body('c', { active: false }))).body.detail).toBe("{'active': ['Unknown field.']}");
  const roles = await post(body('d', { roles: [{ name: 'God' }, { name: 'Overlord' }] }));
  expect(roles.status).toBe(400);
  expect(roles.body).toMatchObject({ detail: "Unknown roles: 'God', 'Overlord'", title: 'Bad Request', status: 400 });
  expect((await post(body('e', { first_name: '', last_name: '' }))).status).toBe(200); // empty names allowed on 2.x
});

test('409 messages for username (case-insensitive) and email (§1.7)', async () => {
  await api().post(`${BASE}/users`).set('Authorization', ADMIN).send(body('bob'));
  const dup = await api().post(`${BASE}/users`).set('Authorization', ADMIN).send(body('BOB', { email: 'o@x' }));
  expect(dup.status).toBe(409);
  expect(dup.body.detail).toBe('Username `BOB` already exists. Use PATCH to update.');
  const mail = await api().post(`${BASE}/users`).set('Authorization', ADMIN).send(body('bob2', { email: 'bob@corp.example' }));
  expect(mail.body.detail).toBe('The email `bob@corp.example` is already taken.');
  await api().post(`${BASE}/users`).set('Authorization', ADMIN).send(body('cat'));
  const patch = await api().patch(`${BASE}/users/cat`).set('Authorization', ADMIN).send(body('cat', { email: 'bob@corp.example' }));
  expect(patch.status).toBe(409);
  expect(patch.body.detail).toBe('The email `bob@corp.example` already exists');
  expect((await api().get(`${BASE}/users/BoB`).set('Authorization', ADMIN)).body.username).toBe('bob');
});

test('PATCH: body fully validated even with a mask; unknown mask 400; roles replaced (§1.4)', async () => {
  fake.state.addUser({ username: 'pat', roles: ['Viewer', 'Op'] });
  const noFields = await api().patch(`${BASE}/users/pat?update_mask=roles`).set('Authorization', ADMIN).send({ roles: [{ name: 'User' }] });
  expect(noFields.status).toBe(400);
  expect(noFields.body.detail).toContain("'first_name': ['Missing data for required field.']");
  const unknown = await api().patch(`${BASE}/users/pat?update_mask=x`).set('Authorization', ADMIN).send(body('pat'));
  expect(unknown.body.detail).toBe("Unknown update masks: 'x'");
  const ok = await api().patch(`${BASE}/users/pat?update_mask=roles`).set('Authorization', ADMIN).send(body('pat', { first_name: 'IGNORED', roles: [{ name: 'User' }] }));
  expect(ok.status).toBe(200);
  expect(ok.body.roles).toEqual([{ name: 'User' }]);
  expect(fake.state.getUser('pat')).toMatchObject({ roles: ['User'], firstName: 'pat' });
  const missing = await api().patch(`${BASE}/users/ghost`).set('Authorization', ADMIN).send(body('ghost'));
  expect(missing.status).toBe(404);
  expect(missing.body).toMatchObject({ title: 'User not found', detail: 'The User with username `ghost` was not found' });
});

test('paging: limit clamped at 100, limit 0 → 100, total_entries; -order_by and unknown params 400 (§1.5)', async () => {
  fake.state.addUsers(150, 'p');
  const big = await api().get(`${BASE}/users?limit=500`).set('Authorization', ADMIN);
  expect(big.body.users).toHaveLength(100);
  expect(big.body.total_entries).toBe(151);
  expect((await api().get(`${BASE}/users?limit=0`).set('Authorization', ADMIN)).body.users).toHaveLength(100);
  expect((await api().get(`${BASE}/users?limit=100&offset=100`).set('Authorization', ADMIN)).body.users).toHaveLength(51);
  const desc = await api().get(`${BASE}/users?order_by=-id`).set('Authorization', ADMIN);
  expect(desc.status).toBe(400);
  expect(desc.body.detail).toBe("Ordering with '-id' is disallowed or the attribute does not exist on the model");
  const extra = await api().get(`${BASE}/users?foo=1`).set('Authorization', ADMIN);
  expect(extra.status).toBe(400);
  expect(extra.body.detail).toContain('foo');
  expect((await api().get(`${BASE}/users?limit=-1`).set('Authorization', ADMIN)).status).toBe(400);
});

test('roles: POST returns {}; 409; PATCH only adds; unknown action/resource 400; DELETE 204 (§1.4)', async () => {
  const created = await api().post(`${BASE}/roles`).set('Authorization', ADMIN)
    .send({ name: 'fin', actions: [{ action: { name: 'can_read' }, resource: { name: 'DAG:finance_daily' } }] });
  expect(created.status).toBe(200);
  expect(created.body).toEqual({});
  const dup = await api().post(`${BASE}/roles`).set('Authorization', ADMIN).send({ name: 'fin', actions: [] });
  expect(dup.status).toBe(409);
  expect(dup.body.detail).toBe("Role with name 'fin' already exists; please update with the PATCH endpoint");
  const patched = await api().patch(`${BASE}/roles/fin?update_mask=actions`).set('Authorization', ADMIN)
    .send({ name: 'fin', actions: [{ action: { name: 'can_edit' }, resource: { name: 'DAG:finance_daily' } }] });
  expect(patched.body.actions).toHaveLength(2);
  const badAction = await api().patch(`${BASE}/roles/fin`).set('Authorization', ADMIN)
    .send({ name: 'fin', actions: [{ action: { name: 'can_fly' }, resource: { name: 'DAGs' } }] });
  expect(badAction.body.detail).toBe("The specified action: 'can_fly' was not found");
  const badRes = await api().post(`${BASE}/roles`).set('Authorization', ADMIN)
    .send({ name: 'x', actions: [{ action: { name: 'can_read' }, resource: { name: 'DAG:nope' } }] });
  expect(badRes.body.detail).toBe("The specified resource: 'DAG:nope' was not found");
  const badMask = await api().patch(`${BASE}/roles/fin?update_mask=colour`).set('Authorization', ADMIN).send({ name: 'fin' });
  expect(badMask.body.detail).toBe("'colour' in update_mask is unknown");
  expect((await api().delete(`${BASE}/roles/fin`).set('Authorization', ADMIN)).status).toBe(204);
  const perms = await api().get(`${BASE}/permissions`).set('Authorization', ADMIN);
  expect(perms.body.actions).toEqual(expect.arrayContaining([{ name: 'can_read' }, { name: 'menu_access' }]));
});

test('default roles exist with permissions; DAG resources exist (§3, §4)', async () => {
  const r = await api().get(`${BASE}/roles`).set('Authorization', ADMIN);
  expect(r.body.roles.map((x: { name: string }) => x.name)).toEqual(['Admin', 'Op', 'Public', 'User', 'Viewer']);
  expect(r.body.roles.find((x: { name: string }) => x.name === 'Public').actions).toEqual([]);
  expect(fake.state.resources.has('DAG:finance_daily')).toBe(true);
  expect(fake.state.can(fake.state.getUser('admin'), 'can_delete', 'Roles')).toBe(true);
});

test('2.7 serves only /api/v1; non-FAB refuses /api/v1 with 400', async () => {
  const old = await startFakeAirflow({ version: 2, airflowVersion: '2.7.3' });
  const nonFab = await startFakeAirflow({ version: 2, fab: false });
  try {
    expect((await request(old.url).get('/api/v1/users').set('Authorization', ADMIN)).status).toBe(200);
    expect((await request(old.url).get(`${BASE}/users`).set('Authorization', ADMIN)).status).toBe(404);
    const r = await request(nonFab.url).get('/api/v1/users').set('Authorization', ADMIN);
    expect(r.status).toBe(400);
    expect(r.body.detail).toContain('FabAuthManager');
  } finally {
    await old.close();
    await nonFab.close();
  }
});

test('faults: failNext with Retry-After, every-N rate limit, counting by template', async () => {
  fake.faults.failNext(1, 429, 3);
  const r = await api().get('/api/v1/version');
  expect(r.status).toBe(429);
  expect(r.headers['retry-after']).toBe('3');
  fake.faults.rateLimit = { everyN: 2, retryAfterSeconds: 1 };
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await api().get(`${BASE}/users/admin`).set('Authorization', ADMIN)).status);
  expect(statuses).toEqual([429, 200, 429, 200]);
  expect(fake.faults.count('GET /auth/fab/v1/users/{username}')).toBe(4);
});
