import fc from 'fast-check';
import { buildTestApp, createGroup, createUser, type TestApp } from '../helpers/scim-app';

/** Query-string fragments built from SCIM-ish pieces and noise (+, %, quotes, brackets, unicode). */
const token = fc.oneof(
  fc.constantFrom('filter', 'startIndex', 'count', 'sortBy', 'sortOrder', 'attributes', 'excludedAttributes', 'aadOptscim062020', 'FILTER'),
  fc.string({ maxLength: 8 }),
);
const value = fc.oneof(
  fc.constantFrom('userName eq "a"', 'displayName+eq+%22x%22', 'members', 'emails[type eq "work"].value', '-1', '0', '99999999999999999999', 'NaN', '1e3', '%', '%E0%A4%A', 'descending', 'meta.created', 'name.givenName', 'not (active eq true)', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value'),
  fc.string({ maxLength: 30 }),
  fc.integer().map(String),
);
const queryString = fc.array(fc.tuple(token, value, fc.boolean()), { maxLength: 5 }).map((pairs) =>
  pairs.map(([k, v, raw]) => `${encodeURIComponent(k)}=${raw ? v.replace(/[#&\s]/g, '+') : encodeURIComponent(v)}`).join('&'),
);

/** Loosely SCIM-shaped JSON: right and wrong names, types, nesting, nulls. */
const scimish = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom('True', 'False', 'Add', 'Replace', 'members', 'userName')),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 3 }), tie('obj')),
  obj: fc.dictionary(
    fc.oneof(
      fc.constantFrom('userName', 'UserName', 'op', 'path', 'value', 'Operations', 'schemas', 'members', 'displayName', 'active', 'emails', 'name', 'id', 'meta', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', '__proto__', 'constructor'),
      fc.string({ maxLength: 6 }),
    ),
    tie('node'),
    { maxKeys: 5 },
  ),
}));
const patchOp = fc.record({
  op: fc.constantFrom('add', 'Add', 'replace', 'Replace', 'remove', 'Remove', 'bogus'),
  path: fc.option(fc.constantFrom('members', 'active', 'userName', 'displayName', 'emails[type eq "work"].value', 'members[value eq "x"]', 'name.givenName', '[[', 'urn:x:y'), { nil: undefined }),
  value: scimish.node,
});
const patchBodyArb = fc.oneof(
  fc.record({ schemas: fc.constant(['urn:ietf:params:scim:api:messages:2.0:PatchOp']), Operations: fc.array(patchOp, { maxLength: 4 }) }),
  scimish.obj,
);

// On the SQL stores, where a value could reach a database error: SQLite and PostgreSQL.
describe.each(['sqlite', 'postgres'] as const)('never a 5xx (fast-check; %s store)', (backend) => {
  let t: TestApp;
  let userId: string;
  let groupId: string;
  beforeAll(async () => {
    t = await buildTestApp({ backend });
    userId = await createUser(t, 'prop-user', { displayName: 'P' });
    groupId = await createGroup(t, 'prop-group', [userId]);
  });
  afterAll(() => t.close());

  test('random query strings on GET /Users and /Groups', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/Users', '/Groups', `/Groups/${'G'}`), queryString, async (path, qs) => {
        const p = path === '/Groups/G' ? `/Groups/${groupId}` : path;
        const res = await t.scim.get(`${p}?${qs}`);
        expect(res.status).toBeLessThan(500);
        expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
      }),
      { numRuns: 150 },
    );
  });

  test('random JSON bodies on POST /Users, POST /Groups and PUT', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('post-users', 'post-groups', 'put-user', 'put-group', 'search'), scimish.obj, async (kind, body) => {
        const res =
          kind === 'post-users' ? await t.scim.post('/Users', body)
          : kind === 'post-groups' ? await t.scim.post('/Groups', body)
          : kind === 'put-user' ? await t.scim.put(`/Users/${userId}`, body)
          : kind === 'put-group' ? await t.scim.put(`/Groups/${groupId}`, body)
          : await t.scim.post('/.search', body);
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });

  test('random PATCH bodies on a user and a group', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), patchBodyArb, async (user, body) => {
        const res = user ? await t.scim.patch(`/Users/${userId}`, body) : await t.scim.patch(`/Groups/${groupId}`, body);
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 200 },
    );
  });
});
