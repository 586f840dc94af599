/**
 * JSON helpers that never recurse, so no value (even one stored before the depth limit existed) can overflow
 * the stack while it is copied, compared or measured.
 */
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when `v` nests deeper than `max` containers (objects and arrays). */
export function deeperThan(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d > max) return true;
    for (const c of Array.isArray(x) ? x : Object.values(x)) if (typeof c === 'object' && c !== null) stack.push([c, d + 1]);
  }
  return false;
}

/**
 * JSON deep copy without nulls, "__proto__" keys, keys `drop` refuses, or empty containers; undefined when nothing
 * is left.
 */
export function copyJson(v: unknown, drop: (key: string) => boolean = () => false): unknown {
  if (typeof v !== 'object' || v === null) return v ?? undefined;
  // Post-order on an explicit stack: children are copied before their parent decides whether it is empty.
  type Frame = { src: Json | unknown[]; keys: string[]; i: number; out: Json | unknown[]; set: (c: unknown) => void };
  let result: unknown;
  const frame = (src: Json | unknown[], set: (c: unknown) => void): Frame => ({
    src,
    keys: Array.isArray(src) ? [] : Object.keys(src),
    i: 0,
    out: Array.isArray(src) ? [] : {},
    set,
  });
  const stack: Frame[] = [frame(v as Json, (c) => (result = c))];
  while (stack.length) {
    const f = stack[stack.length - 1];
    const n = Array.isArray(f.src) ? f.src.length : f.keys.length;
    if (f.i >= n) {
      stack.pop();
      f.set(Array.isArray(f.out) ? (f.out.length ? f.out : undefined) : Object.keys(f.out).length ? f.out : undefined);
      continue;
    }
    const i = f.i++;
    const key = Array.isArray(f.src) ? undefined : f.keys[i];
    if (key === '__proto__' || (key !== undefined && drop(key))) continue;
    const x = Array.isArray(f.src) ? f.src[i] : (f.src as Json)[key!];
    const out = f.out;
    const put = (c: unknown) => {
      if (c === undefined) return;
      if (Array.isArray(out)) out.push(c);
      else out[key!] = c;
    };
    if (typeof x === 'object' && x !== null) stack.push(frame(x as Json, put));
    else put(x ?? undefined);
  }
  return result;
}

/** Deep copy of a JSON value through V8's native serializer (no JS recursion). */
export const cloneJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Deep equality of JSON values: object key order ignored, array order kept. */
export function jsonEquals(a: unknown, b: unknown): boolean {
  const stack: [unknown, unknown][] = [[a, b]];
  while (stack.length) {
    const [x, y] = stack.pop()!;
    if (x === y) continue;
    if (Array.isArray(x) || Array.isArray(y)) {
      if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) stack.push([x[i], y[i]]);
      continue;
    }
    if (!isObject(x) || !isObject(y)) return false;
    const kx = Object.keys(x);
    if (kx.length !== Object.keys(y).length) return false;
    for (const k of kx) {
      if (!Object.hasOwn(y, k)) return false;
      stack.push([x[k], y[k]]);
    }
  }
  return true;
}

/** A string that is equal for jsonEquals-equal values (object keys sorted), for Set/Map lookups. */
export function jsonKey(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    isObject(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x,
  ) ?? 'undefined';
}

/** The path of the first array in `v` longer than `max` ("emails", "Operations[0].value"), or undefined. */
export function longArray(v: unknown, max: number): string | undefined {
  const stack: [unknown, string][] = [[v, '']];
  while (stack.length) {
    const [x, path] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (Array.isArray(x)) {
      if (x.length > max) return path || '(body)';
      x.forEach((c, i) => stack.push([c, `${path}[${i}]`]));
    } else for (const [k, c] of Object.entries(x)) stack.push([c, path ? `${path}.${k}` : k]);
  }
  return undefined;
}

/**
 * U+0000, or a UTF-16 surrogate that is not half of a pair. A string holding one cannot be stored alike everywhere:
 * PostgreSQL text cannot hold U+0000 (PostgreSQL docs §8.3), and an unpaired surrogate has no UTF-8 form (RFC 8259
 * §8.2: its behaviour is unpredictable; the pg client writes U+FFFD instead, SQLite keeps it).
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const isUnstorable = (s: string): boolean => s.includes('\u0000') || LONE_SURROGATE.test(s);

/** A key as it may be shown in a message: an unstorable one with JSON escapes. */
const shown = (key: string) => (isUnstorable(key) ? JSON.stringify(key).slice(1, -1) : key);

/**
 * The path of a string or object key in `v` that isUnstorable ("emails[0].value", "name.givenName"; a key's path
 * ends with that key), or undefined. Depth first in document order, an object's keys before its values; "(body)"
 * when `v` itself is such a string.
 */
export function unstorableAt(v: unknown): string | undefined {
  const stack: [unknown, string][] = [[v, '']];
  while (stack.length) {
    const [x, path] = stack.pop()!;
    if (typeof x === 'string') {
      if (isUnstorable(x)) return path || '(body)';
      continue;
    }
    if (typeof x !== 'object' || x === null) continue;
    const children: [unknown, string][] = [];
    if (Array.isArray(x)) x.forEach((c, i) => children.push([c, `${path}[${i}]`]));
    else {
      for (const [k, c] of Object.entries(x)) {
        const at = path ? `${path}.${shown(k)}` : shown(k);
        if (isUnstorable(k)) return at;
        children.push([c, at]);
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return undefined;
}
