import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Bindings,
  discoverSequences,
  evalJsonPath,
  type ExchangeFixture,
  FixtureError,
  type HttpRequest,
  type HttpResponse,
  matchHeaders,
  matchPartial,
  parseFixture,
  parseJsonPath,
  PlaceholderError,
  ReplayError,
  replayExchange,
  substitute,
} from './support/replay';

const exchange = (over: Record<string, unknown> = {}) => ({
  description: 'd',
  source: 'scim-idp.md §A1.2',
  request: { method: 'GET', path: '/scim/v2/Users', headers: { Authorization: 'Bearer {{token}}' } },
  response: { status: 200 },
  ...over,
});
const parse = (v: unknown) => parseFixture(JSON.stringify(v), 'x/001-a.json');
const asExchange = (v: unknown) => parse(v) as ExchangeFixture;

describe('parseFixture', () => {
  test('accepts a minimal exchange and a checkpoint', () => {
    expect(parse(exchange()).kind).toBe('exchange');
    expect(parse({ description: 'c', checkpoint: { airflow: {} } }).kind).toBe('checkpoint');
  });

  test.each<[string, string, string | RegExp]>([
    ['broken JSON', '{"description": ', /x\/001-a\.json: not valid JSON/],
    ['a top-level array', '[]', 'the top level must be an object'],
    ['an unknown top-level key', JSON.stringify({ ...exchange(), reponse: {} }), /Unrecognized key.*reponse/],
    ['no source', JSON.stringify({ ...exchange(), source: undefined }), /source/],
    ['a lower-case method', JSON.stringify(exchange({ request: { method: 'get', path: '/x' } })), /request\.method/],
    ['a relative path', JSON.stringify(exchange({ request: { method: 'GET', path: 'scim/v2/Users' } })), /request\.path/],
    ['a string status', JSON.stringify(exchange({ response: { status: '200' } })), /response\.status/],
    [
      'a body without Content-Type',
      JSON.stringify(exchange({ request: { method: 'POST', path: '/x', headers: {}, body: {} } })),
      'no Content-Type header',
    ],
    ['a malformed placeholder', JSON.stringify(exchange({ request: { method: 'GET', path: '/x/{{user alice}}' } })), 'malformed placeholder'],
    ['an unbalanced placeholder', JSON.stringify(exchange({ request: { method: 'GET', path: '/x/{{user:alice}' } })), 'unbalanced'],
    ['a matcher in a request', JSON.stringify(exchange({ request: { method: 'GET', path: '/x/{{any}}' } })), 'only allowed in expected responses'],
    ['a matcher inside a longer string', JSON.stringify(exchange({ response: { status: 200, body: { id: 'x{{any}}' } } })), 'must be the whole string'],
    ['{{*}} not at the start', JSON.stringify(exchange({ response: { status: 200, body: { id: 'a{{*}}' } } })), 'must start the string'],
    ['a reserved capture name', JSON.stringify(exchange({ capture: { any: '$.id' } })), 'reserved'],
    ['a bad capture path', JSON.stringify(exchange({ capture: { 'user:a': 'id' } })), 'must start with $'],
    ['a bad capture name', JSON.stringify(exchange({ capture: { 'user a': '$.id' } })), /capture names/],
  ])('rejects %s, naming the file', (_name, text, message) => {
    const run = () => parseFixture(text, 'x/001-a.json');
    expect(run).toThrow(FixtureError);
    expect(run).toThrow(message);
    expect(run).toThrow('x/001-a.json');
  });
});

describe('discoverSequences', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };

  test('one sequence per folder, files in name order, README ignored', () => {
    write('okta/oin/002-b.json', JSON.stringify(exchange()));
    write('okta/oin/001-a.json', JSON.stringify(exchange()));
    write('okta/oin/010-c.json', JSON.stringify(exchange()));
    write('entra/001-a.json', JSON.stringify(exchange()));
    write('README.md', '# hi');
    const { sequences, problems } = discoverSequences(root);
    expect(problems).toEqual([]);
    expect(sequences.map((s) => [s.name, s.files.map((f) => f.name)])).toEqual([
      ['entra', ['entra/001-a.json']],
      ['okta/oin', ['okta/oin/001-a.json', 'okta/oin/002-b.json', 'okta/oin/010-c.json']],
    ]);
  });

  test('a broken file stays in its sequence with an error instead of disappearing', () => {
    write('okta/001-a.json', JSON.stringify(exchange()));
    write('okta/002-b.json', '{ nope');
    write('okta/3-bad-name.json', JSON.stringify(exchange()));
    const { sequences } = discoverSequences(root);
    const files = sequences[0].files;
    expect(files.map((f) => f.name)).toEqual(['okta/001-a.json', 'okta/002-b.json', 'okta/3-bad-name.json']);
    expect(files[0].error).toBeUndefined();
    expect(files[1].error).toMatch(/okta\/002-b\.json: not valid JSON/);
    expect(files[2].error).toMatch(/file name must look like/);
  });

  test('stray files, duplicate numbers, a missing root and an empty root are problems', () => {
    write('okta/001-a.json', JSON.stringify(exchange()));
    write('okta/001-b.json', JSON.stringify(exchange()));
    write('okta/002-c.jsn', '{}');
    const { problems } = discoverSequences(root);
    expect(problems).toEqual([expect.stringMatching(/okta\/002-c\.jsn: not a \.json fixture/), expect.stringMatching(/number 001 is also used/)]);
    expect(discoverSequences(path.join(root, 'nope')).problems).toEqual([expect.stringMatching(/fixture folder is missing/)]);
    fs.mkdirSync(path.join(root, 'empty'));
    expect(discoverSequences(path.join(root, 'empty')).problems).toEqual([expect.stringMatching(/no fixtures found/)]);
  });
});

describe('Bindings and substitute', () => {
  test('whole-string placeholders keep the JSON type; embedded ones splice text', () => {
    const b = new Bindings({ token: 's3cret' });
    b.bind('user:alice', 'u-1', 'f');
    b.bind('n', 7, 'f');
    expect(substitute({ a: '{{n}}', b: 'Bearer {{token}}', c: ['/Users/{{user:alice}}?x={{n}}'], d: null, e: false }, b)).toEqual({
      a: 7,
      b: 'Bearer s3cret',
      c: ['/Users/u-1?x=7'],
      d: null,
      e: false,
    });
  });

  test('an unknown placeholder throws, listing what is bound', () => {
    const b = new Bindings({ token: 't' });
    expect(() => substitute('/Users/{{user:bob}}', b)).toThrow(PlaceholderError);
    expect(() => substitute('/Users/{{user:bob}}', b)).toThrow('unknown placeholder {{user:bob}} (bound so far: token');
  });

  test('names are single-assignment and only scalars can be bound', () => {
    const b = new Bindings({ token: 't' });
    expect(() => b.bind('token', 'x', 'f')).toThrow('already bound (by builtin)');
    expect(() => b.bind('x', { a: 1 }, 'f')).toThrow('only strings, numbers and booleans');
    expect(() => b.bind('x', undefined, 'f')).toThrow('only strings');
    expect(() => b.bind('absent', 'x', 'f')).toThrow('is a matcher');
    expect(() => substitute('{{any}}', b)).toThrow('only allowed in expected responses');
  });
});

describe('matchPartial', () => {
  const b = new Bindings({ token: 't' });
  b.bind('user:alice', 'u-1', 'f');
  const m = (e: unknown, a: unknown) => matchPartial(e, a, b);

  test('objects: every expected key must match, extra keys are fine', () => {
    expect(m({ id: 'u-1', name: { givenName: 'A' } }, { id: 'u-1', name: { givenName: 'A', familyName: 'B' }, x: 1 })).toEqual([]);
    expect(m({ id: '{{user:alice}}' }, { id: 'u-1' })).toEqual([]);
    expect(m({ name: { givenName: 'A' } }, { name: { givenName: 'Z' } })).toEqual(['$.name.givenName: expected "A", got "Z"']);
    expect(m({ title: 'x' }, {})).toEqual(['$.title: missing (expected "x")']);
    expect(m({ a: 1 }, [1])).toEqual(['$: expected an object, got [1]']);
    expect(m({ 'urn:x:2.0:User': { manager: 'm' } }, { 'urn:x:2.0:User': { manager: 'n' } })).toEqual(['$["urn:x:2.0:User"].manager: expected "m", got "n"']);
  });

  test('scalars are strict: a string "false" is not false, 1 is not "1", null only matches null', () => {
    expect(m({ active: false }, { active: 'False' })).toEqual(['$.active: expected false, got "False"']);
    expect(m({ status: '409' }, { status: 409 })).toEqual(['$.status: expected "409", got 409']);
    expect(m({ a: null }, { a: null })).toEqual([]);
    expect(m({ a: null }, {})).toEqual(['$.a: missing (expected null)']);
  });

  test('matchers', () => {
    expect(m({ id: '{{any}}' }, { id: null })).toEqual([]);
    expect(m({ id: '{{any}}' }, {})).toEqual(['$.id: missing (expected "{{any}}")']);
    expect(m({ password: '{{absent}}' }, { password: 'x' })).toEqual(['$.password: expected to be absent, got "x"']);
    expect(m({ password: '{{absent}}' }, { password: null })).toEqual(['$.password: expected to be absent, got null']);
    expect(m({ password: '{{absent}}' }, {})).toEqual([]);
    expect(m({ members: '{{empty}}' }, {})).toEqual([]);
    expect(m({ members: '{{empty}}' }, { members: [] })).toEqual([]);
    expect(m({ members: '{{empty}}' }, { members: [{ value: 'a' }] })).toEqual(['$.members: expected empty, got [{"value":"a"}]']);
    expect(m({ members: '{{empty}}' }, { members: null })).toHaveLength(1);
    expect(m({ n: '{{number}}', s: '{{string}}', t: '{{boolean}}' }, { n: 1, s: '', t: false })).toEqual([]);
    expect(m({ n: '{{number}}' }, { n: '1' })).toEqual(['$.n: expected number, got "1"']);
    expect(m({ c: '{{datetime}}' }, { c: '2025-01-02T03:04:05.678Z' })).toEqual([]);
    expect(m({ c: '{{datetime}}' }, { c: '2025-01-02' })).toHaveLength(1);
    expect(m({ id: '{{uuid}}' }, { id: '7f4bc1a3-1f7e-4b0a-9a5e-2d4c8b1e6f00' })).toEqual([]);
    expect(m({ loc: '{{*}}/scim/v2/Users/{{user:alice}}' }, { loc: 'http://127.0.0.1:1234/scim/v2/Users/u-1' })).toEqual([]);
    expect(m({ loc: '{{*}}/Users/{{user:alice}}' }, { loc: 'http://h/Users/u-2' })).toHaveLength(1);
  });

  test('arrays: ordered and same length by default', () => {
    expect(m([{ value: 'a' }, { value: 'b' }], [{ value: 'a', display: 'x' }, { value: 'b' }])).toEqual([]);
    expect(m([{ value: 'a' }], [{ value: 'a' }, { value: 'b' }])).toEqual([expect.stringMatching(/^\$: expected 1 element\(s\), got 2/)]);
    expect(m([{ value: 'b' }, { value: 'a' }], [{ value: 'a' }, { value: 'b' }])).toHaveLength(2);
    expect(m([], [])).toEqual([]);
    expect(m({ a: [] }, { a: {} })).toEqual(['$.a: expected an array, got {}']);
  });

  test('arrays: {{unordered}} and {{contains}}', () => {
    const actual = [{ value: 'a' }, { value: 'b' }, { value: 'c' }];
    expect(m(['{{unordered}}', { value: 'c' }, { value: 'a' }, { value: 'b' }], actual)).toEqual([]);
    expect(m(['{{unordered}}', { value: 'c' }, { value: 'a' }], actual)).toEqual([expect.stringMatching(/2 element\(s\) in any order, got 3/)]);
    expect(m(['{{contains}}', { value: 'c' }], actual)).toEqual([]);
    expect(m(['{{contains}}', { value: 'a' }, { value: 'a' }], actual)).toEqual([expect.stringMatching(/no element matches \{"value":"a"\} \(contains #2\)/)]);
    expect(m(['{{contains}}'], [])).toEqual([]);
    expect(m([{ a: '{{contains}}' }], [{ a: 'x' }])).toEqual(['$[0].a: {{contains}} may only be the first element of an array']);
  });
});

describe('matchHeaders', () => {
  const b = new Bindings();
  test('names are case-insensitive; Content-Type compares the media type unless parameters are expected', () => {
    const actual = { 'content-type': 'application/scim+json; charset=utf-8', location: 'http://h/scim/v2/Users/1' };
    expect(matchHeaders({ 'Content-Type': 'application/scim+json', Location: '{{any}}' }, actual, b)).toEqual([]);
    expect(matchHeaders({ 'content-type': 'application/json' }, actual, b)).toEqual([
      'header content-type: expected media type "application/json", got "application/scim+json; charset=utf-8"',
    ]);
    expect(matchHeaders({ 'content-type': 'application/scim+json; charset=latin1' }, actual, b)).toHaveLength(1);
    expect(matchHeaders({ etag: '{{absent}}', location: '{{*}}/Users/1' }, actual, b)).toEqual([]);
    expect(matchHeaders({ 'retry-after': '{{any}}' }, actual, b)).toEqual(['header retry-after: missing (expected "{{any}}")']);
  });
});

describe('capture paths', () => {
  const body = { id: 'x', Resources: [{ id: 'r0', emails: [{ value: 'e' }] }], 'urn:a:2.0:User': { manager: { value: 'm' } } };
  test.each<[string, unknown]>([
    ['$', body],
    ['$.id', 'x'],
    ['$.Resources[0].id', 'r0'],
    ['$.Resources[0].emails[0].value', 'e'],
    ['$["urn:a:2.0:User"].manager.value', 'm'],
    ['$.Resources[1].id', undefined],
    ['$.id.deeper', undefined],
    ['$.Resources.id', undefined],
  ])('%s', (p, want) => expect(evalJsonPath(p, body)).toEqual(want));

  test('bad paths are errors', () => {
    for (const p of ['id', '$.', '$[x]', '$..a', '$["a]']) expect(() => parseJsonPath(p)).toThrow(PlaceholderError);
  });
});

describe('replayExchange', () => {
  const res = (status: number, body?: unknown, headers: Record<string, string> = { 'content-type': 'application/scim+json' }): HttpResponse => ({
    status,
    headers,
    text: body === undefined ? '' : JSON.stringify(body),
  });

  test('substitutes, sends, checks and captures', async () => {
    const b = new Bindings({ token: 'tok' });
    const sent: HttpRequest[] = [];
    const fx = asExchange(
      exchange({
        request: {
          method: 'POST',
          path: '/scim/v2/Users',
          headers: { Authorization: 'Bearer {{token}}', 'Content-Type': 'application/scim+json' },
          body: { userName: 'a' },
        },
        response: { status: 201, headers: { 'content-type': 'application/scim+json' }, body: { id: '{{any}}', userName: 'a' } },
        capture: { 'user:a': '$.id' },
      }),
    );
    await replayExchange('seq/001-a.json', fx, b, async (r) => {
      sent.push(r);
      return res(201, { id: 'new-id', userName: 'a' });
    });
    expect(sent).toEqual([
      { method: 'POST', path: '/scim/v2/Users', headers: { Authorization: 'Bearer tok', 'Content-Type': 'application/scim+json' }, body: '{"userName":"a"}' },
    ]);
    expect(b.get('user:a')).toBe('new-id');

    const next = asExchange(exchange({ request: { method: 'DELETE', path: '/scim/v2/Users/{{user:a}}', headers: {} }, response: { status: 204 } }));
    await replayExchange('seq/002-b.json', next, b, async (r) => {
      expect(r.path).toBe('/scim/v2/Users/new-id');
      return res(204);
    });
  });

  test('reports every mismatch at once with the fixture name, and captures nothing on failure', async () => {
    const b = new Bindings({ token: 'tok' });
    const fx = asExchange(
      exchange({
        response: { status: 200, headers: { 'content-type': 'application/scim+json' }, body: { totalResults: 1 } },
        capture: { 'user:a': '$.Resources[0].id' },
      }),
    );
    const err = await replayExchange('seq/003-c.json', fx, b, async () => res(404, { totalResults: 0 }, { 'content-type': 'application/json' })).catch((e) => e);
    expect(err).toBeInstanceOf(ReplayError);
    expect(err.message).toContain('seq/003-c.json');
    expect(err.problems).toEqual([
      'status: expected 200, got 404',
      'header content-type: expected media type "application/scim+json", got "application/json"',
      '$.totalResults: expected 1, got 0',
      'capture user:a: $.Resources[0].id found nothing in the response body {"totalResults":0}',
    ]);
    expect(b.has('user:a')).toBe(false);
  });

  test("an exchange's own captures can be used in its expectations, and are dropped when it fails", async () => {
    const b = new Bindings({ token: 'tok' });
    const fx = asExchange(
      exchange({
        response: { status: 201, headers: { location: '{{*}}/scim/v2/Users/{{user:a}}' }, body: { meta: { location: '{{*}}/scim/v2/Users/{{user:a}}' } } },
        capture: { 'user:a': '$.id' },
      }),
    );
    const good = { id: 'n1', meta: { location: 'http://h/scim/v2/Users/n1' } };
    await replayExchange('s/1', fx, b, async () => res(201, good, { location: 'http://h/scim/v2/Users/n1' }));
    expect(b.get('user:a')).toBe('n1');

    const b2 = new Bindings({ token: 'tok' });
    const bad = { id: 'n1', meta: { location: 'http://h/scim/v2/Users/Users/n1' } };
    await expect(replayExchange('s/2', fx, b2, async () => res(201, bad, { location: 'http://h/scim/v2/Users/n1' }))).rejects.toThrow(
      '$.meta.location: expected a string ending in "/scim/v2/Users/n1", got "http://h/scim/v2/Users/Users/n1"',
    );
    expect(b2.has('user:a')).toBe(false);
  });

  test('a status list accepts any of them; a 204 with a body fails; a non-JSON body fails', async () => {
    const b = new Bindings({ token: 'tok' });
    const fx = asExchange(exchange({ response: { status: [200, 204], body: { active: false } } }));
    await replayExchange('s/1', fx, b, async () => res(204));
    await replayExchange('s/2', fx, b, async () => res(200, { active: false }));
    await expect(replayExchange('s/3', fx, b, async () => ({ status: 204, headers: {}, text: '{}' }))).rejects.toThrow('a 204 must have no body');
    await expect(replayExchange('s/4', fx, b, async () => ({ status: 200, headers: {}, text: '<html>' }))).rejects.toThrow('body: not JSON');
    await expect(replayExchange('s/5', fx, b, async () => res(200))).rejects.toThrow('expected a body, got none');
  });

  test('an unknown placeholder or an empty capture fails the exchange loudly', async () => {
    const b = new Bindings({ token: 'tok' });
    const send = jest.fn(async () => res(200, { Resources: [] }));
    const unknown = asExchange(exchange({ request: { method: 'GET', path: '/scim/v2/Users/{{user:ghost}}' } }));
    await expect(replayExchange('s/1', unknown, b, send)).rejects.toThrow('unknown placeholder {{user:ghost}}');
    expect(send).not.toHaveBeenCalled();
    const empty = asExchange(exchange({ capture: { 'user:a': '$.Resources[0].id' } }));
    await expect(replayExchange('s/2', empty, b, send)).rejects.toThrow('capture user:a: $.Resources[0].id found nothing');
  });
});
