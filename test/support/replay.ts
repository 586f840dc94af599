/**
 * Replays recorded IdP exchanges (elimity-com/scim style golden files, one JSON file per exchange). Format,
 * placeholders and matchers: test/fixtures/idp/README.md. Loud by design: a malformed fixture, an unknown
 * placeholder or a capture that finds nothing fails the test and names the file; nothing is skipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const status = z.number().int().min(100).max(599);
const headers = z.record(z.string(), z.string());
const exchangeSchema = z.strictObject({
  description: z.string().min(1),
  source: z.string().min(1),
  request: z.strictObject({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    path: z.string().startsWith('/'), // path and query exactly as sent, already URL-encoded
    headers: headers.default({}),
    body: z.unknown().optional(),
  }),
  response: z.strictObject({
    status: z.union([status, z.array(status).min(1)]), // or every status the IdP accepts (Okta: 200 or 204)
    headers: headers.optional(),
    body: z.unknown().optional(),
  }),
  capture: z.record(z.string(), z.string().regex(/^\$(\.[^.]+)+$/, 'capture paths look like $.id')).optional(),
});
/** Opaque here: the e2e tests (test/fixtures/e2e) interpret checkpoints. */
const checkpointSchema = z.strictObject({ description: z.string().min(1), source: z.string().min(1).optional(), checkpoint: z.record(z.string(), z.unknown()) });

export type ExchangeFixture = z.infer<typeof exchangeSchema> & { kind: 'exchange' };
export type CheckpointFixture = z.infer<typeof checkpointSchema> & { kind: 'checkpoint' };
export type Fixture = ExchangeFixture | CheckpointFixture;

/** Parses one fixture file; throws an Error naming the file on bad JSON or a bad shape (unknown keys included). */
export function parseFixture(text: string, file: string): Fixture {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const kind = raw && typeof raw === 'object' && 'checkpoint' in raw ? 'checkpoint' : 'exchange';
  const parsed = (kind === 'checkpoint' ? checkpointSchema : exchangeSchema).safeParse(raw);
  if (parsed.success) return { kind, ...parsed.data } as Fixture;
  throw new Error(`${file}: malformed ${kind}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')}`);
}

/** `name` is relative to the fixture root; `error` says why the file cannot be used, and its test fails with it. */
export type LoadedFile = { name: string; file: string; fixture?: Fixture; error?: string };
export type Sequence = { name: string; files: LoadedFile[] };

/** Every folder under root that holds .json files is one sequence, replayed in file-name order. */
export function discoverSequences(root: string): { sequences: Sequence[]; problems: string[] } {
  const sequences: Sequence[] = [];
  const problems: string[] = [];
  const walk = (dir: string) => {
    const rel = path.relative(root, dir).split(path.sep).join('/') || '.';
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1));
    const files: LoadedFile[] = [];
    for (const ent of entries.filter((e) => e.isFile() && !e.name.endsWith('.md'))) {
      const [name, file] = [rel === '.' ? ent.name : `${rel}/${ent.name}`, path.join(dir, ent.name)];
      if (!ent.name.endsWith('.json')) problems.push(`${name}: not a .json fixture (nothing here is skipped silently)`);
      else {
        try {
          files.push({ name, file, fixture: parseFixture(fs.readFileSync(file, 'utf8'), name) });
        } catch (e) {
          files.push({ name, file, error: (e as Error).message });
        }
      }
    }
    if (files.length) sequences.push({ name: rel, files });
    for (const ent of entries) if (ent.isDirectory()) walk(path.join(dir, ent.name));
  };
  if (fs.existsSync(root)) walk(root);
  if (!sequences.length) problems.push(`${root}: no fixtures found`);
  return { sequences, problems };
}

/** Placeholder values: builtins (the token) plus ids captured by earlier exchanges of the same sequence. */
export class Bindings extends Map<string, string> {
  constructor(builtins: Record<string, string> = {}) {
    super(Object.entries(builtins));
  }
}

/** Splices bound values into every {{name}}; an unknown name (or a matcher out of place) throws. */
function fill(s: string, b: Bindings): string {
  return s.replace(/\{\{([^{}]*)\}\}/g, (_m, name: string) => {
    const v = b.get(name);
    if (v === undefined) throw new Error(`unknown placeholder {{${name}}} (bound: ${[...b.keys()].join(', ') || 'none'}; did an earlier exchange fail?)`);
    return v;
  });
}

function substitute(v: unknown, b: Bindings): unknown {
  if (typeof v === 'string') return fill(v, b);
  if (Array.isArray(v)) return v.map((x) => substitute(x, b));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, b)]));
  return v;
}

const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? 'nothing' : s.length > 200 ? `${s.slice(0, 200)}…` : s;
};

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** Whole-string matchers in expected values; `undefined` is a key that is not there. */
const MATCHERS: Record<string, (v: unknown) => boolean> = {
  '{{any}}': (v) => v !== undefined,
  '{{absent}}': (v) => v === undefined,
  '{{empty}}': (v) => v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0),
  '{{string}}': (v) => typeof v === 'string',
  '{{number}}': (v) => typeof v === 'number',
  '{{datetime}}': (v) => typeof v === 'string' && DATETIME.test(v) && !Number.isNaN(Date.parse(v)),
};

/**
 * Partial match; returns the mismatches, each with its JSON path. Objects: every expected key matches, extra keys
 * are fine. Arrays: same length, element by element, unless the first element is "{{unordered}}" (same length,
 * any order) or "{{contains}}" (listed elements present, extras fine). Scalars: strict equality after substitution.
 */
export function matchPartial(expected: unknown, actual: unknown, b: Bindings, at = '$'): string[] {
  if (typeof expected === 'string') {
    if (Object.hasOwn(MATCHERS, expected)) return MATCHERS[expected](actual) ? [] : [`${at}: expected ${expected}, got ${show(actual)}`];
    if (expected.startsWith('{{*}}')) {
      const suffix = fill(expected.slice('{{*}}'.length), b);
      return typeof actual === 'string' && actual.endsWith(suffix) ? [] : [`${at}: expected a string ending in ${show(suffix)}, got ${show(actual)}`];
    }
    expected = fill(expected, b);
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at}: expected an array, got ${show(actual)}`];
    const mode = expected[0] === '{{unordered}}' || expected[0] === '{{contains}}' ? (expected[0] as string) : '';
    const want = mode ? expected.slice(1) : expected;
    if (mode !== '{{contains}}' && want.length !== actual.length) {
      return [`${at}: expected ${want.length} element(s)${mode && ' in any order'}, got ${actual.length}: ${show(actual)}`];
    }
    if (!mode) return want.flatMap((e, i) => matchPartial(e, actual[i], b, `${at}[${i}]`));
    const used = new Set<number>(); // each expected element takes a distinct actual one; greedy suffices here
    return want.flatMap((e) => {
      const j = actual.findIndex((a, k) => !used.has(k) && matchPartial(e, a, b).length === 0);
      used.add(j);
      return j < 0 ? [`${at}: no element matches ${show(e)} (${mode}); got ${show(actual)}`] : [];
    });
  }
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return [`${at}: expected an object, got ${show(actual)}`];
    return Object.entries(expected).flatMap(([k, e]) => {
      const a = Object.hasOwn(actual, k) ? (actual as Record<string, unknown>)[k] : undefined;
      if (a === undefined && e !== '{{absent}}' && e !== '{{empty}}') return [`${at}.${k}: missing (expected ${show(e)})`];
      return matchPartial(e, a, b, `${at}.${k}`);
    });
  }
  return Object.is(expected, actual) ? [] : [`${at}: expected ${show(expected)}, got ${show(actual)}`];
}

export type HttpRequest = { method: ExchangeFixture['request']['method']; path: string; headers: Record<string, string>; body?: string };
export type HttpResponse = { status: number; headers: Record<string, string | string[] | undefined>; text: string };
export type Send = (req: HttpRequest) => Promise<HttpResponse>;

/** Header names are case-insensitive; the actual Content-Type is cut to its media type (no charset). */
function headerView(h: Record<string, unknown>, actual: boolean): Record<string, unknown> {
  const out = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v]));
  if (actual && typeof out['content-type'] === 'string') out['content-type'] = out['content-type'].split(';')[0].trim().toLowerCase();
  return out;
}

/**
 * Replays one exchange: substitute, send, capture, check. Throws an Error starting with `name` that lists every
 * mismatch. Captures are bound tentatively before the check, so an exchange's expectations may use them (a
 * Location ending in the new id); later exchanges see them only if this one passes.
 */
export async function replayExchange(name: string, fx: ExchangeFixture, b: Bindings, send: Send): Promise<HttpResponse> {
  const fail = (problems: string[], detail = '') => new Error(`${name}: ${fx.description}\n  - ${problems.join('\n  - ')}${detail}`);
  let req: HttpRequest;
  try {
    const { method, path: p, headers: h, body } = fx.request;
    req = { method, path: fill(p, b), headers: substitute(h, b) as Record<string, string> };
    if (body !== undefined) req.body = JSON.stringify(substitute(body, b));
  } catch (e) {
    throw fail([(e as Error).message]);
  }
  const res = await send(req);
  const problems: string[] = [];
  const statuses = [fx.response.status].flat();
  if (!statuses.includes(res.status)) problems.push(`status: expected ${statuses.join(' or ')}, got ${res.status}`);
  let body: unknown;
  try {
    body = res.text ? JSON.parse(res.text) : undefined;
  } catch {
    problems.push(`body: not JSON: ${show(res.text)}`);
  }
  const tentative = new Bindings(Object.fromEntries(b));
  for (const [key, p] of Object.entries(fx.capture ?? {})) {
    const v = p.split('.').slice(1).reduce<unknown>((o, k) => (o && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>)[k] : undefined), body);
    if (typeof v === 'string') tentative.set(key, v); // SCIM ids are strings (RFC 7643 §3.1)
    else problems.push(`capture ${key}: ${p} found no string in the response body ${show(body)}`);
  }
  try {
    problems.push(...matchPartial(headerView(fx.response.headers ?? {}, false), headerView(res.headers, true), tentative, 'header'));
    const expected = fx.response.body;
    if (res.status === 204) {
      if (res.text) problems.push(`body: a 204 must have no body (RFC 7230 §3.3.3), got ${show(res.text)}`);
    } else if (expected !== undefined && !res.text) problems.push('body: expected a body, got none');
    else if (expected !== undefined && body !== undefined) problems.push(...matchPartial(expected, body, tentative));
  } catch (e) {
    problems.push((e as Error).message); // an unknown placeholder in the expectation
  }
  if (problems.length) {
    const sent = `${req.method} ${req.path}${req.body ? ` ${show(JSON.parse(req.body))}` : ''}`;
    throw fail(problems, `\n  request:  ${sent}\n  response: ${res.status} ${res.text.length > 1500 ? `${res.text.slice(0, 1500)}…` : res.text}`);
  }
  for (const [k, v] of tentative) b.set(k, v);
  return res;
}

/** Replays file i of an IdP sequence; a failure names the fixture file and its position in the sequence. */
export async function replayStep(seq: Sequence, i: number, b: Bindings, send: Send): Promise<HttpResponse> {
  const f = seq.files[i];
  const label = `${path.relative(process.cwd(), f.file)} (exchange ${i + 1} of ${seq.files.length} in ${seq.name})`;
  if (f.error) throw new Error(`${label}: ${f.error}`);
  const fx = f.fixture!;
  if (fx.kind !== 'exchange') throw new Error(`${label}: checkpoints belong in test/fixtures/e2e, not in IdP golden sequences`);
  return replayExchange(label, fx, b, send);
}
