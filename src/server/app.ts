import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler } from 'express';
import { createScimRouter, type ScimRouterDeps } from '../scim/router';

export interface ReadyReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export interface HealthChecks {
  /** The process and the database answer. */
  live(): boolean | Promise<boolean>;
  ready(): Promise<ReadyReport>;
}

export interface AppDeps extends ScimRouterDeps {
  health: HealthChecks;
}

/** A client-supplied X-Request-Id is kept only if it is short and plain (it lands in logs and headers). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The HTTP app: request ids (every line a request logs carries its requestId field; no logger per request), one
 * access line per request, /healthz, /readyz and
 * the SCIM API at /scim/v2. No listen(): main.ts listens, supertest drives it in tests.
 */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // RFC 7644 §3.14: a resource's ETag is its version, W/"n" (route-kit sendResource), never a hash of the body;
  // Express's own (a SHA-1 of every response body) is off.
  app.set('etag', false);
  app.set('trust proxy', deps.config.server.trustProxy);
  app.set('query parser', 'simple'); // list-query.ts parses SCIM params itself; this keeps req.query flat

  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Path only: query strings carry filter values (user names), never worth a log line.
      deps.logger.info('request', {
        requestId,
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        ms: Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10,
        ...(res.locals.actor !== undefined ? { actor: res.locals.actor } : {}),
      });
    });
    next();
  });

  app.get('/healthz', async (_req, res) => {
    let ok: boolean;
    try {
      ok = await deps.health.live();
    } catch {
      ok = false;
    }
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable' });
  });

  app.get('/readyz', async (_req, res) => {
    let report: ReadyReport;
    try {
      report = await deps.health.ready();
    } catch (err) {
      deps.logger.error('readiness check failed', { requestId: res.locals.requestId, err: (err as Error).stack });
      report = { ready: false, checks: { readiness: { ok: false, detail: 'check failed' } } };
    }
    const checks = Object.fromEntries(
      Object.entries(report.checks).map(([k, c]) => [k, c.detail === undefined ? { ok: c.ok } : { ok: c.ok, detail: c.detail }]),
    );
    res.status(report.ready ? 200 : 503).json({ status: report.ready ? 'ready' : 'not ready', checks });
  });

  app.use('/scim/v2', createScimRouter(deps));

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  const fallback: ErrorRequestHandler = (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    deps.logger.error('unhandled error', { requestId: res.locals.requestId, err: err instanceof Error ? err.stack : String(err) });
    res.status(500).json({ error: `internal error; correlation id ${String(res.locals.requestId)}` });
  };
  app.use(fallback);
  return app;
}
