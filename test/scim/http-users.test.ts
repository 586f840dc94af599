import request from 'supertest';
import { BACKENDS, BASE, buildTestApp, createUser, expectScimError, LIST_RESPONSE, patchBody, SCIM, userBody, type TestApp } from '../helpers/scim-app';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe.each(BACKENDS)('/Users over HTTP (%s store)', (backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp({ backend });
  });
  afterEach(() => t.close());

  test('POST creates: 201, Location, ETag, meta, no password, scim+json', async () => {
    const res = await t.scim.post('/Users', userBody('alice@example.com', { password: 'placeholder', groups: [], meta: { resourceType: 'User' } })).expect(201);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    const id = res.body.id as string;
    expect(id).toBeTruthy();
    expect(res.body.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User']);
    expect(res.body.userName).toBe('alice@example.com');
    expect(res.body.password).toBeUndefined();
    expect(res.body.meta).toMatchObject({ resourceType: 'User', version: 'W/"1"' });
    expect(res.body.meta.location).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/scim/v2/Users/${id}$`));
    expect(res.headers.location).toBe(res.body.meta.location);
    expect(res.headers.etag).toBe('W/"1"');
    expect(t.changes()).toBe(1);
  });

  test('meta.location uses server.publicUrl when configured', async () => {
    const u = await buildTestApp({ backend, config: { server: { publicUrl: 'https://scim.example.com/' } } });
    const res = await u.scim.post('/Users', userBody('bob')).expect(201);
    expect(res.body.meta.location).toBe(`https://scim.example.com/scim/v2/Users/${res.body.id}`);
    await u.close();
  });

  test('enterprise extension is listed in schemas and round-trips', async () => {
    const res = await t.scim.post('/Users', userBody('carol', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE], [ENTERPRISE]: { department: 'Data' } })).expect(201);
    expect(res.body.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE]);
    expect(res.body[ENTERPRISE]).toEqual({ department: 'Data' });
  });

  test('GET by id returns the user with ETag; unknown id is a 404 Error', async () => {
    const id = await createUser(t, 'dave');
    const res = await t.scim.get(`/Users/${id}`).expect(200);
    expect(res.body).toMatchObject({ id, userName: 'dave', active: true });
    expect(res.headers.etag).toBe('W/"1"');
    expectScimError(await t.scim.get('/Users/does-not-exist'), 404);
  });

  test('If-None-Match with the current version answers 304; an old one 200', async () => {
    const id = await createUser(t, 'erin');
    const notModified = await t.scim.get(`/Users/${id}`).set('If-None-Match', 'W/"1"');
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe('W/"1"');
    await t.scim.get(`/Users/${id}`).set('If-None-Match', 'W/"7"').expect(200);
  });

  test('PUT replaces: omitted attributes are cleared; same id and meta in the body are tolerated', async () => {
    const id = await createUser(t, 'frank', { displayName: 'Frank', title: 'Engineer' });
    const put = userBody('frank', { id, meta: { resourceType: 'User', version: 'W/"1"' }, displayName: 'Franklin', groups: [] });
    const res = await t.scim.put(`/Users/${id}`, put).expect(200);
    expect(res.body.displayName).toBe('Franklin');
    expect(res.body.title).toBeUndefined();
    expect(res.body.meta.version).toBe('W/"2"');
    expect(res.headers.etag).toBe('W/"2"');
    expect((await t.scim.get(`/Users/${id}`)).body.displayName).toBe('Franklin');
  });

  test('PUT on an unknown id is 404 and creates nothing', async () => {
    expectScimError(await t.scim.put('/Users/nope', userBody('ghost')), 404);
    const list = await t.scim.get('/Users').expect(200);
    expect(list.body.totalResults).toBe(0);
  });

  test('PATCH (Okta deactivate, no path) answers 200 with the user', async () => {
    const id = await createUser(t, 'gina');
    const res = await t.scim.patch(`/Users/${id}`, patchBody({ op: 'replace', value: { active: false } })).expect(200);
    expect(res.body).toMatchObject({ id, active: false });
    expect(res.headers.etag).toBe('W/"2"');
  });

  test('PATCH (Entra dialect: capitalised op, "False" string, filtered path)', async () => {
    const id = await createUser(t, 'hank');
    const res = await t.scim
      .patch(
        `/Users/${id}`,
        patchBody(
          { op: 'Replace', path: 'active', value: 'False' },
          { op: 'Replace', path: 'emails[type eq "work"].value', value: 'hank@new.example.com' },
          { op: 'Replace', path: 'name.familyName', value: 'Hill' },
        ),
      )
      .expect(200);
    expect(res.body.active).toBe(false);
    expect(res.body.emails).toEqual([expect.objectContaining({ type: 'work', value: 'hank@new.example.com' })]);
    expect(res.body.name.familyName).toBe('Hill');
  });

  test('PATCH honours attributes on the response', async () => {
    const id = await createUser(t, 'ivy');
    const res = await t.scim.patch(`/Users/${id}?attributes=active`, patchBody({ op: 'replace', path: 'active', value: false })).expect(200);
    expect(res.body).toEqual({ schemas: expect.any(Array), id, active: false, meta: { resourceType: 'User' } });
  });

  test('DELETE answers 204, then GET is 404', async () => {
    const id = await createUser(t, 'jack');
    const res = await t.scim.delete(`/Users/${id}`).expect(204);
    expect(res.text).toBe('');
    expectScimError(await t.scim.get(`/Users/${id}`), 404);
    expectScimError(await t.scim.delete(`/Users/${id}`), 404);
  });

  test('If-Match: matching weak, strong and * succeed; stale is 412 and nothing changes', async () => {
    const id = await createUser(t, 'kate');
    await t.scim.patch(`/Users/${id}`, patchBody({ op: 'replace', path: 'title', value: 'A' })).set('If-Match', 'W/"1"').expect(200);
    await t.scim.patch(`/Users/${id}`, patchBody({ op: 'replace', path: 'title', value: 'B' })).set('If-Match', '"2"').expect(200);
    await t.scim.put(`/Users/${id}`, userBody('kate', { title: 'C' })).set('If-Match', '*').expect(200);
    expectScimError(await t.scim.patch(`/Users/${id}`, patchBody({ op: 'replace', path: 'title', value: 'X' })).set('If-Match', 'W/"1"'), 412);
    expectScimError(await t.scim.put(`/Users/${id}`, userBody('kate', { title: 'X' })).set('If-Match', 'W/"2"'), 412);
    expectScimError(await t.scim.delete(`/Users/${id}`).set('If-Match', 'W/"2"'), 412);
    expectScimError(await t.scim.delete(`/Users/${id}`).set('If-Match', 'garbage'), 412);
    const now = await t.scim.get(`/Users/${id}`).expect(200);
    expect(now.body.title).toBe('C');
    await t.scim.delete(`/Users/${id}`).set('If-Match', 'W/"9", W/"4"').expect(204);
  });

  test('user carries its groups (read-only), with display names', async () => {
    const id = await createUser(t, 'leo');
    const g = await t.scim.post('/Groups', { displayName: 'Airflow Admins', members: [{ value: id }] }).expect(201);
    const res = await t.scim.get(`/Users/${id}`).expect(200);
    expect(res.body.groups).toEqual([expect.objectContaining({ value: g.body.id, display: 'Airflow Admins' })]);
    const without = await t.scim.get(`/Users/${id}?excludedAttributes=groups`).expect(200);
    expect(without.body.groups).toBeUndefined();
  });

  test('filter userName eq is case-insensitive (RFC 7643 §4.1.1) and returns a ListResponse', async () => {
    await createUser(t, 'Mia@Example.com');
    const res = await t.scim.get('/Users?filter=' + encodeURIComponent('userName eq "MIA@EXAMPLE.COM"')).expect(200);
    expect(res.body.schemas).toEqual([LIST_RESPONSE]);
    expect(res.body.totalResults).toBe(1);
    expect(res.body.Resources[0].userName).toBe('Mia@Example.com');
  });

  test('successful writes are audited by the store with the token name as actor', async () => {
    await createUser(t, 'nina');
    const entries = await t.audit.query({ source: 'scim' });
    expect(entries.some((e) => e.outcome === 'success' && e.actor === 'test')).toBe(true);
  });

  test('PUT is journalled a replace and audited "replaced", PATCH a patch and "patched" (users and groups)', async () => {
    const id = await createUser(t, 'olga');
    const gid = (await t.scim.post('/Groups', { displayName: 'kinds' }).expect(201)).body.id as string;
    const since = await t.store.latestSeq();
    await t.scim.put(`/Users/${id}`, userBody('olga', { title: 'a' })).expect(200);
    await t.scim.patch(`/Users/${id}`, patchBody({ op: 'replace', path: 'title', value: 'b' })).expect(200);
    await t.scim.put(`/Groups/${gid}`, { displayName: 'kinds', members: [{ value: id }] }).expect(200);
    await t.scim.patch(`/Groups/${gid}`, patchBody({ op: 'remove', path: 'members' })).expect(204);
    expect((await t.store.changesSince(since)).map((c) => [c.resourceType, c.op])).toEqual([
      ['User', 'replace'],
      ['User', 'patch'],
      ['Group', 'replace'],
      ['Group', 'patch'],
    ]);
    const audited = (await t.audit.query({ source: 'scim' })).filter((e) => e.action === 'replaced' || e.action === 'patched');
    expect(audited.map((e) => [e.resourceType, e.action, e.method])).toEqual([
      ['User', 'replaced', 'PUT'],
      ['User', 'patched', 'PATCH'],
      ['Group', 'replaced', 'PUT'],
      ['Group', 'patched', 'PATCH'],
    ]);
  });

  test('application/json bodies are accepted too, with charset', async () => {
    const res = await request(t.app)
      .post(`${BASE}/Users`)
      .set('Authorization', `Bearer ${t.token}`)
      .set('Content-Type', 'application/json; charset=utf-8')
      .send(JSON.stringify(userBody('oscar')));
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
  });

  test('a body without Content-Type is accepted when it parses', async () => {
    const res = await request(t.app)
      .post(`${BASE}/Users`)
      .set('Authorization', `Bearer ${t.token}`)
      .set('Accept', SCIM)
      .send(Buffer.from(JSON.stringify(userBody('pia'))));
    expect(res.status).toBe(201);
  });
});
