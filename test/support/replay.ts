/**
 * Replay engine for recorded IdP exchanges (elimity-com/scim style golden files, one JSON file per exchange).
 * The format and the placeholder rules are documented in test/fixtures/idp/README.md; this file is the
 * reference implementation. Pure apart from discoverSequences (reads the fixture tree) and the injected `send`.
 *
 * Loud by design: an unreadable or malformed fixture, an unknown placeholder, a capture that finds nothing,
 * a stray file in a fixture folder: each is an error naming the file, never a skip.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------------------------
// Fixture format

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const CAPTURE_NAME = /^[A-Za-z0-9_.:@-]+$/;

const requestSchema = z.strictObject({
  method: z.enum(METHODS),
  /** Path and query exactly as the IdP sent them (already URL-encoded), e.g. "/scim/v2/Users?filter=userName+eq+%22a%22". */
  path: z.string().startsWith('/'),
  headers: z.record(z.string(), z.string()).default({}),
  /** JSON body; sent as JSON.stringify(body) with the Content-Type header given in headers. */
  body: z.unknown().optional(),
});

const responseSchema = z.strictObject({
  /** One status, or the statuses the IdP accepts (e.g. Okta: 200 with the user, or 204). */
  status: z.union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)]),
  headers: z.record(z.string(), z.string()).optional(),
  /** Partial expected body (see README). Ignored when the server answers 204, which must have no body. */
  body: z.unknown().optional(),
});

const exchangeSchema = z.strictObject({
  description: z.string().min(1),
  source: z.string().min(1),
  request: requestSchema,
  response: responseSchema,
  /** capture name -> "$.a.b[0]" path into the response body; bound for the rest of the sequence. */
  capture: z.record(z.string(), z.string()).optional(),
});

const checkpointSchema = z.strictObject({
  description: z.string().min(1),
  source: z.string().min(1).optional(),
  /** Opaque to the engine: interpreted by whoever replays the sequence (the e2e tests). */
  checkpoint: z.record(z.string(), z.unknown()),
});

export type ExchangeFixture = z.infer<typeof exchangeSchema> & { kind: 'exchange' };
export type CheckpointFixture = z.infer<typeof checkpointSchema> & { kind: 'checkpoint' };
export type Fixture = ExchangeFixture | CheckpointFixture;

export class FixtureError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'FixtureError';
  }
}

/** Parses one fixture file's text. Throws FixtureError (naming the file) on bad JSON or a bad shape. */
export function parseFixture(text: string, file: string): Fixture {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new FixtureError(file, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FixtureError(file, 'the top level must be an object');
  const isCheckpoint = 'checkpoint' in raw;
  const result = (isCheckpoint ? checkpointSchema : exchangeSchema).safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      const where = i.path.map(String).join('.') || '(top level)';
      const keys = 'keys' in i && Array.isArray(i.keys) ? ` (${i.keys.join(', ')})` : '';
      return `${where}: ${i.message}${keys}`;
    });
    throw new FixtureError(file, `malformed ${isCheckpoint ? 'checkpoint' : 'exchange'}: ${problems.join('; ')}`);
  }
  if (isCheckpoint) return { kind: 'checkpoint', ...(result.data as z.infer<typeof checkpointSchema>) };
  const fx = { kind: 'exchange' as const, ...(result.data as z.infer<typeof exchangeSchema>) };
  if (fx.request.body !== undefined && headerValue(fx.request.headers, 'content-type') === undefined) {
    throw new FixtureError(file, 'request has a body but no Content-Type header (IdPs always send one)');
  }
  try {
    // Placeholder syntax is checked up front, so a typo fails even if the exchange is never reached.
    scanPlaceholders(fx.request, 'request');
    scanPlaceholders(fx.response, 'response');
    for (const [name, p] of Object.entries(fx.capture ?? {})) {
      if (!CAPTURE_NAME.test(name)) throw new Error(`capture name "${name}": capture names use [A-Za-z0-9_.:@-]`);
      if (RESERVED.has(name)) throw new Error(`capture name "${name}" is reserved`);
      parseJsonPath(p);
    }
  } catch (e) {
    throw new FixtureError(file, (e as Error).message);
  }
  return fx;
}

// ---------------------------------------------------------------------------------------------------------------
// Discovery

export interface LoadedFile {
  /** Path relative to the fixture root, with forward slashes. */
  name: string;
  file: string;
  fixture?: Fixture;
  /** Why the file could not be used; a test must fail with it. */
  error?: string;
}

export interface Sequence {
  /** Folder relative to the fixture root ("." for the root itself). */
  name: string;
  files: LoadedFile[];
}

/** 001-create-user.json: three digits, a dash, lowercase words. */
export const FIXTURE_FILE = /^\d{3}-[a-z0-9][a-z0-9.-]*\.json$/;

/**
 * Every folder under root that holds fixture files is one sequence, replayed in file-name order. Problems that
 * belong to no single file (missing root, no fixtures at all, stray files) are returned separately.
 */
export function discoverSequences(root: string): { sequences: Sequence[]; problems: string[] } {
  const problems: string[] = [];
  const sequences: Sequence[] = [];
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) return { sequences, problems: [`${root}: fixture folder is missing`] };
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      problems.push(`${dir}: cannot read (${(e as Error).message})`);
      return;
    }
    entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    const rel = path.relative(root, dir).split(path.sep).join('/') || '.';
    const files: LoadedFile[] = [];
    for (const ent of entries) {
      const full = path.join(dir, ent.name);
      const name = rel === '.' ? ent.name : `${rel}/${ent.name}`;
      if (ent.isDirectory()) continue;
      if (ent.name.toLowerCase().endsWith('.md')) continue;
      if (!ent.name.endsWith('.json')) {
        problems.push(`${name}: not a .json fixture (rename or remove it; nothing here is skipped silently)`);
        continue;
      }
      if (!FIXTURE_FILE.test(ent.name)) {
        files.push({ name, file: full, error: `${name}: file name must look like 001-what-it-does.json (replay order is by name)` });
        continue;
      }
      try {
        files.push({ name, file: full, fixture: parseFixture(fs.readFileSync(full, 'utf8'), name) });
      } catch (e) {
        files.push({ name, file: full, error: e instanceof FixtureError ? e.message : `${name}: cannot read (${(e as Error).message})` });
      }
    }
    const prefixes = new Map<string, string>();
    for (const f of files) {
      const base = path.basename(f.name);
      const n = base.slice(0, 3);
      if (prefixes.has(n)) problems.push(`${f.name}: number ${n} is also used by ${prefixes.get(n)}; replay order would be ambiguous`);
      else prefixes.set(n, base);
    }
    if (files.length) sequences.push({ name: rel, files });
    for (const ent of entries) if (ent.isDirectory()) walk(path.join(dir, ent.name));
  };
  walk(root);
  if (!sequences.length && !problems.length) problems.push(`${root}: no fixtures found`);
  return { sequences, problems };
}

// ---------------------------------------------------------------------------------------------------------------
// Placeholders

/** Matchers: only in expected responses. */
export const MATCHERS = ['any', 'absent', 'empty', 'string', 'number', 'boolean', 'datetime', 'uuid'] as const;
/** Array directives: only as the first element of an expected array. */
export const ARRAY_DIRECTIVES = ['contains', 'unordered'] as const;
const PREFIX_WILDCARD = '{{*}}';
const RESERVED = new Set<string>([...MATCHERS, ...ARRAY_DIRECTIVES, '*']);
const TOKEN = /\{\{([^{}]*)\}\}/g;

export class PlaceholderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlaceholderError';
  }
}

/** Builtins (e.g. token) plus values captured from earlier responses of the same sequence. */
export class Bindings {
  private readonly values = new Map<string, unknown>();
  private readonly origin = new Map<string, string>();

  constructor(builtins: Record<string, unknown> = {}) {
    for (const [k, v] of Object.entries(builtins)) this.bind(k, v, 'builtin');
  }

  bind(name: string, value: unknown, origin: string): void {
    if (!CAPTURE_NAME.test(name)) throw new PlaceholderError(`bad placeholder name "${name}"`);
    if (RESERVED.has(name)) throw new PlaceholderError(`"${name}" is a matcher, not a bindable name`);
    if (this.values.has(name)) throw new PlaceholderError(`{{${name}}} is already bound (by ${this.origin.get(name)}); capture names are single-assignment`);
    if (value === undefined || value === null || (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')) {
      throw new PlaceholderError(`{{${name}}} would be bound to ${JSON.stringify(value)}; only strings, numbers and booleans can be captured`);
    }
    this.values.set(name, value);
    this.origin.set(name, origin);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  get(name: string): unknown {
    if (!this.values.has(name)) {
      const known = [...this.values.keys()].sort().join(', ') || 'none';
      throw new PlaceholderError(`unknown placeholder {{${name}}} (bound so far: ${known}; did an earlier exchange fail or forget to capture it?)`);
    }
    return this.values.get(name);
  }

  /** A copy to bind into tentatively; the original is unchanged. */
  fork(): Bindings {
    const f = new Bindings();
    for (const [k, v] of this.values) f.bind(k, v, this.origin.get(k)!);
    return f;
  }

  snapshot(): Record<string, unknown> {
    return Object.fromEntries(this.values);
  }
}

/** Checks placeholder syntax everywhere in a fixture part without resolving names. */
function scanPlaceholders(value: unknown, where: string): void {
  walkStrings(value, where, (s, at) => {
    const rest = s.replace(TOKEN, (_m, inner: string) => {
      if (inner === '*') {
        if (where !== 'response') throw new PlaceholderError(`${at}: {{*}} is only allowed in expected responses`);
        if (!s.startsWith(PREFIX_WILDCARD)) throw new PlaceholderError(`${at}: {{*}} must start the string`);
      } else if (!CAPTURE_NAME.test(inner)) {
        throw new PlaceholderError(`${at}: malformed placeholder {{${inner}}}`);
      } else if ((MATCHERS as readonly string[]).includes(inner) || (ARRAY_DIRECTIVES as readonly string[]).includes(inner)) {
        if (where !== 'response') throw new PlaceholderError(`${at}: matcher {{${inner}}} is only allowed in expected responses`);
        if (s !== `{{${inner}}}`) throw new PlaceholderError(`${at}: matcher {{${inner}}} must be the whole string`);
      }
      return '';
    });
    if (rest.includes('{{') || rest.includes('}}')) throw new PlaceholderError(`${at}: unbalanced {{ }} in ${JSON.stringify(s)}`);
  });
}

function walkStrings(value: unknown, at: string, fn: (s: string, at: string) => void): void {
  if (typeof value === 'string') fn(value, at);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, `${at}[${i}]`, fn));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes('{{')) throw new PlaceholderError(`${at}: placeholders are not allowed in object keys (${k})`);
      walkStrings(v, `${at}.${k}`, fn);
    }
  }
}

/**
 * Substitutes {{name}} in every string of a request part. A string that is exactly one placeholder takes the bound
 * value with its JSON type; a placeholder inside a longer string is spliced in as text.
 */
export function substitute(value: unknown, b: Bindings): unknown {
  if (typeof value === 'string') return substituteString(value, b);
  if (Array.isArray(value)) return value.map((v) => substitute(v, b));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, b)]));
  return value;
}

function substituteString(s: string, b: Bindings): unknown {
  const whole = /^\{\{([^{}]*)\}\}$/.exec(s);
  if (whole) {
    assertBindable(whole[1]);
    return b.get(whole[1]);
  }
  return s.replace(TOKEN, (_m, inner: string) => {
    assertBindable(inner);
    return String(b.get(inner));
  });
}

function assertBindable(name: string): void {
  if (RESERVED.has(name)) throw new PlaceholderError(`matcher {{${name}}} is only allowed in expected responses`);
  if (!CAPTURE_NAME.test(name)) throw new PlaceholderError(`malformed placeholder {{${name}}}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Partial matching

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? 'nothing' : s.length > 200 ? s.slice(0, 200) + '…' : s;
};

/**
 * Partial match of an expected fragment against an actual JSON value. Returns the mismatches, each prefixed with
 * its JSON path (empty = match). Rules (README "Matching"): objects match when every expected key matches (extra
 * actual keys are fine); arrays match element by element with equal length, unless the first element is
 * "{{contains}}" (each listed element matches a distinct actual element, extras fine) or "{{unordered}}" (same,
 * and the lengths are equal); scalars match by strict equality after substitution.
 */
export function matchPartial(expected: unknown, actual: unknown, b: Bindings, at = '$'): string[] {
  if (typeof expected === 'string') return matchString(expected, actual, b, at);
  if (Array.isArray(expected)) return matchArray(expected, actual, b, at);
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return [`${at}: expected an object, got ${show(actual)}`];
    const out: string[] = [];
    for (const [k, ev] of Object.entries(expected)) {
      const has = Object.prototype.hasOwnProperty.call(actual, k);
      const av = (actual as Record<string, unknown>)[k];
      const p = /^[A-Za-z_$][\w$]*$/.test(k) ? `${at}.${k}` : `${at}[${JSON.stringify(k)}]`;
      if (ev === '{{absent}}') {
        if (has) out.push(`${p}: expected to be absent, got ${show(av)}`);
        continue;
      }
      if (ev === '{{empty}}' && !has) continue;
      if (!has) {
        out.push(`${p}: missing (expected ${show(ev)})`);
        continue;
      }
      out.push(...matchPartial(ev, av, b, p));
    }
    return out;
  }
  return Object.is(expected, actual) ? [] : [`${at}: expected ${show(expected)}, got ${show(actual)}`];
}

function matchString(expected: string, actual: unknown, b: Bindings, at: string): string[] {
  const m = /^\{\{([a-z]+)\}\}$/.exec(expected);
  if (m && (MATCHERS as readonly string[]).includes(m[1])) {
    const ok = (() => {
      switch (m[1] as (typeof MATCHERS)[number]) {
        case 'any':
          return actual !== undefined;
        case 'absent':
          return actual === undefined;
        case 'empty':
          return (
            actual === undefined ||
            (Array.isArray(actual) && actual.length === 0) ||
            (typeof actual === 'object' && actual !== null && !Array.isArray(actual) && Object.keys(actual).length === 0)
          );
        case 'string':
          return typeof actual === 'string';
        case 'number':
          return typeof actual === 'number';
        case 'boolean':
          return typeof actual === 'boolean';
        case 'datetime':
          return typeof actual === 'string' && ISO_DATETIME.test(actual) && !Number.isNaN(Date.parse(actual));
        case 'uuid':
          return typeof actual === 'string' && UUID.test(actual);
      }
    })();
    return ok ? [] : [`${at}: expected ${m[1] === 'any' ? 'a value' : m[1]}, got ${show(actual)}`];
  }
  if (m && (ARRAY_DIRECTIVES as readonly string[]).includes(m[1])) return [`${at}: {{${m[1]}}} may only be the first element of an array`];
  if (expected.startsWith(PREFIX_WILDCARD)) {
    const suffix = String(substituteString(expected.slice(PREFIX_WILDCARD.length), b));
    return typeof actual === 'string' && actual.endsWith(suffix) ? [] : [`${at}: expected a string ending in ${show(suffix)}, got ${show(actual)}`];
  }
  const want = substituteString(expected, b);
  return Object.is(want, actual) ? [] : [`${at}: expected ${show(want)}, got ${show(actual)}`];
}

function matchArray(expected: unknown[], actual: unknown, b: Bindings, at: string): string[] {
  if (!Array.isArray(actual)) return [`${at}: expected an array, got ${show(actual)}`];
  const directive = expected[0] === '{{contains}}' ? 'contains' : expected[0] === '{{unordered}}' ? 'unordered' : null;
  if (!directive) {
    if (expected.length !== actual.length) return [`${at}: expected ${expected.length} element(s), got ${actual.length}: ${show(actual)}`];
    return expected.flatMap((e, i) => matchPartial(e, actual[i], b, `${at}[${i}]`));
  }
  const wanted = expected.slice(1);
  if (directive === 'unordered' && wanted.length !== actual.length) {
    return [`${at}: expected ${wanted.length} element(s) in any order, got ${actual.length}: ${show(actual)}`];
  }
  // Each expected element takes a distinct actual element; greedy is enough for the small lists in fixtures.
  const used = new Set<number>();
  const out: string[] = [];
  wanted.forEach((e, i) => {
    const j = actual.findIndex((a, k) => !used.has(k) && matchPartial(e, a, b, '$').length === 0);
    if (j < 0) out.push(`${at}: no element matches ${show(e)} (${directive} #${i + 1}); got ${show(actual)}`);
    else used.add(j);
  });
  return out;
}

/** Header names are case-insensitive; Content-Type compares the media type only unless the expectation has parameters. */
export function matchHeaders(expected: Record<string, string>, actual: Record<string, string | string[] | undefined>, b: Bindings): string[] {
  const out: string[] = [];
  for (const [name, ev] of Object.entries(expected)) {
    const key = name.toLowerCase();
    const raw = headerValue(actual, key);
    const av = Array.isArray(raw) ? raw.join(', ') : raw;
    const at = `header ${key}`;
    if (ev === '{{absent}}') {
      if (av !== undefined) out.push(`${at}: expected to be absent, got ${show(av)}`);
      continue;
    }
    if (av === undefined) {
      out.push(`${at}: missing (expected ${show(ev)})`);
      continue;
    }
    if (key === 'content-type' && !ev.includes(';') && !ev.startsWith('{{')) {
      const media = av.split(';')[0].trim().toLowerCase();
      if (media !== ev.toLowerCase()) out.push(`${at}: expected media type ${show(ev)}, got ${show(av)}`);
      continue;
    }
    out.push(...matchString(ev, av, b, at));
  }
  return out;
}

function headerValue<T>(headers: Record<string, T>, name: string): T | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

// ---------------------------------------------------------------------------------------------------------------
// Capture paths: $, .name, [0], ["name with . or :"]

export type PathSegment = string | number;

export function parseJsonPath(p: string): PathSegment[] {
  if (!p.startsWith('$')) throw new PlaceholderError(`capture path ${show(p)} must start with $`);
  const segs: PathSegment[] = [];
  let i = 1;
  while (i < p.length) {
    if (p[i] === '.') {
      const m = /^[^.[\]]+/.exec(p.slice(i + 1));
      if (!m) throw new PlaceholderError(`capture path ${show(p)}: empty name at ${i}`);
      segs.push(m[0]);
      i += 1 + m[0].length;
    } else if (p[i] === '[') {
      const index = /^\[(\d+)\]/.exec(p.slice(i));
      const key = /^\[("(?:[^"\\]|\\.)*")\]/.exec(p.slice(i));
      if (index) segs.push(Number(index[1]));
      else if (key) segs.push(JSON.parse(key[1]) as string);
      else throw new PlaceholderError(`capture path ${show(p)}: bad index at ${i}`);
      i += (index ?? key)![0].length;
    } else {
      throw new PlaceholderError(`capture path ${show(p)}: unexpected ${show(p[i])} at ${i}`);
    }
  }
  return segs;
}

export function evalJsonPath(p: string, value: unknown): unknown {
  let cur: unknown = value;
  for (const seg of parseJsonPath(p)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = typeof seg === 'number' ? (Array.isArray(cur) ? cur[seg] : undefined) : Array.isArray(cur) ? undefined : (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------------------------
// Running an exchange

export interface HttpRequest {
  method: (typeof METHODS)[number];
  path: string;
  headers: Record<string, string>;
  /** Serialized body, when there is one. */
  body?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export type Send = (req: HttpRequest) => Promise<HttpResponse>;

export class ReplayError extends Error {
  constructor(
    readonly fixture: string,
    readonly problems: string[],
    detail: string,
  ) {
    super(`${fixture}:\n  - ${problems.join('\n  - ')}\n${detail}`);
    this.name = 'ReplayError';
  }
}

/** Builds the concrete request (placeholders substituted). Throws PlaceholderError on an unknown name. */
export function buildRequest(fx: ExchangeFixture, b: Bindings): HttpRequest {
  const headers = substitute(fx.request.headers, b) as Record<string, string>;
  for (const [k, v] of Object.entries(headers)) headers[k] = String(v);
  return {
    method: fx.request.method,
    path: String(substitute(fx.request.path, b)),
    headers,
    ...(fx.request.body !== undefined ? { body: JSON.stringify(substitute(fx.request.body, b)) } : {}),
  };
}

/** Parses the response text as JSON when there is any; problems are reported, not thrown. */
function parseBody(res: HttpResponse): { body: unknown; problem?: string } {
  if (!res.text.length) return { body: undefined };
  try {
    return { body: JSON.parse(res.text) };
  } catch {
    return { body: undefined, problem: `body: not JSON: ${show(res.text)}` };
  }
}

/** Compares a response with the fixture's expectation; returns the problems (empty = pass) and the parsed body. */
export function checkResponse(fx: ExchangeFixture, res: HttpResponse, b: Bindings): { problems: string[]; body: unknown } {
  const problems: string[] = [];
  const statuses = Array.isArray(fx.response.status) ? fx.response.status : [fx.response.status];
  if (!statuses.includes(res.status)) problems.push(`status: expected ${statuses.join(' or ')}, got ${res.status}`);
  if (fx.response.headers) problems.push(...matchHeaders(fx.response.headers, res.headers, b));
  const { body, problem } = parseBody(res);
  if (problem) problems.push(problem);
  if (res.status === 204) {
    if (res.text.length) problems.push(`body: a 204 must have no body (RFC 7230 §3.3.3), got ${show(res.text)}`);
  } else if (fx.response.body !== undefined) {
    if (body === undefined && res.text.length === 0) problems.push('body: expected a body, got none');
    else if (body !== undefined) problems.push(...matchPartial(fx.response.body, body, b));
  }
  return { problems, body };
}

/** Binds the fixture's captures from a response body; a capture path that finds nothing is an error. */
export function applyCaptures(fx: ExchangeFixture, body: unknown, b: Bindings, origin: string): void {
  for (const [name, p] of Object.entries(fx.capture ?? {})) {
    const v = evalJsonPath(p, body);
    if (v === undefined) throw new PlaceholderError(`capture ${name}: ${p} found nothing in the response body ${show(body)}`);
    b.bind(name, v, origin);
  }
}

/**
 * Replays one exchange: substitute, send, capture, check. Captures are bound tentatively before the check, so an
 * exchange's own expectations may use them (e.g. a Location header ending in the new id); they are kept only if
 * the exchange passes. Throws ReplayError naming the fixture.
 */
export async function replayExchange(name: string, fx: ExchangeFixture, b: Bindings, send: Send): Promise<HttpResponse> {
  let req: HttpRequest;
  try {
    req = buildRequest(fx, b);
  } catch (e) {
    throw new ReplayError(name, [(e as Error).message], `  (${fx.description})`);
  }
  const res = await send(req);
  const detail = () =>
    `  ${fx.description}\n  request:  ${req.method} ${req.path}${req.body ? ' ' + show(JSON.parse(req.body)) : ''}\n` +
    `  response: ${res.status} ${res.text.length > 1500 ? res.text.slice(0, 1500) + '…' : res.text}`;
  const tentative = b.fork();
  const captureProblems: string[] = [];
  try {
    applyCaptures(fx, parseBody(res).body, tentative, name);
  } catch (e) {
    captureProblems.push((e as Error).message);
  }
  let problems: string[];
  try {
    problems = [...checkResponse(fx, res, tentative).problems, ...captureProblems];
  } catch (e) {
    // An unknown placeholder in the expectation (e.g. the capture that would bind it failed).
    problems = [...captureProblems, (e as Error).message];
  }
  if (problems.length) throw new ReplayError(name, problems, detail());
  applyCaptures(fx, parseBody(res).body, b, name);
  return res;
}
