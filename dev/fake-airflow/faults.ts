/** Fault knobs and call accounting for the fake Airflow (test support; not Airflow behaviour). */

export interface RequestLogEntry {
  method: string;
  /** Path with query string as received. */
  url: string;
  /** "METHOD /path-template", e.g. "GET /auth/fab/v1/users/{username}". */
  call: string;
  status?: number;
  at: number;
}

export type FaultDecision = { kind: 'none' } | { kind: 'status'; status: number; retryAfterSeconds?: number };

/** mulberry32: small seeded RNG so errorRate runs are repeatable. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FakeFaults {
  /** Added to every request. */
  latencyMs = 0;
  /** Extra delay on list endpoints (GET /users, /roles, /permissions). */
  slowPageMs = 0;
  /** Share (0..1) of requests answered 500, drawn from a seeded RNG. */
  errorRate = 0;
  /** Every Nth request answers 429 with Retry-After. */
  rateLimit: { everyN?: number; retryAfterSeconds: number } | null = null;
  /** Calls by "METHOD /path-template" (faulted ones included). */
  readonly calls = new Map<string, number>();
  readonly log: RequestLogEntry[] = [];
  private random: () => number;
  private queue: Array<{ status: number; retryAfterSeconds?: number }> = [];
  private seen = 0;

  constructor(
    seed = 42,
    /** Connection refused while true; set through FakeAirflow.setDown so the listener closes. */
    private readonly downHook: (down: boolean) => Promise<void> = async () => undefined,
  ) {
    this.random = seededRandom(seed);
  }

  private downState = false;
  private pending: Promise<void> = Promise.resolve();
  get down(): boolean {
    return this.downState;
  }
  /** Closes (or reopens) the listener; await `settled()` (or use FakeAirflow.setDown) to know it is done. */
  set down(v: boolean) {
    if (v === this.downState) return;
    this.downState = v;
    this.pending = this.pending.then(() => this.downHook(v));
  }
  settled(): Promise<void> {
    return this.pending;
  }

  seed(seed: number): void {
    this.random = seededRandom(seed);
  }

  /** The next `count` requests answer `status` (429 gets Retry-After). */
  failNext(count: number, status = 429, retryAfterSeconds?: number): void {
    for (let i = 0; i < count; i++) this.queue.push({ status, retryAfterSeconds: status === 429 ? (retryAfterSeconds ?? 1) : retryAfterSeconds });
  }

  count(call: string): number {
    return this.calls.get(call) ?? 0;
  }

  totalCalls(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  reset(): void {
    this.latencyMs = 0;
    this.slowPageMs = 0;
    this.errorRate = 0;
    this.rateLimit = null;
    this.queue = [];
    this.seen = 0;
    this.calls.clear();
    this.log.length = 0;
  }

  /** Called once per request, after it is counted. */
  decide(): FaultDecision {
    this.seen++;
    const queued = this.queue.shift();
    if (queued) return { kind: 'status', ...queued };
    if (this.rateLimit?.everyN && this.seen % this.rateLimit.everyN === 0) {
      return { kind: 'status', status: 429, retryAfterSeconds: this.rateLimit.retryAfterSeconds };
    }
    if (this.errorRate > 0 && this.random() < this.errorRate) return { kind: 'status', status: 500 };
    return { kind: 'none' };
  }

  record(method: string, url: string, call: string): RequestLogEntry {
    this.calls.set(call, (this.calls.get(call) ?? 0) + 1);
    const entry: RequestLogEntry = { method, url, call, at: Date.now() };
    this.log.push(entry);
    return entry;
  }
}

/** "METHOD /path-template" for a request path (query stripped). */
export function callName(method: string, path: string): string {
  const p = path.split('?')[0] ?? path;
  const t = p
    .replace(/^(\/auth\/fab\/v1|\/api\/v1)\/users\/[^/]+$/, '$1/users/{username}')
    .replace(/^(\/auth\/fab\/v1|\/api\/v1)\/roles\/[^/]+$/, '$1/roles/{name}');
  return `${method} ${t}`;
}
