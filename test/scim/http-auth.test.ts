import { TokenService, TOKEN_CACHE_MS } from '../../src/scim/tokens';
import { Writable } from 'node:stream';
import request from 'supertest';
import { createLogger } from '../../src/logger';
import { FailureWindow } from '../../src/scim/auth';
import { BASE, buildTestApp, expectScimError, type TestApp } from '../helpers/scim-app';

const get = (t: TestApp, auth?: string, ip?: string) => {
  const r = request(t.app).get(`${BASE}/Users`);
  if (auth !== undefined) r.set('Authorization', auth);
  if (ip) r.set('X-Forwarded-For', ip);
  return r;
};

describe('SCIM authentication', () => {
  let t: TestApp;
  let failures: string[];
  beforeEach(async () => {
    failures = [];
    t = await buildTestApp({
      bootstrapToken: 'bootstrap-secret-0123456789',
      config: { scim: { authFailures: { limit: 5, window: 60_000 } }, server: { trustProxy: ['127.0.0.1/8', '::1'] } },
      metrics: { observeScimRequest: () => undefined, authFailure: (r) => failures.push(r) },
    });
  });
  afterEach(() => t.close());

  test('Authorization: Bearer <token> works (scheme case-insensitive)', async () => {
    await get(t, `Bearer ${t.token}`).expect(200);
    await get(t, `bearer ${t.token}`).expect(200);
  });

  test('the bare token (Okta header mode) works', async () => {
    await get(t, t.token).expect(200);
  });

  test('Basic with the token as the password works (Okta AIW test apps)', async () => {
    await get(t, 'Basic ' + Buffer.from(`okta:${t.token}`).toString('base64')).expect(200);
  });

  test('metrics hook sees every SCIM request with a bounded resource label', async () => {
    const seen: [string, string, number][] = [];
    const u = await buildTestApp({ metrics: { observeScimRequest: (r, m, s) => seen.push([r, m, s]), authFailure: () => undefined } });
    await u.scim.get('/Users').expect(200);
    await u.scim.get('/Users/abc').expect(404);
    await u.scim.get('/Schemas').expect(200);
    await u.scim.get('/whatever/123').expect(404);
    await request(u.app).get(`${BASE}/Groups`).expect(401);
    expect(seen).toEqual([
      ['Users', 'GET', 200],
      ['Users', 'GET', 404],
      ['Schemas', 'GET', 200],
      ['other', 'GET', 404],
      ['Groups', 'GET', 401],
    ]);
    await u.close();
  });

  test('missing header → 401 with WWW-Authenticate and an Error body', async () => {
    const res = await get(t);
    const body = expectScimError(res, 401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="airflow-scim"/);
    expect(body.detail).toMatch(/required/);
    expect(failures).toEqual(['missing']);
  });

  test('wrong, expired and revoked tokens all look the same to the client', async () => {
    const short = await t.tokens.create('short', 60_000);
    const old = await t.tokens.create('old');
    await t.tokens.revoke('old');
    t.clock.advance(61_000);
    const bodies = [];
    for (const auth of ['Bearer scim_wrong', `Bearer ${short.secret}`, `Bearer ${old.secret}`, 'Basic dXNlcjpwYXNz']) {
      const res = await get(t, auth);
      expectScimError(res, 401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="airflow-scim"/);
      bodies.push(res.body.detail);
    }
    expect(new Set(bodies).size).toBe(1);
    expect(failures).toEqual(['invalid', 'expired', 'revoked', 'invalid']);
  });

  test('rotation: old and new tokens both work until the old one is revoked', async () => {
    const next = await t.tokens.create('next');
    await get(t, `Bearer ${t.token}`).expect(200);
    await get(t, `Bearer ${next.secret}`).expect(200);
    await t.tokens.revoke('test');
    expectScimError(await get(t, `Bearer ${t.token}`), 401);
    await get(t, `Bearer ${next.secret}`).expect(200);
  });

  test('the bootstrap SCIM_TOKEN authenticates as "bootstrap" (audit actor)', async () => {
    const res = await request(t.app)
      .post(`${BASE}/Users`)
      .set('Authorization', 'Bearer bootstrap-secret-0123456789')
      .set('Content-Type', 'application/scim+json')
      .send(JSON.stringify({ userName: 'boot' }))
      .expect(201);
    const entries = await t.audit.query({ source: 'scim' });
    expect(entries.find((e) => e.resourceId === res.body.id)?.actor).toBe('bootstrap');
  });

  test('tokens: only the sha256 is stored; duplicate active name is refused; last-used touched at most once a minute', async () => {
    const made = await t.tokens.create('ci');
    expect(made.secret).toMatch(/^scim_[A-Za-z0-9_-]{43}$/);
    const rec = (await t.tokenStore.list()).find((r) => r.name === 'ci')!;
    expect(rec.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(await t.tokenStore.list())).not.toContain(made.secret);
    await expect(t.tokens.create('ci')).rejects.toThrow(/already exists/);
    await expect(t.tokens.create('bootstrap')).rejects.toThrow();
    const touch = jest.spyOn(t.tokenStore, 'touch');
    expect(await t.tokens.verify(made.secret)).toEqual({ name: 'ci' });
    expect(await t.tokens.verify(made.secret)).toEqual({ name: 'ci' });
    t.clock.advance(61_000);
    expect(await t.tokens.verify(made.secret)).toEqual({ name: 'ci' });
    expect(touch).toHaveBeenCalledTimes(2);
    expect((await t.tokens.list()).find((x) => x.name === 'ci')?.status).toBe('active');
  });

  test('verify() reads tokens from memory; a revoke by another process is refused within a second, our own at once', async () => {
    const made = await t.tokens.create('cached');
    const list = jest.spyOn(t.tokenStore, 'list');
    const active = jest.spyOn(t.tokenStore, 'active');
    for (let i = 0; i < 50; i++) expect(await t.tokens.verify(made.secret)).toEqual({ name: 'cached' });
    expect(list.mock.calls.length + active.mock.calls.length).toBeLessThanOrEqual(1); // not one read per request
    // Another process (its own TokenService on the same table) revokes the token.
    const other = new TokenService(t.tokenStore, t.clock, null);
    expect(await other.revoke('cached')).toBe(true);
    t.clock.advance(TOKEN_CACHE_MS);
    expect(await t.tokens.verify(made.secret)).toEqual({ error: 'revoked' });
    // This process's own changes take effect at once.
    const mine = await t.tokens.create('mine');
    expect(await t.tokens.verify(mine.secret)).toEqual({ name: 'mine' });
    await t.tokens.revoke('mine');
    expect(await t.tokens.verify(mine.secret)).toEqual({ error: 'revoked' });
    list.mockRestore();
    active.mockRestore();
  });

  test('repeated failures from one address → 429 with integer Retry-After for bad tokens; other addresses unaffected', async () => {
    for (let i = 0; i < 5; i++) expectScimError(await get(t, 'Bearer nope', '203.0.113.9'), 401);
    const blocked = await get(t, 'Bearer nope', '203.0.113.9');
    expectScimError(blocked, 429);
    expect(blocked.headers['retry-after']).toBe('60');
    expectScimError(await get(t, undefined, '203.0.113.9'), 429);
    expectScimError(await get(t, 'Bearer nope', '198.51.100.1'), 401);
    t.clock.advance(30_000);
    expect((await get(t, 'Bearer nope', '203.0.113.9')).headers['retry-after']).toBe('30');
    t.clock.advance(30_001);
    expectScimError(await get(t, 'Bearer nope', '203.0.113.9'), 401);
    expect(failures).toContain('rate-limited');
  });

  test('a valid token is never refused by the failure limiter, whoever shares its address', async () => {
    // Behind an ingress every client may share one address: an attacker's bad tokens must not lock the IdP out.
    for (let i = 0; i < 50; i++) await get(t, i % 2 ? 'Bearer nope' : undefined, '203.0.113.9');
    expectScimError(await get(t, 'Bearer nope', '203.0.113.9'), 429);
    for (let i = 0; i < 5; i++) {
      await get(t, `Bearer ${t.token}`, '203.0.113.9').expect(200);
      await get(t, 'Bearer bootstrap-secret-0123456789', '203.0.113.9').expect(200);
      expectScimError(await get(t, 'Bearer nope', '203.0.113.9'), 429);
    }
  });

  test('the limiter tracks a bounded number of addresses and failures', () => {
    const w = new FailureWindow(3, 60_000, 100);
    for (let i = 0; i < 10_000; i++) w.fail(`198.51.${i >> 8}.${i & 255}`, 1000);
    for (let i = 0; i < 1000; i++) w.fail('203.0.113.9', 1000);
    expect(w.size()).toBeLessThanOrEqual(100);
    expect(w.tracked('203.0.113.9')).toBe(3);
    expect(w.retryAfter('203.0.113.9', 1000)).toBe(60);
  });

  test('/healthz and /readyz need no token and reveal nothing', async () => {
    const live = await request(t.app).get('/healthz').expect(200);
    expect(live.body).toEqual({ status: 'ok' });
    const ready = await request(t.app).get('/readyz').expect(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { database: { ok: true } } });
  });

  test('/healthz 503 when the database does not answer; /readyz 503 with checks', async () => {
    const u = await buildTestApp({
      health: {
        live: () => {
          throw new Error('SQLITE_CANTOPEN /secret/path');
        },
        ready: async () => ({ ready: false, checks: { database: { ok: true }, airflow: { ok: false, detail: 'unreachable' } } }),
      },
    });
    const live = await request(u.app).get('/healthz').expect(503);
    expect(JSON.stringify(live.body)).not.toContain('secret');
    const ready = await request(u.app).get('/readyz').expect(503);
    expect(ready.body.checks.airflow).toEqual({ ok: false, detail: 'unreachable' });
    await u.close();
  });

  test('X-Request-Id is echoed when sane, replaced otherwise', async () => {
    const ok = await get(t, `Bearer ${t.token}`).set('X-Request-Id', 'abc-123');
    expect(ok.headers['x-request-id']).toBe('abc-123');
    const bad = await get(t, `Bearer ${t.token}`).set('X-Request-Id', 'evil\tvalue with spaces');
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('the access log carries requestId and actor but never the token', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const u = await buildTestApp({ logger: createLogger('info', { stream }) });
    await request(u.app).get(`${BASE}/Users?filter=userName%20eq%20%22x%22`).set('Authorization', `Bearer ${u.token}`).set('X-Request-Id', 'req-1').expect(200);
    await request(u.app).get(`${BASE}/Users`).set('Authorization', 'Bearer scim_guess').expect(401);
    const all = lines.join('');
    expect(all).not.toContain(u.token);
    expect(all).not.toContain('scim_guess');
    const access = lines.map((l) => JSON.parse(l)).find((l) => l.requestId === 'req-1');
    expect(access).toMatchObject({ message: 'request', method: 'GET', path: '/scim/v2/Users', status: 200, actor: 'test' });
    expect(all).not.toContain('filter');
    await u.close();
  });
});
