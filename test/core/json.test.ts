import { copyJson, deeperThan, isUnstorable, jsonEquals, jsonKey, longArray, unstorableAt } from '../../src/core/json';

/** {"a":{"a":…1…}} nested `depth` levels, built without recursion. */
function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

describe('depth-safe JSON helpers', () => {
  test('deeperThan counts containers; the value itself is depth 1', () => {
    expect(deeperThan('x', 0)).toBe(false);
    expect(deeperThan({ a: 1 }, 1)).toBe(false);
    expect(deeperThan({ a: [1] }, 1)).toBe(true);
    expect(deeperThan(nested(64), 64)).toBe(false);
    expect(deeperThan(nested(65), 64)).toBe(true);
    expect(deeperThan(nested(200_000), 64)).toBe(true);
  });

  test('copyJson drops nulls, empties and __proto__, and never overflows the stack', () => {
    expect(copyJson({ a: null, b: [], c: {}, d: [null, 1, { e: null }], f: 'x' })).toEqual({ d: [1], f: 'x' });
    expect(copyJson(JSON.parse('{"__proto__": {"polluted": 1}, "k": 2}'))).toEqual({ k: 2 });
    expect(copyJson(null)).toBeUndefined();
    expect(copyJson(0)).toBe(0);
    expect(deeperThan(copyJson(nested(100_000)), 99_999)).toBe(true);
  });

  test('jsonEquals ignores key order, keeps array order, and never overflows the stack', () => {
    expect(jsonEquals({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(jsonEquals({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEquals({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEquals(nested(100_000), nested(100_000))).toBe(true);
    expect(jsonEquals(nested(100_000), nested(99_999))).toBe(false);
  });

  test('jsonKey is equal exactly for jsonEquals-equal values', () => {
    expect(jsonKey({ value: 'a', type: 'work' })).toBe(jsonKey({ type: 'work', value: 'a' }));
    expect(jsonKey({ value: 'a' })).not.toBe(jsonKey({ value: 'a', type: 'work' }));
    expect(jsonKey(undefined)).not.toBe(jsonKey('undefined'));
  });

  test('longArray names the first array longer than the limit', () => {
    expect(longArray({ emails: [1, 2], x: { y: [1, 2, 3] } }, 2)).toBe('x.y');
    expect(longArray({ emails: [1, 2] }, 2)).toBeUndefined();
    expect(longArray([1, 2, 3], 2)).toBe('(body)');
  });
});

describe('strings no store can hold', () => {
  test('isUnstorable: U+0000 and unpaired surrogates, not pairs, not the escape text', () => {
    for (const bad of ['\u0000', 'a\u0000b', '\ud800', 'a\ud800b', '\udc00', 'x\udfff\ud800', '\ud83d\ud83d\ude00', '\ude00\ud83d\ude00']) {
      expect([bad, isUnstorable(bad)]).toEqual([bad, true]);
    }
    for (const ok of ['', 'plain', '𝔘𝔫𝔦', '\ud83d\ude00', 'a\\u0000', '\u0001', '\uffff', 'é']) expect([ok, isUnstorable(ok)]).toEqual([ok, false]);
  });

  test('unstorableAt names the path of the string or key, escaping a bad key', () => {
    expect(unstorableAt({ userName: 'ok', emails: [{ value: 'a' }, { value: 'b\u0000' }] })).toBe('emails[1].value');
    expect(unstorableAt({ Operations: [{ op: 'add', value: { name: { givenName: '\ud800' } } }] })).toBe('Operations[0].value.name.givenName');
    expect(unstorableAt({ ext: { 'k\u0000': 1 } })).toBe('ext.k\\u0000');
    expect(unstorableAt(['\udc00'])).toBe('[0]');
    expect(unstorableAt('\u0000')).toBe('(body)');
    expect(unstorableAt({ a: [1, true, null, { b: 'fine 𝔘' }] })).toBeUndefined();
    expect(unstorableAt(nested(100_000))).toBeUndefined(); // no recursion
  });
});
