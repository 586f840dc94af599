import { randomUUID } from 'node:crypto';
import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { deeperThan, isUnstorable, unstorableAt } from '../core/json';
import { MAX_JSON_DEPTH } from '../core/limits';
import { InvalidQueryError } from '../store/types';
import { createAuthMiddleware } from './auth';
import { discoveryRoutes } from './discovery';
import { ScimError, toScimError, unstorableValue } from './errors';
import { groupsRoutes, listGroups } from './groups-routes';
import { parseListParams, searchBodyParams } from './list-query';
import { methodNotAllowed } from './method-not-allowed';
import { SCIM_CONTENT_TYPE, sendJson, type ScimRouteDeps } from './route-kit';
import { listResponse, type ScimResource } from './serialize';
import type { TokenService } from './tokens';
import { listUsers, usersRoutes } from './users-routes';

export interface ScimMetrics {
  observeScimRequest(resource: string, method: string, status: number, seconds: number): void;
  authFailure(reason: string): void;
}

export interface ScimRouterDeps extends ScimRouteDeps {
  tokens: TokenService;
  metrics?: ScimMetrics;
}

/** RFC 7644 §3.1, §8.1: both media types, with or without charset; any +json suffix too. */
const JSON_MEDIA = /^application\/([a-z0-9.+-]+\+)?json$/;
const RESOURCES = new Set(['Users', 'Groups', 'ServiceProviderConfig', 'Schemas', 'ResourceTypes', '.search']);
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

const RESOURCE_LABELS = new Map([...RESOURCES].map((r) => [r.toLowerCase(), r]));

/** Bounded metric label: the first path segment if it is one we serve. */
function resourceLabel(path: string): string {
  const end = path.indexOf('/', 1);
  const seg = path.slice(1, end < 0 ? undefined : end);
  return RESOURCE_LABELS.get(seg.toLowerCase()) ?? (seg === '' ? 'root' : 'other');
}

const hasBody = (req: Request) =>
  req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/** JSON bodies only; a missing Content-Type is tolerated when the body parses. Wrong media type → 415. */
function jsonBody(limit: string): RequestHandler {
  const parse = express.json({ type: () => true, limit });
  return (req, res, next) => {
    if (!BODY_METHODS.has(req.method) || !hasBody(req)) return next();
    const type = req.headers['content-type'];
    if (type !== undefined) {
      const media = type.split(';')[0].trim().toLowerCase();
      if (!JSON_MEDIA.test(media)) return next(new ScimError(415, 'Content-Type must be application/scim+json or application/json'));
    }
    parse(req, res, (err?: unknown) => {
      if (err) return next(err);
      // Refused before any handler sees it: deep values overflow copies and SQLite's JSON functions (1,000 levels).
      if (deeperThan(req.body, MAX_JSON_DEPTH)) {
        return next(new ScimError(400, `the request body nests deeper than ${MAX_JSON_DEPTH} levels`, 'invalidSyntax'));
      }
      // Refused here, once, for every resource and backend, so all stores hold the same strings (json.ts isUnstorable).
      const at = unstorableAt(req.body);
      if (at !== undefined) return next(unstorableValue(`"${at}"`));
      next();
    });
  };
}

/**
 * RFC 3986 §2.1: a path with malformed percent-encoding names nothing; 400, not a 500 from the router. Nor does
 * one with %00: no id holds U+0000 (and PostgreSQL could not even be asked), so 400 on every backend.
 */
const validPath: RequestHandler = (req, _res, next) => {
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    return next(new ScimError(400, 'the request path has malformed percent-encoding (RFC 3986 §2.1)', 'invalidSyntax'));
  }
  if (isUnstorable(path)) return next(unstorableValue('the request path'));
  next();
};

/** body-parser errors → SCIM errors (RFC 7644 §3.12). */
function bodyError(err: unknown, limit: string): ScimError | null {
  const e = err as { type?: unknown; status?: unknown };
  if (typeof e?.type !== 'string' || typeof e.status !== 'number') return null;
  switch (e.type) {
    case 'entity.too.large':
      return new ScimError(413, `request body is larger than ${limit}`);
    case 'entity.parse.failed':
      return new ScimError(400, 'the request body is not valid JSON', 'invalidSyntax');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new ScimError(415, 'unsupported body charset or encoding; send UTF-8 JSON');
    default:
      return e.status >= 400 && e.status < 500 ? new ScimError(e.status, 'the request body could not be read', 'invalidSyntax') : null;
  }
}

/** The path below the SCIM mount, as recorded on entry (sub-routers rewrite req.url). */
const scimPath = (req: Request, res: Response) => String(res.locals.scimPath ?? req.path);

const isWrite = (req: Request, path: string) =>
  ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method) && !path.toLowerCase().endsWith('/.search') && /^\/(users|groups)(\/|$)/i.test(path);

/** Failed writes are audited too (successful ones are audited by the store). */
async function auditFailure(deps: ScimRouterDeps, req: Request, res: Response, err: ScimError): Promise<void> {
  const path = scimPath(req, res);
  if (!isWrite(req, path) || res.locals.actor === undefined) return;
  const [, type, id] = path.split('/');
  try {
    await deps.audit.record({
      at: deps.clock.now().toISOString(),
      source: 'scim',
      actor: String(res.locals.actor),
      clientIp: req.ip,
      method: req.method,
      path: req.originalUrl.split('?')[0],
      requestId: res.locals.requestId as string | undefined,
      resourceType: type.toLowerCase() === 'users' ? 'User' : 'Group',
      ...(id ? { resourceId: id } : {}),
      action: 'failed',
      outcome: 'failure',
      status: err.status,
      detail: { error: err.detail },
    });
  } catch (auditErr) {
    deps.logger.error('could not audit a failed write', { err: (auditErr as Error).stack });
  }
}

/**
 * The one error middleware: SCIM errors as they are; anything else a 500 with only a correlation id. The handlers
 * are async and not wrapped: Express 5 passes a rejected promise to next(err), so every error is mapped here, once.
 */
function errorHandler(deps: ScimRouterDeps): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    let scim = toScimError(err) ?? bodyError(err, deps.config.server.bodyLimit);
    if (!scim) {
      const requestId = String(res.locals.requestId);
      deps.logger.error('unhandled error in SCIM request', { requestId, err: err instanceof Error ? err.stack : String(err) });
      scim = new ScimError(500, `internal error; correlation id ${requestId}`);
    }
    res.set(scim.headers);
    sendJson(res, scim.status, scim.toBody());
    // After the answer, as before; auditFailure logs its own failure, so it never rejects.
    void auditFailure(deps, req, res, scim);
  };
}

/** POST /.search at the root (RFC 7644 §3.4.3): users, then groups, paged as one list. */
function rootSearch(deps: ScimRouterDeps): RequestHandler {
  return async (req, res) => {
    const parsed = parseListParams(searchBodyParams(req.body), ['User', 'Group'], deps.config.scim);
    const { startIndex, count } = parsed.query;
    // An attribute that exists on only one resource type matches nothing on the other.
    const tryList = async (fn: () => Promise<ScimResource>): Promise<ScimResource | InvalidQueryError> => {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof InvalidQueryError && parsed.query.filter) return err;
        throw err;
      }
    };
    const users = await tryList(() => listUsers(deps, req, parsed));
    const usersTotal = users instanceof InvalidQueryError ? 0 : (users.totalResults as number);
    const userItems = users instanceof InvalidQueryError ? [] : (users.Resources as ScimResource[]);
    const groupQuery = { startIndex: Math.max(1, startIndex - usersTotal), count: Math.max(0, count - userItems.length) };
    const groups = await tryList(() => listGroups(deps, req, { ...parsed, query: { ...parsed.query, ...groupQuery } }));
    if (users instanceof InvalidQueryError && groups instanceof InvalidQueryError) throw users;
    const groupsTotal = groups instanceof InvalidQueryError ? 0 : (groups.totalResults as number);
    const groupItems = groups instanceof InvalidQueryError ? [] : (groups.Resources as ScimResource[]);
    sendJson(res, 200, listResponse([...userItems, ...groupItems].slice(0, count), usersTotal + groupsTotal, startIndex));
  };
}

/**
 * The SCIM 2.0 API (RFC 7644), to be mounted at /scim/v2: auth, media types, resources, discovery, errors.
 * Always answers application/scim+json.
 */
export function createScimRouter(deps: ScimRouterDeps): Router {
  const router = Router();
  const limit = deps.config.server.bodyLimit;

  router.use((req, res, next) => {
    res.setHeader('Content-Type', SCIM_CONTENT_TYPE);
    res.locals.scimBase = req.baseUrl;
    res.locals.scimPath = req.path;
    if (res.locals.requestId === undefined) res.locals.requestId = randomUUID();
    if (deps.metrics) {
      const started = process.hrtime.bigint();
      const resource = resourceLabel(req.path);
      res.on('finish', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        deps.metrics?.observeScimRequest(resource, req.method, res.statusCode, seconds);
      });
    }
    next();
  });
  router.use(
    createAuthMiddleware({
      tokens: deps.tokens,
      clock: deps.clock,
      authFailures: deps.config.scim.authFailures,
      onAuthFailure: (reason) => deps.metrics?.authFailure(reason),
    }),
  );
  router.use(validPath);
  router.use(jsonBody(limit));
  router.use('/Users', usersRoutes(deps));
  router.use('/Groups', groupsRoutes(deps));
  router.route('/.search').post(rootSearch(deps)).all(methodNotAllowed('POST'));
  router.use(discoveryRoutes(deps));
  router.use((req, res, next) => next(new ScimError(404, `no such endpoint: ${req.method} ${scimPath(req, res)}`)));
  router.use(errorHandler(deps));
  return router;
}
