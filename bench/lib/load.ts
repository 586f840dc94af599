import autocannon from 'autocannon';

/**
 * One measured load: autocannon's programmatic API, run in THIS process against a server in another process
 * (see scim-server.ts), a warm-up first whose figures are thrown away, then the measured run.
 */
export interface LoadSpec {
  title: string;
  url: string;
  method?: 'GET' | 'POST' | 'PATCH';
  headers?: Record<string, string>;
  /** Called for every request: returns path and body (varied per request). */
  next: () => { path: string; body?: string };
  connections?: number;
  warmupSeconds: number;
  seconds: number;
}

export interface LoadFigures {
  title: string;
  requests: number;
  /** Completed responses per second over the measured run. */
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  /** Connection errors and timeouts. */
  errors: number;
  non2xx: number;
  seconds: number;
  /** Wall-clock span of the measured run (epoch ms), to match server-side log lines. */
  from: number;
  to: number;
}

export const durations = () => ({
  seconds: Number(process.env.BENCH_SECONDS ?? 10),
  warmupSeconds: Number(process.env.BENCH_WARMUP_SECONDS ?? 2),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 20),
});

function once(spec: LoadSpec, seconds: number): Promise<autocannon.Result> {
  const headers = { 'content-type': 'application/scim+json', ...spec.headers };
  return autocannon({
    url: spec.url,
    connections: spec.connections ?? 20,
    pipelining: 1,
    duration: seconds,
    headers,
    requests: [
      {
        method: spec.method ?? 'GET',
        setupRequest: (req) => {
          const { path, body } = spec.next();
          return { ...req, path, body };
        },
      },
    ],
  });
}

export async function measure(spec: LoadSpec): Promise<LoadFigures> {
  if (spec.warmupSeconds > 0) await once(spec, spec.warmupSeconds);
  const from = Date.now();
  const r = await once(spec, spec.seconds);
  const to = Date.now();
  return {
    from,
    to,
    title: spec.title,
    requests: r.requests.total,
    rps: r.requests.total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    mean: r.latency.mean,
    max: r.latency.max,
    errors: r.errors,
    non2xx: r.non2xx,
    seconds: r.duration,
  };
}
