import { copyJson, deeperThan, jsonEquals, jsonKey, longArray } from '../../src/core/json';

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
