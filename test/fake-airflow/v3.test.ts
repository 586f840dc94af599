import { signAirflowJwt } from '../../src/airflow/jwt-sign';
/** The 3.x fake's behaviour, each from ../shared/docs/airflow-api.md §2. */
import request from 'supertest';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';

const BASE = '/auth/fab/v1';
let fake: FakeAirflow;
let bearer: string;
beforeEach(async () => {
  fake = await startFakeAirflow({ version: 3 });
  const t = await request(fake.url).post('/auth/token').send({ username: 'admin', password: 'admin' });
  bearer = `Bearer ${t.body.access_token as string}`;
});
afterEach(async () => {
  await fake.close();
});
const api = () => request(fake.url);
const user = (username: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  username, email: `${username}@corp.example`, first_name: 'F', last_name: 'L', password: 'pw', ...extra,
});

test('version and health are public (3.x paths)', async () => {
  expect((await api().get('/api/v2/version')).body).toEqual({ version: '3.3.2', git_version: null });
  expect((await api().get('/api/v2/monitor/health')).status).toBe(200);
  expect((await api().get('/api/v1/version')).status).toBe(404);
});

test('POST /auth/token: 201 JWT with exp; 401 Invalid credentials; 400 when fields are missing (§2.8)', async () => {
  const ok = await api().post('/auth/token').send({ username: 'ADMIN', password: 'admin' });
  expect(ok.status).toBe(201);
  const [head, payload] = (ok.body.access_token as string).split('.');
  expect(JSON.parse(Buffer.from(head as string, 'base64url').toString()).alg).toBe('HS512');
  const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
  expect(claims.exp - claims.iat).toBe(86_400);
  expect(claims.sub).toBe('1');
  const bad = await api().post('/auth/token').send({ username: 'admin', password: 'nope' });
  expect(bad.status).toBe(401);
  expect(bad.body).toEqual({ detail: 'Invalid credentials' });
  const missing = await api().post('/auth/token').send({ username: 'admin' });
  expect(missing.status).toBe(400);
  expect(missing.body).toEqual({ detail: 'Username and password must be provided' });
});

test('Bearer required: missing and expired tokens get 401, any other invalid token 403 "Invalid JWT token" (as real 3.3.2)', async () => {
  expect((await api().get(`${BASE}/users`)).body).toEqual({ detail: 'Not authenticated' });
  const invalid = await api().get(`${BASE}/users`).set('Authorization', 'Bearer a.b.c');
  expect(invalid.status).toBe(403);
  expect(invalid.body).toEqual({ detail: 'Invalid JWT token' });
  expect((await api().get(`${BASE}/users`).set('Authorization', 'Basic YWRtaW46YWRtaW4=')).status).toBe(401);
  fake.setJwtTtl(-1);
  const t = await api().post('/auth/token').send({ username: 'admin', password: 'admin' });
  const expired = await api().get(`${BASE}/users`).set('Authorization', `Bearer ${t.body.access_token as string}`);
  expect(expired.status).toBe(401);
  expect(expired.body).toEqual({ detail: 'Token Expired' });
  fake.revokeTokens();
  expect((await api().get(`${BASE}/users`).set('Authorization', bearer)).status).toBe(403);
});

test('permissions: a Viewer gets 403 {"detail": "Forbidden"}', async () => {
  fake.state.addUser({ username: 'v', roles: ['Viewer'], password: 'pw' });
  const t = await api().post('/auth/token').send({ username: 'v', password: 'pw' });
  const r = await api().get(`${BASE}/users`).set('Authorization', `Bearer ${t.body.access_token as string}`);
  expect(r.status).toBe(403);
  expect(r.body).toEqual({ detail: 'Forbidden' });
});

test('POST /users: 200; 422 for missing password, empty names and unknown fields (§2.3)', async () => {
  const ok = await api().post(`${BASE}/users`).set('Authorization', bearer).send(user('amy'));
  expect(ok.status).toBe(200);
  expect(ok.body).toMatchObject({ username: 'amy', roles: [{ name: 'Public' }] });
  const { password: _pw, ...noPassword } = user('bo');
  const missing = await api().post(`${BASE}/users`).set('Authorization', bearer).send(noPassword);
  expect(missing.status).toBe(422);
  expect(missing.body.detail[0]).toMatchObject({ type: 'missing', loc: ['body', 'password'], msg: 'Field required' });
  const empty = await api().post(`${BASE}/users`).set('Authorization', bearer).send(user('cy', { first_name: '' }));
  expect(empty.status).toBe(422);
  expect(empty.body.detail[0]).toMatchObject({ type: 'string_too_short', loc: ['body', 'first_name'] });
  const extra = await api().post(`${BASE}/users`).set('Authorization', bearer).send(user('di', { active: true }));
  expect(extra.status).toBe(422);
  expect(extra.body.detail[0]).toMatchObject({ type: 'extra_forbidden', loc: ['body', 'active'] });
  const roles = await api().post(`${BASE}/users`).set('Authorization', bearer).send(user('ed', { roles: [{ name: 'God' }] }));
  expect(roles.status).toBe(400);
  expect(roles.body).toEqual({ detail: "Unknown roles: 'God'" });
  const dup = await api().post(`${BASE}/users`).set('Authorization', bearer).send(user('AMY', { email: 'n@x' }));
  expect(dup.status).toBe(409);
  expect(dup.body.detail).toBe('Username `AMY` already exists. Use PATCH to update.');
});

test('PATCH /users: partial body, comma update_mask, roles replaced, unknown mask 400 (§2.5)', async () => {
  fake.state.addUser({ username: 'pat', roles: ['Viewer', 'Op'] });
  const r = await api().patch(`${BASE}/users/PAT?update_mask=roles,last_name`).set('Authorization', bearer)
    .send({ roles: [{ name: 'User' }, { name: 'User' }], last_name: 'New', first_name: 'ignored' });
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ username: 'pat', roles: [{ name: 'User' }], last_name: 'New', first_name: 'pat' });
  const bad = await api().patch(`${BASE}/users/pat?update_mask=colour`).set('Authorization', bearer).send({});
  expect(bad.body).toEqual({ detail: "Unknown update masks: 'colour'" });
  const empty = await api().patch(`${BASE}/users/pat`).set('Authorization', bearer).send({ last_name: '' });
  expect(empty.status).toBe(422);
});

test('paging: limit 0 → 50 fallback, clamp 100, order_by -id allowed (§2.6)', async () => {
  fake.state.addUsers(120, 'p');
  expect((await api().get(`${BASE}/users?limit=0`).set('Authorization', bearer)).body.users).toHaveLength(50);
  const big = await api().get(`${BASE}/users?limit=1000`).set('Authorization', bearer);
  expect(big.body.users).toHaveLength(100);
  expect(big.body.total_entries).toBe(121);
  const desc = await api().get(`${BASE}/users?order_by=-id&limit=1`).set('Authorization', bearer);
  expect(desc.body.users[0].username).toBe('p0119');
  expect((await api().get(`${BASE}/users?order_by=colour`).set('Authorization', bearer)).status).toBe(400);
  expect((await api().get(`${BASE}/users?whatever=1`).set('Authorization', bearer)).status).toBe(200);
});

test('roles: POST returns the role; PATCH replaces the set (FAB 3.10.2); DELETE 200; permissions list pairs', async () => {
  const perm = (a: string, r: string) => ({ action: { name: a }, resource: { name: r } });
  const created = await api().post(`${BASE}/roles`).set('Authorization', bearer).send({ name: 'fin', actions: [perm('can_read', 'DAGs')] });
  expect(created.status).toBe(200);
  expect(created.body).toEqual({ name: 'fin', actions: [perm('can_read', 'DAGs')] });
  const patched = await api().patch(`${BASE}/roles/fin?update_mask=actions`).set('Authorization', bearer).send({ name: 'fin', actions: [perm('can_edit', 'DAGs')] });
  expect(patched.body.actions).toEqual([perm('can_edit', 'DAGs')]);
  const bad = await api().post(`${BASE}/roles`).set('Authorization', bearer).send({ name: 'x', actions: [perm('can_read', 'DAG:nope')] });
  expect(bad.body).toEqual({ detail: "The specified resource: 'DAG:nope' was not found" });
  const del = await api().delete(`${BASE}/roles/fin`).set('Authorization', bearer);
  expect(del.status).toBe(200);
  expect(del.text).toBe('');
  const perms = await api().get(`${BASE}/permissions?limit=5`).set('Authorization', bearer);
  expect(perms.body.actions[0]).toHaveProperty('action.name');
  expect(perms.body.actions[0]).toHaveProperty('resource.name');
});

test('non-FAB: tokens still issued but /auth/fab/v1 is 404', async () => {
  const simple = await startFakeAirflow({ version: 3, fab: false });
  try {
    const t = await request(simple.url).post('/auth/token').send({ username: 'admin', password: 'admin' });
    const r = await request(simple.url).get(`${BASE}/users`).set('Authorization', `Bearer ${t.body.access_token as string}`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ detail: 'Not Found' });
  } finally {
    await simple.close();
  }
});

test('down closes the listener (connection refused) and comes back', async () => {
  await fake.setDown(true);
  await expect(request(fake.url).get('/api/v2/version')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  await fake.setDown(false);
  expect((await api().get('/api/v2/version')).status).toBe(200);
});

test('errorRate answers a seeded share of 500s; latency and slow pages delay', async () => {
  fake.faults.errorRate = 0.5;
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) statuses.push((await api().get('/api/v2/version')).status);
  const fails = statuses.filter((s) => s === 500).length;
  expect(fails).toBeGreaterThan(3);
  expect(fails).toBeLessThan(17);
  fake.faults.errorRate = 0;
  fake.faults.slowPageMs = 150;
  const t0 = Date.now();
  await api().get(`${BASE}/users`).set('Authorization', bearer);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
});

test('FAB 3.8.0: role PATCH only adds; providers endpoint reports the version', async () => {
  const old = await startFakeAirflow({ version: 3, fabVersion: '3.8.0' });
  try {
    const t = (await request(old.url).post('/auth/token').send({ username: 'admin', password: 'admin' })).body.access_token as string;
    const perm = (a: string, r: string) => ({ action: { name: a }, resource: { name: r } });
    await request(old.url).post(`${BASE}/roles`).set('Authorization', `Bearer ${t}`).send({ name: 'fin', actions: [perm('can_read', 'DAGs')] });
    const patched = await request(old.url).patch(`${BASE}/roles/fin?update_mask=actions`).set('Authorization', `Bearer ${t}`).send({ name: 'fin', actions: [perm('can_edit', 'DAGs')] });
    expect(patched.body.actions).toEqual([perm('can_read', 'DAGs'), perm('can_edit', 'DAGs')]);
    const providers = await request(old.url).get('/api/v2/providers').set('Authorization', `Bearer ${t}`);
    expect(providers.body.providers).toContainEqual(expect.objectContaining({ package_name: 'apache-airflow-providers-fab', version: '3.8.0' }));
    // Airflow 3 resource names (real-airflow.md §5): Assets, no Datasets.
    expect(old.state.resources.has('Assets')).toBe(true);
    expect(old.state.resources.has('Datasets')).toBe(false);
  } finally {
    await old.close();
  }
});

test('FAB >= 3.11 under AUTH_OAUTH issues no token for a password; a token signed with the shared secret works', async () => {
  const sso = await startFakeAirflow({ version: 3, fabVersion: '3.11.0', authType: 'AUTH_OAUTH', jwtSecret: 'shared-secret' });
  try {
    expect((await request(sso.url).post('/auth/token').send({ username: 'admin', password: 'admin' })).status).toBe(401);
    const own = signAirflowJwt({ secret: 'shared-secret', userId: String(sso.state.getUser('admin')?.id), audience: 'apache-airflow', lifetimeSeconds: 60 }, Date.now());
    expect((await request(sso.url).get(`${BASE}/users`).set('Authorization', `Bearer ${own}`)).status).toBe(200);
    const wrong = signAirflowJwt({ secret: 'other-secret', userId: '1', audience: 'apache-airflow', lifetimeSeconds: 60 }, Date.now());
    expect((await request(sso.url).get(`${BASE}/users`).set('Authorization', `Bearer ${wrong}`)).status).toBe(403);
  } finally {
    await sso.close();
  }
});
