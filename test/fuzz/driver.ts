import { Generator, type FuzzRequest, type Known } from './generator';

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export interface FuzzOptions {
  /** The SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2. */
  base: string;
  token: string;
  seed: number;
  cases: number;
  /** Requests in flight at once (1 keeps a run reproducible). */
  concurrency?: number;
  onProgress?: (sent: number, stats: FuzzStats) => void;
}

export interface FuzzStats {
  sent: number;
  byStatus: Record<number, number>;
  /** Answers 500 or above. */
  serverErrors: number;
  /** 4xx answers that are not an RFC 7644 §3.12 error body. */
  nonScimErrors: number;
  /** Requests that got no answer at all (connection reset, timeout). */
  noAnswer: number;
  /** The first few offending requests, to replay. */
  samples: string[];
  /** The slowest requests (answer time as the client saw it, queueing included), slowest first. */
  slowest: Array<{ ms: number; request: string }>;
}

const describe = (r: FuzzRequest, why: string) => `${why}: ${r.method} ${r.path.slice(0, 200)} auth=${r.auth} body=${(r.body ?? '').slice(0, 300)}`;

/** Checks one answer against the invariants: never 5xx; every error in the SCIM error schema. */
function check(r: FuzzRequest, status: number, type: string, text: string, stats: FuzzStats): unknown {
  stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
  const note = (why: string) => stats.samples.length < 20 && stats.samples.push(describe(r, why));
  if (status >= 500) {
    stats.serverErrors++;
    note(`${status} ${text.slice(0, 200)}`);
    return undefined;
  }
  if (status === 204 || status === 304) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    if (status >= 400) {
      stats.nonScimErrors++;
      note(`${status} not JSON`);
    }
    return undefined;
  }
  if (status >= 400) {
    const b = body as { schemas?: unknown; status?: unknown; detail?: unknown };
    const ok = /^application\/scim\+json/.test(type) && Array.isArray(b.schemas) && b.schemas[0] === ERROR_SCHEMA && b.status === String(status) && typeof b.detail === 'string';
    if (!ok) {
      stats.nonScimErrors++;
      note(`${status} not a SCIM error: ${text.slice(0, 200)}`);
    }
  }
  return body;
}

/** Sends `cases` generated requests and reports what came back. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzStats> {
  const gen = new Generator(opts.seed);
  const known: Known = { users: [], groups: [] };
  const stats: FuzzStats = { sent: 0, byStatus: {}, serverErrors: 0, nonScimErrors: 0, noAnswer: 0, samples: [], slowest: [] };
  const one = async (r: FuzzRequest): Promise<void> => {
    const headers: Record<string, string> = { ...r.headers };
    if (r.auth === 'valid') headers.Authorization = `Bearer ${opts.token}`;
    else if (r.auth === 'invalid') headers.Authorization = 'Bearer not-a-valid-token-0000';
    let res: Response;
    const t0 = performance.now();
    try {
      res = await fetch(opts.base + r.path, { method: r.method, headers, body: r.body, signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      stats.noAnswer++;
      if (stats.samples.length < 20) stats.samples.push(describe(r, `no answer (${(e as Error).message})`));
      return;
    }
    const text = await res.text();
    const ms = performance.now() - t0;
    if (stats.slowest.length < 5 || ms > stats.slowest[stats.slowest.length - 1].ms) {
      stats.slowest.push({ ms: Math.round(ms), request: describe(r, String(res.status)).slice(0, 240) });
      stats.slowest.sort((a, b) => b.ms - a.ms).splice(5);
    }
    const body = check(r, res.status, res.headers.get('content-type') ?? '', text, stats) as { id?: unknown } | undefined;
    if (res.status === 201 && typeof body?.id === 'string') {
      const list = r.path.startsWith('/Users') ? known.users : known.groups;
      list.push(body.id);
      if (list.length > 500) list.shift();
    }
  };
  const worker = async () => {
    while (stats.sent < opts.cases) {
      const n = ++stats.sent;
      await one(gen.next(known));
      if (opts.onProgress && n % 1000 === 0) opts.onProgress(n, stats);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 1 }, worker));
  return stats;
}
