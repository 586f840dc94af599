import { Writable } from 'node:stream';
import request from 'supertest';
import { createLogger } from '../../src/logger';
import { BACKENDS, BASE, buildTestApp, createUser, expectScimError, patchBody, userBody, type TestApp } from '../helpers/scim-app';

const EXT = 'urn:example:params:scim:schemas:extension:custom:2.0:User';

/** A JSON value nested `depth` levels: {"a":{"a":…"x"…}}. */
function nested(depth: number): unknown {
  let v: unknown = 'x';
  for (let i = 1; i < depth; i++) v = { a: v };
  return v;
}

/** Logger writing into an array of lines, to assert what reaches the log. */
function captureLogger() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { logger: createLogger('debug', { stream }), lines };
}

describe.each(BACKENDS)('hostile input (%s store)', (backend) => {
  let t: TestApp;
  let log: ReturnType<typeof captureLogger>;
  beforeEach(async () => {
    log = captureLogger();
    t = await buildTestApp({ backend, logger: log.logger });
  });
  afterEach(() => t.close());

  test('malformed percent-encoding in the path is a SCIM 400 on every method, with no stack trace logged', async () => {
    for (const resource of ['Users', 'Groups']) {
      for (const bad of ['%zz', '%', '%FF', 'abc%', '%E0%A4%A']) {
        const url = `${BASE}/${resource}/${bad}`;
        const auth = (r: request.Test) => r.set('Authorization', `Bearer ${t.token}`);
        for (const res of [
          await auth(request(t.app).get(url)),
          await auth(request(t.app).delete(url)),
          await auth(request(t.app).put(url)).set('Content-Type', 'application/scim+json').send(JSON.stringify(userBody('p'))),
          await auth(request(t.app).patch(url)).set('Content-Type', 'application/scim+json').send(JSON.stringify(patchBody({ op: 'replace', path: 'active', value: false }))),
          await auth(request(t.app).post(url)).set('Content-Type', 'application/scim+json').send('{}'),
        ]) {
          expectScimError(res, 400, 'invalidSyntax');
        }
      }
    }
    expect(log.lines.join('\n')).not.toMatch(/URIError|\n\s+at /);
  });

  test('a body nested deeper than 64 levels is refused with 400 before anything is stored', async () => {
    const before = (await t.audit.query({})).length;
    expectScimError(await t.scim.post('/Users', userBody('deep', { [EXT]: { v: nested(64) } })), 400, 'invalidSyntax');
    const raw = JSON.stringify(userBody('deep', { [EXT]: { v: 'DEEP' } })).replace('"DEEP"', '{"a":'.repeat(5000) + '1' + '}'.repeat(5000));
    const res = await request(t.app).post(`${BASE}/Users`).set('Authorization', `Bearer ${t.token}`).set('Content-Type', 'application/scim+json').send(raw);
    expectScimError(res, 400, 'invalidSyntax');
    expect((await t.scim.get('/Users?filter=userName eq "deep"')).body.totalResults).toBe(0);
    const id = await createUser(t, 'shallow', { [EXT]: { v: nested(60) } });
    expectScimError(await t.scim.patch(`/Users/${id}`, patchBody({ op: 'add', path: `${EXT}:v`, value: nested(1000) })), 400, 'invalidSyntax');
    expectScimError(await t.scim.put(`/Users/${id}`, userBody('shallow', { [EXT]: { v: nested(200) } })), 400, 'invalidSyntax');
    expect((await t.audit.query({})).filter((e) => e.outcome === 'success').length).toBe(before + 1);
    await t.scim.patch(`/Users/${id}`, patchBody({ op: 'replace', path: 'active', value: false })).expect(200);
  });
});

describe.each(BACKENDS)('a deep value stored before the depth limit existed (%s store)', (backend) => {
  test.each([1000, 3000])('nested %i levels: every read, filter, sort and PATCH active=false still works', async (depth) => {
    const t = await buildTestApp({ backend });
    try {
      const ctx = { actor: 'test' };
      const deep = await t.store.createUser({ userName: 'deep', active: true, [EXT]: { v: nested(depth) } } as never, ctx);
      await createUser(t, 'plain', { title: 'Engineer' });
      for (const q of ['filter=title pr', 'filter=name.givenName eq "Given"', 'filter=emails[type eq "work"]', 'sortBy=name.givenName']) {
        const res = await t.scim.get(`/Users?${q.replace(/ /g, '%20')}`);
        expect([q, res.status]).toEqual([q, 200]);
      }
      await t.scim.post('/.search', { filter: 'userName sw "p"', sortBy: 'title' }).expect(200);
      await t.scim.get(`/Users/${deep.id}`).expect(200);
      const res = await t.scim.patch(`/Users/${deep.id}`, patchBody({ op: 'replace', path: 'active', value: false }));
      expect(res.status).toBe(200);
      expect(res.body.active).toBe(false);
    } finally {
      await t.close();
    }
  });
});

describe.each(BACKENDS)('multi-valued attribute limit (%s store)', (backend) => {
  const emails = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ value: `u${i + from}@example.com`, type: 'work' }));
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp({ backend, config: { server: { bodyLimit: '1mb' } } });
  });
  afterEach(() => t.close());

  test('1,000 values are accepted; more are refused with 400 on POST, PUT and PATCH', async () => {
    const id = await createUser(t, 'many', { emails: emails(1000) });
    expectScimError(await t.scim.post('/Users', userBody('toomany', { emails: emails(1001) })), 400, 'invalidValue');
    expectScimError(await t.scim.put(`/Users/${id}`, userBody('many', { emails: emails(1001) })), 400, 'invalidValue');
    expectScimError(await t.scim.patch(`/Users/${id}`, patchBody({ op: 'add', path: 'emails', value: emails(1, 5000) })), 400, 'invalidValue');
    expectScimError(await t.scim.patch(`/Users/${id}`, patchBody({ op: 'add', path: 'phoneNumbers', value: Array.from({ length: 1001 }, (_, i) => ({ value: `+1${i}` })) })), 400, 'invalidValue');
    expectScimError(await t.scim.post('/Users', userBody('ext', { [EXT]: { list: Array.from({ length: 1001 }, (_, i) => i) } })), 400, 'invalidValue');
    // Re-adding values already held is no growth; removing some is fine.
    const again = await t.scim.patch(`/Users/${id}`, patchBody({ op: 'add', path: 'emails', value: emails(1000) })).expect(200);
    expect(again.body.emails).toHaveLength(1000);
    const fewer = await t.scim.patch(`/Users/${id}`, patchBody({ op: 'remove', path: 'emails', value: emails(500) })).expect(200);
    expect(fewer.body.emails).toHaveLength(500);
    const more = await t.scim.patch(`/Users/${id}`, patchBody({ op: 'add', path: 'emails', value: emails(500) })).expect(200);
    expect(more.body.emails).toHaveLength(1000);
    expect((await t.scim.get(`/Users/${id}`)).body.emails).toHaveLength(1000);
  });

  test('a user stored with more values before the limit can still be deactivated and read', async () => {
    const rec = await t.store.createUser({ userName: 'legacy', active: true, emails: emails(24_000) } as never, { actor: 'test' });
    const res = await t.scim.patch(`/Users/${rec.id}`, patchBody({ op: 'replace', path: 'active', value: false })).expect(200);
    expect(res.body.active).toBe(false);
    expect(res.body.emails).toHaveLength(24_000);
    expectScimError(await t.scim.patch(`/Users/${rec.id}`, patchBody({ op: 'add', path: 'emails', value: emails(1, 30_000) })), 400, 'invalidValue');
  });

  test('a group accepts far more than 1,000 members in one PUT and one PATCH', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3000; i++) ids.push((await t.store.createUser({ userName: `m${i}`, active: true } as never, { actor: 'test' })).id);
    const g = (await t.scim.post('/Groups', { displayName: 'big', members: ids.slice(0, 1500).map((value) => ({ value })) }).expect(201)).body.id as string;
    await t.scim.patch(`/Groups/${g}`, patchBody({ op: 'add', path: 'members', value: ids.slice(1500).map((value) => ({ value })) })).expect(204);
    expect(await t.store.groupsOfUser(ids[2999])).toEqual([{ id: g, displayName: 'big' }]);
  });
});

describe('member references per group request', () => {
  test(`more than 10,000 in one POST, PUT or PATCH are refused with 400; the group itself may grow past that`, async () => {
    const t = await buildTestApp({ config: { server: { bodyLimit: '2mb' } } });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 10_001; i++) ids.push((await t.store.createUser({ userName: `m${i}`, active: true } as never, { actor: 'test' })).id);
      const refs = (from: number, to: number) => ids.slice(from, to).map((value) => ({ value }));
      expectScimError(await t.scim.post('/Groups', { displayName: 'g', members: refs(0, 10_001) }), 400, 'invalidValue');
      const g = (await t.scim.post('/Groups', { displayName: 'g', members: refs(0, 10_000) }).expect(201)).body.id as string;
      expectScimError(await t.scim.put(`/Groups/${g}`, { displayName: 'g', members: refs(0, 10_001) }), 400, 'invalidValue');
      const split = patchBody({ op: 'add', path: 'members', value: refs(0, 5000) }, { op: 'remove', path: 'members', value: refs(5000, 10_001) });
      expectScimError(await t.scim.patch(`/Groups/${g}`, split), 400, 'invalidValue');
      await t.scim.patch(`/Groups/${g}`, patchBody({ op: 'add', path: 'members', value: refs(10_000, 10_001) })).expect(204);
      expect((await t.store.getGroup(g, { members: true }))?.members).toHaveLength(10_001);
    } finally {
      await t.close();
    }
  });
});

describe.each(BACKENDS)('secret-named attributes under undeclared extension schemas (%s store)', (backend) => {
  const SECRET = 'sup3r-s3cret-value';
  test('are never stored, returned, audited or logged; other extension attributes are kept', async () => {
    const log = captureLogger();
    const t = await buildTestApp({ backend, logger: log.logger });
    try {
      const ext = { department: 'R&D', password: SECRET, nested: { apiToken: SECRET, clientSecret: SECRET, keep: 1 }, list: [{ Password: SECRET, ok: true }] };
      const created = await t.scim.post('/Users', userBody('ext', { [EXT]: ext, [`${EXT}:passwordHash`]: SECRET })).expect(201);
      const id = created.body.id as string;
      await t.scim.patch(`/Users/${id}`, patchBody({ op: 'add', value: { [`${EXT}:privateKey`]: SECRET, [EXT]: { token: SECRET } } })).expect(200);
      await t.scim.put(`/Users/${id}`, userBody('ext', { [EXT]: ext })).expect(200);
      const g = await t.scim.post('/Groups', { displayName: 'g', [EXT.replace('User', 'Group')]: { secret: SECRET, team: 'a' } }).expect(201);
      const seen = [
        JSON.stringify(created.body),
        JSON.stringify((await t.scim.get(`/Users/${id}`)).body),
        JSON.stringify((await t.scim.get('/Users')).body),
        JSON.stringify(g.body),
        JSON.stringify(await t.store.getUser(id)),
        JSON.stringify(await t.store.getGroup(g.body.id, { members: false })),
        JSON.stringify(await t.audit.query({})),
        log.lines.join('\n'),
      ].join('\n');
      expect(seen).not.toContain(SECRET);
      const user = (await t.scim.get(`/Users/${id}`)).body;
      expect(user[EXT]).toEqual({ department: 'R&D', nested: { keep: 1 }, list: [{ ok: true }] });
      expect(g.body[EXT.replace('User', 'Group')]).toEqual({ team: 'a' });
    } finally {
      await t.close();
    }
  });

  test('a secret stored before this rule is never returned', async () => {
    const t = await buildTestApp({ backend });
    try {
      const rec = await t.store.createUser({ userName: 'old', active: true, [EXT]: { password: SECRET, keep: 'x' } } as never, { actor: 'test' });
      const body = (await t.scim.get(`/Users/${rec.id}`)).body;
      expect(JSON.stringify(body)).not.toContain(SECRET);
      expect(body[EXT]).toEqual({ keep: 'x' });
    } finally {
      await t.close();
    }
  });
});

/**
 * U+0000 and unpaired surrogates (core/json.ts isUnstorable): PostgreSQL text cannot hold the first, the second has
 * no UTF-8 form (RFC 8259 §8.2). Refused at the boundary with 400 invalidValue naming where, on every backend, so
 * the stores all hold the same strings; paired surrogates and the escape text itself are ordinary.
 */
describe.each(BACKENDS)('strings no store can hold (%s store)', (backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildTestApp({ backend });
  });
  afterEach(() => t.close());
  const refused = (res: Parameters<typeof expectScimError>[0], where: string) => {
    expect(expectScimError(res, 400, 'invalidValue').detail).toMatch(new RegExp(`^${where.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds U\\+0000 or an unpaired UTF-16 surrogate`));
  };
  const filter = (f: string) => t.scim.get(`/Users?filter=${encodeURIComponent(f)}`);

  test('in a body: POST, PUT and PATCH of users and groups, values and keys, with the attribute path', async () => {
    refused(await t.scim.post('/Users', userBody('a\u0000b')), '"userName"');
    refused(await t.scim.post('/Users', userBody('lone', { emails: [{ value: 'a@x.io' }, { value: 'b\ud800@x.io' }] })), '"emails[1].value"');
    refused(await t.scim.post('/Users', userBody('key', { [EXT]: { 'k\u0000': 1 } })), `"${EXT}.k\\u0000"`);
    refused(await t.scim.post('/Groups', { displayName: 'g\udc00' }), '"displayName"');
    const id = await createUser(t, 'kept');
    refused(await t.scim.put(`/Users/${id}`, userBody('kept', { title: 'x\u0000' })), '"title"');
    refused(await t.scim.patch(`/Users/${id}`, patchBody({ op: 'replace', path: 'title', value: 'x\ud800' })), '"Operations[0].value"');
    refused(await t.scim.patch(`/Users/${id}`, patchBody({ op: 'add', value: { name: { givenName: '\u0000' } } })), '"Operations[0].value.name.givenName"');
    // In a PATCH path the filter is part of the path: invalidPath (RFC 7644 §3.5.2), saying why.
    const inPath = await t.scim.patch(`/Users/${id}`, patchBody({ op: 'replace', path: 'emails[value eq "a\\u0000"].type', value: 'home' }));
    expect(expectScimError(inPath, 400, 'invalidPath').detail).toMatch(/^invalid path "emails\[value eq .*the filter value compared with "value" holds U\+0000/);
    // Nothing was stored: one user, unchanged, and one successful write in the audit trail.
    const kept = (await t.scim.get(`/Users/${id}`).expect(200)).body;
    expect([kept.userName, kept.title, kept.meta.version]).toEqual(['kept', undefined, 'W/"1"']);
    expect((await t.scim.get('/Users')).body.totalResults).toBe(1);
    expect((await t.scim.get('/Groups')).body.totalResults).toBe(0);
    expect((await t.audit.query({})).filter((e) => e.outcome === 'success').length).toBe(1);
  });

  test('in filters (a literal\'s JSON escapes too), in .search bodies and in the request path', async () => {
    refused(await filter('userName eq "a\\u0000b"'), 'the filter value compared with "userName"');
    refused(await filter('title pr and not (emails[type eq "work" or value co "\\ud800"])'), 'the filter value compared with "emails.value"');
    refused(await t.scim.post('/.search', { filter: 'displayName sw "\\udc00"' }), 'the filter value compared with "displayName"');
    refused(await t.scim.post('/Users/.search', { filter: 'userName eq "x"', sortBy: 'userName\u0000' }), '"sortBy"');
    expectScimError(await filter('userName eq "a\u0000b"'), 400); // a raw control character: not even a JSON string
    for (const res of [await t.scim.get('/Users/a%00b'), await t.scim.delete('/Groups/%00'), await t.scim.put('/Users/x%00', userBody('p'))]) {
      refused(res, 'the request path');
    }
  });

  test('paired surrogates and the escape text are ordinary strings: stored, returned and found', async () => {
    const id = await createUser(t, '𝔘𝔫𝔦@example.com', { title: 'a\\u0000b', displayName: '😀' });
    expect((await filter('userName eq "𝔘𝔫𝔦@EXAMPLE.com"').expect(200)).body.Resources.map((u: { id: string }) => u.id)).toEqual([id]);
    expect((await filter('title eq "a\\\\u0000b"').expect(200)).body.totalResults).toBe(1);
    expect((await filter('displayName eq "\\ud83d\\ude00"').expect(200)).body.totalResults).toBe(1);
    expect((await t.scim.get(`/Users/${id}`).expect(200)).body).toMatchObject({ userName: '𝔘𝔫𝔦@example.com', title: 'a\\u0000b', displayName: '😀' });
  });
});
