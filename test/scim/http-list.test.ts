import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import { BACKENDS, buildTestApp, createGroup, createUser, LIST_RESPONSE, type TestApp } from '../helpers/scim-app';

const names = (body: { Resources?: { userName?: string; displayName?: string }[] }) => (body.Resources ?? []).map((r) => String(r.userName ?? r.displayName));

describe.each(BACKENDS)('list queries (RFC 7644 §3.4.2; %s store)', (backend) => {
  let t: TestApp;
  const users = ['u01', 'u02', 'u03', 'u04', 'u05', 'u06', 'u07'];
  beforeEach(async () => {
    t = await buildTestApp({ backend, config: { scim: { maxResults: 5, defaultCount: 3 } } });
    for (const u of users) {
      await createUser(t, u);
      t.clock.advance(1000);
    }
  });
  afterEach(() => t.close());

  test('ListResponse shape: numbers, capital-R Resources, defaultCount when count is absent', async () => {
    const res = await t.scim.get('/Users').expect(200);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(res.body).toMatchObject({ schemas: [LIST_RESPONSE], totalResults: 7, startIndex: 1, itemsPerPage: 3 });
    expect(typeof res.body.totalResults).toBe('number');
    expect(names(res.body)).toEqual(['u01', 'u02', 'u03']);
  });

  test('stable paging by creation order: startIndex echoed, count honoured (Okta import)', async () => {
    const seen: string[] = [];
    for (let start = 1; start <= 7; start += 2) {
      const res = await t.scim.get(`/Users?startIndex=${start}&count=2`).expect(200);
      expect(res.body.startIndex).toBe(start);
      expect(res.body.itemsPerPage).toBe(res.body.Resources.length);
      seen.push(...names(res.body));
    }
    expect(seen).toEqual(users);
  });

  test('clamping: startIndex < 1 → 1, count > maxResults → maxResults, negative count → 0', async () => {
    const low = await t.scim.get('/Users?startIndex=-4&count=2').expect(200);
    expect(low.body.startIndex).toBe(1);
    expect(names(low.body)).toEqual(['u01', 'u02']);
    const many = await t.scim.get('/Users?count=1000').expect(200);
    expect(many.body.itemsPerPage).toBe(5);
    const neg = await t.scim.get('/Users?count=-3').expect(200);
    expect(neg.body).toMatchObject({ totalResults: 7, itemsPerPage: 0, Resources: [] });
  });

  test('count=0 returns only totalResults', async () => {
    const res = await t.scim.get('/Users?count=0').expect(200);
    expect(res.body).toMatchObject({ totalResults: 7, itemsPerPage: 0, Resources: [] });
  });

  test('startIndex past the end → 200 with no Resources', async () => {
    const res = await t.scim.get('/Users?startIndex=50').expect(200);
    expect(res.body).toMatchObject({ totalResults: 7, startIndex: 50, itemsPerPage: 0, Resources: [] });
  });

  test('a query with no match is 200 with an empty ListResponse (Entra Test Connection)', async () => {
    const res = await t.scim.get('/Users?filter=' + encodeURIComponent('userName eq "9c1e6b1e-2f6e-4d8e-9a3c-1c2f5a1b7d11"')).expect(200);
    expect(res.body).toEqual({ schemas: [LIST_RESPONSE], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
    const groups = await t.scim.get('/Groups?filter=displayName%20eq%20%22none%22').expect(200);
    expect(groups.body.totalResults).toBe(0);
  });

  test('`+` in the query string is a space; %22 and raw quotes both work', async () => {
    await createUser(t, 'dale.mohr@romaguera.uk', { externalId: 'johnwong' });
    const plus = await t.scim.get('/Users?filter=externalId+eq+%22johnwong%22').expect(200);
    expect(names(plus.body)).toEqual(['dale.mohr@romaguera.uk']);
    const raw = await t.scim.get('/Users?filter=userName+eq+"dale.mohr%40romaguera.uk"').expect(200);
    expect(raw.body.totalResults).toBe(1);
  });

  test('unknown params are ignored (aadOptscim062020); repeated params take the first', async () => {
    const res = await t.scim.get('/Users?aadOptscim062020&foo=bar&count=1&count=4').expect(200);
    expect(res.body.itemsPerPage).toBe(1);
  });

  test('parameter names are case-insensitive', async () => {
    const res = await t.scim.get('/Users?STARTINDEX=2&Count=1').expect(200);
    expect(names(res.body)).toEqual(['u02']);
  });

  test('sortBy / sortOrder', async () => {
    const desc = await t.scim.get('/Users?sortBy=userName&sortOrder=descending&count=3').expect(200);
    expect(names(desc.body)).toEqual(['u07', 'u06', 'u05']);
    const asc = await t.scim.get('/Users?sortBy=USERNAME&count=2').expect(200);
    expect(names(asc.body)).toEqual(['u01', 'u02']);
    const byCreated = await t.scim.get('/Users?sortBy=meta.created&sortOrder=descending&count=1').expect(200);
    expect(names(byCreated.body)).toEqual(['u07']);
  });

  test('attributes: only those plus id, schemas, meta.resourceType; sub-attributes; URN-qualified', async () => {
    await createUser(t, 'attr', { displayName: 'Attr', name: { givenName: 'A', familyName: 'B' } });
    const res = await t.scim.get('/Users?filter=userName%20eq%20%22attr%22&attributes=userName,name.givenName,emails.value').expect(200);
    const [u] = res.body.Resources;
    expect(u).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      id: expect.any(String),
      userName: 'attr',
      name: { givenName: 'A' },
      emails: [{ value: 'attr@example.com' }],
      meta: { resourceType: 'User' },
    });
    const urn = await t.scim.get('/Users?count=1&attributes=urn:ietf:params:scim:schemas:core:2.0:User:USERNAME').expect(200);
    expect(Object.keys(urn.body.Resources[0]).sort()).toEqual(['id', 'meta', 'schemas', 'userName']);
  });

  test('password is never returned, even when asked for', async () => {
    await createUser(t, 'pw', { password: 'hunter2-placeholder' });
    const res = await t.scim.get('/Users?filter=userName%20eq%20%22pw%22&attributes=password,userName').expect(200);
    expect(res.body.Resources[0].password).toBeUndefined();
    expect(res.text).not.toContain('hunter2');
  });

  test('excludedAttributes: removes them, but never id or schemas', async () => {
    const res = await t.scim.get('/Users?count=1&excludedAttributes=emails,name.familyName,id,schemas,meta').expect(200);
    const [u] = res.body.Resources;
    expect(u.emails).toBeUndefined();
    expect(u.name).toEqual({ givenName: 'Given' });
    expect(u.id).toBeTruthy();
    expect(u.schemas).toBeTruthy();
    expect(u.meta).toEqual({ resourceType: 'User' });
    expect(u.userName).toBe('u01');
  });

  test('POST /Users/.search with a JSON body (RFC 7644 §3.4.3)', async () => {
    const res = await t.scim
      .post('/Users/.search', {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
        filter: 'userName sw "u0"',
        startIndex: 2,
        count: 2,
        attributes: ['userName'],
        sortBy: 'userName',
        sortOrder: 'descending',
      })
      .expect(200);
    expect(res.body).toMatchObject({ totalResults: 7, startIndex: 2, itemsPerPage: 2 });
    expect(names(res.body)).toEqual(['u06', 'u05']);
    expect(res.body.Resources[0].emails).toBeUndefined();
  });

  test('POST /.search at the root pages over users then groups', async () => {
    const g = await createGroup(t, 'Root Group');
    const all = await t.scim.post('/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], startIndex: 6, count: 5 }).expect(200);
    expect(all.body).toMatchObject({ totalResults: 8, startIndex: 6, itemsPerPage: 3 });
    expect(names(all.body)).toEqual(['u06', 'u07', 'Root Group']);
    const byName = await t.scim.post('/.search', { filter: 'displayName eq "Root Group"' }).expect(200);
    expect(byName.body.Resources.map((r: { id: string }) => r.id)).toContain(g);
  });

  test('POST /Groups/.search', async () => {
    await createGroup(t, 'G1');
    await createGroup(t, 'G2');
    const res = await t.scim.post('/Groups/.search', { filter: 'displayName eq "g2"', excludedAttributes: ['members'] }).expect(200);
    expect(names(res.body)).toEqual(['G2']);
    expect(res.body.Resources[0].members).toBeUndefined();
  });
});

describe('excludedAttributes=members never loads member lists', () => {
  test('the route asks the store for members:false (list and single)', async () => {
    const store = new MemoryIdentityStore(new MemoryAuditLog());
    const list = jest.spyOn(store, 'listGroups');
    const get = jest.spyOn(store, 'getGroup');
    const t = await buildTestApp({ store });
    const u = await createUser(t, 'm');
    const g = await createGroup(t, 'Members', [u]);
    list.mockClear();
    get.mockClear();
    await t.scim.get('/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Members%22').expect(200);
    expect(list).toHaveBeenCalledWith(expect.anything(), { members: false });
    await t.scim.get(`/Groups/${g}?excludedAttributes=members`).expect(200);
    expect(get).toHaveBeenCalledWith(g, { members: false });
    await t.scim.get(`/Groups?attributes=displayName`).expect(200);
    expect(list).toHaveBeenLastCalledWith(expect.anything(), { members: false });
    await t.scim.get(`/Groups?attributes=members.value`).expect(200);
    expect(list).toHaveBeenLastCalledWith(expect.anything(), { members: true });
    expect(get.mock.calls.every((c) => c[1].members === false)).toBe(true);
    await t.close();
  });
});
