import request from 'supertest';
import { createLogger } from '../../src/logger';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import type { IdentityStore } from '../../src/store/types';
import { BASE, buildTestApp, createGroup, createUser, expectScimError, patchBody, userBody, type TestApp } from '../helpers/scim-app';
import { Writable } from 'node:stream';

describe('SCIM error paths (RFC 7644 §3.12)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp({ config: { server: { bodyLimit: '2kb' } } });
  });
  afterEach(() => t.close());

  test('400 invalidFilter for a malformed filter, on GET and .search', async () => {
    expectScimError(await t.scim.get('/Users?filter=' + encodeURIComponent('userName eq')), 400, 'invalidFilter');
    expectScimError(await t.scim.get('/Groups?filter=' + encodeURIComponent('((displayName')), 400, 'invalidFilter');
    expectScimError(await t.scim.post('/Users/.search', { filter: 'userName xx "a"' }), 400, 'invalidFilter');
  });

  test('400 invalidFilter for an unknown filter attribute', async () => {
    expectScimError(await t.scim.get('/Users?filter=' + encodeURIComponent('shoeSize eq "42"')), 400, 'invalidFilter');
  });

  test('400 invalidSyntax for malformed JSON, a non-object body, a missing body', async () => {
    const bad = await request(t.app).post(`${BASE}/Users`).set('Authorization', `Bearer ${t.token}`).set('Content-Type', 'application/scim+json').send('{"userName": ');
    expectScimError(bad, 400, 'invalidSyntax');
    expectScimError(await t.scim.post('/Users', [userBody('a')]), 400, 'invalidSyntax');
    expectScimError(await t.scim.post('/Users'), 400, 'invalidSyntax');
    expectScimError(await t.scim.post('/Users/.search', { schemas: ['urn:wrong'] }), 400, 'invalidSyntax');
  });

  test('400 invalidValue: missing userName, bad startIndex, unknown sortBy, bad sortOrder', async () => {
    expectScimError(await t.scim.post('/Users', { name: { givenName: 'x' } }), 400);
    expectScimError(await t.scim.get('/Users?startIndex=abc'), 400, 'invalidValue');
    expectScimError(await t.scim.get('/Users?count=ten'), 400, 'invalidValue');
    expectScimError(await t.scim.get('/Users?sortBy=shoeSize'), 400, 'invalidValue');
    expectScimError(await t.scim.get('/Users?sortBy=userName&sortOrder=sideways'), 400, 'invalidValue');
    expectScimError(await t.scim.post('/Users/.search', { startIndex: 'first' }), 400, 'invalidValue');
  });

  test('400 mutability: PUT with a different id', async () => {
    const id = await createUser(t, 'mut');
    expectScimError(await t.scim.put(`/Users/${id}`, userBody('mut', { id: 'other-id' })), 400, 'mutability');
    const g = await createGroup(t, 'MutG');
    expectScimError(await t.scim.put(`/Groups/${g}`, { id: 'other', displayName: 'MutG' }), 400, 'mutability');
  });

  test('400 noTarget: remove without a path', async () => {
    const id = await createUser(t, 'nt');
    expectScimError(await t.scim.patch(`/Users/${id}`, patchBody({ op: 'remove' })), 400, 'noTarget');
  });

  test('404 for unknown ids on every method, and unknown endpoints', async () => {
    expectScimError(await t.scim.get('/Users/missing'), 404);
    expectScimError(await t.scim.put('/Users/missing', userBody('x')), 404);
    expectScimError(await t.scim.patch('/Users/missing', patchBody({ op: 'replace', path: 'active', value: false })), 404);
    expectScimError(await t.scim.delete('/Users/missing'), 404);
    expectScimError(await t.scim.patch('/Groups/missing', patchBody({ op: 'replace', path: 'displayName', value: 'x' })), 404);
    expectScimError(await t.scim.get('/Bulk'), 404);
    expectScimError(await t.scim.get('/Users/a/b'), 404);
  });

  test('405 for a method the endpoint does not serve, with Allow', async () => {
    const res = await t.scim.delete('/Users');
    expectScimError(res, 405);
    expect(res.headers.allow).toBe('GET, POST');
    expectScimError(await t.scim.get('/Users/.search'), 405);
  });

  test('409 uniqueness on a case-variant userName and on a duplicate group displayName', async () => {
    await createUser(t, 'dup@example.com');
    expectScimError(await t.scim.post('/Users', userBody('DUP@Example.COM')), 409, 'uniqueness');
    const other = await createUser(t, 'other');
    expectScimError(await t.scim.patch(`/Users/${other}`, patchBody({ op: 'replace', path: 'userName', value: 'Dup@example.com' })), 409, 'uniqueness');
    await createGroup(t, 'Admins');
    expectScimError(await t.scim.post('/Groups', { displayName: 'admins' }), 409, 'uniqueness');
  });

  test('duplicate emails are not a conflict (emails.value uniqueness none)', async () => {
    await createUser(t, 'e1', { emails: [{ value: 'same@example.com', type: 'work' }] });
    await t.scim.post('/Users', userBody('e2', { emails: [{ value: 'same@example.com', type: 'work' }] })).expect(201);
  });

  test('412 on a stale If-Match', async () => {
    const id = await createUser(t, 'stale');
    expectScimError(await t.scim.delete(`/Users/${id}`).set('If-Match', 'W/"5"'), 412);
  });

  test('413 for a body over server.bodyLimit', async () => {
    const res = await t.scim.post('/Users', userBody('big', { title: 'x'.repeat(4096) }));
    expectScimError(res, 413);
  });

  test('415 for a non-JSON media type', async () => {
    const res = await request(t.app).post(`${BASE}/Users`).set('Authorization', `Bearer ${t.token}`).set('Content-Type', 'text/plain').send('userName=x');
    expectScimError(res, 415);
    const form = await request(t.app).post(`${BASE}/Users`).set('Authorization', `Bearer ${t.token}`).type('form').send({ userName: 'x' });
    expectScimError(form, 415);
  });

  test('failed writes are audited (source scim, outcome failure, status, detail.error)', async () => {
    await createUser(t, 'taken');
    await t.scim.post('/Users', userBody('TAKEN')).expect(409);
    await t.scim.delete('/Users/missing').expect(404);
    const failures = (await t.audit.query({ source: 'scim' })).filter((e) => e.outcome === 'failure');
    expect(failures).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source: 'scim', actor: 'test', method: 'POST', path: '/scim/v2/Users', status: 409, resourceType: 'User', detail: { error: expect.stringMatching(/taken/i) } }),
        expect.objectContaining({ method: 'DELETE', status: 404, resourceId: 'missing' }),
      ]),
    );
  });

  test('onChange is not called for failed writes', async () => {
    await t.scim.delete('/Users/missing').expect(404);
    await t.scim.post('/Users', {}).expect(400);
    expect(t.changes()).toBe(0);
  });
});

describe('500: unexpected store failures', () => {
  async function throwingApp(): Promise<{ t: TestApp; logs: string[] }> {
    const logs: string[] = [];
    const stream = new Writable({
      write(chunk, _e, cb) {
        logs.push(String(chunk));
        cb();
      },
    });
    const real = new MemoryIdentityStore(new MemoryAuditLog());
    const boom = async () => {
      throw new Error('SQLITE_BUSY: database is locked (SELECT doc FROM users WHERE secret_column = 1)');
    };
    const store = new Proxy(real, {
      get: (target, prop) => {
        if (['getUser', 'listUsers', 'createUser', 'updateUser', 'getGroup', 'listGroups'].includes(String(prop))) return boom;
        const v: unknown = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as IdentityStore;
    return { t: await buildTestApp({ store, logger: createLogger('info', { stream }) }), logs };
  }

  test('500 with a correlation id, no internal message, stack or SQL; never a 404', async () => {
    const { t, logs } = await throwingApp();
    for (const res of [
      await t.scim.get('/Users/some-id').set('X-Request-Id', 'corr-42'),
      await t.scim.get('/Users?filter=userName%20eq%20%22a%22').set('X-Request-Id', 'corr-42'),
      await t.scim.post('/Users', userBody('x')).set('X-Request-Id', 'corr-42'),
      await t.scim.get('/Groups/g').set('X-Request-Id', 'corr-42'),
    ]) {
      const body = expectScimError(res, 500);
      expect(body.detail).toBe('internal error; correlation id corr-42');
      expect(res.text).not.toMatch(/SQLITE|SELECT|secret_column|at .*\.ts/);
    }
    const errorLine = logs.map((l) => JSON.parse(l)).find((l) => l.level === 'error');
    expect(errorLine).toMatchObject({ requestId: 'corr-42' });
    expect(JSON.stringify(errorLine)).toContain('database is locked');
    await t.close();
  });
});
