import request from 'supertest';
import { BASE, buildTestApp, expectScimError, LIST_RESPONSE, type TestApp } from '../helpers/scim-app';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** Asserts no null anywhere (Entra: "don't send nulls" in /Schemas). */
function expectNoNulls(v: unknown, path = '$'): void {
  expect(v === null ? path : 'ok').toBe('ok');
  if (Array.isArray(v)) v.forEach((x, i) => expectNoNulls(x, `${path}[${i}]`));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) expectNoNulls(x, `${path}.${k}`);
}

describe('discovery endpoints (RFC 7644 §4)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp({ config: { scim: { maxResults: 50 } } });
  });
  afterEach(() => t.close());

  test('ServiceProviderConfig advertises what the routes do', async () => {
    const res = await t.scim.get('/ServiceProviderConfig').expect(200);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(res.body).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 50 },
      changePassword: { supported: false },
      sort: { supported: true },
      etag: { supported: true },
      meta: { resourceType: 'ServiceProviderConfig' },
    });
    expect(res.body.authenticationSchemes).toEqual([
      expect.objectContaining({ type: 'oauthbearertoken', name: 'OAuth Bearer Token', primary: true, description: expect.stringMatching(/bare token/) }),
    ]);
    expect(res.body.meta.location).toMatch(/\/scim\/v2\/ServiceProviderConfig$/);
  });

  test('/Schemas is a ListResponse with User, EnterpriseUser and Group in RFC 7643 §7 form, no nulls', async () => {
    const res = await t.scim.get('/Schemas').expect(200);
    expect(res.body.schemas).toEqual([LIST_RESPONSE]);
    expect(res.body.totalResults).toBe(3);
    expect(res.body.itemsPerPage).toBe(3);
    expect(res.body.startIndex).toBe(1);
    const ids = res.body.Resources.map((s: { id: string }) => s.id);
    expect(ids).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE, 'urn:ietf:params:scim:schemas:core:2.0:Group']);
    const user = res.body.Resources[0];
    expect(user.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:Schema']);
    expect(user.meta).toEqual({ resourceType: 'Schema', location: expect.stringMatching(/\/scim\/v2\/Schemas\/urn:ietf:params:scim:schemas:core:2\.0:User$/) });
    const userName = user.attributes.find((a: { name: string }) => a.name === 'userName');
    expect(userName).toMatchObject({ type: 'string', multiValued: false, required: true, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'server' });
    expect(user.attributes.find((a: { name: string }) => a.name === 'password')).toMatchObject({ mutability: 'writeOnly', returned: 'never' });
    expectNoNulls(res.body);
  });

  test('/Schemas/:urn returns one schema (case-insensitive); unknown → 404', async () => {
    const res = await t.scim.get(`/Schemas/${ENTERPRISE.toUpperCase()}`).expect(200);
    expect(res.body.id).toBe(ENTERPRISE);
    expect(res.body.attributes.map((a: { name: string }) => a.name)).toContain('manager');
    expectScimError(await t.scim.get('/Schemas/urn:example:nope'), 404);
  });

  test('/ResourceTypes lists User (with the enterprise extension) and Group', async () => {
    const res = await t.scim.get('/ResourceTypes').expect(200);
    expect(res.body.schemas).toEqual([LIST_RESPONSE]);
    expect(res.body.totalResults).toBe(2);
    const [user, group] = res.body.Resources;
    expect(user).toMatchObject({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      schema: 'urn:ietf:params:scim:schemas:core:2.0:User',
      schemaExtensions: [{ schema: ENTERPRISE, required: false }],
      meta: { resourceType: 'ResourceType' },
    });
    expect(group).toMatchObject({ id: 'Group', endpoint: '/Groups', schema: 'urn:ietf:params:scim:schemas:core:2.0:Group' });
    expect((await t.scim.get('/ResourceTypes/group').expect(200)).body.id).toBe('Group');
    expectScimError(await t.scim.get('/ResourceTypes/Role'), 404);
  });

  test('discovery needs a token', async () => {
    for (const path of ['/ServiceProviderConfig', '/Schemas', '/ResourceTypes']) {
      expectScimError(await request(t.app).get(BASE + path), 401);
    }
  });

  test('discovery endpoints are read-only: 405 with Allow', async () => {
    const res = await t.scim.post('/Schemas', {});
    expectScimError(res, 405);
    expect(res.headers.allow).toBe('GET');
  });
});
