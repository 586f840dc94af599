import { BACKENDS, buildTestApp, createGroup, createUser, expectScimError, groupBody, patchBody, type TestApp } from '../helpers/scim-app';

const memberIds = (body: { members?: { value: string }[] }) => (body.members ?? []).map((m) => m.value).sort();

describe.each(BACKENDS)('/Groups over HTTP (%s store)', (backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp({ backend });
  });
  afterEach(() => t.close());

  test('POST (Entra shape: extra MS schema, no members) → 201 with members [] and Location', async () => {
    const res = await t.scim
      .post('/Groups', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group', 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
        externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
        displayName: 'Airflow Viewers',
        meta: { resourceType: 'Group' },
      })
      .expect(201);
    expect(res.body).toMatchObject({ displayName: 'Airflow Viewers', externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159', members: [] });
    expect(res.body.schemas).toContain('urn:ietf:params:scim:schemas:core:2.0:Group');
    expect(res.body.meta).toMatchObject({ resourceType: 'Group', version: 'W/"1"' });
    expect(res.headers.location).toBe(res.body.meta.location);
    expect(res.headers.location).toMatch(/\/scim\/v2\/Groups\//);
    expect(res.headers.etag).toBe('W/"1"');
  });

  test('POST with members returns them with display, $ref and type', async () => {
    const u = await createUser(t, 'alice');
    const res = await t.scim.post('/Groups', groupBody('Ops', [u])).expect(201);
    expect(res.body.members).toEqual([{ value: u, display: 'alice', $ref: expect.stringMatching(new RegExp(`/scim/v2/Users/${u}$`)), type: 'User' }]);
  });

  test('GET by id, with and without excludedAttributes=members', async () => {
    const u = await createUser(t, 'bob');
    const g = await createGroup(t, 'Eng', [u]);
    const full = await t.scim.get(`/Groups/${g}`).expect(200);
    expect(memberIds(full.body)).toEqual([u]);
    expect(full.headers.etag).toBe('W/"1"');
    const slim = await t.scim.get(`/Groups/${g}?excludedAttributes=members`).expect(200);
    expect(slim.body.members).toBeUndefined();
    expect(slim.body).toMatchObject({ id: g, displayName: 'Eng' });
    expectScimError(await t.scim.get('/Groups/unknown'), 404);
  });

  test('PATCH add / remove members (Entra) → 204 with ETag, idempotent re-add', async () => {
    const [a, b] = [await createUser(t, 'a'), await createUser(t, 'b')];
    const g = await createGroup(t, 'Team');
    const add = await t.scim.patch(`/Groups/${g}`, patchBody({ op: 'Add', path: 'members', value: [{ $ref: null, value: a }, { value: b }] }));
    expect(add.status).toBe(204);
    expect(add.text).toBe('');
    expect(add.headers.etag).toMatch(/^W\/"\d+"$/);
    await t.scim.patch(`/Groups/${g}`, patchBody({ op: 'Add', path: 'members', value: [{ value: a }] })).expect(204);
    expect(memberIds((await t.scim.get(`/Groups/${g}`)).body)).toEqual([a, b].sort());
    await t.scim.patch(`/Groups/${g}`, patchBody({ op: 'Remove', path: 'members', value: [{ value: a }] })).expect(204);
    expect(memberIds((await t.scim.get(`/Groups/${g}`)).body)).toEqual([b]);
    await t.scim.patch(`/Groups/${g}`, patchBody({ op: 'remove', path: `members[value eq "${b}"]` })).expect(204);
    expect(memberIds((await t.scim.get(`/Groups/${g}`)).body)).toEqual([]);
    expect(t.changes()).toBeGreaterThanOrEqual(6);
  });

  test('PATCH rename (Okta: no path, same id inside value) → 204', async () => {
    const g = await createGroup(t, 'Old');
    await t.scim.patch(`/Groups/${g}`, patchBody({ op: 'replace', value: { id: g, displayName: 'New' } })).expect(204);
    expect((await t.scim.get(`/Groups/${g}`)).body.displayName).toBe('New');
  });

  test('PATCH with attributes/excludedAttributes answers 200 with the projected group', async () => {
    const u = await createUser(t, 'carl');
    const g = await createGroup(t, 'Proj');
    const res = await t.scim.patch(`/Groups/${g}?excludedAttributes=members`, patchBody({ op: 'add', path: 'members', value: [{ value: u }] })).expect(200);
    expect(res.body).toMatchObject({ id: g, displayName: 'Proj' });
    expect(res.body.members).toBeUndefined();
    const withMembers = await t.scim.patch(`/Groups/${g}?attributes=members`, patchBody({ op: 'replace', path: 'displayName', value: 'Proj2' })).expect(200);
    expect(memberIds(withMembers.body)).toEqual([u]);
    expect(withMembers.body.displayName).toBeUndefined();
  });

  test('PUT replaces members and name; a PUT without members keeps them', async () => {
    const [a, b] = [await createUser(t, 'pa'), await createUser(t, 'pb')];
    const g = await createGroup(t, 'Put', [a]);
    const res = await t.scim.put(`/Groups/${g}`, { ...groupBody('Put2', [b]), id: g }).expect(200);
    expect(res.body.displayName).toBe('Put2');
    expect(memberIds(res.body)).toEqual([b]);
    const kept = await t.scim.put(`/Groups/${g}`, { displayName: 'Put3' }).expect(200);
    expect(memberIds(kept.body)).toEqual([b]);
    expect(kept.body.meta.version).toBe('W/"3"');
  });

  test('DELETE → 204; deleting a user drops its memberships', async () => {
    const u = await createUser(t, 'dora');
    const g = await createGroup(t, 'Del', [u]);
    await t.scim.delete(`/Users/${u}`).expect(204);
    expect(memberIds((await t.scim.get(`/Groups/${g}`)).body)).toEqual([]);
    await t.scim.delete(`/Groups/${g}`).expect(204);
    expectScimError(await t.scim.get(`/Groups/${g}`), 404);
  });

  test('filter displayName eq with excludedAttributes=members (Entra lookup)', async () => {
    await createGroup(t, 'Data Engineers');
    const res = await t.scim.get('/Groups?excludedAttributes=members&filter=displayName+eq+%22Data+Engineers%22').expect(200);
    expect(res.body.totalResults).toBe(1);
    expect(res.body.Resources[0]).toMatchObject({ displayName: 'Data Engineers' });
    expect(res.body.Resources[0].members).toBeUndefined();
  });

  test('5 concurrent PATCH add-member requests to one group lose no member (Entra does this)', async () => {
    const users = await Promise.all(['c1', 'c2', 'c3', 'c4', 'c5'].map((n) => createUser(t, n)));
    const g = await createGroup(t, 'Concurrent');
    const results = await Promise.all(users.map((u) => t.scim.patch(`/Groups/${g}`, patchBody({ op: 'Add', path: 'members', value: [{ value: u }] }))));
    expect(results.map((r) => r.status)).toEqual([204, 204, 204, 204, 204]);
    const res = await t.scim.get(`/Groups/${g}`).expect(200);
    expect(memberIds(res.body)).toEqual([...users].sort());
    expect(res.body.meta.version).toBe('W/"6"');
  });

  test('member that is not a user → 400 invalidValue, group unchanged', async () => {
    const g = await createGroup(t, 'Strict');
    const other = await createGroup(t, 'Nested');
    expectScimError(await t.scim.patch(`/Groups/${g}`, patchBody({ op: 'add', path: 'members', value: [{ value: other }] })), 400, 'invalidValue');
    expectScimError(await t.scim.patch(`/Groups/${g}`, patchBody({ op: 'add', path: 'members', value: [{ value: 'nobody' }] })), 400, 'invalidValue');
    const res = await t.scim.get(`/Groups/${g}`).expect(200);
    expect(res.body.members).toEqual([]);
    expect(res.body.meta.version).toBe('W/"1"');
  });
});
