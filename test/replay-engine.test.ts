/**
 * The replay engine on its own (no app): fixture parsing, discovery, matching, one exchange, and a whole sequence
 * whose fixture expects the wrong thing, which must fail naming the file and the exchange's position.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Bindings,
  discoverSequences,
  type ExchangeFixture,
  type HttpRequest,
  type HttpResponse,
  matchPartial,
  parseFixture,
  replayExchange,
  replayStep,
  type Send,
} from './support/replay';

const exchange = (over: Record<string, unknown> = {}) => ({
  description: 'd',
  source: 'scim-idp.md §A1.2',
  request: { method: 'GET', path: '/scim/v2/Users', headers: { Authorization: 'Bearer {{token}}' } },
  response: { status: 200 },
  ...over,
});
const asExchange = (v: unknown) => parseFixture(JSON.stringify(v), 'x/001-a.json') as ExchangeFixture;
const res = (status: number, body?: unknown, headers: Record<string, string> = { 'content-type': 'application/scim+json' }): HttpResponse => ({
  status,
  headers,
  text: body === undefined ? '' : JSON.stringify(body),
});

let tmp: string;
beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-'))));
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
const write = (rel: string, v: unknown) => {
  fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
  fs.writeFileSync(path.join(tmp, rel), typeof v === 'string' ? v : JSON.stringify(v));
};

describe('parseFixture', () => {
  test('accepts an exchange and a checkpoint', () => {
    expect(parseFixture(JSON.stringify(exchange()), 'f').kind).toBe('exchange');
    expect(parseFixture(JSON.stringify({ description: 'c', checkpoint: { airflow: {} } }), 'f').kind).toBe('checkpoint');
  });

  test.each<[string, string, string | RegExp]>([
    ['broken JSON', '{"description": ', 'not valid JSON'],
    ['a top-level array', '[]', 'malformed exchange'],
    ['an unknown key', JSON.stringify({ ...exchange(), reponse: {} }), /reponse/],
    ['no source', JSON.stringify({ ...exchange(), source: undefined }), 'source'],
    ['a lower-case method', JSON.stringify(exchange({ request: { method: 'get', path: '/x' } })), 'request.method'],
    ['a relative path', JSON.stringify(exchange({ request: { method: 'GET', path: 'scim/v2/Users' } })), 'request.path'],
    ['a string status', JSON.stringify(exchange({ response: { status: '200' } })), 'response.status'],
    ['a capture path that is not $.a.b', JSON.stringify(exchange({ capture: { 'user:a': 'id' } })), 'capture paths look like $.id'],
  ])('rejects %s, naming the file', (_name, text, message) => {
    const run = () => parseFixture(text, 'x/001-a.json');
    expect(run).toThrow(/^x\/001-a\.json: /);
    expect(run).toThrow(message);
  });
});

describe('discoverSequences', () => {
  test('one sequence per folder, files in name order, README ignored, a broken file kept with its error', () => {
    write('okta/oin/002-b.json', exchange());
    write('okta/oin/001-a.json', exchange());
    write('okta/oin/010-c.json', '{ nope');
    write('entra/001-a.json', exchange());
    write('README.md', '# hi');
    const { sequences, problems } = discoverSequences(tmp);
    expect(problems).toEqual([]);
    expect(sequences.map((s) => [s.name, s.files.map((f) => f.name)])).toEqual([
      ['entra', ['entra/001-a.json']],
      ['okta/oin', ['okta/oin/001-a.json', 'okta/oin/002-b.json', 'okta/oin/010-c.json']],
    ]);
    expect(sequences[1].files[2].error).toMatch(/^okta\/oin\/010-c\.json: not valid JSON/);
  });

  test('a stray file and a missing or empty root are problems', () => {
    write('okta/001-a.json', exchange());
    write('okta/002-c.jsn', '{}');
    expect(discoverSequences(tmp).problems).toEqual([expect.stringMatching(/^okta\/002-c\.jsn: not a \.json fixture/)]);
    expect(discoverSequences(path.join(tmp, 'nope')).problems).toEqual([expect.stringMatching(/no fixtures found/)]);
    fs.mkdirSync(path.join(tmp, 'empty'));
    expect(discoverSequences(path.join(tmp, 'empty')).problems).toEqual([expect.stringMatching(/no fixtures found/)]);
  });
});

describe('matchPartial', () => {
  const b = new Bindings({ 'user:alice': 'u-1' });
  const m = (e: unknown, a: unknown) => matchPartial(e, a, b);

  test('objects: every expected key matches, extra keys are fine; scalars are strict', () => {
    expect(m({ id: '{{user:alice}}', name: { givenName: 'A' } }, { id: 'u-1', name: { givenName: 'A', familyName: 'B' }, x: 1 })).toEqual([]);
    expect(m({ name: { givenName: 'A' } }, { name: { givenName: 'Z' } })).toEqual(['$.name.givenName: expected "A", got "Z"']);
    expect(m({ title: 'x' }, {})).toEqual(['$.title: missing (expected "x")']);
    expect(m({ a: 1 }, [1])).toEqual(['$: expected an object, got [1]']);
    expect(m({ active: false }, { active: 'False' })).toEqual(['$.active: expected false, got "False"']);
    expect(m({ status: '409' }, { status: 409 })).toEqual(['$.status: expected "409", got 409']);
    expect(m({ a: null }, { a: null })).toEqual([]);
    expect(m({ a: null }, {})).toEqual(['$.a: missing (expected null)']);
  });

  test('matchers', () => {
    expect(m({ id: '{{any}}' }, { id: null })).toEqual([]);
    expect(m({ id: '{{any}}' }, {})).toEqual(['$.id: missing (expected "{{any}}")']);
    expect(m({ password: '{{absent}}' }, {})).toEqual([]);
    expect(m({ password: '{{absent}}' }, { password: null })).toEqual(['$.password: expected {{absent}}, got null']);
    expect(m({ members: '{{empty}}' }, {})).toEqual([]);
    expect(m({ members: '{{empty}}', r: '{{empty}}' }, { members: [], r: {} })).toEqual([]);
    expect(m({ members: '{{empty}}' }, { members: [{ value: 'a' }] })).toEqual(['$.members: expected {{empty}}, got [{"value":"a"}]']);
    expect(m({ members: '{{empty}}' }, { members: null })).toHaveLength(1);
    expect(m({ n: '{{number}}', s: '{{string}}' }, { n: 1, s: '' })).toEqual([]);
    expect(m({ n: '{{number}}', s: '{{string}}' }, { n: '1', s: 1 })).toHaveLength(2);
    expect(m({ c: '{{datetime}}' }, { c: '2025-01-02T03:04:05.678Z' })).toEqual([]);
    expect(m({ c: '{{datetime}}' }, { c: '2025-01-02' })).toHaveLength(1);
    expect(m({ loc: '{{*}}/scim/v2/Users/{{user:alice}}' }, { loc: 'http://127.0.0.1:1234/scim/v2/Users/u-1' })).toEqual([]);
    expect(m({ loc: '{{*}}/Users/{{user:alice}}' }, { loc: 'http://h/Users/u-2' })).toEqual([
      '$.loc: expected a string ending in "/Users/u-1", got "http://h/Users/u-2"',
    ]);
  });

  test('arrays: ordered and same length by default; {{unordered}}; {{contains}}', () => {
    expect(m([{ value: 'a' }, { value: 'b' }], [{ value: 'a', display: 'x' }, { value: 'b' }])).toEqual([]);
    expect(m([{ value: 'a' }], [{ value: 'a' }, { value: 'b' }])).toEqual([expect.stringMatching(/^\$: expected 1 element\(s\), got 2/)]);
    expect(m([{ value: 'b' }, { value: 'a' }], [{ value: 'a' }, { value: 'b' }])).toHaveLength(2);
    expect(m({ a: [] }, { a: {} })).toEqual(['$.a: expected an array, got {}']);
    const actual = [{ value: 'a' }, { value: 'b' }, { value: 'c' }];
    expect(m(['{{unordered}}', { value: 'c' }, { value: 'a' }, { value: 'b' }], actual)).toEqual([]);
    expect(m(['{{unordered}}', { value: 'c' }, { value: 'a' }], actual)).toEqual([expect.stringMatching(/2 element\(s\) in any order, got 3/)]);
    expect(m(['{{contains}}', { value: 'c' }], actual)).toEqual([]);
    expect(m(['{{contains}}', { value: 'a' }, { value: 'a' }], actual)).toEqual([expect.stringMatching(/no element matches \{"value":"a"\} \(\{\{contains\}\}\)/)]);
  });

  test('an unknown placeholder or a matcher out of place throws, listing what is bound', () => {
    expect(() => m({ id: '{{user:bob}}' }, { id: 'x' })).toThrow('unknown placeholder {{user:bob}} (bound: user:alice');
    expect(() => m({ id: 'x{{any}}' }, { id: 'x' })).toThrow('unknown placeholder {{any}}');
    expect(() => m([{ a: '{{contains}}' }], [{ a: 'x' }])).toThrow('unknown placeholder {{contains}}');
  });
});

describe('replayExchange', () => {
  test('substitutes, sends, checks and captures; a later exchange uses the capture', async () => {
    const b = new Bindings({ token: 'tok' });
    const sent: HttpRequest[] = [];
    const fx = asExchange(
      exchange({
        request: { method: 'POST', path: '/scim/v2/Users', headers: { Authorization: 'Bearer {{token}}', 'Content-Type': 'application/scim+json' }, body: { userName: 'a' } },
        response: { status: 201, headers: { 'Content-Type': 'application/scim+json', location: '{{*}}/Users/{{user:a}}' }, body: { id: '{{any}}' } },
        capture: { 'user:a': '$.id' },
      }),
    );
    const created = res(201, { id: 'n1' }, { 'content-type': 'application/scim+json; charset=utf-8', location: 'http://h/Users/n1' });
    await replayExchange('s/001', fx, b, async (r) => (sent.push(r), created));
    expect(sent).toEqual([
      { method: 'POST', path: '/scim/v2/Users', headers: { Authorization: 'Bearer tok', 'Content-Type': 'application/scim+json' }, body: '{"userName":"a"}' },
    ]);
    expect(b.get('user:a')).toBe('n1');
    const next = asExchange(exchange({ request: { method: 'DELETE', path: '/scim/v2/Users/{{user:a}}', headers: {} }, response: { status: 204 } }));
    await replayExchange('s/002', next, b, async (r) => (sent.push(r), res(204)));
    expect(sent[1].path).toBe('/scim/v2/Users/n1');
  });

  test('reports every mismatch at once, naming the fixture, and binds nothing on failure', async () => {
    const b = new Bindings({ token: 'tok' });
    const fx = asExchange(
      exchange({
        response: { status: 201, headers: { 'content-type': 'application/scim+json', location: '{{*}}/Users/{{user:a}}' }, body: { userName: 'a' } },
        capture: { 'user:a': '$.id' },
      }),
    );
    const err: Error = await replayExchange('seq/003-c.json', fx, b, async () => res(409, { userName: 'b' }, { 'content-type': 'application/json' })).catch((e) => e);
    expect(err.message.split('\n')).toEqual([
      'seq/003-c.json: d',
      '  - status: expected 201, got 409',
      '  - capture user:a: $.id found no string in the response body {"userName":"b"}',
      '  - header.content-type: expected "application/scim+json", got "application/json"',
      '  - header.location: missing (expected "{{*}}/Users/{{user:a}}")',
      '  - $.userName: expected "a", got "b"',
      '  request:  GET /scim/v2/Users',
      '  response: 409 {"userName":"b"}',
    ]);
    const again: Error = await replayExchange('seq/003-c.json', fx, b, async () => res(201, { id: 'n1', userName: 'b' }, { 'content-type': 'application/json', location: 'http://h/Groups/n1' })).catch((e) => e);
    expect(again.message).toContain('header.content-type: expected "application/scim+json", got "application/json"');
    expect(again.message).toContain('header.location: expected a string ending in "/Users/n1", got "http://h/Groups/n1"');
    expect(again.message).toContain('$.userName: expected "a", got "b"');
    expect(b.has('user:a')).toBe(false);
  });

  test('a status list accepts any of them; a 204 with a body, a non-JSON body and a missing body fail', async () => {
    const b = new Bindings({ token: 'tok' });
    const fx = asExchange(exchange({ response: { status: [200, 204], body: { active: false } } }));
    await replayExchange('s/1', fx, b, async () => res(204));
    await replayExchange('s/2', fx, b, async () => res(200, { active: false }));
    await expect(replayExchange('s/3', fx, b, async () => res(201, { active: false }))).rejects.toThrow('status: expected 200 or 204, got 201');
    await expect(replayExchange('s/4', fx, b, async () => ({ status: 204, headers: {}, text: '{}' }))).rejects.toThrow('a 204 must have no body');
    await expect(replayExchange('s/5', fx, b, async () => ({ status: 200, headers: {}, text: '<html>' }))).rejects.toThrow('body: not JSON');
    await expect(replayExchange('s/6', fx, b, async () => res(200))).rejects.toThrow('expected a body, got none');
  });

  test('an unknown placeholder in the request fails before anything is sent', async () => {
    const send = jest.fn(async () => res(200));
    const fx = asExchange(exchange({ request: { method: 'GET', path: '/scim/v2/Users/{{user:ghost}}' } }));
    await expect(replayExchange('s/1', fx, new Bindings({ token: 't' }), send)).rejects.toThrow(/^s\/1: d\n {2}- unknown placeholder \{\{user:ghost\}\}/);
    expect(send).not.toHaveBeenCalled();
  });
});

describe('a sequence whose fixture expects the wrong thing', () => {
  // A tiny server: POST creates user u1, GET returns it.
  const server: Send = async (req) =>
    req.method === 'POST' ? res(201, { id: 'u1', userName: 'ann', active: true }) : res(200, { id: 'u1', userName: 'ann', active: true });
  const create = exchange({
    request: { method: 'POST', path: '/scim/v2/Users', headers: { 'Content-Type': 'application/scim+json' }, body: { userName: 'ann' } },
    response: { status: 201, body: { userName: 'ann' } },
    capture: { 'user:ann': '$.id' },
  });
  const get = (response: unknown) => exchange({ description: 'get ann', request: { method: 'GET', path: '/scim/v2/Users/{{user:ann}}' }, response });

  test('passes as recorded, and fails naming the fixture file and the exchange index on a wrong status or body', async () => {
    write('okta/001-create.json', create);
    write('okta/002-get.json', get({ status: 200, body: { id: '{{user:ann}}', active: true } }));
    write('okta/003-get-wrong-status.json', get({ status: 404 }));
    write('okta/004-get-wrong-body.json', get({ status: 200, body: { id: '{{user:ann}}', active: false } }));
    const [seq] = discoverSequences(tmp).sequences;
    const b = new Bindings();
    await replayStep(seq, 0, b, server);
    await replayStep(seq, 1, b, server);
    const file = (n: string) => path.relative(process.cwd(), path.join(tmp, 'okta', n));
    await expect(replayStep(seq, 2, b, server)).rejects.toThrow(`${file('003-get-wrong-status.json')} (exchange 3 of 4 in okta): get ann\n  - status: expected 404, got 200`);
    await expect(replayStep(seq, 3, b, server)).rejects.toThrow(`${file('004-get-wrong-body.json')} (exchange 4 of 4 in okta): get ann\n  - $.active: expected false, got true`);
  });

  test('a broken file or a checkpoint in an IdP sequence fails the same way', async () => {
    write('okta/001-broken.json', '{');
    write('okta/002-checkpoint.json', { description: 'c', checkpoint: {} });
    const [seq] = discoverSequences(tmp).sequences;
    await expect(replayStep(seq, 0, new Bindings(), server)).rejects.toThrow(/001-broken\.json \(exchange 1 of 2 in okta\): okta\/001-broken\.json: not valid JSON/);
    await expect(replayStep(seq, 1, new Bindings(), server)).rejects.toThrow(/002-checkpoint\.json \(exchange 2 of 2 in okta\): checkpoints belong in test\/fixtures\/e2e/);
  });
});
