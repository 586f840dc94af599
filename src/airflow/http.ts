/**
 * One axios instance per Airflow client: timeout, retries with exponential backoff and full jitter on
 * network errors, 429 (Retry-After honoured, capped) and 5xx; never on other 4xx. A limiter bounds
 * requests in flight. Calls are counted by "METHOD /path-template".
 */
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { Limiter } from '../core/limit';
import type { Logger } from '../logger';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface HttpOptions {
  baseUrl: string;
  timeoutMs: number;
  retries: number;
  concurrency: number;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Cap on an honoured Retry-After. */
  maxRetryAfterMs?: number;
  logger?: Logger;
  /** Per attempt: "METHOD /template" and the status, or the network error code (metrics). */
  onCall?: (call: string, status: number | string) => void;
}

export interface HttpRequest {
  method: HttpMethod;
  /** Actual path, already encoded. */
  path: string;
  /** "/auth/fab/v1/users/{username}", for counting and messages. */
  template: string;
  query?: Record<string, string | number>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Non-2xx statuses to return instead of throwing (e.g. 404 on a probe). */
  accept?: number[];
  /** Skip retries (probes). */
  noRetry?: boolean;
}

export interface HttpResponse<T = unknown> {
  status: number;
  data: T;
  headers: Record<string, unknown>;
}

/** A request that failed for good: a status, or a network error code. Mapped by errors.ts. */
export class HttpFailure extends Error {
  constructor(
    readonly method: HttpMethod,
    readonly template: string,
    readonly url: string,
    readonly status?: number,
    readonly body?: unknown,
    readonly code?: string,
    readonly attempts = 1,
  ) {
    super(status ? `${method} ${template} → ${status}` : `${method} ${template} → ${code ?? 'network error'}`);
    this.name = 'HttpFailure';
  }
}

/** Retry-After as seconds or an HTTP date → ms (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

const retryableStatus = (s: number): boolean => s === 429 || s >= 500;

export class AirflowHttp {
  readonly calls = new Map<string, number>();
  readonly limiter: Limiter;
  private readonly axios: AxiosInstance;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(readonly opts: HttpOptions) {
    this.axios = axios.create({
      baseURL: opts.baseUrl.replace(/\/+$/, ''),
      timeout: opts.timeoutMs,
      validateStatus: () => true,
      // Airflow URLs are internal; never pick up HTTP(S)_PROXY by accident.
      proxy: false,
      headers: { Accept: 'application/json' },
    });
    this.limiter = new Limiter(opts.concurrency);
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = opts.random ?? Math.random;
  }

  get baseUrl(): string {
    return this.opts.baseUrl.replace(/\/+$/, '');
  }

  /** Delay before retry number `attempt` (0-based): full jitter, or Retry-After when given. */
  backoff(attempt: number, retryAfterMs?: number): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.opts.maxRetryAfterMs ?? 30_000);
    const cap = Math.min(this.opts.maxDelayMs ?? 10_000, (this.opts.baseDelayMs ?? 200) * 2 ** attempt);
    return Math.floor(this.random() * cap);
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const call = `${req.method} ${req.template}`;
    const url = `${this.baseUrl}${req.path}`;
    const maxAttempts = req.noRetry ? 1 : this.opts.retries + 1;
    for (let attempt = 0; ; attempt++) {
      this.calls.set(call, (this.calls.get(call) ?? 0) + 1);
      let res: AxiosResponse | undefined;
      let code: string | undefined;
      try {
        res = await this.limiter.run(() =>
          this.axios.request({ method: req.method, url: req.path, params: req.query, data: req.body, headers: req.headers }),
        );
      } catch (e) {
        code = (e as { code?: string }).code ?? 'ERR_NETWORK';
      }
      const status = res?.status;
      this.opts.onCall?.(call, status ?? code ?? 'error');
      if (res && status !== undefined && ((status >= 200 && status < 300) || req.accept?.includes(status))) {
        return { status, data: res.data as T, headers: res.headers as Record<string, unknown> };
      }
      const retryable = status === undefined || retryableStatus(status);
      if (!retryable || attempt + 1 >= maxAttempts) {
        throw new HttpFailure(req.method, req.template, url, status, res?.data, code, attempt + 1);
      }
      const delay = this.backoff(attempt, status === 429 ? parseRetryAfter(res?.headers['retry-after']) : undefined);
      this.opts.logger?.debug('airflow request retry', { call, status, code, attempt: attempt + 1, delayMs: delay });
      await this.sleep(delay);
    }
  }
}
